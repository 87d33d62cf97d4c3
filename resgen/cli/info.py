"""`resgen info`: the per-stage table of shapes, params and MACs."""

from __future__ import annotations

import argparse
import json
import sys

from resgen.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    add_extends_root,
    load_or_report,
    print_diagnostics,
)
from resgen.diagnostics import has_errors

HELP = "per-stage table of shapes, params and MACs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC")
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json", "markdown", "latex"),
        default="text",
        help="output format (markdown and latex: the ResNet paper's Table 1 style)",
    )
    parser.add_argument(
        "--per-block", action="store_true", help="list every block, not only stages"
    )
    add_extends_root(parser)


def run(args: argparse.Namespace) -> int:
    from resgen.pipeline import check
    from resgen.report import info_json, info_table

    loaded = load_or_report(args.spec, args.extends_root)
    if loaded is None:
        return EXIT_FINDINGS
    analysis = check(loaded)
    print_diagnostics(analysis.diagnostics)
    if args.output == "json":
        print(json.dumps(info_json(loaded, analysis, per_block=args.per_block), indent=2))
    elif args.output in ("markdown", "latex"):
        from resgen.report import info_latex, info_markdown

        render = info_markdown if args.output == "markdown" else info_latex
        sys.stdout.write(render(loaded, analysis, per_block=args.per_block))
    else:
        info_table(loaded, analysis, per_block=args.per_block)
    return EXIT_FINDINGS if has_errors(analysis.diagnostics) else EXIT_OK
