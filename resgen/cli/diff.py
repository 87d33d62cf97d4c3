"""`resgen diff`: what changes from spec A to spec B: fields, shapes, counts."""

from __future__ import annotations

import argparse
import json
import sys

from resgen.cli.common import EXIT_FINDINGS, EXIT_OK, add_extends_root, print_diagnostics
from resgen.cli.options import add_format, add_output, report_into
from resgen.diagnostics import ResgenError

HELP = "what changes from spec A to spec B: fields, shapes, counts (exit 1 if they differ)"
FORMATS = ("text", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec_a", metavar="A", help="spec file or built-in name")
    parser.add_argument("spec_b", metavar="B", help="spec file or built-in name")
    add_format(parser, FORMATS, "text", "output format")
    add_output(parser, "FILE", "write the diff to FILE instead of stdout", old_formats=FORMATS)
    add_extends_root(parser)


def run(args: argparse.Namespace) -> int:
    return report_into(args.output, lambda: _diff(args))


def _diff(args: argparse.Namespace) -> int:
    from resgen.api import diff_specs
    from resgen.diff import format_diff

    try:
        diff = diff_specs(args.spec_a, args.spec_b, extends_root=args.extends_root)
    except ResgenError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_FINDINGS
    if args.format == "json":
        print(json.dumps(diff.to_json(), indent=2))
    else:
        sys.stdout.write(format_diff(diff))
    # As diff(1) does: 0 when the specs agree on every field, 1 when they differ.
    return EXIT_OK if diff.identical else EXIT_FINDINGS
