"""In-place expansion: the stage level with one stage opened, and inside it one run opened.

A page cannot ask Graphviz for a new layout, so every state a click can reach is laid out at
build time. Laying out every mix of open stages and runs would grow as 2^stages; the page opens
one stage at a time instead (or all of them: the block level), which costs one drawing per stage
and one per run. An opened run shows its first block's ops with relative ids (`@conv1`), so the
page can name them after any block of the run, and a `x N` arc for the repeats.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from resgen.draw import labels as lb
from resgen.draw.dot import Cluster, Drawing, Edge, Html, Node, escape
from resgen.draw.layout import (
    Canvas,
    Context,
    graph_attrs,
    map_edges,
    output_node,
    stage_attrs,
    stage_title,
)
from resgen.draw.parts import Run
from resgen.draw.views import block_view, op_view, stage_view, within_run
from resgen.graph import ir
from resgen.view.fragments import run_list, stage_shortcuts, with_ids


@dataclass(frozen=True)
class Views:
    """The three whole-network canvases the mixed drawings are cut from."""

    stage: tuple[Canvas, dict[str, str]]
    block: tuple[Canvas, dict[str, str]]
    op: tuple[Canvas, dict[str, str]]


def make_views(ctx: Context) -> Views:
    return Views(stage_view(ctx), block_view(ctx), op_view(ctx))


def openable(ctx: Context, views: Views) -> list[str]:
    """The stages a click can open: every stage node of the stage level but the input."""
    canvas, _ = views.stage
    inputs = {n for n, d in ir.nodes(ctx.graph) if d.kind == ir.INPUT}
    return [i.id for i in canvas.top if isinstance(i, Node) and i.id not in inputs]


def opened(ctx: Context, views: Views, stage: str, run: Run | None, name: str) -> Drawing:
    """The stage level with `stage` at block detail (op detail if it has no blocks), ids set."""
    rep = _rep(ctx, views, stage, run)
    members = _members(ctx, views, stage, run)
    items: list[Node | Cluster] = []
    for item in views.stage[0].top:
        assert isinstance(item, Node), "the stage level has no clusters"
        if item.id == stage:
            items.append(Cluster(stage, stage_title(ctx, stage), tuple(members), stage_attrs()))
        else:
            items.append(item)
    items.append(output_node(ctx))
    edges = list(map_edges(ctx, rep, within_run(ctx), collapsed=True))
    edges += [e for e in stage_shortcuts(ctx) if e.src != stage]
    edges += _repeats(ctx, stage, run)
    title = Html(f"<b>{escape(name)}</b>")
    drawing = Drawing(name, title, tuple(items), tuple(edges), graph_attrs("TB"))
    kinds = {n: d.kind for n, d in ir.nodes(ctx.graph)}
    kinds.update({s: "stage" for s in ctx.stages})
    for r in run_list(ctx):
        kinds.update({r.id: "block", r.id + ".shortcut": "shortcut", r.id + ".add": "add"})
    return with_ids(drawing, kinds, run.first.info.path if run else "")


def _rep(ctx: Context, views: Views, stage: str, run: Run | None) -> dict[str, str]:
    """Which drawn node stands for each IR node; a run's blocks all stand on its first one."""
    by_stage, by_block = views.stage[1], views.block[1]
    blockless = stage not in ctx.stages
    rep = {}
    for node, data in ir.nodes(ctx.graph):
        inside = data.stage == stage and data.kind != ir.INPUT
        rep[node] = (node if blockless else by_block[node]) if inside else by_stage[node]
    if run is not None:
        first = run.first.info.path
        for parts in run.blocks:
            cut = len(parts.info.path)
            rep.update({n: first + n[cut:] for n in parts.nodes})
    return rep


def _members(ctx: Context, views: Views, stage: str, run: Run | None) -> list[Node | Cluster]:
    """What goes in the opened stage's cluster: its runs, or its ops, and the opened run's ops."""
    if stage not in ctx.stages:
        return list(views.op[0].members.get(stage, []))
    found: list[Node | Cluster] = []
    hidden = {run.id, run.id + ".shortcut", run.id + ".add"} if run else set()
    for item in views.block[0].members.get(stage, []):
        if item.id not in hidden:
            found.append(item)
        elif run is not None and item.id == run.id:
            found.append(_run_cluster(views, stage, run))
    return found


def _run_cluster(views: Views, stage: str, run: Run) -> Cluster:
    path = run.first.info.path
    cluster = next(c for c in views.op[0].members[stage] if isinstance(c, Cluster) and c.id == path)
    n = len(run.blocks)
    label = f"<b>{escape(run.id)}</b>" + (f"  each of {n} blocks" if n > 1 else "")
    return replace(cluster, id=run.id, label=Html(label))


def _repeats(ctx: Context, stage: str, run: Run | None) -> list[Edge]:
    """`x N` loops on the opened stage's runs; on the opened run, from its add to its first op."""
    edges = []
    for r in run_list(ctx):
        n = len(r.blocks)
        if n == 1 or r.first.info.stage != stage:
            continue
        if r is run:
            first = r.first
            last = first.add or first.body[-1]
            src, dst = last, first.body[0]
        else:
            src, dst = (r.id + ".add" if r.first.add is not None else r.id), r.id
        attrs = {"label": Html(f"<b>\u00d7 {n}</b>"), "constraint": "false", "style": "bold"}
        attrs.update(color=lb.BODY_LINE, fontcolor=lb.BODY_LINE, arrowhead="vee")
        edges.append(Edge(src, dst, attrs))
    return edges
