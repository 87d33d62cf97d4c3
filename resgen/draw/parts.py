"""The anatomy of residual blocks, read off the graph: branch, shortcut, add, and what follows.

Nothing here knows block types: a block is whatever nodes carry its path, split by the edges into
its add (port 0: residual branch, port 1: shortcut). Consecutive blocks whose nodes and edges are
the same relative to the block collapse into one run, in drawings and in `info`'s recipes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from resgen.checks import Analysis
from resgen.graph import ir

# Node attributes that say where a node is, not what it computes.


@dataclass(frozen=True)
class BlockParts:
    """One block's nodes in graph order, split around its residual add."""

    info: ir.Block
    nodes: tuple[str, ...]
    body: tuple[str, ...]  # the residual branch
    shortcut: tuple[str, ...]  # ops on the shortcut; empty for an identity shortcut
    post: tuple[str, ...]  # after the add, such as the block's last activation

    @property
    def add(self) -> str | None:
        return self.info.add


@dataclass(frozen=True)
class Run:
    """Consecutive blocks of one stage with the same structure, drawn once as `x N`."""

    blocks: tuple[BlockParts, ...]

    @property
    def first(self) -> BlockParts:
        return self.blocks[0]

    @property
    def id(self) -> str:
        """`layer3.0` for one block, `layer3.1-22` for blocks 1 to 22."""
        first, last = self.blocks[0].info, self.blocks[-1].info
        return first.path if len(self.blocks) == 1 else f"{first.path}-{last.index}"


def nodes_by_block(graph: ir.Graph) -> dict[str, list[str]]:
    """Group block nodes by block path, each list in graph order."""
    return {b.path: list(b.nodes) for b in ir.blocks_of(graph)}


def in_ports(graph: ir.Graph, node: str) -> list[tuple[str, int]]:
    """A node's inputs with their ports, in port order."""
    edges: list[tuple[str, str, int | None]] = list(graph.in_edges(node, data="port"))
    return sorted(((src, int(port or 0)) for src, _, port in edges), key=lambda e: e[1])


def _upstream(graph: ir.Graph, start: str, within: set[str]) -> set[str]:
    """`start` and the nodes of `within` it depends on (a search that stays inside a block)."""
    seen = {start} if start in within else set()
    todo = list(seen)
    while todo:
        for src in graph.predecessors(todo.pop()):
            if src in within and src not in seen:
                seen.add(src)
                todo.append(src)
    return seen


def split_block(graph: ir.Graph, info: ir.Block, nodes: Sequence[str]) -> BlockParts:
    """Split a block around its add; nodes both branches need (a pre-activation) are the body's."""
    within = set(nodes)
    if info.add is None:  # a plain block: all branch
        return BlockParts(info, tuple(nodes), tuple(nodes), (), ())
    ports = {port: src for src, port in in_ports(graph, info.add)}
    before = _upstream(graph, ports.get(ir.RESIDUAL_PORT, info.add), within)
    shortcut = set()
    if ir.SHORTCUT_PORT in ports:
        shortcut = _upstream(graph, ports[ir.SHORTCUT_PORT], within) - before
    return BlockParts(
        info=info,
        nodes=tuple(nodes),
        body=tuple(n for n in nodes if n in before),
        shortcut=tuple(n for n in nodes if n in shortcut),
        post=tuple(n for n in nodes if n not in before and n not in shortcut and n != info.add),
    )


def stage_blocks(graph: ir.Graph) -> dict[str, list[BlockParts]]:
    """Every stage's blocks, split, in order."""
    grouped = nodes_by_block(graph)
    return {
        stage.name: [split_block(graph, b, grouped.get(b.path, [])) for b in stage.blocks]
        for stage in ir.stages_of(graph)
    }


def signature(analysis: Analysis, parts: BlockParts) -> tuple[object, ...]:
    """What a block computes, with names relative to the block: equal means drawable as one."""
    graph, info = analysis.graph, parts.info
    prefix = info.path + "."

    def rel(node: str) -> str:
        if node == info.input:
            return "<input>"
        return node[len(prefix) :] if node.startswith(prefix) else node

    nodes = tuple((rel(n), ir.op(graph, n)) for n in parts.nodes)
    edges = tuple(
        sorted((rel(u), rel(v), port) for v in parts.nodes for u, port in in_ports(graph, v))
    )
    add = None if info.add is None else rel(info.add)
    return (info.type, analysis.shapes.get(info.input), nodes, edges, add)


def runs_of(analysis: Analysis, blocks: Sequence[BlockParts]) -> list[Run]:
    """Group a stage's blocks into maximal runs of identical consecutive blocks."""
    runs: list[list[BlockParts]] = []
    previous: tuple[object, ...] | None = None
    for parts in blocks:
        sig = signature(analysis, parts)
        if runs and sig == previous:
            runs[-1].append(parts)
        else:
            runs.append([parts])
        previous = sig
    return [Run(tuple(run)) for run in runs]


def broken_adds(analysis: Analysis) -> set[str]:
    """Add nodes whose inputs have different shapes (the checks report them as errors)."""
    broken = set()
    for node, data in ir.nodes(analysis.graph):
        if data.kind != ir.ADD:
            continue
        shapes = [analysis.shapes.get(src) for src in analysis.graph.predecessors(node)]
        if None not in shapes and len(set(shapes)) > 1:
            broken.add(node)
    return broken


def shortcut_kind(graph: ir.Graph, parts: BlockParts) -> str:
    """Name a shortcut the way the paper does: identity, projection (a conv), or its ops."""
    kinds = [ir.node(graph, n).kind for n in parts.shortcut]
    if not kinds:
        return "identity"
    if ir.CONV in kinds:
        return "projection"
    if kinds == [ir.PAD]:
        return "zero-pad"
    return " + ".join(kinds)
