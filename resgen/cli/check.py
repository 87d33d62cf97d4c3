"""`resgen check`: validate specs and their graphs; exit 1 on any error."""

from __future__ import annotations

import argparse

from resgen.cli.common import EXIT_FINDINGS, EXIT_OK, SpecArg, add_extends_root, expand_specs
from resgen.diagnostics import REPORTERS, Diagnostic, ResgenError, has_errors

HELP = "validate specs and their graphs; exit 1 on any error"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC_OR_DIR")
    parser.add_argument(
        "-o",
        "--output",
        choices=tuple(REPORTERS),
        default="text",
        help="diagnostics format",
    )
    add_extends_root(parser)


def run(args: argparse.Namespace) -> int:
    files, problems = expand_specs(args.specs)
    reporter = REPORTERS[args.output]()
    failed = has_errors(problems)
    for spec, name in files:
        diagnostics, summary = _check_one(spec, args.extends_root)
        reporter.report_file(name, diagnostics, summary)
        failed = failed or has_errors(diagnostics)
    reporter.report(problems)
    reporter.finish()
    return EXIT_FINDINGS if failed else EXIT_OK


def _check_one(spec: SpecArg, extends_root: list[str] | None) -> tuple[list[Diagnostic], str]:
    """Every diagnostic of one spec, and a summary of it for when it has no errors."""
    from resgen.api import load_spec
    from resgen.pipeline import check

    try:
        analysis = check(load_spec(spec, extends_root=extends_root))
    except ResgenError as exc:
        return exc.diagnostics, ""
    summary = (
        f"{analysis.total_params:,} params, {analysis.total_macs:,} MACs; "
        f"valid inputs: {analysis.sizes.summary}"
    )
    return list(analysis.diagnostics), summary
