"""`resgen build`: check specs and generate one PyTorch file per spec."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from resgen.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    SpecArg,
    add_extends_root,
    err,
    expand_specs,
    is_dir,
    print_diagnostics,
    write_reported,
)
from resgen.cli.options import add_format, add_output, warn_folder_like_format
from resgen.diagnostics import Diagnostic, Location, ResgenError, error
from resgen.spec.load import display_name

HELP = "check specs and generate one PyTorch file per spec"
FORMATS = ("text", "json")


class Output(NamedTuple):
    """One file a build writes: where, what, and which spec (for messages)."""

    target: Path
    text: str
    spec: str  # the spec's name in messages
    location: Location | None  # the spec's `name:`, which decides the file name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs", nargs="+", metavar="SPEC_OR_DIR", help="spec files, directories or built-in names"
    )
    add_format(
        parser,
        FORMATS,
        "text",
        "text: a line per file on stderr (and diffs on stdout with --check); json: one document "
        "on stdout, each file with its spec and status",
    )
    add_output(
        parser, "DIR", "output folder (default: generated/)", default="generated", old_long=True
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; print a diff and exit 1 if any file would change, is not a regular "
        "file, or was generated from a spec that is gone (when SPEC_OR_DIR are folders)",
    )
    parser.add_argument(
        "--deploy",
        action="store_true",
        help="also write <name>_deploy.py: an inference module with its norms folded into convs",
    )
    add_extends_root(parser)


def run(args: argparse.Namespace) -> int:
    """Compile every spec, then (if no two outputs share a file name) write or compare them all."""
    warn_folder_like_format(args.output, args.output_flag)
    files, problems = expand_specs(args.specs)
    print_diagnostics(problems)
    out_dir = Path(args.output)
    outputs: list[Output] = []
    records: list[dict[str, str | None]] = []  # -f json: every file, its spec and status
    for spec, name in files:
        texts = _generate(spec, name, out_dir, deploy=args.deploy, extends_root=args.extends_root)
        if texts is None:
            records.append({"spec": name, "file": None, "status": "failed"})
        outputs.extend(texts or ())
    failed = bool(problems) or any(r["status"] == "failed" for r in records)
    clashes = _clashes(outputs)
    if clashes:
        print_diagnostics(clashes)
        err("wrote nothing: two specs would write the same file")
        return EXIT_FINDINGS
    if args.check:
        whole = not failed and all(is_dir(Path(arg)) for arg in args.specs)
        as_json = args.format == "json"
        drift = report_drift(outputs, out_dir, orphans=whole, records=records, as_json=as_json)
        if drift:
            _say_rebuild(args, drift)
        failed |= bool(drift)
    else:
        for output in outputs:
            status = write_reported(output.target, output.text, f" ({output.spec})")
            records.append(_record(output, status or "failed"))
            failed |= status is None
    if args.format == "json":
        print(json.dumps({"files": records}, indent=2))
    return EXIT_FINDINGS if failed else EXIT_OK


def _record(output: Output, status: str) -> dict[str, str | None]:
    return {"spec": output.spec, "file": display_name(output.target), "status": status}


def _say_rebuild(args: argparse.Namespace, drift: int) -> None:
    """The one command that brings the files up to date."""
    command = ["resgen", "build", *args.specs, "-o", str(args.output)]
    err(
        f"{drift} generated file{'s' if drift != 1 else ''} out of date; run: "
        + shlex.join(command + (["--deploy"] if args.deploy else []))
    )


def _generate(
    spec: SpecArg, name: str, out_dir: Path, *, deploy: bool, extends_root: list[str] | None
) -> list[Output] | None:
    """The files one spec compiles to; None, after printing why, if it does not compile."""
    from resgen.api import load_spec
    from resgen.pipeline import compile_spec

    try:
        compiled = compile_spec(load_spec(spec, extends_root=extends_root).for_output(out_dir))
    except ResgenError as exc:
        print_diagnostics(exc.diagnostics)
        return None
    print_diagnostics(compiled.analysis.diagnostics)  # warnings: errors would have raised
    model = compiled.loaded.spec.name
    where = compiled.loaded.source.locate(("name",))
    assert compiled.source is not None
    outputs = [Output(out_dir / f"{model}.py", compiled.source, name, where)]
    if deploy:
        from resgen.codegen.deploy import render_deploy_source

        text = render_deploy_source(compiled.loaded, compiled.analysis)
        outputs.append(Output(out_dir / f"{model}_deploy.py", text, f"{name}, --deploy", where))
    return outputs


def _clashes(outputs: list[Output]) -> list[Diagnostic]:
    """Two outputs with one file name (letter case aside: macOS and Windows ignore it)."""
    seen: dict[str, Output] = {}
    clashes = []
    for output in outputs:
        key = output.target.name.casefold()
        first = seen.setdefault(key, output)
        if first is output:
            continue
        clashes.append(
            error(
                "duplicate-name",
                f"two specs would write {output.target.name}: {first.spec} and {output.spec}",
                output.location,
                hint="each spec's `name` becomes its output file (and <name>_deploy.py with "
                "--deploy), so names must differ, also in letter case",
                excerpt=False,
            )
        )
    return clashes


def report_drift(
    outputs: Sequence[Output],
    out_dir: Path,
    *,
    orphans: bool,
    records: list[dict[str, str | None]],
    as_json: bool = False,
) -> int:
    """Print a diff (unless `as_json`) or a diagnostic for each output that differs from disk;
    count them and record each output's status. With `orphans`, also count (and record) the
    generated files in `out_dir` that no output names.
    """
    from resgen.drift import compare, find_orphans

    drift = 0
    for output in outputs:
        found = compare(output.target, output.text)
        drift += found is not None
        records.append(_record(output, "current" if found is None else "stale"))
        if isinstance(found, str) and not as_json:
            sys.stdout.write(found)
        elif isinstance(found, Diagnostic):
            print_diagnostics([found])
    if orphans:
        lost = find_orphans(out_dir, [output.target for output in outputs])
        print_diagnostics(lost)
        drift += len(lost)
        records.extend(
            {"spec": None, "file": d.location.file if d.location else None, "status": "orphan"}
            for d in lost
        )
    return drift
