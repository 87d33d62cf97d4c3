"""`resgen build`: check specs and generate one PyTorch file per spec."""

from __future__ import annotations

import argparse
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
    print_diagnostics,
    write_output,
)
from resgen.diagnostics import Diagnostic, Location, ResgenError, error

HELP = "check specs and generate one PyTorch file per spec"


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
    parser.add_argument(
        "-o",
        "--out",
        default="generated",
        metavar="DIR",
        help="output directory (default: generated/)",
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
    files, problems = expand_specs(args.specs)
    print_diagnostics(problems)
    out_dir = Path(args.out)
    outputs: list[Output] = []
    failed = bool(problems)
    for spec, name in files:
        texts = _generate(spec, name, out_dir, deploy=args.deploy, extends_root=args.extends_root)
        failed |= texts is None
        outputs.extend(texts or ())
    clashes = _clashes(outputs)
    if clashes:
        print_diagnostics(clashes)
        err("wrote nothing: two specs would write the same file")
        return EXIT_FINDINGS
    if args.check:
        whole = not failed and all(Path(arg).is_dir() for arg in args.specs)
        drift = report_drift(outputs, out_dir, orphans=whole)
        if drift:
            err(
                f"{drift} generated file{'s' if drift != 1 else ''} out of date; "
                "run: "
                + shlex.join(
                    ["resgen", "build", *args.specs, "-o", str(args.out)]
                    + (["--deploy"] if args.deploy else [])
                )
            )
        return EXIT_FINDINGS if failed or drift else EXIT_OK
    for output in outputs:
        failed |= not write_output(output.target, output.text, f" ({output.spec})")
    return EXIT_FINDINGS if failed else EXIT_OK


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


def report_drift(outputs: Sequence[Output], out_dir: Path, *, orphans: bool) -> int:
    """Print a diff or a diagnostic for each output that differs from disk; count them.

    With `orphans`, also count the generated files in `out_dir` that no output names.
    """
    from resgen.drift import compare, find_orphans

    drift = 0
    for output in outputs:
        found = compare(output.target, output.text)
        drift += found is not None
        if isinstance(found, str):
            sys.stdout.write(found)
        elif found is not None:
            print_diagnostics([found])
    if orphans:
        lost = find_orphans(out_dir, [output.target for output in outputs])
        print_diagnostics(lost)
        drift += len(lost)
    return drift
