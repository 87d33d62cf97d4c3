"""The drawings a view lays out: the stage and block levels whole, and the op level in pieces.

Laying out every op of ResNet-1202 takes Graphviz 10 s and 6 MB of SVG. Blocks of one run are
identical relative to their path (that is what makes a run), so the op level is one small drawing
per run, whose node ids are relative (`@conv1`) and which the page instantiates for any block of
the run, plus one drawing per stretch outside blocks (stem, head).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from resgen.draw import labels as lb
from resgen.draw.dot import Cluster, Drawing, Edge, Html, Node, escape, html_lines
from resgen.draw.layout import INPUT_STAGE, OUTPUT, Context, graph_attrs, map_edges, sections
from resgen.draw.parts import Run, shortcut_kind
from resgen.draw.views import draw, op_view
from resgen.graph import ir

RELATIVE = "@"  # a node id the page prefixes with the block's path
BLOCK_IN, BLOCK_OUT = "\u27e8in\u27e9", "\u27e8out\u27e9"


@dataclass(frozen=True)
class Fragment:
    """One op-level drawing: a run's first block (ids relative to it) or a stretch outside."""

    id: str  # the run's id (`layer1.1-199`) or the block-level node it details (`stem`)
    block: str  # the template block's path; "" outside blocks
    nodes: tuple[str, ...]  # IR nodes drawn
    drawing: Drawing


def dom_id(node: str, block: str) -> str:
    """The id a node's SVG element carries: its path, relative to a run's template block."""
    if block and node.startswith(block + "."):
        return RELATIVE + node[len(block) + 1 :]
    return node


def with_ids(drawing: Drawing, kinds: dict[str, str], block: str = "") -> Drawing:
    """Give every node and edge an `id` (paths) and every node a `class` (its kind)."""

    def tag(item: Node | Cluster) -> Node | Cluster:
        if isinstance(item, Cluster):
            attrs = {**item.attrs, "id": "cluster:" + item.id}
            return replace(item, items=tuple(tag(i) for i in item.items), attrs=attrs)
        kind = kinds.get(item.id, "summary")
        attrs = {**item.attrs, "id": dom_id(item.id, block), "class": f"k-{kind}"}
        return replace(item, attrs=attrs)

    edges = []
    for edge in drawing.edges:
        src, dst = dom_id(edge.src, block), dom_id(edge.dst, block)
        loop = edge.attrs.get("tooltip", "")
        edge_id = f"{src}->{dst}" + (f"#{loop}" if loop else "")
        style = "shortcut" if "dashed" in edge.attrs.get("style", "") else "flow"
        edges.append(replace(edge, attrs={**edge.attrs, "id": edge_id, "class": style}))
    items = tuple(tag(i) for i in drawing.items)
    return replace(drawing, items=items, edges=tuple(edges))


def level(ctx: Context, detail: str, name: str, title: Html) -> Drawing:
    """The whole network at stage or block detail, with ids and classes."""
    drawing = draw(ctx, detail, "TB", name, title)
    if detail == "stage":
        drawing = replace(drawing, edges=drawing.edges + tuple(_stage_shortcuts(ctx)))
    kinds = {n: d.kind for n, d in ir.nodes(ctx.graph)}
    kinds.update({stage: "stage" for stage in ctx.stages})
    for run in run_list(ctx):
        kinds.update({run.id: "block", run.id + ".shortcut": "shortcut", run.id + ".add": "add"})
    return with_ids(drawing, kinds)


