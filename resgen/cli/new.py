"""`resgen new NAME --from BASE`: a starting spec, the resolved base with each key explained."""

from __future__ import annotations

import argparse
import dataclasses
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resgen.cli.common import EXIT_FINDINGS, EXIT_OK, load_or_report, print_diagnostics
from resgen.cli.options import add_format, add_output
from resgen.diagnostics import Location, ResgenError, error

if TYPE_CHECKING:
    from resgen.spec.model import Spec

HELP = "write a starting spec NAME.yaml from a built-in spec (never overwrites)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the new spec's name (a Python identifier)")
    parser.add_argument(
        "--from", dest="base", default="resnet50", metavar="SPEC", help="the spec to start from"
    )
    add_format(parser, ("yaml",), "yaml", "output format (a commented YAML spec)")
    add_output(parser, "DIR", "folder to write NAME.yaml in (default: here)", default=".")


def run(args: argparse.Namespace) -> int:
    from resgen.api import load_spec
    from resgen.cli.common import write_output

    base = load_or_report(args.base)
    if base is None:
        return EXIT_FINDINGS
    data = _data(base.spec, args.name, args.base)
    try:  # the new spec must be valid as written: a bad NAME is a diagnostic, nothing written
        load_spec(data)
    except ResgenError as exc:  # positions would point into an in-memory copy: leave them off
        print_diagnostics([dataclasses.replace(d, location=None) for d in exc.diagnostics])
        return EXIT_FINDINGS
    target = Path(args.output, f"{args.name}.yaml")
    if target.exists() or target.is_symlink():
        problem = error(
            "exists",
            f"{target} exists; resgen new never overwrites a spec",
            Location(str(target)),
            hint="choose another NAME or -o folder, or delete the file first",
        )
        print_diagnostics([problem])
        return EXIT_FINDINGS
    return EXIT_OK if write_output(target, starting_spec(data, args.base)) else EXIT_FINDINGS


def _data(spec: Spec, name: str, base: str) -> dict[str, Any]:
    """The base's resolved values under the new name; the class name follows from it."""
    data: dict[str, Any] = spec.model_dump(
        mode="json", exclude_unset=True, exclude={"extends", "name", "class_name"}
    )
    described = f"Started from {base}: {spec.description}" if spec.description else ""
    return {"name": name, **data, "description": described}


def starting_spec(data: dict[str, Any], base: str) -> str:
    """The spec as YAML, each top-level key after a comment that says what it means."""
    from resgen.spec.model import Spec
    from resgen.spec.resolve import yaml_entry

    lines = [
        f"# {data['name']}.yaml: started from `{base}` by `resgen new`. Check it with",
        f"# `resgen check {data['name']}.yaml`; `resgen schema` documents every key.",
    ]
    for key, value in data.items():
        lines.append("")
        description = Spec.model_fields[key].description or ""
        lines += [f"# {line}" for line in textwrap.wrap(description, 96)]
        lines.append(yaml_entry(key, value).rstrip("\n"))
    return "\n".join(lines) + "\n"
