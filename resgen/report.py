"""What `resgen info` shows: per-stage (and per-block) tables of shapes, params and MACs.

Text (rich), JSON, Markdown and LaTeX all print the same `Table`, whose numbers come from the
Analysis only, so `info` never disagrees with `check`, the drawings or the generated docstrings.
Markdown and LaTeX follow the ResNet paper's Table 1: stage, output size, block recipe
(`[1x1, 64; 3x3, 64; 1x1, 256] x 3`), then the counts.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import IO, Any

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from resgen.checks import Analysis
from resgen.checks.shapes import fmt_shape
from resgen.diagnostics import printable
from resgen.draw.labels import MACS_CONVENTION, op_phrase
from resgen.draw.parts import BlockParts, shortcut_kind, stage_blocks
from resgen.graph import ir
from resgen.spec.load import LoadedSpec

# Ops a recipe leaves out, as the paper's table does (norms, activations, reshapes).
UNLISTED = (
    ir.INPUT, ir.NORM, ir.AFFINE, ir.ACT, ir.DROP, ir.FLATTEN, ir.ADD, ir.SLICE, ir.CONCAT,
    ir.REGROUP,
)  # fmt: skip

Recipe = tuple[tuple[tuple[str, ...], int], ...]  # runs of (ops, repeat count)


@dataclass(frozen=True)
class Row:
    """A stage (stem, layer1..N, head) or, with --per-block, one block."""

    name: str
    level: str  # "stage" | "block"
    blocks: int
    shape: ir.Shape | None
    params: int
    macs: int
    recipe: Recipe
    note: str  # a block's type and shortcut kind

    def recipe_text(self) -> str:
        """`[1x1, 64; 3x3, 64; 1x1, 256] x 3`, or `7x7, 64, stride 2; ...` outside blocks."""
        if self.level == "stage" and not self.blocks:
            return "; ".join(op for ops, _ in self.recipe for op in ops)
        runs = [f"[{'; '.join(ops)}]" + (f" x {n}" if n > 1 else "") for ops, n in self.recipe]
        return ", ".join(runs)


@dataclass(frozen=True)
class Table:
    title: str
    rows: tuple[Row, ...]
    params: int
    macs: int
    blocks: int
    output: ir.Shape | None
    valid_inputs: str  # the checks' summary of the input sizes the network accepts
    generator: str = ""  # a RegNet's parameters, which generated the stages; "" for none

    @property
    def footer(self) -> str:
        lead = f"{self.generator}. " if self.generator else ""
        return f"{lead}{MACS_CONVENTION}; valid inputs: {self.valid_inputs}"


def paper_op(op: ir.Op, *, stride: bool) -> str | None:
    """One op as the paper's table writes it (`3x3, 64`), or None if the table omits it."""
    if op.kind in UNLISTED:
        return None
    step = getattr(op, "stride", 1)
    suffix = f", stride {step}" if stride and step > 1 else ""
    match op:
        case ir.Conv(kernel=k, groups=groups, out_channels=cout):
            cardinality = f", C={groups}" if groups != 1 else ""
            return f"{k}x{k}, {cout}{cardinality}{suffix}"
        case ir.Pool(kernel=k, pool=pool):
            return f"{k}x{k} {pool} pool{suffix}"
        case ir.Linear(out_features=features):
            return f"{features}-d fc"
    return op_phrase(op)


def _block_recipe(analysis: Analysis, parts: BlockParts) -> tuple[str, ...]:
    graph = analysis.graph
    ops = (paper_op(ir.op(graph, n), stride=False) for n in parts.body)
    return tuple(op for op in ops if op is not None)


def _stage_recipe(analysis: Analysis, blocks: list[BlockParts]) -> Recipe:
    runs: list[tuple[tuple[str, ...], int]] = []
    for parts in blocks:
        ops = _block_recipe(analysis, parts)
        if runs and runs[-1][0] == ops:
            runs[-1] = (ops, runs[-1][1] + 1)
        else:
            runs.append((ops, 1))
    return tuple(runs)


def build_table(loaded: LoadedSpec, analysis: Analysis, *, per_block: bool = False) -> Table:
    """Every row `info` prints, from the analysis."""
    graph = analysis.graph
    stages = stage_blocks(graph)
    rows: list[Row] = []
    for stage in analysis.rows():
        blocks = stages.get(stage.name, [])
        if blocks:
            recipe = _stage_recipe(analysis, blocks)
        else:
            nodes = [n for n, data in ir.nodes(graph) if data.stage == stage.name]
            ops = (paper_op(ir.op(graph, n), stride=True) for n in nodes)
            recipe = ((tuple(op for op in ops if op is not None), 1),)
        rows.append(Row(stage.name, "stage", stage.blocks, stage.shape, stage.params,
                        stage.macs, recipe, ""))  # fmt: skip
        if per_block:
            rows += [_block_row(analysis, parts) for parts in blocks]
    c, h, w = graph.graph["input_shape"]
    spec = loaded.spec
    return Table(
        title=printable(f"{spec.model_class} ({loaded.source.name}), input {c}x{h}x{w}"),
        rows=tuple(rows),
        params=analysis.total_params,
        macs=analysis.total_macs,
        blocks=sum(len(b) for b in stages.values()),
        output=analysis.output_shape,
        valid_inputs=analysis.sizes.summary,
        generator=_generator(loaded),
    )


