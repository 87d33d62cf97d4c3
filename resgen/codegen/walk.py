"""A block's forward statements, from its residual branch's nodes in order.

resgen.codegen.blocks builds each block class's render model; this walk writes its `forward`.
"""

from __future__ import annotations

from typing import NamedTuple

import networkx as nx

from resgen.codegen.calls import Statement
from resgen.codegen.children import SLOTS, child_of
from resgen.graph import ir

# The nodes a statement calls: modules that are attributes of the block.
MODULES = (ir.Conv, ir.Norm, ir.Affine)
_POOLS = (ir.Pool, ir.BlurPool)  # the anti-aliasing pool, `aa`
_CALLED = (*MODULES, ir.Act, *_POOLS)


class Walk:
    """The forward statements of a block's residual branch, from its nodes in order.

    A statement nests ops until an activation (or a conv that runs its ReLU); later ops read its
    value as `out`, or as `pre` for a pre-activation of the block's input. The closing activation
    (and, fused, the last conv with the add) is the template's tail.
    """

    def __init__(self, graph: ir.Graph, block: ir.Block, fused: dict[str, str], act: str) -> None:
        self.statements: list[Statement] = []
        self.tail: Statement | None = None
        self.var = {block.input: "x"}
        self.block = block
        self.region_at = -1  # no region: the kind's template writes nothing between statements
        self._graph, self._fused, self._act = graph, fused, act
        self._pending, self._start = "", ""  # the call being nested, and the node it reads
        self._acts: list[str] = []
        self._swallowed: set[str] = set()
        self._chain = _chain(graph, block)
        self._loop = _loop(graph, block, act)
        self._entered: set[str] = set()  # child modules already called
        prefix = block.path + "."
        for node in block.nodes:
            attr = node[len(prefix) :].split("#")[0]
            if node not in self._swallowed and not self._aside(node, attr):
                self._step(node, attr)
        self._flush()
        self.region_at = len(self.statements) if self.region_at < 0 else self.region_at
        self.loop_chain = self._loop.step
        self.uses_act = self._loop.acts or any(a not in self._swallowed for a in self._acts)

    def _aside(self, node: str, attr: str) -> bool:
        """Handle a node that is no step of the main path; False for one that is."""
        b, op = self.block, ir.op(self._graph, node)
        if "." in attr:
            child = child_of(attr)
            if child and child not in self._entered:  # a child module: one call, at its first
                self._entered.add(child)
                (src,) = ir.inputs_of(self._graph, node)
                inner = self._inner(src)
                self._emit(f"self.{child}({inner})", "", "", self._start)
                self._pending = ""
            elif not child and attr.partition(".")[0] not in SLOTS:  # a ModuleList's module
                self._region()
        elif node == b.add or not isinstance(op, _CALLED):
            pass
        elif node == b.output and isinstance(op, ir.Act) and not b.preact:
            self._acts.append(node)  # the closing activation
        elif node not in self._chain or node in self._loop.nodes:  # the kind's template's
            self._region()
        else:
            return False
        return True

    def _step(self, node: str, attr: str) -> None:
        """One op of the main path: nest it into the pending call, or end a statement."""
        b, op = self.block, ir.op(self._graph, node)
        (src,) = ir.inputs_of(self._graph, node)
        inner = self._inner(src)
        how = self._fused.get(attr, "")
        if how:
            (after,) = self._graph.successors(node)
            self._swallowed.add(b.output if how == "add_relu" else after)
            if how == "add_relu":
                self.tail = Statement("", f"self.{attr}({inner}, identity)",
                                      f"relu({attr}({inner}) + identity)")  # fmt: skip
            elif after == b.output:
                self.tail = Statement("", f"self.{attr}({inner})", "conv and ReLU")
            else:
                self._emit(f"self.{attr}({inner})", "conv and ReLU", after, self._start)
            self._pending = ""
            return
        call = f"self.{self._act if isinstance(op, ir.Act) else attr}({inner})"
        if isinstance(op, (ir.Act, *_POOLS)):  # a statement of its own ends here
            if isinstance(op, ir.Act):
                self._acts.append(node)
            self._emit(call, "", node, self._start)
            self._pending = ""
        else:
            self._pending = call

    def _inner(self, src: str) -> str:
        """What the next call reads: the pending call, or `src`'s variable (a region's: `out`)."""
        self._start = self._start if self._pending else src
        return self._pending or self.var.get(src, "out")

    def _region(self) -> None:
        """The kind's template writes this node: what is pending runs before it."""
        self._flush()
        self.region_at = len(self.statements) if self.region_at < 0 else self.region_at

    def _flush(self) -> None:
        if self._pending:
            self._emit(self._pending, "", "", self._start)
            self._pending = ""

    def _emit(self, expr: str, comment: str, node: str, start: str) -> None:
        b = self.block
        target = "pre" if start == b.input and not self.statements and b.preact else "out"
        self.statements.append(Statement(target, expr, comment))
        if node:
            self.var[node] = target


def _chain(graph: ir.Graph, block: ir.Block) -> set[str]:
    """The residual branch's main path: the nodes every way from the input to its end passes."""
    end = ir.inputs_of(graph, block.add)[ir.RESIDUAL_PORT] if block.add else block.output
    shortcut = block.path + ".downsample"
    nodes = [block.input, *(n for n in block.nodes if not n.startswith(shortcut))]
    inner = (n for n in nodes[1:] if n not in (block.add, block.output))
    if all(graph.in_degree(n) < 2 and graph.out_degree(n) < 2 for n in inner):
        return set(nodes)  # a plain chain (most blocks): no need to look for dominators
    dominators = nx.immediate_dominators(graph.subgraph(nodes), block.input)
    chain = {end}
    while end != block.input:
        end = dominators[end]
        chain.add(end)
    return chain


class _Loop(NamedTuple):
    """A loop over `name.i` modules (Res2Net's `convs.i`, `bns.i`), which the kind's template
    writes: one step, from the first's nodes and the activation after them
    (`self.relu(self.bns[i](self.convs[i](sp)))`), and every node of every step."""

    step: str  # "" without such modules
    nodes: frozenset[str]
    acts: bool  # a step runs the block's activation


def _loop(graph: ir.Graph, block: ir.Block, act: str) -> _Loop:
    prefix = block.path + "."
    members = [n for n in block.nodes if child_of(n[len(prefix) :]) == ""
               and n[len(prefix) :].partition(".")[2].isdigit()
               and n[len(prefix) :].partition(".")[0] not in SLOTS]  # fmt: skip
    nodes, step, acts = set(), "sp", False
    for first in members:
        node: str | None = first
        while node is not None and node not in nodes:
            head, _, index = node[len(prefix) :].split("#")[0].partition(".")
            if isinstance(ir.op(graph, node), ir.Act) and not index:
                acts, call = True, f"self.{act}"
            elif index.isdigit():
                call = f"self.{head}[i]"
            else:
                break
            nodes.add(node)
            if first == members[0] and (index in ("", "0")):
                step = f"{call}({step})"
            after = list(graph.successors(node))
            node = after[0] if len(after) == 1 else None
    return _Loop("" if step == "sp" else step, frozenset(nodes), acts)
