"""Lower one planned block into the graph: its branch, attention, shortcut, add and activation.

Each block kind is one function from a planned `ir.Block` to its nodes, registered in
`BLOCK_KINDS` with the class codegen names it after; the plan's constructor-argument fields are
`ir.Arg`s, so the ops remember which argument gave each value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from resgen.graph import ir
from resgen.graph.ir import Arg, ShortcutKind
from resgen.graph.res2net import res2net_branch
from resgen.graph.resnest import resnest_branch
from resgen.graph.scope import Scope
from resgen.graph.sknet import sk_basic_branch, sk_bottleneck_branch

Branch = Callable[[Scope, ir.Block, str], tuple[str, str]]


def lower_block(s: Scope, block: ir.Block, x: str) -> ir.Block:
    """A block's branch, attention, drop-path, shortcut, add and closing activation."""
    y, shortcut_in = BLOCK_KINDS[(block.type, block.preact)].branch(s, block, x)
    y = _lower_attention(s, block, y)
    if block.drop_path > 0:
        y = s.add("drop_path", ir.Drop("path", block.drop_path), y)
    add: str | None = None
    out = y
    if block.shortcut is not ShortcutKind.NONE:
        add = out = s.add("add", ir.Add(), y, lower_shortcut(s, block, shortcut_in))
    if not block.preact and not s.spec.block.linear_out:
        out = s.relu(_next_use(s), out)
    return block.wired(x, out, add, tuple(s.added))


def _next_use(s: Scope) -> int:
    """The number of the next use of the block's activation module (`relu#3` in a bottleneck)."""
    prefix = s.path(s.act_name + "#")
    return 1 + sum(1 for node in s.added if node.startswith(prefix))


def _named(value: int, name: str) -> int:
    """A block argument passed under another name (a bottleneck's one 3x3 takes `dilation`)."""
    return value.named(name) if isinstance(value, Arg) else value


def _strides(s: Scope, b: ir.Block) -> tuple[int, int]:
    """A bottleneck's (1x1, 3x3) strides: v1 strides its first 1x1, v1.5 its 3x3; an
    anti-aliased block strides neither (its `aa` pool does)."""
    if _aa_stride(s, b):
        return 1, 1
    return (b.stride, 1) if s.spec.block.stride_on == "1x1" else (1, b.stride)


def _aa_stride(s: Scope, b: ir.Block) -> int:
    """The stride of the block's anti-aliasing pool; 0 for none (timm's `use_aa`)."""
    kind = s.spec.anti_alias
    if kind is None:
        return 0
    if b.stride > 1:
        return b.stride
    # timm blurs a dilated stage's first block at stride 1 too (an average would be a no-op).
    return b.stride if kind == "blur" and b.first_dilation != b.dilation else 0


def _anti_alias(s: Scope, b: ir.Block, y: str, channels: int) -> str:
    """The `aa` pool after the strided conv's activation, if the block has one."""
    if not _aa_stride(s, b):
        return y
    if s.spec.anti_alias == "blur":
        return s.add("aa", ir.BlurPool(channels, b.stride), y)
    return s.add("aa", ir.Pool("avg", b.stride, b.stride, 0, ceil_mode=False), y)


def _aa_after(s: Scope, conv: str) -> bool:
    """Whether the `aa` pool follows the activation after a bottleneck's `conv` (1x1 or 3x3)."""
    return s.spec.block.stride_on == conv


