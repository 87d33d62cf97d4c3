"""Constructor calls and forward statements as the templates print them.

Shared by block classes (resgen.codegen.blocks) and the model's own modules
(resgen.codegen.stem): how a conv, norm or activation module is spelt for one spec.
"""

from __future__ import annotations

from typing import NamedTuple

from resgen.graph import ir
from resgen.graph.ir import Arg
from resgen.spec.model import Spec

# A call longer than 88 columns is written one argument per line, with a trailing comma that
# keeps ruff from joining it (the layout torchvision's resnet.py has); every line stays within
# the 100 columns ruff checks.
LINE = 88


class Call(NamedTuple):
    """`callee(args)`: on one line, or one argument per line with a trailing comma."""

    callee: str
    args: tuple[str, ...]
    exploded: bool


class Decl(NamedTuple):
    """`self.<attr> = <call>` in a constructor; with a guard, `<call> if <guard> else Identity`."""

    attr: str
    call: Call
    items: tuple[()] = ()  # a Sequential's modules (resgen.codegen.stem); a Decl has none
    keys: tuple[()] = ()  # a keyed Sequential's names; a Decl has none
    guard: str = ""  # when the module is built; nn.Identity() otherwise
    comment: str = ""  # a line above the declaration
    lines: tuple[str, ...] = ()  # written out instead: a ModuleList (module_list_lines)


class Statement(NamedTuple):
    target: str  # "out" | "pre"
    expr: str
    comment: str  # "" or what a fused conv computes


def module_list_lines(attr: str, call: Call, count: int) -> tuple[str, ...]:
    """`self.<attr> = nn.ModuleList(<call> for _ in range(count))` as ruff formats it in a
    constructor (lines relative to its 8 columns of indentation)."""
    one = f"{call.callee}({', '.join(call.args)})"
    loop = f"for _ in range({count})"
    head = f"self.{attr} = nn.ModuleList("
    if 8 + len(head) + len(one) + len(loop) + 2 <= 100:
        return (f"{head}{one} {loop})",)
    if 12 + len(one) <= 100:
        return (head, f"    {one}", f"    {loop}", ")")
    return (head, f"    {call.callee}(", *(f"        {arg}," for arg in call.args), "    )",
            f"    {loop}", ")")  # fmt: skip


def guarded_lines(attr: str, call: Call, guard: str) -> tuple[str, ...]:
    """`self.<attr> = <call> if <guard> else nn.Identity()` as ruff formats it (relative to the
    constructor's indentation)."""
    one = f"{call.callee}({', '.join(call.args)})"
    tail = f"if {guard} else nn.Identity()"
    if 8 + len(f"self.{attr} = {one} {tail}") <= 100:
        return (f"self.{attr} = {one} {tail}",)
    if 12 + len(f"{one} {tail}") <= 100:
        return (f"self.{attr} = (", f"    {one} {tail}", ")")
    return (f"self.{attr} = (", f"    {call.callee}(", *(f"        {a}," for a in call.args),
            "    )", f"    if {guard}", "    else nn.Identity()", ")")  # fmt: skip


def value_of(value: int, names: set[str]) -> str:
    """An argument as the class writes it: its parameter's name, else the number."""
    if isinstance(value, Arg) and value.name in names:
        return value.name
    return str(int(value))


