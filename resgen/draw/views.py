"""The three detail levels: one node per stage, per block run, or per op.

Each view decides which drawn node stands for each IR node and how it is labelled; the edges
follow from the graph (`layout.map_edges`).
"""

from __future__ import annotations

from collections.abc import Callable

from resgen.checks.shapes import fmt_shape
from resgen.draw import labels as lb
from resgen.draw.dot import Cluster, Drawing, Edge, Html, Node, escape, html_lines
from resgen.draw.layout import (
    INPUT_STAGE,
    Canvas,
    Context,
    Section,
    graph_attrs,
    input_node,
    map_edges,
    muted,
    output_node,
    sections,
    stage_attrs,
    stage_title,
)
from resgen.draw.parts import BlockParts, Run, shortcut_kind
from resgen.graph import ir

# Nodes on the main path share a group, which dot keeps in a straight line.
MAIN = "main"


def _box(fill: str, line: str = "#888888", *, error: bool = False) -> dict[str, str]:
    """A rounded box on the main path."""
    attrs = {"style": "rounded,filled", "fillcolor": fill, "color": line, "group": MAIN}
    if error:
        attrs.update(color=lb.ERROR, penwidth="2")
    return attrs


def _shortcut_box() -> dict[str, str]:
    """A dashed box off the main path, as the paper draws projections."""
    return {
        "style": "rounded,filled,dashed",
        "fillcolor": lb.SHORTCUT_FILL,
        "color": lb.SHORTCUT_LINE,
    }


def _summary_node(ctx: Context, node_id: str, heading: str, nodes: tuple[str, ...]) -> Node:
    """A node standing for a few ops (a stem, a head): their recipe and counts."""
    lines = [f"<b>{escape(heading)}</b>"]
    lines += [escape(line) for line in lb.op_lines(ctx.graph, nodes)]
    lines.append(muted(lb.counts_line(*ctx.counts(nodes))))
    return Node(node_id, html_lines(*lines), _box(lb.PLAIN_FILL))


def _segment_ids(secs: list[Section]) -> list[str]:
    """Name the sections outside blocks: the stage's name, then `stage#2` if it recurs."""
    seen: dict[str, int] = {}
    ids = []
    for sec in secs:
        seen[sec.stage] = seen.get(sec.stage, 0) + 1
        ids.append(sec.stage if seen[sec.stage] == 1 else f"{sec.stage}#{seen[sec.stage]}")
    return ids


def stage_view(ctx: Context) -> tuple[Canvas, dict[str, str]]:
    """One node per stage, for slides."""
    canvas, rep = Canvas(), {}
    done: set[str] = set()
    for sec in sections(ctx.graph):
        for node in sec.nodes:
            rep[node] = sec.stage if sec.stage != INPUT_STAGE else node
        if sec.stage == INPUT_STAGE:
            canvas.add(input_node(ctx, sec.nodes[0]))
        elif sec.stage not in done:
            done.add(sec.stage)
            canvas.add(_stage_node(ctx, sec.stage))
    return canvas, rep


def _stage_node(ctx: Context, stage: str) -> Node:
    members = [n for n, d in ir.nodes(ctx.graph) if d.stage == stage and d.kind != ir.INPUT]
    blocks = ctx.stages.get(stage, [])
    if not blocks:
        return _summary_node(ctx, stage, stage, tuple(members))
    types: dict[str, int] = {}
    for parts in blocks:
        types[parts.info.type] = types.get(parts.info.type, 0) + 1
    row = ctx.rows[stage]
    error = any(parts.add in ctx.broken for parts in blocks)
    lines = [f"<b>{escape(stage)}</b>"]
    lines += [escape(f"{n} \u00d7 {kind}") for kind, n in types.items()]
    last = blocks[-1].info
    if last.type == "regnet":  # RegNet's terms: the stage's width and group width
        group_width = int(last.mid_channels) // max(int(last.groups), 1)
        lines.append(escape(f"width {int(last.out_channels)}, group width {group_width}"))
    lines.append(escape(fmt_shape(row.shape)))
    lines.append(muted(lb.counts_line(row.params, row.macs)))
    if error:
        lines.append(f'<font color="{lb.ERROR}">shortcut shape error</font>')
    return Node(stage, html_lines(*lines), _box(lb.BODY_FILL, lb.BODY_LINE, error=error))