def _stage_shortcuts(ctx: Context) -> list[Edge]:
    """A labelled loop per shortcut kind on each stage node: collapsing hides no shortcut."""
    edges = []
    for stage, blocks in ctx.stages.items():
        counts: dict[str, int] = {}
        for parts in blocks:
            if parts.add is not None:
                kind = shortcut_kind(ctx.graph, parts)
                counts[kind] = counts.get(kind, 0) + 1
        for kind, n in counts.items():
            attrs = {"label": Html(f"<i>{escape(kind)}</i> \u00d7 {n}"), "tooltip": kind}
            if kind == "identity":  # identity loops on the right, the others on the left
                attrs.update(color=lb.IDENTITY_LINE, tailport="e", headport="e")
            else:
                attrs.update(tailport="w", headport="w")
                attrs.update(style="dashed", color=lb.SHORTCUT_LINE, fontcolor=lb.SHORTCUT_LINE)
            if any(p.add in ctx.broken for p in blocks):
                attrs.update(color=lb.ERROR, fontcolor=lb.ERROR, penwidth="2")
            edges.append(Edge(stage, stage, attrs))
    return edges


def op_fragments(ctx: Context) -> list[Fragment]:
    """The op-level drawings: one per run, one per stretch of ops outside blocks."""
    canvas, _ = op_view(ctx)
    found: list[Fragment] = []
    seen: set[str] = set()
    segment_ids: dict[str, int] = {}
    kinds = {n: d.kind for n, d in ir.nodes(ctx.graph)}
    for sec in sections(ctx.graph):
        if sec.stage == INPUT_STAGE:
            continue
        if sec.block is None:
            segment_ids[sec.stage] = segment_ids.get(sec.stage, 0) + 1
            count = segment_ids[sec.stage]
            frag_id = sec.stage if count == 1 else f"{sec.stage}#{count}"
            items = _op_items(canvas.members.get(sec.stage, []), set(sec.nodes))
            found.append(_fragment(ctx, frag_id, "", sec.nodes, items, kinds))
            continue
        run = ctx.run_of[sec.block]
        if run.id in seen:
            continue
        seen.add(run.id)
        items = _op_items(canvas.members.get(sec.stage, []), set(sec.nodes))
        found.append(_fragment(ctx, run.id, sec.block, sec.nodes, items, kinds))
    return found


def _op_items(members: list[Node | Cluster], wanted: set[str]) -> tuple[Node, ...]:
    out: list[Node] = []
    for item in members:
        nodes = item.items if isinstance(item, Cluster) else (item,)
        out += [n for n in nodes if isinstance(n, Node) and n.id in wanted]
    return tuple(out)


def _fragment(
    ctx: Context,
    frag_id: str,
    block: str,
    nodes: tuple[str, ...],
    items: tuple[Node, ...],
    kinds: dict[str, str],
) -> Fragment:
    order = {n: i for i, n in enumerate(ctx.graph.nodes)}
    first, inside = order[nodes[0]], set(nodes)
    rep = {n: n if n in inside else BLOCK_IN if order[n] < first else BLOCK_OUT for n in order}
    edges = [
        e for e in map_edges(ctx, rep) if e.dst != OUTPUT or e.src in inside or not block
    ]
    ends = {BLOCK_IN: "block input" if block else "input"}
    ends[BLOCK_OUT] = "next block" if block else "output"
    used = {e.src for e in edges} | {e.dst for e in edges}
    extra = [
        Node(end, html_lines(f"<i>{escape(text)}</i>"), {"shape": "box", "style": "rounded,dotted"})
        for end, text in ends.items()
        if end in used
    ]
    title = Html(f"<b>{escape(block or frag_id)}</b>")
    drawing = Drawing(frag_id, title, (*items, *extra), tuple(edges), graph_attrs("TB"))
    more = {BLOCK_IN: "end", BLOCK_OUT: "end", OUTPUT: "end"}
    return Fragment(frag_id, block, nodes, with_ids(drawing, kinds | more, block))


def run_list(ctx: Context) -> list[Run]:
    """Every run once, in network order."""
    runs: dict[str, Run] = {}
    for stage in ctx.stages.values():
        for parts in stage:
            run = ctx.run_of[parts.info.path]
            runs.setdefault(run.id, run)
    return list(runs.values())
