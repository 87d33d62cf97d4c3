"""timm's ResNetV2 and BiT (Kolesnikov et al. 2020) in their own names: `layout: resnetv2`.

Pre-activation blocks (He et al. 2016) as timm's PreActBasic and PreActBottleneck build them:
norm-act before each conv, the projection (a bare 1x1 conv, after a 2x2 average pool in the `d`
variants) on the pre-activated input, an identity shortcut on the input itself, nothing after the
add. The stem is a bare conv (or three, with norm-act between) and a max-pool; a final norm-act,
then a global pool and a 1x1 conv as the classifier. Every module sits where timm's state_dict
has it: `stem.conv`, `stages.0.blocks.0.norm1`, `.downsample.conv`, `norm`, `head.fc`.
"""

from __future__ import annotations

from resgen.graph import ir
from resgen.graph.ir import Arg, ShortcutKind
from resgen.graph.scope import Scope


def stage_path(number: int) -> str:
    """timm's 0-based stage module: `stages.1` is the second stage."""
    return f"stages.{number - 1}"


def block_path(number: int, index: int) -> str:
    return f"{stage_path(number)}.blocks.{index}"


def lower_resnetv2_block(s: Scope, b: ir.Block, x: str) -> ir.Block:
    """A pre-activation block; its shortcut first, as timm registers `downsample` first."""
    pre = s.act("act#1", s.norm("norm1", x, b.in_channels))
    shortcut = _shortcut(s, b, pre) if b.shortcut is not ShortcutKind.IDENTITY else x
    if b.type == "bottleneck":
        y = s.conv("conv1", pre, b.in_channels, b.mid_channels, 1)
        y = s.act("act#2", s.norm("norm2", y, b.mid_channels))
        y = s.conv("conv2", y, b.mid_channels, b.mid_channels, 3, stride=b.stride,
                   groups=b.groups, dilation=b.first_dilation)  # fmt: skip
        y = s.act("act#3", s.norm("norm3", y, b.mid_channels))
        y = s.conv("conv3", y, b.mid_channels, b.out_channels, 1)
    else:
        y = s.conv("conv1", pre, b.in_channels, b.mid_channels, 3, stride=b.stride,
                   groups=b.groups, dilation=b.first_dilation)  # fmt: skip
        y = s.act("act#2", s.norm("norm2", y, b.mid_channels))
        y = s.conv("conv2", y, b.mid_channels, b.out_channels, 3, dilation=b.dilation)
    if b.drop_path > 0:
        y = s.add("drop_path", ir.Drop("path", b.drop_path), y)
    if b.shortcut is ShortcutKind.NONE:
        return b.wired(x, y, None, tuple(s.added))
    add = s.add("add", ir.Add(), y, shortcut)
    return b.wired(x, add, add, tuple(s.added))


def lower_resnetv2_shortcut(s: Scope, b: ir.Block, pre: str) -> str:
    """A user block's shortcut: its input, or a projection named as timm's ResNetV2 names one
    (`downsample.conv`)."""
    return pre if b.shortcut is ShortcutKind.IDENTITY else _shortcut(s, b, pre)


def _shortcut(s: Scope, b: ir.Block, pre: str) -> str:
    """timm's DownsampleConv (a 1x1 conv, strided) or DownsampleAvg (a 2x2 average pool where
    the block strides, then a 1x1 conv); pre-activation shortcuts have no norm."""
    stride = b.stride
    if b.shortcut is ShortcutKind.AVGPOOL_PROJECTION:
        if stride > 1:
            pre = s.add("downsample.pool", ir.avg_down(stride), pre)
        stride = 1
    return s.conv("downsample.conv", pre, b.in_channels, b.out_channels, 1, stride)


def lower_resnetv2_stem(s: Scope, x: str) -> str:
    """`stem.conv` (7x7/2), or `stem.conv1..3` (3x3s, the first /2, norm-act between), then the
    pool: a max-pool, or BiT's zero padding and max-pool (`stem.pad`, `stem.pool`)."""
    stem = s.spec.stem
    cin = Arg(s.spec.input.channels, "in_channels")
    if stem.type == "deep":
        w0, w1, w2 = stem.conv_widths
        x = s.act(
            "stem.act1", s.norm("stem.norm1", s.conv("stem.conv1", x, cin, w0, 3, stride=2), w0)
        )
        x = s.act("stem.act2", s.norm("stem.norm2", s.conv("stem.conv2", x, w0, w1, 3), w1))
        x = s.conv("stem.conv3", x, w1, w2, 3)
    else:
        x = s.conv("stem.conv", x, cin, stem.out_width, 7, stride=2, padding=3)
    if stem.pool_kind == "none":
        return x
    pool = ir.Pool("max", 3, 2, 1, ceil_mode=False, zero_pad=stem.pool_kind == "max_zero_pad")
    return s.add("stem.pool", pool, x)


def lower_resnetv2_head(s: Scope, x: str, channels: int) -> None:
    """The final norm-act (`norm`), a global pool, and the classifier as a 1x1 conv (timm's
    ClassifierHead with use_conv), flattened last."""
    x = s.act("act#final", s.norm("norm", x, channels))
    x = s.add("head.global_pool", ir.GlobalPool(s.spec.head.pool), x)
    if s.spec.head.dropout > 0:
        x = s.add("head.drop", ir.Drop("dropout", s.spec.head.dropout), x)
    if s.spec.head.classes:
        x = s.conv("head.fc", x, channels, s.spec.head.classes, 1, bias=True)
    s.add("flatten", ir.Flatten(), x)
