"""A user block's `__init__`: its values, module declarations and containers.

resgen.codegen.user_writer's Writer builds on this: it walks the ops and writes `forward`,
declaring each module here. Values print from the checked expression trees (resgen.spec.expr);
a dotted name (`mlp.fc1`) is an entry of nested `nn.ModuleDict`s.
"""

from __future__ import annotations

from resgen.codegen.calls import STD_EPS
from resgen.codegen.user_lines import EXPLODE, LIMIT, Decl, Var, attributes, fit, walk
from resgen.graph import ir
from resgen.spec import expr as ex
from resgen.spec.user_ops import ConvOp, NormOp, PoolOp


class Declarations:
    """The `__init__` lines of a user block class, and the values they and `forward` print."""

    def __init__(self, names: frozenset[str], fixed: dict[str, int]) -> None:
        self.names, self.fixed = names, fixed
        self.decls: list[Decl | str | tuple[str, ...]] = []
        self.late: list[Decl] = []  # modules called more than once: declared after the others
        self.used: set[str] = set()  # the variables the constructor takes
        self.helpers: set[str] = set()  # helper classes and functions of the file
        self.containers: set[str] = set()
        self.kept: set[str] = set()  # variables forward reads, kept as attributes
        self.projects = False  # some block of the class has a projection shortcut
        self.projecting = False  # some op runs only in blocks that stride or project
        self.weighted: list[str] = []  # ops with a weight, in order (for zero_init_residual)

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

    def _condition(self, when: str, *, forward: bool = False) -> str:
        """When an op runs, as the constructor (or forward) tests it."""
        self.used.add("stride")
        if when == "strided":
            if forward:
                self.kept.add("stride")
            return "self.stride > 1" if forward else "stride > 1"
        self.projecting = True
        return "self.projecting" if when == "projecting" else "not self.projecting"

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
