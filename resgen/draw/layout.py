"""What every view shares: the graph read in sections, edges mapped onto drawn nodes, styles.

A view maps each IR node to the drawn node that stands for it (one node per op, per block run or
per stage); the edges between drawn nodes then follow from the IR's edges, so a view never
invents a connection and any node kind draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from resgen.checks import Analysis, StageRow
from resgen.checks.shapes import fmt_shape
from resgen.draw import labels as lb
from resgen.draw.dot import Cluster, Edge, Html, Node, escape, html_lines
from resgen.draw.parts import (
    BlockParts,
    Run,
    broken_adds,
    in_ports,
    runs_of,
    shortcut_kind,
    stage_blocks,
)
from resgen.graph import ir

OUTPUT = "output"
INPUT_STAGE = "input"


@dataclass(frozen=True)
class Section:
    """Consecutive nodes (graph order) of one stage and one block (None outside blocks)."""

    stage: str
    block: str | None
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class Context:
    """What the views need to know about an analysed graph, computed once."""

    analysis: Analysis
    stages: dict[str, list[BlockParts]]
    rows: dict[str, StageRow]
    adds: dict[str, BlockParts]
    shortcut_nodes: frozenset[str]
    broken: frozenset[str]
    run_of: dict[str, Run]  # block path -> the run of identical blocks it belongs to

    @property
    def graph(self) -> ir.Graph:
        return self.analysis.graph

    def counts(self, nodes: list[str] | tuple[str, ...]) -> tuple[int, int]:
        params, macs = self.analysis.params, self.analysis.macs
        return sum(params[n] for n in nodes), sum(macs[n] for n in nodes)


def make_context(analysis: Analysis) -> Context:
    stages = stage_blocks(analysis.graph)
    blocks = [parts for stage in stages.values() for parts in stage]
    run_of = {
        parts.info.path: run
        for stage in stages.values()
        for run in runs_of(analysis, stage)
        for parts in run.blocks
    }
    return Context(
        analysis=analysis,
        stages=stages,
        rows={row.name: row for row in analysis.rows()},
        adds={parts.add: parts for parts in blocks if parts.add is not None},
        shortcut_nodes=frozenset(n for parts in blocks for n in parts.shortcut),
        broken=frozenset(broken_adds(analysis)),
        run_of=run_of,
    )


def sections(graph: ir.Graph) -> list[Section]:
    """Split graph order wherever the stage or block changes; the input is its own section."""
    found: list[Section] = []
    for node, data in ir.nodes(graph):
        stage = INPUT_STAGE if data.kind == ir.INPUT else data.stage
        block = data.block
        if found and (found[-1].stage, found[-1].block) == (stage, block):
            last = found.pop()
            found.append(Section(stage, block, (*last.nodes, node)))
        else:
            found.append(Section(stage, block, (node,)))
    return found


@dataclass
class Canvas:
    """Collects drawn nodes into (possibly nested) clusters, in the order they are added."""

    top: list[Node | Cluster | str] = field(default_factory=list)
    members: dict[str, list[Node | Cluster]] = field(default_factory=dict)

    def add(self, item: Node | Cluster, cluster: str | None = None) -> None:
        if cluster is None:
            self.top.append(item)
            return
        if cluster not in self.members:
            self.members[cluster] = []
            self.top.append(cluster)
        self.members[cluster].append(item)

    def items(
        self, label: Callable[[str], tuple[Html, dict[str, str]]]
    ) -> tuple[Node | Cluster, ...]:
        """The drawing's items, each cluster placeholder replaced by its labelled cluster."""
        out: list[Node | Cluster] = []
        for item in self.top:
            if isinstance(item, str):
                html, attrs = label(item)
                out.append(Cluster(item, html, tuple(self.members[item]), attrs))
            else:
                out.append(item)
        return tuple(out)


def stage_attrs() -> dict[str, str]:
    return {
        "style": "rounded,filled",
        "fillcolor": lb.CLUSTER_FILL,
        "color": lb.CLUSTER_LINE,
        "labeljust": "l",
        "fontsize": "12",
    }


def stage_title(ctx: Context, stage: str) -> Html:
    """`layer3 · 36 blocks · 1024x14x14 · 14.96M params · 1.46G MACs`."""
    row = ctx.rows.get(stage)
    if row is None:
        return Html(f"<b>{escape(stage)}</b>")
    parts = [f"<b>{escape(stage)}</b>"]
    if row.blocks:
        parts.append(f"{row.blocks} block{'s' if row.blocks != 1 else ''}")
    parts += _regnet_widths(ctx, stage)
    parts += [escape(fmt_shape(row.shape)), escape(lb.counts_line(row.params, row.macs))]
    return Html(" \u00b7 ".join(parts))


