"""`resgen build`: check specs and generate one PyTorch file per spec."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from resgen.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    SpecArg,
    err,
    expand_specs,
    print_diagnostics,
    write_output,
)
from resgen.diagnostics import ResgenError, error
from resgen.spec.load import display_name

HELP = "check specs and generate one PyTorch file per spec"


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
        help="write nothing; print a diff and exit 1 if any file would change",
    )
    parser.add_argument(
        "--deploy",
        action="store_true",
        help="also write <name>_deploy.py: an inference module with its norms folded into convs",
    )


def run(args: argparse.Namespace) -> int:
    files, problems = expand_specs(args.specs)
    print_diagnostics(problems)
    failed = bool(problems)
    outputs: dict[str, str] = {}  # spec name -> the file it came from, to catch duplicates
    drift = 0
    for spec, name in files:
        texts = _generate(spec, name, Path(args.out), outputs, deploy=args.deploy)
        if texts is None:
            failed = True
            continue
        for target, text in texts.items():
            if args.check:
                drift += _report_drift(target, text)
            elif not write_output(target, text, f" ({name})"):
                failed = True
    if args.check and drift:
        err(
            f"{drift} generated file{'s' if drift != 1 else ''} out of date; "
            f"run: resgen build {' '.join(args.specs)} -o {args.out}"
            + (" --deploy" if args.deploy else "")
        )
    return EXIT_FINDINGS if failed or drift else EXIT_OK


def _generate(
    spec: SpecArg, name: str, out_dir: Path, outputs: dict[str, str], *, deploy: bool
) -> dict[Path, str] | None:
    """The files one spec compiles to; None, after printing why, if it does not compile."""
    from resgen.api import load_spec
    from resgen.pipeline import compile_spec

    try:
        compiled = compile_spec(load_spec(spec))
    except ResgenError as exc:
        print_diagnostics(exc.diagnostics)
        return None
    model = compiled.loaded.spec.name
    if model in outputs:
        duplicate = error(
            "duplicate-name",
            f"two specs are named {model!r}: {outputs[model]} and {name}",
            compiled.loaded.source.locate(("name",)),
            hint="each spec's `name` becomes its output file and must be unique",
            excerpt=False,
        )
        print_diagnostics([duplicate])
        return None
    outputs[model] = name
    assert compiled.source is not None
    texts = {out_dir / f"{model}.py": compiled.source}
    if deploy:
        from resgen.codegen.deploy import render_deploy_source

        texts[out_dir / f"{model}_deploy.py"] = render_deploy_source(
            compiled.loaded, compiled.analysis
        )
    return texts


def _report_drift(target: Path, text: str) -> int:
    old = target.read_text(encoding="utf-8") if target.is_file() else ""
    if old == text:
        return 0
    label = display_name(target)
    diff = difflib.unified_diff(
        old.splitlines(keepends=True), text.splitlines(keepends=True),
        fromfile=f"{label} (on disk)" if old else "/dev/null", tofile=f"{label} (from spec)",
    )  # fmt: skip
    sys.stdout.writelines(diff)
    return 1
