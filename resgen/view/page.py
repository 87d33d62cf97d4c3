"""Spec -> one self-contained HTML page: SVG laid out by Graphviz, the numbers as JSON, our JS.

The page needs nothing from the network: the SVGs sit in `<template>` elements (one in the
document at a time, so ids stay unique), the data in a JSON script, the code and style inline.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from resgen.checks import Analysis
from resgen.checks.shapes import fmt_shape
from resgen.diagnostics import Diagnostic
from resgen.draw import labels as lb
from resgen.draw.dot import Drawing, to_dot
from resgen.draw.layout import Context, make_context, title
from resgen.draw.parts import shortcut_kind
from resgen.draw.render import render
from resgen.graph import ir
from resgen.report import info_json
from resgen.resources import data_dir
from resgen.spec.load import LoadedSpec
from resgen.view.expand import make_views, openable, opened
from resgen.view.fragments import Fragment, dom_id, level, op_fragments, run_list


def build_page(loaded: LoadedSpec, analysis: Analysis, timeout: float = 60.0) -> str:
    """The page's HTML text; raises the renderer's errors (Graphviz missing, failed, slow)."""
    ctx = make_context(analysis)
    heading = title(ctx, loaded.spec.model_class, loaded.source.name)
    name = loaded.spec.name
    stage = level(ctx, "stage", name, heading)
    block = level(ctx, "block", name, heading)
    views = make_views(ctx)
    frags = op_fragments(ctx)
    stages = openable(ctx, views)
    runs = run_list(ctx)
    mixed = [opened(ctx, views, s, None, name) for s in stages]
    mixed += [opened(ctx, views, r.first.info.stage, r, name) for r in runs]
    svgs = _render_all([block, stage, *mixed], timeout)
    data = page_data(loaded, ctx, frags)
    data["open"] = stages
    ids = ["level-block", "level-stage"]
    ids += [f"open:{s}" for s in stages] + [f"run:{r.id}" for r in runs]
    return _fill(name, list(zip(ids, svgs, strict=True)), data)


def _render_all(drawings: list[Drawing], timeout: float) -> list[str]:
    """Lay out every drawing: the block level alone, the rest in one `dot` run, in parallel."""
    first, rest = drawings[:1], drawings[1:]
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(_render_batch, batch, timeout) for batch in (first, rest)]
        return [svg for job in jobs for svg in job.result()]


def _render_batch(drawings: list[Drawing], timeout: float) -> list[str]:
    text = "".join(to_dot(d) for d in drawings)
    out = render(text, "svg", timeout).data.decode("utf-8")
    svgs = [clean_svg(part) for part in out.split("<?xml") if part.strip()]
    assert len(svgs) == len(drawings), "dot wrote fewer drawings than it was given"
    return svgs


_DROP = re.compile(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->|<title>.*?</title>\n?", re.S)


def clean_svg(svg: str) -> str:
    """Graphviz's SVG without prolog, comments (its version) or titles (the page shows its own)."""
    svg = _DROP.sub("", "<?xml" + svg if not svg.startswith("<?xml") else svg)
    svg = re.sub(r'<svg width="[^"]*" height="[^"]*"', "<svg", svg, count=1)
    return svg.strip() + "\n"


def _info(ctx: Context, path: str, kind: str, args: str, last: str | None,
          members: tuple[str, ...]) -> dict[str, Any]:  # fmt: skip
    params, macs = ctx.counts(members)
    shape = ctx.analysis.shapes.get(last) if last else None
    return {"path": path, "kind": kind, "args": args, "shape": fmt_shape(shape),
            "params": params, "macs": macs}  # fmt: skip


def _op_info(ctx: Context, node: str) -> dict[str, Any]:
    data = ir.node(ctx.graph, node)
    return _info(ctx, node, data.kind, lb.op_phrase(data.op), node, (node,))


