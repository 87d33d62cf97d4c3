"""`resgen resolve`: specs with their `extends` bases merged in, as resgen sees them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from resgen.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    add_extends_root,
    expand_each,
    load_or_report,
    print_diagnostics,
)
from resgen.cli.options import add_format, add_output, report_into

HELP = "print specs with their `extends` bases merged in"
FORMATS = ("yaml", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC_OR_DIR",
        help="spec files, directories or built-in names; with several (or a folder), YAML "
        "gives one document per spec under a `# SPEC` comment, JSON an object keyed by spec",
    )
    add_format(parser, FORMATS, "yaml", "output format")
    add_output(parser, "FILE", "write the specs to FILE instead of stdout", old_formats=FORMATS)
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="also print every field left at its default, derived ones (stem width, expansion, "
        "a stage's block, groups and shortcut, class name) with the value resgen uses",
    )
    add_extends_root(parser)


def run(args: argparse.Namespace) -> int:
    return report_into(args.output, lambda: _resolve(args))


def _resolve(args: argparse.Namespace) -> int:
    files, problems, several = expand_each(args.specs)
    print_diagnostics(problems)
    failed = bool(problems)
    found: dict[str, dict[str, Any]] = {}
    for spec, name in files:
        loaded = load_or_report(spec, args.extends_root)
        if loaded is None:
            failed = True
        else:
            found[name] = _data(loaded.spec, defaults=args.defaults)
    if args.format == "json" and (found or several):
        print(json.dumps(found if several else found.popitem()[1], indent=2))
    elif args.format == "yaml":
        sys.stdout.write("---\n".join(_yaml(name, data, several) for name, data in found.items()))
    return EXIT_FINDINGS if failed else EXIT_OK


def _data(spec: Any, *, defaults: bool) -> dict[str, Any]:
    """The fields someone set; with `defaults`, every field as the compiler uses it."""
    if defaults:
        from resgen.graph.defaults import used_values

        return {k: v for k, v in used_values(spec).items() if k != "regnet"}
    # A RegNet's parameters print as the stages they generate, which load as they are.
    data: dict[str, Any] = spec.model_dump(
        mode="json", exclude_unset=True, exclude={"extends", "regnet"}
    )
    return data


def _yaml(name: str, data: dict[str, Any], several: bool) -> str:
    from resgen.diagnostics import printable
    from resgen.spec.resolve import yaml_entry

    heading = f"# {printable(name)}\n" if several else ""
    return heading + "".join(yaml_entry(key, value) for key, value in data.items())
