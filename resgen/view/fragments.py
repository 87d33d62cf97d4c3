"""The whole levels a view lays out (stage, block), their ids and classes, and the op pieces.

Laying out every op of ResNet-1202 takes Graphviz 10 s and 6 MB of SVG. Blocks of one run are
identical relative to their path (that is what makes a run), so the ops are shown one run at a
time (`expand.py`), with node ids relative to the run's first block (`@conv1`) that the page
names after any block of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from resgen.draw import labels as lb
from resgen.draw.dot import Cluster, Drawing, Edge, Html, Node, escape
from resgen.draw.layout import INPUT_STAGE, Context, sections
from resgen.draw.parts import Run, shortcut_kind
from resgen.draw.views import draw
from resgen.graph import ir

RELATIVE = "@"  # a node id the page prefixes with the block's path


@dataclass(frozen=True)
class Fragment:
    """The ops of a run's first block (named relative to it in the page) or of a stretch outside."""

    id: str  # the run's id (`layer1.1-199`) or the block-level node it details (`stem`)
    block: str  # the template block's path; "" outside blocks
    nodes: tuple[str, ...]  # IR nodes, in graph order


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
        drawing = replace(drawing, edges=drawing.edges + tuple(stage_shortcuts(ctx)))
    kinds = {n: d.kind for n, d in ir.nodes(ctx.graph)}
    kinds.update({stage: "stage" for stage in ctx.stages})
    for run in run_list(ctx):
        kinds.update({run.id: "block", run.id + ".shortcut": "shortcut", run.id + ".add": "add"})
    return with_ids(drawing, kinds)


def stage_shortcuts(ctx: Context) -> list[Edge]:
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
    """The op-level pieces: one per run (its first block), one per stretch of ops outside blocks."""
    found: list[Fragment] = []
    seen: set[str] = set()
    segment_ids: dict[str, int] = {}
    for sec in sections(ctx.graph):
        if sec.stage == INPUT_STAGE:
            continue
        if sec.block is None:
            segment_ids[sec.stage] = segment_ids.get(sec.stage, 0) + 1
            count = segment_ids[sec.stage]
            frag_id = sec.stage if count == 1 else f"{sec.stage}#{count}"
            found.append(Fragment(frag_id, "", sec.nodes))
            continue
        run = ctx.run_of[sec.block]
        if run.id not in seen:
            seen.add(run.id)
            found.append(Fragment(run.id, sec.block, sec.nodes))
    return found


def run_list(ctx: Context) -> list[Run]:
    """Every run once, in network order."""
    runs: dict[str, Run] = {}
    for stage in ctx.stages.values():
        for parts in stage:
            run = ctx.run_of[parts.info.path]
            runs.setdefault(run.id, run)
    return list(runs.values())
