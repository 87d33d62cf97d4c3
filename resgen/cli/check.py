"""`resgen check`: validate specs and their graphs; exit 1 on any error (`--strict`: warning).

The result of each file (`ok` and its numbers) and the count go to stdout (or `-o FILE`); the
diagnostics, in text, to stderr, so `resgen check specs 2>/dev/null` lists what passed.
"""

from __future__ import annotations

import argparse
import dataclasses

from resgen.cli.common import EXIT_FINDINGS, EXIT_OK, SpecArg, add_extends_root, expand_specs
from resgen.cli.options import add_format, add_output, report_into
from resgen.diagnostics import REPORTERS, Diagnostic, ResgenError, Severity, has_errors

HELP = "validate specs and their graphs; exit 1 on any error"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs", nargs="+", metavar="SPEC_OR_DIR", help="spec files, directories or built-in names"
    )
    add_format(
        parser,
        tuple(REPORTERS),
        "text",
        "text: results on stdout, diagnostics on stderr; json: one document on stdout; github: "
        "GitHub Actions annotations",
    )
    add_output(
        parser,
        "FILE",
        "write what goes to stdout to FILE instead (whole, once the check ends)",
        old_formats=tuple(REPORTERS),
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings as errors: report them as errors and exit 1 (for CI and pre-commit)",
    )
    add_extends_root(parser)


def run(args: argparse.Namespace) -> int:
    return report_into(args.output, lambda: _check(args))


def _check(args: argparse.Namespace) -> int:
    files, problems = expand_specs(args.specs)
    reporter = REPORTERS[args.format]()
    failed = has_errors(problems)
    for spec, name in files:
        diagnostics, summary = _check_one(spec, args.extends_root)
        if args.strict:
            diagnostics = [_as_error(d) for d in diagnostics]
            summary = summary if not has_errors(diagnostics) else ""
        reporter.report_file(name, diagnostics, summary)
        failed = failed or has_errors(diagnostics)
    reporter.report(problems)
    reporter.finish()
    return EXIT_FINDINGS if failed else EXIT_OK


def _as_error(diagnostic: Diagnostic) -> Diagnostic:
    if diagnostic.severity is Severity.WARNING:
        return dataclasses.replace(diagnostic, severity=Severity.ERROR)
    return diagnostic


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