def _generator(loaded: LoadedSpec) -> str:
    """`stages from RegNet's w_0 = 48, w_a = 27.89, ...` for a spec in the parameter form."""
    params = loaded.spec.regnet
    if params is None:
        return ""
    named = ", ".join(f"{k} = {v}" for k, v in params.model_dump().items() if k != "group_rounding")
    return f"stages from RegNet's {named} ({params.group_rounding} group rounding)"


def _block_row(analysis: Analysis, parts: BlockParts) -> Row:
    params = sum(analysis.params[n] for n in parts.nodes)
    macs = sum(analysis.macs[n] for n in parts.nodes)
    note = f"{parts.info.type}, {shortcut_kind(analysis.graph, parts)}"
    if parts.add is None:
        note = f"{parts.info.type}, no shortcut"
    shape = analysis.shapes.get(parts.info.output)
    recipe = ((_block_recipe(analysis, parts), 1),)
    return Row(parts.info.path, "block", 0, shape, params, macs, recipe, note)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _size(shape: ir.Shape | None) -> str:
    """The paper's `output size`: spatial for feature maps (`56x56`), features otherwise."""
    if shape is None:
        return "?"
    return fmt_shape(shape[1:]) if len(shape) == 3 else fmt_shape(shape)


def info_json(loaded: LoadedSpec, analysis: Analysis, *, per_block: bool = False) -> dict[str, Any]:
    """The numbers `info` prints, as plain data."""
    table = build_table(loaded, analysis, per_block=per_block)
    c, h, w = analysis.graph.graph["input_shape"]
    stages: list[dict[str, Any]] = []
    for row in table.rows:
        entry: dict[str, Any] = {
            "name": row.name,
            "blocks": row.blocks,
            "output": list(row.shape) if row.shape else None,
            "params": row.params,
            "macs": row.macs,
            "recipe": row.recipe_text(),
        }
        if row.level == "stage":
            stages.append(entry | ({"per_block": []} if per_block else {}))
        else:
            stages[-1]["per_block"].append(entry | {"block": row.note})
    regnet = loaded.spec.regnet
    return {
        "name": loaded.spec.name,
        "file": loaded.source.name,
        **({"regnet": regnet.model_dump()} if regnet else {}),  # the parameters of its stages
        "input": [c, h, w],
        "params": table.params,
        "macs": table.macs,
        "output": list(table.output) if table.output else None,
        "stages": stages,
        "valid_inputs": {"min": analysis.sizes.min_size, "summary": table.valid_inputs},
        "ok": not any(d.is_error for d in analysis.diagnostics),
    }


# Wide enough for any table resgen prints: a pipe or a file gets every cell whole.
PIPE_WIDTH = 100_000


