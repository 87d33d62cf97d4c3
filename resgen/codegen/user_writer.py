"""A user block's `__init__` and `forward` lines, from its ops and the graph.

resgen.codegen.user_blocks assembles each user block class; this writes its lines. Values print
from the checked expression trees (resgen.spec.expr); which modules exist and what they became in
the deploy build (a folded norm, an `Affine`) the graph says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from resgen.codegen.blocks import AA_COMMENTS
from resgen.codegen.user_decls import Declarations
from resgen.codegen.user_lines import (
    Decl,
    Stmt,
    Var,
    act_call,
    module_of,
)
from resgen.graph import ir
from resgen.spec import expr as ex
from resgen.spec.model import Spec
from resgen.spec.user_blocks import UserBlockSpec, op_nodes
from resgen.spec.user_ops import (
    ATTENTION_DEFAULTS,
    VARIABLES,
    ActOp,
    AttentionOp,
    ChannelConvOp,
    ConvOp,
    GlobalPoolOp,
    MergeOp,
    NormOp,
    OpSpec,
    PoolOp,
    ReshapeOp,
    ScaleOp,
    SoftmaxOp,
    SplitOp,
)


class Writer(Declarations):
    """Writes a user block's `__init__` and `forward` lines from its ops and the graph."""

    def __init__(self, graph: ir.Graph, spec: Spec, user: UserBlockSpec, rep: ir.Block,
                 fixed: dict[str, int]) -> None:  # fmt: skip
        super().__init__(frozenset((*VARIABLES, *user.params)), fixed)
        self.graph, self.spec, self.user, self.rep = graph, spec, user, rep
        self.ids, closing = op_nodes(user)
        self.closing_node = self.node(closing) if closing else ""
        self.vars: dict[str, Var] = {"x": Var("x", ex.Var("in_channels"))}
        self.stmts: list[Stmt] = []
        self.scales: set[str] = set()
        self.strided = ""  # the first conv or pool that takes the `stride` argument
        self.closing = ""  # the module the closing activation calls
        self.ends_in_act = False
        # The deploy build's fused convs, by op name: "relu" or "add_relu" (resgen.graph.fold).
        self.fused: dict[str, str] = {}
        self.fusing: dict[str, str] = {}  # the node of a ReLU a conv runs -> that conv's call
        self.fused_tail: tuple[str, str] | None = None  # the last conv with the add: call, comment
        self.pinned = {user.shortcut_from, user.projection_from} - {None, "x"}
        # And the values a merge reads that some blocks skip: this instance may not read them.
        self.pinned |= {n for op in user.ops if isinstance(op, MergeOp) and op.when
                        for n in op.input}  # fmt: skip
        self.pinned |= {self.node(i) for i, op in zip(self.ids, user.ops, strict=True)
                        if isinstance(op, ActOp) and op.output_name in self.pinned}  # fmt: skip
        # The node of each attention op, by itself: its helper module's nodes sit under it.
        self.outer = {self.node(i): self.node(i) for i, op in zip(self.ids, user.ops, strict=True)
                      if isinstance(op, AttentionOp)}  # fmt: skip
        # The nodes of the ops that run, in order.
        self.order = [n for n in (self.node(i) for i in self.ids) if n in graph]

    def var_of(self, name: str) -> str:
        return self.vars[name].name

    def node(self, rel: str) -> str:
        return f"{self.rep.path}.{rel}"

    def write(self) -> None:
        """Every op's declaration and `forward` statement, in order, then the closing act's."""
        first_conv = next((op.name for op in self.user.ops
                           if isinstance(op, ConvOp) and "." not in op.name), "")  # fmt: skip
        for index, op in enumerate(self.user.ops):
            prev = self.user.ops[index - 1].name if index else "x"
            self._write_op(op, self.node(self.ids[index]), prev, first=op.name == first_conv)
        self._closing()

    def _write_op(self, op: OpSpec, node: str, prev: str, *, first: bool) -> None:
        if isinstance(op, (PoolOp, MergeOp)) and op.when:
            src = self.vars[op.input or prev] if isinstance(op, PoolOp) else self.vars["x"]
            self._sometimes(node, op, src)
            return
        if isinstance(op, MergeOp):
            self._merge(node, op)
            return
        src = self.vars[op.input or prev]
        if node not in self.graph:  # an identity, a norm of `norm: none`, a folded norm
            self.vars[op.name] = src
            return
        if isinstance(op, (ScaleOp, GlobalPoolOp, ChannelConvOp, SplitOp, SoftmaxOp,
                           AttentionOp, ReshapeOp)):  # fmt: skip
            _WRITERS[type(op)](self, node, op, src)
            return
        graph_op = ir.op(self.graph, node)
        if isinstance(graph_op, ir.Act):
            assert isinstance(op, ActOp)
            self._act_op(node, op, graph_op, src)
            return
        assert isinstance(op, (ConvOp, NormOp, PoolOp))
        self._module_op(node, op, graph_op, src, first=first)

    def _scale(self, node: str, op: ScaleOp, src: Var) -> None:
        """Layer scale: a bare nn.Parameter named as the op, one value per channel."""
        self.scales.add(op.name)
        self.weighted.append(op.name)
        full = f"torch.full(({self.channels(src.channels)},), {op.init!r})"
        self.decls.append(f"self.{op.name} = nn.Parameter({full})")
        text = f"{src.name} * self.{op.name}.view(1, -1, 1, 1)"
        self._assign(node, op.name, text, src.channels, depth=0)

    def _global_pool(self, node: str, op: GlobalPoolOp, src: Var) -> None:
        """A tensor method, as timm's SE squeezes."""
        text = (f"{src.name}.mean((2, 3), keepdim=True)" if op.pool == "avg" else
                f"torch.amax({src.name}, dim=(2, 3), keepdim=True)")  # fmt: skip
        self._assign(node, op.name, text, src.channels, depth=0)

    def _split(self, node: str, op: SplitOp, src: Var) -> None:
        """A view, as torch.split's pieces are."""
        start, width = self.forward_value(op.start), self.forward_value(op.channels)
        text = f"{src.name}.narrow(1, {start}, {width})"
        self._assign(node, op.name, text, self.tree(op.channels), depth=0)

    def _act_op(self, node: str, op: ActOp, act: ir.Act, src: Var) -> None:
        """An act op: its module's call, or, in a deploy build, the fused conv before it."""
        if node in self.fusing:  # its conv runs it
            text = f"{self.fusing[node]}  # conv and ReLU"
            self._assign(node, op.name, text, src.channels, depth=0, ends=True)
        else:
            self._act(node, op.name, act, src, src.channels)
        self._alias(op, src.channels)

    def _module_op(self, node: str, op: ConvOp | NormOp | PoolOp, graph_op: ir.Op, src: Var,
                   *, first: bool) -> None:  # fmt: skip
        """A conv, norm or pool module: declared, then called; a deploy build's fused conv is a
        ConvReLU or ConvAddReLU, called where its ReLU runs or at the add."""
        channels = ex.parse_expr(op.out, self.names) if isinstance(op, ConvOp) else src.channels
        if isinstance(op, (ConvOp, PoolOp)):
            self._note_stride(op)
        callee, args = self._module(op, graph_op, src)
        how = self.fused.get(op.name, "")
        if how:  # as the built-in deploy blocks declare them
            callee = {"relu": "ConvReLU", "add_relu": "ConvAddReLU"}[how]
            self.helpers.add(callee)
        self._declare(op.name, callee, args, first=first)
        call = f"{self._ref(op.name)}({src.name})"
        if how == "relu":  # written where its ReLU runs
            (after,) = self.graph.successors(node)
            self.fusing[after] = call
            self.vars[op.name] = Var(src.name, channels)  # read by that ReLU only
        elif how == "add_relu":  # the tail's: relu(conv(out) + identity)
            self.fused_tail = (f"{self._ref(op.name)}({src.name}, identity)",
                               f"relu({op.name}({src.name}) + identity)")  # fmt: skip
            self.vars[op.name] = Var(src.name, channels)  # read by the add only
        else:
            self._assign(node, op.name, call, channels, depth=1)

    def _alias(self, op: ActOp, channels: ex.Expr) -> None:
        """An act op read by another name (`as: pre`): the variable takes that name."""
        if op.output_name:
            var = op.output_name if self.vars[op.name].name != "out" else "out"
            self.stmts[-1] = self.stmts[-1]._replace(var=var)
            self.vars[op.name] = self.vars[op.output_name] = Var(var, channels)

    def _sometimes(self, node: str, op: PoolOp | MergeOp, src: Var) -> None:
        """An op that runs in some blocks of the class only: a pool is an nn.Identity in the
        others, a merge passes its first input on. Written whether or not this instance runs it,
        in a variable of its own where it does not."""
        assert op.when is not None
        if isinstance(op, PoolOp):
            self._note_stride(op)
            callee, args = self._pool_call(op, src)
            if self._anti_aliases(op):
                graph_op = ir.op(self.graph, node)
                self.decls.append((f"# {AA_COMMENTS[type(graph_op)]}",))
            self._declare_when(op.name, f"{callee}({', '.join(args)})", self._condition(op.when))
            # On a line of its own (depth 0: no call nests it or is nested in it), as the
            # built-in blocks write their `aa` and `avd_last`: a step some blocks skip.
            text, channels, depth = f"{self._ref(op.name)}({src.name})", src.channels, 0
        else:
            first, merged, channels = self._merged(op)
            condition = self._condition(op.when, forward=True)
            text = (f"{first} if {condition[4:]} else {merged}" if condition.startswith("not ")
                    else f"{merged} if {condition} else {first}")  # fmt: skip
            depth = 0
        if node in self.graph:
            self._assign(node, op.name, text, channels, depth=depth)
        else:
            var = op.name.replace(".", "_")
            self.stmts.append(Stmt(var, text, depth, False))
            self.vars[op.name] = Var(var, channels)

    def _anti_aliases(self, op: PoolOp) -> bool:
        """Whether a pool is the built-in blocks' `aa` (timm's aa_layer): a blur, or an average
        over `stride` x `stride`, in the blocks that stride, where no op before takes the stride."""
        window = op.stride is None and self.tree(op.kernel or 1) == ex.Var("stride")
        aa = op.pool == "blur" or (op.pool == "avg" and window and op.padding in (0, "0"))
        return aa and op.when == "strided" and self.strided == op.name

    def _note_stride(self, op: ConvOp | PoolOp) -> None:
        """The first conv or pool that takes the `stride` argument, which a comment names."""
        stride = op.stride
        if isinstance(op, PoolOp) and stride is None:  # a pool's default: its kernel; blur's, 2
            stride = 2 if op.pool == "blur" else op.kernel
        if not self.strided and "stride" in ex.names_in(self.tree(stride)):
            self.strided = op.name

    def _channel_conv(self, node: str, op: ChannelConvOp, src: Var) -> None:
        """ECA's conv: an nn.Conv1d over the (N, 1, C) view of a (N, C, 1, 1) tensor."""
        self.weighted.append(op.name)
        kernel = self.tree(op.kernel)
        padding = ex.BinOp("//", kernel, ex.Num(2))  # (kernel - 1) // 2: the kernel is odd
        args = ["1", "1", f"kernel_size={self.channels(kernel)}",
                f"padding={self.channels(padding)}", "bias=False"]  # fmt: skip
        self._declare(op.name, "nn.Conv1d", args, first=False)
        text = f"{self._ref(op.name)}({src.name}.view(x.shape[0], 1, -1))"
        self._assign(node, op.name, text, src.channels, depth=0)
        var = self.stmts[-1].var
        self.stmts.append(Stmt(var, f"{var}.view(x.shape[0], -1, 1, 1)", 0, False))

    def _softmax(self, node: str, op: SoftmaxOp, src: Var) -> None:
        """A softmax across the paths of (N, C, 1, 1) logits; the output is path-major."""
        paths, groups = self.forward_value(op.paths), self.forward_value(op.groups)
        if groups == "1":  # timm's SelectiveKernel: `attn.view(n, paths, c // paths, h, w)`
            text = f"torch.softmax({src.name}.view(x.shape[0], {paths}, -1), dim=1)"
        else:  # timm's RadixSoftmax: groups of paths, regrouped path-major
            view = f"{src.name}.view(x.shape[0], {groups}, {paths}, -1)"
            text = f"torch.softmax({view}.transpose(1, 2), dim=1)"
        self._assign(node, op.name, text, src.channels, depth=0)
        var = self.stmts[-1].var
        self.stmts.append(Stmt(var, f"{var}.reshape(x.shape[0], -1, 1, 1)", 0, False))

    def _attention(self, node: str, op: AttentionOp, src: Var) -> None:
        """The helper module the built-in blocks call: `SqueezeExcite(channels, hidden)` or
        `EfficientChannelAttention(kernel)`; the value or its default, of the input's channels."""
        raw = op.hidden if op.kind == "se" else op.kernel
        if raw is None:
            default = ex.parse_expr(ATTENTION_DEFAULTS[op.kind], frozenset("C"))
            size = self.channels(ex.replace_names(default, {"C": src.channels}))
        else:
            size = self.value(raw)
        if op.kind == "se":
            callee, args = "SqueezeExcite", [self.channels(src.channels), size]
        else:
            callee, args = "EfficientChannelAttention", [size]
        self.helpers.add(callee)
        self._declare(op.name, callee, args, first=False)
        # A line of its own, as the built-in blocks call it (depth 0: nothing nests with it).
        self._assign(node, op.name, f"{self._ref(op.name)}({src.name})", src.channels, depth=0)

    def _regroup(self, node: str, op: ReshapeOp, src: Var) -> None:
        """The channels as blocks, reordered: `unflatten`, a `transpose` (one swap) or a
        `permute`, `flatten`; H and W ride along."""
        dims = [self.forward_value(d) for d in op.dims]
        n = len(dims)
        moved = [i for i, o in enumerate(op.order) if i != o]
        if len(moved) == 2:
            reorder = f"transpose({moved[0] + 1}, {moved[1] + 1})"
        else:
            axes = [0, *(o + 1 for o in op.order), n + 1, n + 2]
            reorder = f"permute({', '.join(map(str, axes))})"
        text = f"{src.name}.unflatten(1, ({', '.join(dims)})).{reorder}.flatten(1, {n})"
        self._assign(node, op.name, text, src.channels, depth=0)

    def _act(self, node: str, name: str, act: ir.Act, src: Var, channels: ex.Expr) -> None:
        """An act op: its module declared once however often it runs (`self.relu`)."""
        self._declare_act(node, name, act)
        self._assign(node, name, f"{self._ref(name)}({src.name})", channels, depth=1, ends=True)

    def _declare_act(self, node: str, name: str, act: ir.Act) -> None:
        """An act op's module, at the first of its runs that is no fused conv's."""
        shared = self.ids.count(node[len(self.rep.path) + 1 :]) != 1 or "#" in node
        if not any(d.target == self._ref(name) for d in (*self.late, *self._decl_list())):
            # In place only where nothing else reads the input of any of its runs.
            runs = [n for n in (*self.order, self.closing_node) if module_of(n) == module_of(node)]
            inplace = all(self._alone(n) for n in runs if n in self.graph)
            callee, args = act_call(act.act, inplace=inplace)
            self._containers(name)
            decl = Decl(self._ref(name), callee, args, exploded=False)
            (self.late if shared else self.decls).append(decl)

    def _decl_list(self) -> list[Decl]:
        return [d for d in self.decls if isinstance(d, Decl)]

    def _alone(self, node: str) -> bool:
        (src,) = ir.inputs_of(self.graph, node)
        return src != self.rep.input and self.graph.out_degree(src) == 1

    def _closing(self) -> None:
        """The module of the activation after the add: an act op's, or `out_act`."""
        if not self.closing_node or self.closing_node not in self.graph or self.fused_tail:
            return  # none, or run by the last conv
        act = ir.op(self.graph, self.closing_node)
        assert isinstance(act, ir.Act)
        name = module_of(self.closing_node)[len(self.rep.path) + 1 :]
        self.closing = self._ref(name)
        if name != "out_act":  # an act op's module: declared unless a fused conv ran each use
            self._declare_act(self.closing_node, name, act)
        if name == "out_act":
            callee, args = act_call(act.act, inplace=self._alone(self.closing_node))
            self.late.append(Decl("self.out_act", callee, args, exploded=False))

    def _merge(self, node: str, op: MergeOp) -> None:
        _, text, channels = self._merged(op)
        self._assign(node, op.name, text, channels, depth=0)

    def _merged(self, op: MergeOp) -> tuple[str, str, ex.Expr]:
        """A merge's first input, its text and its channels."""
        ins = [self.vars[name] for name in op.input]
        args = [v.name for v in ins]
        channels = ins[0].channels
        if op.op == "concat":
            text = f"torch.cat([{', '.join(args)}], dim=1)"
            for v in ins[1:]:
                channels = ex.BinOp("+", channels, v.channels)
        else:
            text = f" {'+' if op.op == 'add' else '*'} ".join(args)
        return args[0], text, channels

    def _assign(self, node: str, name: str, text: str, channels: ex.Expr, *, depth: int,
                ends: bool = False) -> None:  # fmt: skip
        """`out = ...` when only the next op that runs reads this value (or it ends the branch
        and nothing else reads it), else a variable of its own."""
        at = self.order.index(node)
        after = self.order[at + 1] if at + 1 < len(self.order) else None
        # An attention op's inner nodes (`se.mean`) read its input as the op itself does.
        succ = {self.outer.get(n.rsplit(".", 1)[0], n) for n in self.graph.successors(node)}
        # What follows the branch: the drop-path, the add, the closing activation.
        wiring = {self.rep.add, self.rep.output, self.node("drop_path"), self.closing_node}
        last = after is None and (succ <= wiring or node == self.rep.output)
        # The values the shortcut reads keep a name of their own: some instance of the class may
        # read them where this one does not.
        pinned = name in self.pinned or node in self.pinned
        var = "out" if (succ == {after} or last) and not pinned else name.replace(".", "_")
        self.stmts.append(Stmt(var, text, depth, ends))
        self.vars[name] = Var(var, channels)
        self.ends_in_act = ends


# The ops written by one method each: (writer, node, op, its input's variable).
_WRITERS: dict[type, Callable[[Writer, str, Any, Var], None]] = {
    ScaleOp: Writer._scale,
    GlobalPoolOp: Writer._global_pool,
    ChannelConvOp: Writer._channel_conv,
    SplitOp: Writer._split,
    SoftmaxOp: Writer._softmax,
    AttentionOp: Writer._attention,
    ReshapeOp: Writer._regroup,
}
