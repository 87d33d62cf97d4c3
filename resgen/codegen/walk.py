"""A block's forward statements, from its residual branch's nodes in order.

resgen.codegen.blocks builds each block class's render model; this walk writes its `forward`.
"""

from __future__ import annotations

from resgen.codegen.calls import Statement
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
        prefix = block.path + "."
        pending, start = "", ""
        acts: list[str] = []
        swallowed: set[str] = set()
        for node in block.nodes:
            data = ir.node(graph, node)
            attr = node[len(prefix) :].split("#")[0]
            if "." in attr or node in swallowed:
                continue
            op = data.op
            if node == block.add or not isinstance(op, _CALLED):
                continue
            if node == block.output and isinstance(op, ir.Act) and not block.preact:
                acts.append(node)  # the closing activation
                continue
            (src,) = ir.inputs_of(graph, node)
            inner = pending or self.var[src]
            start = start if pending else src
            how = fused.get(attr, "")
            if how:
                (after,) = graph.successors(node)
                swallowed.add(block.output if how == "add_relu" else after)
                if how == "add_relu":
                    self.tail = Statement("", f"self.{attr}({inner}, identity)",
                                          f"relu({attr}({inner}) + identity)")  # fmt: skip
                elif after == block.output:
                    self.tail = Statement("", f"self.{attr}({inner})", "conv and ReLU")
                else:
                    self._emit(f"self.{attr}({inner})", "conv and ReLU", after, start)
                pending = ""
                continue
            call = f"self.{act if isinstance(op, ir.Act) else attr}({inner})"
            if isinstance(op, (ir.Act, *_POOLS)):  # a statement of its own ends here
                if isinstance(op, ir.Act):
                    acts.append(node)
                self._emit(call, "", node, start)
                pending = ""
            else:
                pending = call
        if pending:
            self._emit(pending, "", "", start)
        self.uses_act = any(a not in swallowed for a in acts)

    def _emit(self, expr: str, comment: str, node: str, start: str) -> None:
        b = self.block
        target = "pre" if start == b.input and not self.statements and b.preact else "out"
        self.statements.append(Statement(target, expr, comment))
        if node:
            self.var[node] = target