def block_view(ctx: Context) -> tuple[Canvas, dict[str, str]]:
    """The stem, each stage's block runs (first block, then `x N`), the head."""
    canvas, rep = Canvas(), {}
    secs = [s for s in sections(ctx.graph) if s.block is None]
    for sec, node_id in zip(secs, _segment_ids(secs), strict=True):
        for node in sec.nodes:
            rep[node] = node_id
    placed: set[str] = set()
    for sec in sections(ctx.graph):
        if sec.block is None:
            segment = _segment_node(ctx, sec, rep[sec.nodes[0]])
            canvas.add(segment, sec.stage if sec.stage in ctx.stages else None)
            continue
        run = ctx.run_of[sec.block]
        if run.id in placed:
            continue
        placed.add(run.id)
        for item in _run_nodes(ctx, run, rep):
            canvas.add(item, sec.stage)
    return canvas, rep


def _segment_node(ctx: Context, sec: Section, node_id: str) -> Node:
    if sec.stage == INPUT_STAGE:
        return input_node(ctx, sec.nodes[0])
    return _summary_node(ctx, node_id, node_id, sec.nodes)


def _run_nodes(ctx: Context, run: Run, rep: dict[str, str]) -> list[Node]:
    """A run's residual branch, shortcut (unless identity) and add, each one node."""
    first = run.first
    roles = {"": "body", ".shortcut": "shortcut", ".add": "add"}
    for parts in run.blocks:
        for suffix, role in roles.items():
            for node in _role_nodes(parts, role):
                rep[node] = run.id + suffix
    nodes = [_body_node(ctx, run)]
    if first.shortcut:
        members = tuple(n for parts in run.blocks for n in parts.shortcut)
        kind = shortcut_kind(ctx.graph, first)
        lines = [f"<i>{escape(kind)}</i>"]
        lines += [escape(line) for line in lb.op_lines(ctx.graph, first.shortcut)]
        lines.append(muted(lb.counts_line(*ctx.counts(members))))
        nodes.append(Node(run.id + ".shortcut", html_lines(*lines), _shortcut_box()))
    adds = [p.add for p in run.blocks if p.add is not None]
    if adds:
        add = _add_node(ctx, run.id + ".add", adds, first.post)
        if len(run.blocks) > 1:  # one add per block: stacked, as the body is
            add = Node(add.id, add.label, {**add.attrs, "peripheries": "2"})
        nodes.append(add)
    return nodes


def _repeat_edges(ctx: Context) -> list[Edge]:
    """A loop from each collapsed run's add back to its body, labelled `x N`.

    It reads as the paper's bracket: body, shortcut and add, all N times, each block with its
    own shortcut (the shortcut arc into the add says `x N` too).
    """
    edges, seen = [], set()
    for run in ctx.run_of.values():
        n = len(run.blocks)
        if n == 1 or run.id in seen:
            continue
        seen.add(run.id)
        src = run.id + ".add" if run.first.add is not None else run.id
        attrs = {"label": Html(f"<b>\u00d7 {n}</b>"), "constraint": "false", "style": "bold"}
        attrs.update(color=lb.BODY_LINE, fontcolor=lb.BODY_LINE, arrowhead="vee")
        edges.append(Edge(src, run.id, attrs))
    return edges


def _role_nodes(parts: BlockParts, role: str) -> tuple[str, ...]:
    if role == "body":
        return parts.body
    if role == "shortcut":
        return parts.shortcut
    return parts.post if parts.add is None else (parts.add, *parts.post)


def _body_node(ctx: Context, run: Run) -> Node:
    first, n = run.first, len(run.blocks)
    info = first.info
    if n == 1:
        heading = f"<b>{escape(info.path)}</b>  {escape(info.type)}"
    else:
        last = run.blocks[-1].info
        span = f"{info.path} \u2013 {last.path}"
        heading = f"<b>{escape(span)}</b>  {escape(info.type)}  <b>\u00d7 {n}</b>"
    lines = [heading, *(escape(line) for line in lb.op_lines(ctx.graph, first.body))]
    members = tuple(node for parts in run.blocks for node in parts.nodes)
    params, macs = ctx.counts(members)
    counts = lb.counts_line(params, macs)
    if n > 1:
        counts += (
            f" (\u00d7 {n}: {lb.fmt_count(params // n)} \u00b7 {lb.fmt_count(macs // n)} each)"
        )
    lines.append(muted(counts))
    attrs = _box(lb.BODY_FILL, lb.BODY_LINE)
    if n > 1:
        attrs["peripheries"] = "2"  # a stack of identical blocks
    return Node(run.id, html_lines(*lines), attrs)


