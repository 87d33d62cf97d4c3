"""A user block's `__init__` and `forward` lines, from its ops and the graph.

resgen.codegen.user_blocks assembles each user block class; this writes its lines. Values print
from the checked expression trees (resgen.spec.expr); which modules exist and what they became in
the deploy build (a folded norm, an `Affine`) the graph says.
"""

from __future__ import annotations

from resgen.codegen.blocks import AA_COMMENTS
from resgen.codegen.calls import STD_EPS
from resgen.codegen.user_lines import (
    EXPLODE,
    LIMIT,
    Decl,
    Stmt,
    Var,
    act_call,
    attributes,
    fit,
    module_of,
    walk,
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
    PoolOp,
    ReshapeOp,
    ScaleOp,
    SoftmaxOp,
    SplitOp,
)


class Writer:
    """Writes a user block's `__init__` and `forward` lines from its ops and the graph."""

    def __init__(self, graph: ir.Graph, spec: Spec, user: UserBlockSpec, rep: ir.Block,
                 fixed: dict[str, int]) -> None:  # fmt: skip
        self.graph, self.spec, self.user, self.rep, self.fixed = graph, spec, user, rep, fixed
        self.names = frozenset((*VARIABLES, *user.params))
        self.ids, closing = op_nodes(user)
        self.closing_node = self.node(closing) if closing else ""
        self.vars: dict[str, Var] = {"x": Var("x", ex.Var("in_channels"))}
        self.decls: list[Decl | str | tuple[str, ...]] = []
        self.late: list[Decl] = []  # modules called more than once: declared after the others
        self.stmts: list[Stmt] = []
        self.used: set[str] = set()
        self.helpers: set[str] = set()
        self.scales: set[str] = set()
        self.containers: set[str] = set()
        self.kept: set[str] = set()  # variables forward reads, kept as attributes
        self.projects = False  # some block of the class has a projection shortcut
        self.projecting = False  # some op runs only in blocks that stride or project
        self.weighted: list[str] = []  # ops with a weight, in order (for zero_init_residual)
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

    def tree(self, raw: object) -> ex.Expr:
        return ex.substitute(ex.parse_expr(raw, self.names), self.fixed)

    def value(self, raw: object) -> str:
        return self.channels(self.tree(raw))

    def forward_value(self, raw: object) -> str:
        """A value forward reads: each variable in it is an attribute `__init__` keeps."""
        tree = self.tree(raw)
        self.channels(tree)  # the constructor takes its variables
        self.kept |= ex.names_in(tree)
        return ex.to_python(attributes(tree))

    def channels(self, tree: ex.Expr) -> str:
        tree = ex.substitute(tree, self.fixed)
        self.used |= ex.names_in(tree)
        for call in (t for t in walk(tree) if isinstance(t, ex.FnCall)):
            if call.name in ("make_divisible", "log2"):  # helper functions of the file
                self.helpers.add(call.name)
        return ex.to_python(tree)

    def write(self) -> None:
        first_conv = next((op.name for op in self.user.ops
                           if isinstance(op, ConvOp) and "." not in op.name), "")  # fmt: skip
        for index, op in enumerate(self.user.ops):
            prev = self.user.ops[index - 1].name if index else "x"
            node = self.node(self.ids[index])
            if isinstance(op, (PoolOp, MergeOp)) and op.when:
                self._sometimes(node, op, self.vars[op.input or prev] if isinstance(
                    op, PoolOp) else self.vars["x"])  # fmt: skip
                continue
            if isinstance(op, MergeOp):
                self._merge(node, op)
                continue
            src = self.vars[op.input or prev]
            if node not in self.graph:  # an identity, a norm of `norm: none`, a folded norm
                self.vars[op.name] = src
                continue
            graph_op = ir.op(self.graph, node)
            channels = src.channels
            if isinstance(op, ScaleOp):
                self.scales.add(op.name)
                self.weighted.append(op.name)
                full = f"torch.full(({self.channels(channels)},), {op.init!r})"
                self.decls.append(f"self.{op.name} = nn.Parameter({full})")
                self._assign(node, op.name, f"{src.name} * self.{op.name}.view(1, -1, 1, 1)",
                             channels, depth=0)  # fmt: skip
                continue
            if isinstance(op, GlobalPoolOp):  # a tensor method, as timm's SE squeezes
                text = (f"{src.name}.mean((2, 3), keepdim=True)" if op.pool == "avg" else
                        f"torch.amax({src.name}, dim=(2, 3), keepdim=True)")  # fmt: skip
                self._assign(node, op.name, text, channels, depth=0)
                continue
            if isinstance(op, ChannelConvOp):
                self._channel_conv(node, op, src)
                continue
            if isinstance(op, SplitOp):  # a view, as torch.split's pieces are
                start, width = self.forward_value(op.start), self.forward_value(op.channels)
                text = f"{src.name}.narrow(1, {start}, {width})"
                self._assign(node, op.name, text, self.tree(op.channels), depth=0)
                continue
            if isinstance(op, SoftmaxOp):
                self._softmax(node, op, src)
                continue
            if isinstance(op, AttentionOp):
                self._attention(node, op, src)
                continue
            if isinstance(op, ReshapeOp):
                self._regroup(node, op, src)
                continue
            if isinstance(op, ConvOp):
                channels = ex.parse_expr(op.out, self.names)
            if isinstance(op, (ConvOp, PoolOp)):
                self._note_stride(op)
            if isinstance(graph_op, ir.Act) and node in self.fusing:  # its conv runs it
                assert isinstance(op, ActOp)
                text = f"{self.fusing[node]}  # conv and ReLU"
                self._assign(node, op.name, text, channels, depth=0, ends=True)
                self._alias(op, channels)
                continue
            if isinstance(graph_op, ir.Act):
                assert isinstance(op, ActOp)
                self._act(node, op.name, graph_op, src, channels)
                self._alias(op, channels)
                continue
            callee, args = self._module(op, graph_op, src)
            how = self.fused.get(op.name, "")
            if how:  # a ConvReLU or ConvAddReLU, as the built-in deploy blocks declare
                callee = {"relu": "ConvReLU", "add_relu": "ConvAddReLU"}[how]
                self.helpers.add(callee)
            self._declare(op.name, callee, args, first=op.name == first_conv)
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
        self._closing()

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

    def _condition(self, when: str, *, forward: bool = False) -> str:
        """When an op runs, as the constructor (or forward) tests it."""
        self.used.add("stride")
        if when == "strided":
            if forward:
                self.kept.add("stride")
            return "self.stride > 1" if forward else "stride > 1"
        self.projecting = True
        return "self.projecting" if when == "projecting" else "not self.projecting"

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

    def init_lines(self) -> list[str]:
        out = [f"self.{name} = {name}" for name in sorted(self.kept)]
        if self.projecting:  # timm's Res2Net `is_first`
            test = "stride > 1 or downsample" if self.projects else "stride > 1"
            out.append(f"self.projecting = {test}")
        for decl in (*self.decls, *self.late):
            if isinstance(decl, tuple) and not isinstance(decl, Decl):  # lines as written
                out += decl
                continue
            if isinstance(decl, str):
                out += fit(decl, 8)
                continue
            one = f"{decl.target} = {decl.callee}({', '.join(decl.args)})"
            if not decl.exploded and 8 + len(one) <= EXPLODE:
                out.append(one)
            else:
                out += [f"{decl.target} = {decl.callee}(", *(f"    {a}," for a in decl.args), ")"]
        return out

    def _ref(self, name: str) -> str:
        """`self.conv1`, or an entry of nested ModuleDicts: `self.conv1["paths"]["0"]`."""
        head, *rest = name.split(".")
        return f"self.{head}" + "".join(f'["{part}"]' for part in rest)

    def _declare(self, name: str, callee: str, args: list[str], *, first: bool) -> None:
        self._containers(name)
        self.decls.append(Decl(self._ref(name), callee, tuple(args), exploded=first))

    def _declare_when(self, name: str, call: str, condition: str) -> None:
        """A module only some blocks run: an nn.Identity in the others."""
        self._containers(name)
        target, value = self._ref(name), f"{call} if {condition} else nn.Identity()"
        then, test, other = call, condition, "nn.Identity()"
        if condition.startswith("not "):
            then, test, other = other, condition[4:], call
        value = f"{then} if {test} else {other}"
        if 8 + len(f"{target} = {value}") <= LIMIT:
            self.decls.append(f"{target} = {value}")
        elif 12 + len(value) <= LIMIT:  # as ruff wraps a long conditional expression
            self.decls.append((f"{target} = (", f"    {value}", ")"))
        else:
            lines = (f"    {then}", f"    if {test}", f"    else {other}")
            self.decls.append((f"{target} = (", *lines, ")"))

    def _containers(self, name: str) -> None:
        """Each ModuleDict that holds `name`, declared before its first entry."""
        parts = name.split(".")
        for k in range(1, len(parts)):
            container = ".".join(parts[:k])
            if container not in self.containers:
                self.containers.add(container)
                self.decls.append(f"{self._ref(container)} = nn.ModuleDict()")

    def _module(self, op: object, graph_op: ir.Op, src: Var) -> tuple[str, list[str]]:
        cin = self.channels(src.channels)
        name = str(getattr(op, "name", ""))
        if isinstance(graph_op, ir.Conv):
            assert isinstance(op, ConvOp)
            self.weighted.append(name)
            return self._conv(op, graph_op, cin)
        if isinstance(graph_op, ir.Affine):
            self.helpers.add("Affine")
            return "Affine", [cin]
        if isinstance(graph_op, ir.LayerNorm):
            self.weighted.append(name)
            self.helpers.add("LayerNorm2d")
            return "LayerNorm2d", [cin, f"eps={graph_op.eps!r}"]
        if isinstance(graph_op, ir.Norm):
            assert isinstance(op, NormOp)
            self.weighted.append(name)
            return self._norm(op, graph_op, cin)
        assert isinstance(graph_op, (ir.Pool, ir.BlurPool)) and isinstance(op, PoolOp), graph_op
        return self._pool_call(op, src)

    def _pool_call(self, op: PoolOp, src: Var) -> tuple[str, list[str]]:
        if op.pool == "blur":  # as the built-in blocks' `aa`: BlurPool2d(mid_channels, stride)
            self.helpers.add("BlurPool2d")
            stride = "2" if op.stride is None else self.value(op.stride)
            shown = stride if stride == "stride" else f"stride={stride}"
            return "BlurPool2d", [self.channels(src.channels), shown]
        callee = "nn.MaxPool2d" if op.pool == "max" else "nn.AvgPool2d"
        args = [f"kernel_size={self.value(op.kernel)}"]
        if op.stride is not None:
            args.append(f"stride={self.value(op.stride)}")
        args += [f"padding={self.value(op.padding)}"] if op.padding != 0 else []
        args += ["ceil_mode=True"] if op.ceil else []
        return callee, args

    def _conv(self, op: ConvOp, conv: ir.Conv, cin: str) -> tuple[str, list[str]]:
        args = [cin, self.value(op.out), f"kernel_size={self.value(op.kernel)}"]
        for key in ("stride", "padding", "dilation", "groups"):
            raw = getattr(op, key)
            shown = self._same_padding(op) if key == "padding" and raw is None else self.value(raw)
            if shown != ("0" if key == "padding" else "1"):
                args.append(f"{key}={shown}")
        args.append(f"bias={conv.bias}")
        if not conv.standardize:
            return "nn.Conv2d", args
        self.helpers.add("StdConv2d")  # BiT's weight-standardised conv
        return "StdConv2d", args + [f"eps={conv.standardize!r}"] * (conv.standardize != STD_EPS)

    def _same_padding(self, op: ConvOp) -> str:
        """`dilation x (kernel - 1) // 2`, written as simply as its values allow."""
        kernel, dilation = self.tree(op.kernel), self.tree(op.dilation)
        if isinstance(kernel, ex.Num) and kernel.value == 3:
            return self.channels(dilation)
        half = ex.BinOp("//", ex.BinOp("-", kernel, ex.Num(1)), ex.Num(2))
        return self.channels(ex.BinOp("*", dilation, half))

    def _norm(self, op: NormOp, norm: ir.Norm, cin: str) -> tuple[str, list[str]]:
        eps = [] if norm.eps == 1e-5 else [f"eps={norm.eps!r}"]
        if norm.norm == "group":
            groups = self.value(op.groups) if op.groups is not None else str(norm.groups)
            return "nn.GroupNorm", [groups, cin, *eps]
        if norm.norm == "frozen_batch":
            self.helpers.add("FrozenBatchNorm2d")
            return "FrozenBatchNorm2d", [cin, *eps]
        if norm.norm == "evonorm_s0":  # as the built-in's: groups when not the default 32
            self.helpers.add("EvoNorm2dS0")
            groups = self.value(op.groups) if op.groups is not None else str(norm.groups)
            return "EvoNorm2dS0", [cin, *([f"groups={groups}"] if groups != "32" else []), *eps]
        if norm.norm == "frn":
            self.helpers.add("FilterResponseNormTlu2d")
            return "FilterResponseNormTlu2d", [cin, *eps]
        return "nn.BatchNorm2d", [cin, *eps]
