"""`resgen info`: the per-stage table of shapes, params and MACs, for each spec given."""

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
from resgen.diagnostics import has_errors

HELP = "per-stage table of shapes, params and MACs"
FORMATS = ("text", "json", "markdown", "latex")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC_OR_DIR",
        help="spec files, directories or built-in names; with several (or a folder), a table "
        "per spec, and -f json gives an object keyed by spec",
    )
    add_format(parser, FORMATS, "text", "markdown and latex: the ResNet paper's Table 1 style")
    add_output(parser, "FILE", "write the tables to FILE instead of stdout", old_formats=FORMATS)
    parser.add_argument(
        "--per-block", action="store_true", help="list every block, not only stages"
    )
    add_extends_root(parser)


def run(args: argparse.Namespace) -> int:
    return report_into(args.output, lambda: _info(args))


def _info(args: argparse.Namespace) -> int:
    """Every spec's table; a spec that fails is reported and the others still printed."""
    from resgen.pipeline import check
    from resgen.report import info_json

    files, problems, several = expand_each(args.specs)
    print_diagnostics(problems)
    failed = bool(problems)
    found: dict[str, Any] = {}  # -f json: each spec's numbers, by its name in messages
    for spec, name in files:
        loaded = load_or_report(spec, args.extends_root)
        if loaded is None:
            failed = True
            continue
        analysis = check(loaded)
        print_diagnostics(analysis.diagnostics)
        failed |= has_errors(analysis.diagnostics)
        if args.format == "json":
            found[name] = info_json(loaded, analysis, per_block=args.per_block)
            continue
        if spec != files[0][0]:
            print()  # a blank line between one spec's table and the next one's title
        _print_table(args.format, loaded, analysis, per_block=args.per_block)
    if args.format == "json" and (found or several):
        # One spec named alone prints its object, as 0.1 did; a folder or several, an object.
        print(json.dumps(found if several else found.popitem()[1], indent=2))
    return EXIT_FINDINGS if failed else EXIT_OK


def _print_table(fmt: str, *args: Any, per_block: bool) -> None:
    from resgen.report import info_latex, info_markdown, info_table

    if fmt == "text":
        info_table(*args, per_block=per_block)
    else:
        render = info_markdown if fmt == "markdown" else info_latex
        sys.stdout.write(render(*args, per_block=per_block))
