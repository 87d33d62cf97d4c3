"""What `resgen info` shows: a per-stage table (rich) or JSON, from the checks' numbers."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from resgen.checks import Analysis
from resgen.checks.shapes import fmt_shape
from resgen.spec.load import LoadedSpec


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def info_json(loaded: LoadedSpec, analysis: Analysis) -> dict[str, Any]:
    """The numbers `info` prints, as plain data."""
    c, h, w = analysis.graph.graph["input_shape"]
    return {
        "name": loaded.spec.name,
        "file": loaded.source.name,
        "input": [c, h, w],
        "params": analysis.total_params,
        "macs": analysis.total_macs,
        "output": list(analysis.output_shape) if analysis.output_shape else None,
        "stages": [
            {
                "name": row.name,
                "blocks": row.blocks,
                "output": list(row.shape) if row.shape else None,
                "params": row.params,
                "macs": row.macs,
            }
            for row in analysis.rows()
        ],
        "ok": not any(d.is_error for d in analysis.diagnostics),
    }


def info_table(loaded: LoadedSpec, analysis: Analysis, console: Console | None = None) -> None:
    """Print the per-stage table to the terminal."""
    console = console or Console()
    spec = loaded.spec
    c, h, w = analysis.graph.graph["input_shape"]
    total_p, total_m = analysis.total_params, analysis.total_macs
    table = Table(
        title=f"{spec.model_class} ({loaded.source.name}), input {c}x{h}x{w}",
        caption="MACs: multiply-adds of convs and linear layers per sample "
        "(= torch FlopCounterMode / 2)",
    )
    table.add_column("stage")
    table.add_column("blocks", justify="right")
    table.add_column("output", justify="right")
    table.add_column("params", justify="right")
    table.add_column("%", justify="right")
    table.add_column("MACs", justify="right")
    table.add_column("%", justify="right")
    for row in analysis.rows():
        table.add_row(
            row.name, str(row.blocks or "-"), fmt_shape(row.shape),
            f"{row.params:,}", _pct(row.params, total_p), f"{row.macs:,}", _pct(row.macs, total_m),
        )  # fmt: skip
    table.add_section()
    table.add_row(
        "total", str(sum(r.blocks for r in analysis.rows())), fmt_shape(analysis.output_shape),
        f"{total_p:,}", "100%", f"{total_m:,}", "100%", style="bold",
    )  # fmt: skip
    console.print(table)