def module_call(
    op: ir.Op, names: set[str], *, first: bool, indent: int, attr: str = "", fused: str = ""
) -> Call:
    """The constructor call of a conv, norm, affine or pool module."""
    if isinstance(op, ir.Conv):
        args = [value_of(op.in_channels, names), value_of(op.out_channels, names)]
        args.append(f"kernel_size={op.kernel}")
        for key, value, default in (
            ("stride", op.stride, 1), ("padding", op.padding, 0),
            ("dilation", op.dilation, 1), ("groups", op.groups, 1),
        ):  # fmt: skip
            shown = value_of(value, names)
            if shown != str(default):
                args.append(f"{key}={shown}")
        args.append(f"bias={op.bias}")
        callee = {"relu": "ConvReLU", "add_relu": "ConvAddReLU"}.get(fused, "nn.Conv2d")
        if op.standardize:  # BiT's weight-standardised conv
            callee = "StdConv2d"
            args += [] if op.standardize == STD_EPS else [f"eps={op.standardize!r}"]
        # A block's first conv is where a stride can sit (v1 or v1.5), so it is written out in
        # full like the 3x3s; any other call stays on one line when it fits, as ruff writes it.
        target = f"self.{attr} = " if attr else ""
        one_line = f"{callee}({', '.join(args)})"
        exploded = first or indent + len(target) + len(one_line) + (0 if attr else 1) > LINE
        return Call(callee, tuple(args), exploded)
    if isinstance(op, ir.Affine):
        return Call("Affine", (value_of(op.channels, names),), False)
    if isinstance(op, ir.Pool):
        callee = "nn.MaxPool2d" if op.pool == "max" else "nn.AvgPool2d"
        padding = (f"padding={op.padding}",) if op.padding else ()
        stride = f"stride={value_of(op.stride, names)}"
        return Call(callee, (f"kernel_size={op.kernel}", stride, *padding), False)
    if isinstance(op, ir.BlurPool):
        return Call("BlurPool2d", (value_of(op.channels, names), f"stride={op.stride}"), False)
    assert isinstance(op, ir.Norm), op
    return Call(*_norm_ctor(op, value_of(op.channels, names)), False)


def aa_call(op: ir.Pool | ir.BlurPool, names: set[str]) -> Call:
    """A block's anti-aliasing pool: `nn.AvgPool2d(stride)`, `BlurPool2d(mid_channels, stride)`."""
    stride = value_of(op.stride, names)
    if isinstance(op, ir.Pool):
        return Call("nn.AvgPool2d", (stride,), False)
    return Call("BlurPool2d", (value_of(op.channels, names), stride), False)


STD_EPS = 1e-6  # StdConv2d's default eps (timm's)


def _norm_ctor(op: ir.Norm, channels: str) -> tuple[str, tuple[str, ...]]:
    eps = () if op.eps == 1e-5 else (f"eps={op.eps!r}",)
    if op.norm == "evonorm_s0":
        groups = () if op.groups == 32 else (f"groups={op.groups}",)
        return "EvoNorm2dS0", (channels, *groups, *eps)
    if op.norm == "frn":
        return "FilterResponseNormTlu2d", (channels, *eps)
    if op.norm == "group" and op.group_size:
        count = str(op.groups) if channels.isdigit() else f"{channels} // {op.group_size}"
        return "nn.GroupNorm", (count, channels, *eps)
    if op.norm == "group":
        return "nn.GroupNorm", (str(op.groups), channels, *eps)
    callee = "FrozenBatchNorm2d" if op.norm == "frozen_batch" else "nn.BatchNorm2d"
    return callee, (channels, *eps)


# Activation constructors; in-place where torch allows it, as torchvision does.
ACTIVATIONS = {
    "relu": ("nn.ReLU", ("inplace=True",)),
    "silu": ("nn.SiLU", ("inplace=True",)),
    "gelu": ("nn.GELU", ()),
    "leaky_relu": ("nn.LeakyReLU", ("0.01", "inplace=True")),
    "elu": ("nn.ELU", ("inplace=True",)),
    "mish": ("nn.Mish", ("inplace=True",)),
    "hardswish": ("nn.Hardswish", ("inplace=True",)),
    "tanh": ("nn.Tanh", ()),
}


def act_call(spec: Spec) -> Call:
    """The spec's activation module, e.g. `nn.ReLU(inplace=True)`."""
    callee, args = ACTIVATIONS[spec.act]
    if spec.block.preact and spec.norm.type == "none":
        # Without a norm, a pre-activation block activates its input itself: in place, that
        # would overwrite the input the shortcut adds back (and break autograd).
        args = tuple(a for a in args if a != "inplace=True")
    return Call(callee, args, False)