def _basic(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """Two 3x3 convs (He et al. 2015); the first carries the stride."""
    stride = 1 if _aa_stride(s, b) else b.stride
    y = s.conv_norm(1, x, b.in_channels, b.mid_channels, 3, stride=stride, groups=b.groups,
                    dilation=b.first_dilation)  # fmt: skip
    y = _anti_alias(s, b, s.relu(1, y), b.mid_channels)
    y = s.conv_norm(2, y, b.mid_channels, b.out_channels, 3, dilation=b.dilation)
    return y, x


def _bottleneck(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """1x1 reduce, 3x3, 1x1 expand (He et al. 2015)."""
    s1, s2 = _strides(s, b)
    y = s.relu(1, s.conv_norm(1, x, b.in_channels, b.first_width, 1, stride=s1))
    if _aa_after(s, "1x1"):
        y = _anti_alias(s, b, y, b.first_width)
    # A bottleneck has one 3x3: the class's `dilation` is the block's first dilation.
    y = s.conv_norm(2, y, b.first_width, b.mid_channels, 3, stride=s2, groups=b.groups,
                    dilation=_named(b.first_dilation, "dilation"))  # fmt: skip
    y = s.relu(2, y)
    if _aa_after(s, "3x3"):
        y = _anti_alias(s, b, y, b.mid_channels)
    y = s.conv_norm(3, y, b.mid_channels, b.out_channels, 1)
    return y, x


def _preact_basic(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """Norm and activation before each 3x3 conv (He et al. 2016)."""
    pre = s.relu(1, s.norm("bn1", x, b.in_channels))
    stride = 1 if _aa_stride(s, b) else b.stride
    y = s.conv("conv1", pre, b.in_channels, b.mid_channels, 3, stride=stride, groups=b.groups,
               dilation=b.first_dilation)  # fmt: skip
    y = _anti_alias(s, b, s.relu(2, s.norm("bn2", y, b.mid_channels)), b.mid_channels)
    y = s.conv("conv2", y, b.mid_channels, b.out_channels, 3, dilation=b.dilation)
    # A projection shortcut sees the pre-activated input; an identity one sees x itself.
    return y, (pre if b.projection else x)


def _preact_bottleneck(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """Norm and activation before each conv of a bottleneck (He et al. 2016)."""
    s1, s2 = _strides(s, b)
    pre = s.relu(1, s.norm("bn1", x, b.in_channels))
    y = s.conv("conv1", pre, b.in_channels, b.first_width, 1, stride=s1)
    y = s.relu(2, s.norm("bn2", y, b.first_width))
    if _aa_after(s, "1x1"):
        y = _anti_alias(s, b, y, b.first_width)
    y = s.conv("conv2", y, b.first_width, b.mid_channels, 3, stride=s2, groups=b.groups,
               dilation=_named(b.first_dilation, "dilation"))  # fmt: skip
    y = s.relu(3, s.norm("bn3", y, b.mid_channels))
    if _aa_after(s, "3x3"):
        y = _anti_alias(s, b, y, b.mid_channels)
    y = s.conv("conv3", y, b.mid_channels, b.out_channels, 1)
    return y, (pre if b.projection else x)


@dataclass(frozen=True)
class BlockKind:
    """One kind of residual block: its residual branch, and the class that code calls it."""

    class_name: str  # the generated block class
    template: str  # templates/blocks/<template>.py.jinja, which writes its docstring
    branch: Branch
    # Modules some instances lack, with the constructor's condition for building them (else
    # nn.Identity): Res2Net's pool on the last split, in a block that strides or projects.
    guards: tuple[tuple[str, str], ...] = ()


# (block type, pre-activation) -> its kind. A new block kind is one function, one entry here and
# one template; the order is the order block classes are written in.
BLOCK_KINDS: dict[tuple[str, bool], BlockKind] = {
    ("basic", False): BlockKind("BasicBlock", "basic", _basic),
    ("bottleneck", False): BlockKind("Bottleneck", "bottleneck", _bottleneck),
    ("basic", True): BlockKind("PreActBasicBlock", "preact_basic", _preact_basic),
    ("bottleneck", True): BlockKind("PreActBottleneck", "preact_bottleneck", _preact_bottleneck),
    ("res2net", False): BlockKind(
        "Bottle2neck", "res2net", res2net_branch, guards=(("pool", "self.first"),)
    ),
    ("sk_basic", False): BlockKind("SelectiveKernelBasic", "sk_basic", sk_basic_branch),
    ("sk_bottleneck", False): BlockKind(
        "SelectiveKernelBottleneck", "sk_bottleneck", sk_bottleneck_branch
    ),
    ("resnest", False): BlockKind(
        "ResNestBottleneck",
        "resnest",
        resnest_branch,
        guards=(("avd_first", "stride > 1"), ("avd_last", "stride > 1")),
    ),
}


def lower_shortcut(s: Scope, b: ir.Block, x: str) -> str:
    cin, cout, stride = b.in_channels, b.out_channels, b.stride
    if b.shortcut is ShortcutKind.PAD:
        return s.add("downsample", ir.Pad(stride, cout), x)
    if b.shortcut is ShortcutKind.IDENTITY:
        return x
    with_norm = not b.preact  # pre-activation projections are a bare conv
    first = 0
    if b.shortcut is ShortcutKind.AVGPOOL_PROJECTION:
        first = 1
        if stride > 1:
            x = s.add("downsample.0", ir.avg_down(stride), x)
        elif b.dilation > 1:
            # timm: a dilated stage's first block still pools, at stride 1 ("same" padding).
            x = s.add("downsample.0", ir.avg_down(1, pad_end=1), x)
        stride = 1
        x = s.conv(f"downsample.{first}", x, cin, cout, 1, stride)
    else:
        x = _projection_conv(s, b, x)
    return s.norm(f"downsample.{first + 1}", x, cout) if with_norm else x


def _projection_conv(s: Scope, b: ir.Block, x: str) -> str:
    """A projection's conv: 1x1, or `shortcut_kernel` wide where the block strides or opens a
    dilated stage (timm's down_kernel_size), dilated as the block's first 3x3."""
    kernel = s.spec.shortcut_kernel if b.stride > 1 or b.dilation > 1 else 1
    if kernel == 1:
        return s.conv("downsample.0", x, b.in_channels, b.out_channels, 1, b.stride)
    dilation = _named(b.first_dilation, "dilation" if b.type == "bottleneck" else "first_dilation")
    padding = ((b.stride - 1) + dilation * (kernel - 1)) // 2  # timm's get_padding
    if padding == dilation:
        padding = dilation  # the argument itself, so the class writes its name
    return s.conv("downsample.0", x, b.in_channels, b.out_channels, kernel, b.stride,
                  dilation=dilation, padding=padding)  # fmt: skip


def _lower_attention(s: Scope, b: ir.Block, y: str) -> str:
    attention = s.spec.block.attention
    if attention is None:
        return y
    # timm names both SE and ECA `se`.
    return lower_channel_attention(s, "se", y, b.out_channels, attention.type, b.attention_size)


def lower_channel_attention(s: Scope, name: str, y: str, c: int, kind: str, size: int) -> str:
    """timm's SqueezeExcite (`kind` "se", `size` hidden channels: `name.fc1`, `.act`, `.fc2`,
    `.gate`) or EfficientChannelAttention ("eca", `size` its kernel: `name.conv`, `.gate`) on
    `y`'s `c` channels; the node `name` is `y` times the gate."""
    pooled = s.add(f"{name}.mean", ir.GlobalPool("avg"), y)
    if kind == "se":
        g = s.conv(f"{name}.fc1", pooled, c, size, 1, bias=True)
        g = s.act(f"{name}.act", g, "relu")
        g = s.conv(f"{name}.fc2", g, size, c, 1, bias=True)
    else:
        g = s.add(f"{name}.conv", ir.ChannelConv(size, (size - 1) // 2), pooled)
    gate = s.act(f"{name}.gate", g, "sigmoid")
    return s.add(name, ir.Mul(), y, gate)