def _block_level(ctx: Context) -> dict[str, dict[str, Any]]:
    """Hover data of the block level's nodes: runs, their shortcuts and adds, and the rest."""
    found = {n: _op_info(ctx, n) for n, d in ir.nodes(ctx.graph) if d.kind == ir.INPUT}
    for row in ctx.analysis.rows():
        members = tuple(n for n, d in ir.nodes(ctx.graph) if d.stage == row.name)
        if row.name not in ctx.stages:
            found[row.name] = _info(ctx, row.name, "ops", "", members[-1], members)
    for run in run_list(ctx):
        first, n = run.first, len(run.blocks)
        members = tuple(x for p in run.blocks for x in p.nodes)
        body = "; ".join(lb.op_lines(ctx.graph, first.body))
        kind = f"{first.info.type} block" + (f" \u00d7 {n}" if n > 1 else "")
        found[run.id] = _info(ctx, run.id, kind, body, run.blocks[-1].info.output, members)
        if first.shortcut:
            cut = tuple(x for p in run.blocks for x in p.shortcut)
            args = "; ".join(lb.op_lines(ctx.graph, first.shortcut))
            kind = f"{shortcut_kind(ctx.graph, first)} shortcut"
            found[run.id + ".shortcut"] = _info(ctx, run.id + ".shortcut", kind, args,
                                                first.shortcut[-1], cut)  # fmt: skip
        if first.add is not None:
            found[run.id + ".add"] = _info(ctx, run.id + ".add", "add", "residual add",
                                           first.add, ())  # fmt: skip
    return found


def _stage_level(ctx: Context) -> dict[str, dict[str, Any]]:
    found = {}
    for row in ctx.analysis.rows():
        members = tuple(n for n, d in ir.nodes(ctx.graph) if d.stage == row.name)
        kind = f"stage, {row.blocks} blocks" if row.blocks else "ops"
        found[row.name] = _info(ctx, row.name, kind, "", members[-1], members)
    for node, data in ir.nodes(ctx.graph):
        if data.kind == ir.INPUT:
            found[node] = _op_info(ctx, node)
    return found


def _frag_data(ctx: Context, frag: Fragment) -> dict[str, Any]:
    nodes = {dom_id(n, frag.block): _op_info(ctx, n) for n in frag.nodes}
    return {"id": frag.id, "block": frag.block, "nodes": nodes}


def page_data(loaded: LoadedSpec, ctx: Context, frags: list[Fragment]) -> dict[str, Any]:
    """Everything the page's script reads, as plain JSON-able data."""
    analysis = ctx.analysis
    runs = [
        {
            "id": r.id,
            "stage": r.first.info.stage,
            "first": r.first.info.index,
            "last": r.blocks[-1].info.index,
            "frag": r.id,
        }
        for r in run_list(ctx)
    ]
    totals = {
        p.info.path: list(ctx.counts(p.nodes)) for blocks in ctx.stages.values() for p in blocks
    }
    return {
        "name": loaded.spec.name,
        "levels": {"stage": _stage_level(ctx), "block": _block_level(ctx)},
        "frags": [_frag_data(ctx, f) for f in frags],
        "runs": runs,
        "blocks": totals,
        "errors": error_list(ctx, analysis.diagnostics),
        "info": info_json(loaded, analysis, per_block=False),
    }


def error_list(ctx: Context, found: tuple[Diagnostic, ...]) -> list[dict[str, Any]]:
    """Each error with the node it is about: a broken add at the block it names by position."""
    broken = [n for n in ctx.graph.nodes if n in ctx.broken]
    by_loc = {str(ctx.adds[n].info.loc): n for n in reversed(broken)}
    out, used = [], set()
    for diag in found:
        if not diag.is_error:
            continue
        node = by_loc.get(str(diag.location))
        if node is None or node in used:
            node = next((n for n in broken if n not in used), None)
        if node is not None:
            used.add(node)
        entry = {"text": diag.format(show_source=False).splitlines()[0], "hint": diag.hint or "",
                 "node": node, "block": ctx.adds[node].info.path if node else None}  # fmt: skip
        out.append(entry)
    return out


def _fill(name: str, templates: list[tuple[str, str]], data: dict[str, Any]) -> str:
    """Put the pieces into templates/view/page.html (a layout with three slots)."""
    folder = data_dir("templates") / "view"
    page = (folder / "page.html").read_text("utf-8")
    script = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    script = script.replace("</", "<\\/")
    svg = "".join(f'<template id="{tid}">{svg}</template>\n' for tid, svg in templates)
    parts = {
        "@TITLE@": _escape(f"{name} \u00b7 resgen view"),
        "@STYLE@": (folder / "view.css").read_text("utf-8"),
        "@SCRIPT@": (folder / "view.js").read_text("utf-8"),
        "@DATA@": script,
        "@SVG@": svg,
    }
    return re.sub("|".join(map(re.escape, parts)), lambda m: parts[m.group(0)], page)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
