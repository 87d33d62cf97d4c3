"""`resgen list`: the built-in specs, with their size and what they reproduce."""

from __future__ import annotations

import argparse
import json
import sys
from typing import NamedTuple

from resgen.cli.common import EXIT_FINDINGS, EXIT_OK, print_diagnostics
from resgen.cli.options import add_format, add_output, report_into
from resgen.diagnostics import ResgenError

HELP = "list the built-in specs: name, input, params, MACs and description"


class Row(NamedTuple):
    name: str
    input: tuple[int, ...]  # (C, H, W) the numbers are for
    params: int
    macs: int
    description: str  # what it reproduces, with the paper or library it follows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_format(parser, ("text", "json"), "text", "output format")
    add_output(parser, "FILE", "write the list to FILE instead of stdout")


def run(args: argparse.Namespace) -> int:
    return report_into(args.output, lambda: _list(args))


def _list(args: argparse.Namespace) -> int:
    from resgen.api import load_spec
    from resgen.pipeline import check
    from resgen.resources import builtin_spec_names

    rows = []
    for name in builtin_spec_names():
        try:
            loaded = load_spec(name)
            analysis = check(loaded)
        except ResgenError as exc:  # a broken installation: say which spec
            print_diagnostics(exc.diagnostics)
            return EXIT_FINDINGS
        shape = tuple(analysis.graph.graph["input_shape"])
        desc = loaded.spec.description
        rows.append(Row(name, shape, analysis.total_params, analysis.total_macs, desc))
    if args.format == "json":
        data = [{**row._asdict(), "input": list(row.input)} for row in rows]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        _print_table(rows)
    return EXIT_OK


def _print_table(rows: list[Row]) -> None:
    from rich.table import Table

    from resgen.report import table_console

    table = Table(box=None, header_style="bold")
    table.add_column("spec")
    table.add_column("input", justify="right")
    table.add_column("params", justify="right")
    table.add_column("MACs", justify="right")
    table.add_column("description")
    for row in rows:
        size = "x".join(str(d) for d in row.input)
        table.add_row(row.name, size, f"{row.params:,}", f"{row.macs:,}", row.description)
    table_console().print(table)