def _regnet_widths(ctx: Context, stage: str) -> list[str]:
    """A RegNet stage's design-space numbers: `width 104`, `group width 8`."""
    info = next((s for s in ir.stages_of(ctx.graph) if s.name == stage), None)
    if info is None or info.blocks[0].type != "regnet":
        return []
    block = info.blocks[0]
    return [f"width {block.out_channels}", f"group width {block.mid_channels // block.groups}"]


def muted(text: str, size: int = 9) -> str:
    return f'<font point-size="{size}" color="{lb.MUTED}">{escape(text)}</font>'


def input_node(ctx: Context, node: str) -> Node:
    shape = fmt_shape(ctx.analysis.shapes.get(node))
    label = html_lines(f"<b>{escape(node)}</b>", escape(shape))
    return Node(node, label, {"shape": "box", "style": "rounded", "group": "main"})


def output_node(ctx: Context) -> Node:
    shape = fmt_shape(ctx.analysis.output_shape)
    label = html_lines(f"<b>{OUTPUT}</b>", escape(shape))
    return Node(OUTPUT, label, {"shape": "box", "style": "rounded", "group": "main"})


def edge_attrs(
    ctx: Context, src: str, dst: str, port: int, *, collapsed: bool = False
) -> dict[str, str]:
    """Label an edge with the tensor it carries; style shortcuts and broken adds.

    With `collapsed` runs (block detail), a shortcut into a run of N blocks says `x N`: each
    block of the run has its own.
    """
    label = [escape(fmt_shape(ctx.analysis.shapes.get(src)))]
    attrs: dict[str, str] = {}
    parts = ctx.adds.get(dst)
    if parts is not None and port == ir.SHORTCUT_PORT:
        kind = shortcut_kind(ctx.graph, parts)
        n = len(ctx.run_of[parts.info.path].blocks) if collapsed else 1
        label.insert(0, f"<i>{escape(kind)}</i>" + (f" \u00d7 {n}" if n > 1 else ""))
        attrs["weight"] = "0"  # let the main path run straight
        if kind == "identity":
            attrs.update(color=lb.IDENTITY_LINE)
        else:
            attrs.update(style="dashed", color=lb.SHORTCUT_LINE, fontcolor=lb.SHORTCUT_LINE)
    elif dst in ctx.shortcut_nodes or src in ctx.shortcut_nodes:
        attrs.update(style="dashed", color=lb.SHORTCUT_LINE, fontcolor=lb.SHORTCUT_LINE)
    if dst in ctx.broken:
        attrs.update(color=lb.ERROR, fontcolor=lb.ERROR, penwidth="2")
    return {"label": html_lines(*label), **attrs}


def map_edges(
    ctx: Context,
    rep: dict[str, str],
    skip: Callable[[str, str], bool] | None = None,
    *,
    collapsed: bool = False,
) -> tuple[Edge, ...]:
    """The IR's edges between the drawn nodes that stand for their ends, first one kept."""
    graph = ctx.graph
    drawn: dict[tuple[str, str], Edge] = {}
    for dst in graph.nodes:
        for src, port in in_ports(graph, dst):
            key = (rep[src], rep[dst])
            if key[0] == key[1] or key in drawn or (skip is not None and skip(src, dst)):
                continue
            drawn[key] = Edge(*key, edge_attrs(ctx, src, dst, port, collapsed=collapsed))
    for node in graph.nodes:
        if graph.out_degree(node) == 0:
            key = (rep[node], OUTPUT)
            drawn.setdefault(key, Edge(*key, edge_attrs(ctx, node, OUTPUT, 0)))
    return tuple(drawn.values())


def graph_attrs(rankdir: str) -> dict[str, str]:
    return {"rankdir": rankdir, "newrank": "true", "nodesep": "0.3", "ranksep": "0.3"}


def title(ctx: Context, name: str, source: str) -> Html:
    """Model, file, totals and the counting convention; the errors, if any, in red."""
    a = ctx.analysis
    shape = fmt_shape(ctx.graph.graph["input_shape"])
    lines = [
        f'<font point-size="16"><b>{escape(name)}</b></font>  {escape(source)}',
        escape(f"input {shape} \u00b7 {a.total_params:,} params \u00b7 {a.total_macs:,} MACs"),
        muted(lb.MACS_CONVENTION),
    ]
    errors = [d for d in a.diagnostics if d.is_error]
    if errors:
        n = len(errors)
        red = f'<font point-size="11" color="{lb.ERROR}">'
        lines.append(f"{red}{n} error{'s' if n != 1 else ''}:</font>")
        lines += [f"{red}{escape(d.message)}</font>" for d in errors[:5]]
        if n > 5:
            lines.append(f"{red}... (resgen check lists all {n})</font>")
    return html_lines(*lines)