def wants_colour(stream: IO[str]) -> bool:
    """Colour on a terminal; `NO_COLOR` (https://no-color.org) turns it off, `FORCE_COLOR` on."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def table_console(file: IO[str] | None = None, *, stderr: bool = False) -> Console:
    """A rich Console for tables: full width and plain on a pipe or file, fitted on a terminal.

    Rich fits a table to 80 columns when it cannot ask a terminal, cutting cells to `9,437,1…`;
    output that is not a terminal gets every cell whole instead (colour follows `wants_colour`).
    """
    stream = file or (sys.stderr if stderr else sys.stdout)
    isatty = getattr(stream, "isatty", None)
    terminal = bool(isatty and isatty())
    colour = wants_colour(stream)
    return Console(
        file=stream,
        width=None if terminal else PIPE_WIDTH,
        force_terminal=colour,
        no_color=not colour,
        color_system=("auto" if terminal else "standard") if colour else None,
        highlight=False,
        emoji=False,
    )


def info_table(
    loaded: LoadedSpec,
    analysis: Analysis,
    console: Console | None = None,
    *,
    per_block: bool = False,
) -> None:
    """Print the per-stage table to the terminal."""
    console = console or table_console()
    table = build_table(loaded, analysis, per_block=per_block)
    # Text, not a str: rich would read `[red]` or `[/x]` in a file name as markup.
    out = RichTable(title=Text(table.title), caption=Text(table.footer))
    out.add_column("stage")
    out.add_column("blocks", justify="right")
    if per_block:
        out.add_column("block")
    for name in ("output", "params", "%", "MACs", "%"):
        out.add_column(name, justify="right")
    for row in table.rows:
        block = row.level == "block"
        cells = [f"  {row.name}" if block else row.name, "" if block else str(row.blocks or "-")]
        if per_block:
            cells.append(row.note)
        cells += [
            fmt_shape(row.shape), f"{row.params:,}", _pct(row.params, table.params),
            f"{row.macs:,}", _pct(row.macs, table.macs),
        ]  # fmt: skip
        out.add_row(*cells, style="dim" if block else None)
    out.add_section()
    total = ["total", str(table.blocks), *([""] if per_block else [])]
    total += [fmt_shape(table.output), f"{table.params:,}", "100%", f"{table.macs:,}", "100%"]
    out.add_row(*total, style="bold")
    console.print(out)


def _cells(table: Table, row: Row) -> list[str]:
    return [
        row.name, _size(row.shape), row.recipe_text() + (f" ({row.note})" if row.note else ""),
        f"{row.params:,}", _pct(row.params, table.params),
        f"{row.macs:,}", _pct(row.macs, table.macs),
    ]  # fmt: skip


HEADER = ("stage", "output size", "layers", "params", "%", "MACs", "%")


def info_markdown(loaded: LoadedSpec, analysis: Analysis, *, per_block: bool = False) -> str:
    """A GitHub-flavoured Markdown table in the paper's Table 1 style."""
    table = build_table(loaded, analysis, per_block=per_block)
    lines = [f"**{_md(table.title)}**", "", "| " + " | ".join(HEADER) + " |"]
    lines.append("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for row in table.rows:
        cells = [c.replace("|", "\\|") for c in _cells(table, row)]
        if row.level == "block":
            cells[0] = f"&nbsp;&nbsp;{cells[0]}"
        lines.append("| " + " | ".join(cells) + " |")
    total = ["**total**", _size(table.output), f"{table.blocks} blocks"]
    total += [f"**{table.params:,}**", "100%", f"**{table.macs:,}**", "100%"]
    lines.append("| " + " | ".join(total) + " |")
    lines += ["", table.footer]
    return "\n".join(lines) + "\n"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def _md(text: str) -> str:
    """Escape text for Markdown: a file name's `*`, `[`, `<` or `|` is shown, not obeyed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {"~": r"\textasciitilde{}", "^": r"\^{}"}


def _tex(text: str) -> str:
    """Escape text for LaTeX and set `3x3` as `$3\\times3$`."""
    text = "".join(_LATEX_SPECIAL.get(c, c) for c in text.replace("\\", r"\textbackslash{}"))
    return re.sub(r"\b(\d+)x(\d+)\b", r"$\1\\times\2$", text)


def _tex_recipe(row: Row) -> str:
    if row.level == "stage" and not row.blocks:
        return _tex(row.recipe_text())
    runs = []
    for ops, n in row.recipe:
        body = r" \\ ".join(r"\mbox{" + _tex(op) + "}" for op in ops)
        times = rf" \times {n}" if n > 1 else ""
        runs.append(rf"$\left[\begin{{array}}{{c}} {body} \end{{array}}\right]{times}$")
    note = f" ({_tex(row.note)})" if row.note else ""
    return ", ".join(runs) + note


def info_latex(loaded: LoadedSpec, analysis: Analysis, *, per_block: bool = False) -> str:
    """A booktabs `table` in the paper's Table 1 style (needs `\\usepackage{booktabs}`)."""
    table = build_table(loaded, analysis, per_block=per_block)
    lines = [
        # A comment ends at a line break: the title (which holds the file name) has none left.
        f"% {table.title}: generated by resgen info -f latex; needs \\usepackage{{booktabs}}",
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{llcrrrr}",
        r"\toprule",
        " & ".join(_tex(h) for h in HEADER) + r" \\",
        r"\midrule",
    ]
    for row in table.rows:
        cells = [_tex(c) for c in _cells(table, row)]
        cells[2] = _tex_recipe(row)
        if row.level == "block":
            cells[0] = r"\quad " + cells[0]
        lines.append(" & ".join(cells) + r" \\")
    lines.append(r"\midrule")
    total = ["total", _tex(_size(table.output)), f"{table.blocks} blocks"]
    total += [f"{table.params:,}", r"100\%", f"{table.macs:,}", r"100\%"]
    lines.append(" & ".join(total) + r" \\")
    caption = _tex(f"{table.title}. {table.footer}")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption}}}"]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"
