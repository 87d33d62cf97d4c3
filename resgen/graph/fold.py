"""The deploy build as a graph rewrite: `fold(graph) -> graph` for inference.

- A batch norm (or frozen batch norm) straight after a conv of the same block (or both outside
  blocks), which feeds nothing else, folds into that conv: the conv gets a bias and the norm node
  is gone. Exact in real arithmetic. Within one block only, so every instance of a block class
  folds alike (the first pre-activation block's bn1 stays though the stem conv could take it).
- A batch norm after an activation or an add (pre-activation nets' `bn1`, `bn_final`) cannot move
  through the ReLU into the next conv: it becomes an `Affine` node of the same id, x * scale +
  shift per channel.
- A group norm depends on its input's statistics and stays as it is (EvoNorm and FRN too).
- A weight-standardised conv (BiT's StdConv2d) becomes a plain conv: its weights are fixed at
  inference, so `fold_state_dict` standardises them once; `graph.graph["standardized"]` maps
  each such conv to its eps.
- Drop-path and dropout are the identity at inference: their nodes are removed.
- In ReLU nets, a conv whose ReLU (or add, then ReLU) follows it directly is marked `fused`, so
  that on an NVIDIA GPU both run as one cuDNN kernel. Only a conv that is a direct attribute of a
  post-activation block or of the model fuses: a conv inside a Sequential (the deep stem) or a
  helper (SE) keeps its separate ReLU module, and built-in pre-activation blocks stay unfused.
  A user block's conv fuses the same way when its name has no dot (its code then declares a
  ConvReLU or ConvAddReLU, as the built-in blocks do).

The result is an ordinary IR graph, so shapes, counts and drawings of the deploy module come from
the same passes as the trained one's; `graph.graph["folds"]` maps each folded norm to its conv.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import networkx as nx

from resgen.graph import ir

Action = Literal["fold", "affine", "keep"]


@dataclass(frozen=True)
class NormPlan:
    """What the deploy build does with one norm node."""

    action: Action
    into: str | None  # the conv node a folded norm goes into


def plan_norms(graph: ir.Graph) -> dict[str, NormPlan]:
    """Decide, for every norm node, whether it folds into its conv, becomes affine or stays."""
    plans: dict[str, NormPlan] = {}
    for node, data in ir.nodes(graph):
        if not isinstance(data.op, ir.Norm):
            continue
        if data.op.norm == "group" or data.op.norm in ir.ACTIVATING_NORMS:
            plans[node] = NormPlan("keep", None)  # they depend on their input's statistics
            continue
        (source,) = graph.predecessors(node)
        before = ir.node(graph, source)
        foldable = (
            isinstance(before.op, ir.Conv)
            and graph.out_degree(source) == 1
            and before.block == data.block
        )
        plans[node] = NormPlan("fold", source) if foldable else NormPlan("affine", None)
    return plans


def fold(graph: ir.Graph) -> ir.Graph:
    """Return the inference graph of a trained one: norms folded, regularisers gone, fusions."""
    out: ir.Graph = nx.DiGraph(graph)
    replaced: dict[str, str] = {}  # removed node -> the node now standing for its output
    plans = plan_norms(graph)
    for node, data in list(ir.nodes(graph)):
        op = data.op
        plan = plans.get(node)
        if isinstance(op, ir.Drop):
            replaced[node] = _bypass(out, node)
        elif isinstance(op, ir.Norm) and plan is not None and plan.into is not None:
            conv = ir.op(out, plan.into)
            assert isinstance(conv, ir.Conv)
            _set_op(out, plan.into, dataclasses.replace(conv, bias=True))
            replaced[node] = _bypass(out, node)
        elif isinstance(op, ir.Norm) and plan is not None and plan.action == "affine":
            _set_op(out, node, ir.Affine(op.channels))
    standardized: dict[str, float] = {}
    for node, data in list(ir.nodes(out)):
        if isinstance(data.op, ir.Conv) and data.op.standardize:
            standardized[node] = data.op.standardize
            _set_op(out, node, dataclasses.replace(data.op, standardize=0.0))
    # Built-in pre-activation blocks stay unfused (their templates write each op).
    unfused = {b.path for b in ir.blocks_of(graph) if b.preact and not b.user}
    for node, data in list(ir.nodes(out)):
        if isinstance(data.op, ir.Conv) and data.block not in unfused:
            fused = _fusion(out, node, data)
            if fused:
                _set_op(out, node, dataclasses.replace(data.op, fused=fused))
    out.graph.update(graph.graph)
    out.graph["stages"] = tuple(_stage(s, replaced, out) for s in ir.stages_of(graph))
    out.graph["folds"] = {n: p.into for n, p in plans.items() if p.into is not None}
    out.graph["standardized"] = standardized
    frozen: ir.Graph = nx.freeze(out)
    return frozen


def _set_op(graph: ir.Graph, node: str, op: ir.Op) -> None:
    graph.nodes[node]["node"] = ir.node(graph, node)._replace(op=op)


def _bypass(graph: ir.Graph, node: str) -> str:
    """Remove a one-input node, wiring its input to its consumers on the same ports."""
    (source,) = graph.predecessors(node)
    for dst in list(graph.successors(node)):
        graph.add_edge(source, dst, port=graph.edges[node, dst]["port"])
    graph.remove_node(node)
    return source


def _fusion(graph: ir.Graph, node: str, data: ir.Node) -> str:
    """What runs in a conv's kernel with it: "relu", "add_relu" or nothing ("")."""
    relu = ir.Act("relu")
    scope = data.block or ""
    direct = "." not in node[len(scope) + 1 :] if scope else "." not in node
    if not direct or graph.out_degree(node) != 1:
        return ""
    (after,) = graph.successors(node)
    follower = ir.op(graph, after)
    if follower == relu:
        return "relu"
    if isinstance(follower, ir.Add) and graph.edges[node, after]["port"] == ir.RESIDUAL_PORT:
        finals = list(graph.successors(after))
        if len(finals) == 1 and ir.op(graph, finals[0]) == relu:
            return "add_relu"
    return ""


def _stage(stage: ir.StageInfo, replaced: dict[str, str], kept: ir.Graph) -> ir.StageInfo:
    def live(node: str) -> str:
        while node in replaced:
            node = replaced[node]
        return node

    blocks = tuple(
        dataclasses.replace(
            b.wired(live(b.input), live(b.output), b.add, tuple(n for n in b.nodes if n in kept)),
            drop_path=0.0,
        )
        for b in stage.blocks
    )
    return dataclasses.replace(stage, blocks=blocks, output=live(stage.output))