def _add_node(ctx: Context, node_id: str, adds: list[str], post: tuple[str, ...]) -> Node:
    """The residual add as a circled plus; what follows it (the block's relu) beside it."""
    attrs = {"shape": "circle", "width": "0.3", "fixedsize": "true", "style": "filled"}
    attrs.update(fillcolor="white", group=MAIN)
    broken = [a for a in adds if a in ctx.broken]
    after = " \u2192 ".join(lb.op_phrase(ir.op(ctx.graph, n), short=True) for n in post)
    if broken:
        shapes = [ctx.analysis.shapes.get(src) for src in ctx.graph.predecessors(broken[0])]
        after = " \u2260 ".join(fmt_shape(s) for s in shapes) + (f"; {after}" if after else "")
        attrs.update(color=lb.ERROR, fontcolor=lb.ERROR, penwidth="2")
    if after:
        color = lb.ERROR if broken else lb.MUTED
        attrs["xlabel"] = Html(f'<font point-size="9" color="{color}">{escape(after)}</font>')
    return Node(node_id, Html("+"), attrs)


def op_view(ctx: Context) -> tuple[Canvas, dict[str, str]]:
    """Every node of the graph, nested in block and stage clusters."""
    canvas, rep = Canvas(), {}
    for sec in sections(ctx.graph):
        for node in sec.nodes:
            rep[node] = node
        nodes = [_op_node(ctx, node) for node in sec.nodes]
        if sec.stage == INPUT_STAGE:
            canvas.add(input_node(ctx, sec.nodes[0]))
        elif sec.block is None:
            for op in nodes:
                canvas.add(op, sec.stage)
        else:
            cluster_attrs = stage_attrs() | {"fillcolor": "white", "fontsize": "10"}
            label = Html(f"<b>{escape(sec.block)}</b>")
            canvas.add(Cluster(sec.block, label, tuple(nodes), cluster_attrs), sec.stage)
    return canvas, rep


def _op_node(ctx: Context, node: str) -> Node:
    if ir.node(ctx.graph, node).kind == ir.ADD:
        parts = ctx.adds.get(node)
        return _add_node(ctx, node, [node], ()) if parts else _plain_op(ctx, node)
    return _plain_op(ctx, node)


def _plain_op(ctx: Context, node: str) -> Node:
    data = ir.node(ctx.graph, node)
    block = data.block
    short = node[len(block) + 1 :] if block and node.startswith(block + ".") else node
    lines = [f"<b>{escape(short)}</b>", escape(lb.op_phrase(data.op))]
    params, macs = ctx.analysis.params[node], ctx.analysis.macs[node]
    if params or macs:
        lines.append(muted(lb.counts_line(params, macs), 8))
    if node in ctx.shortcut_nodes:
        box = _shortcut_box()
    elif data.kind in lb.LIGHT_KINDS:
        box = _box("white")
    else:
        box = _box(lb.BODY_FILL, lb.BODY_LINE)
    return Node(node, html_lines(*lines), box)


VIEWS = {"stage": stage_view, "block": block_view, "op": op_view}


def draw(ctx: Context, detail: str, rankdir: str, name: str, title: Html) -> Drawing:
    """Build the drawing of one detail level."""
    canvas, rep = VIEWS[detail](ctx)
    canvas.add(output_node(ctx))
    items = canvas.items(lambda stage: (stage_title(ctx, stage), stage_attrs()))
    if detail == "block":
        edges = map_edges(ctx, rep, within_run(ctx), collapsed=True)
        edges += tuple(_repeat_edges(ctx))
    else:
        edges = map_edges(ctx, rep)
    return Drawing(name, title, items, edges, graph_attrs(rankdir))


def within_run(ctx: Context) -> Callable[[str, str], bool]:
    """Edges from one block of a run to the next: drawn once, as the run itself."""
    graph = ctx.graph

    def skip(src: str, dst: str) -> bool:
        a, b = ir.node(graph, src).block, ir.node(graph, dst).block
        return a is not None and b is not None and a != b and ctx.run_of[a] is ctx.run_of[b]

    return skip
