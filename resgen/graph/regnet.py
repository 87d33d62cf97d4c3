"""RegNet blocks and names (Radosavovic et al. 2020): a bottleneck without expansion.

1x1, 3x3 in groups of the stage's group width, squeeze-and-excitation on the 3x3's output, 1x1;
the block outputs its stage's width. torchvision and timm name the same modules differently, so
the spec's `layout` picks the node ids (the state_dict paths) of the stem, the stages, the blocks
and the head; the arithmetic is the same in both.
"""

from __future__ import annotations

from typing import NamedTuple

from resgen.graph import ir
from resgen.graph.ir import ShortcutKind
from resgen.graph.scope import Scope
from resgen.spec.regnet import regnet_named


class Names(NamedTuple):
    """One layout's module names: a block's relative to the block, the others absolute.

    timm's activations live inside its norms (`conv1.bn.act`); the generated module keeps them
    beside (`conv1.act`), which holds no weights, so the state_dicts agree.
    """

    stem: tuple[str, str, str]  # conv, norm, activation
    convs: tuple[str, str, str]  # the block's 1x1, 3x3 and 1x1
    norms: tuple[str, str, str]
    acts: tuple[str, str]  # after the first two norms
    se: str
    se_parts: tuple[str, str, str, str]  # pool, hidden activation, gate (and the module)
    proj: tuple[str, str]  # the projection's conv and norm
    act: str  # after the add
    pool: str  # the head's global pool
    fc: str


LAYOUTS = {
    "torchvision": Names(
        stem=("stem.0", "stem.1", "stem.2"),
        convs=("f.a.0", "f.b.0", "f.c.0"),
        norms=("f.a.1", "f.b.1", "f.c.1"),
        acts=("f.a.2", "f.b.2"),
        se="f.se",
        se_parts=("avgpool", "activation", "scale_activation", "SqueezeExcitation"),
        proj=("proj.0", "proj.1"),
        act="activation",
        pool="avgpool",
        fc="fc",
    ),
    "timm": Names(
        stem=("stem.conv", "stem.bn", "stem.act"),
        convs=("conv1.conv", "conv2.conv", "conv3.conv"),
        norms=("conv1.bn", "conv2.bn", "conv3.bn"),
        acts=("conv1.act", "conv2.act"),
        se="se",
        se_parts=("mean", "act", "gate", "SEModule"),
        proj=("downsample.conv", "downsample.bn"),
        act="act3",
        pool="head.global_pool",
        fc="head.fc",
    ),
}


def stage_path(layout: str, number: int) -> str:
    """A RegNet stage's module path: `trunk_output.block2` or `s2`."""
    return f"trunk_output.block{number}" if layout == "torchvision" else f"s{number}"


def block_path(layout: str, number: int, index: int) -> str:
    """A RegNet block's module path: `trunk_output.block2.block2-0` or `s2.b1`."""
    if layout == "torchvision":
        return f"{stage_path(layout, number)}.block{number}-{index}"
    return f"s{number}.b{index + 1}"


def lower_regnet(s: Scope, b: ir.Block, x: str) -> ir.Block:
    """conv-norm-act 1x1, 3x3 grouped (strided), SE, conv-norm 1x1; shortcut, add, act."""
    if b.preact:
        return _lower_preact(s, b, x)
    n = LAYOUTS[s.spec.layout]
    y = s.norm(n.norms[0], s.conv(n.convs[0], x, b.in_channels, b.mid_channels, 1), b.mid_channels)
    y = s.act(n.acts[0], y)
    y = s.conv(n.convs[1], y, b.mid_channels, b.mid_channels, 3, stride=b.stride,
               groups=b.groups, dilation=b.first_dilation)  # fmt: skip
    y = s.act(n.acts[1], s.norm(n.norms[1], y, b.mid_channels))
    if b.attention_size:
        y = _lower_se(s, n, y, b.mid_channels, b.attention_size)
    y = s.norm(n.norms[2], s.conv(n.convs[2], y, b.mid_channels, b.out_channels, 1),
               b.out_channels)  # fmt: skip
    if b.drop_path > 0 and b.shortcut is not ShortcutKind.NONE:  # timm drops only what it adds
        y = s.add("drop_path", ir.Drop("path", b.drop_path), y)
    add = None
    if b.shortcut is not ShortcutKind.NONE:
        y = add = s.add("add", ir.Add(), y, _shortcut(s, b, x, n.proj, preact=False))
    out = y if s.spec.block.linear_out else s.act(n.act, y)
    return b.wired(x, out, add, tuple(s.added))


def _lower_preact(s: Scope, b: ir.Block, x: str) -> ir.Block:
    """timm's PreBottleneck (RegNetV): norm-act before each conv, SE after the 3x3, and the
    shortcut takes the pre-activated input, identity or not; nothing after the add."""
    pre = s.act("act#1", s.norm("norm1", x, b.in_channels))
    y = s.conv("conv1", pre, b.in_channels, b.mid_channels, 1)
    y = s.act("act#2", s.norm("norm2", y, b.mid_channels))
    y = s.conv("conv2", y, b.mid_channels, b.mid_channels, 3, stride=b.stride,
               groups=b.groups, dilation=b.first_dilation)  # fmt: skip
    if b.attention_size:
        y = _lower_se(s, LAYOUTS["timm"], y, b.mid_channels, b.attention_size)
    y = s.act("act#3", s.norm("norm3", y, b.mid_channels))
    y = s.conv("conv3", y, b.mid_channels, b.out_channels, 1)
    if b.drop_path > 0 and b.shortcut is not ShortcutKind.NONE:
        y = s.add("drop_path", ir.Drop("path", b.drop_path), y)
    if b.shortcut is ShortcutKind.NONE:
        return b.wired(x, y, None, tuple(s.added))
    add = s.add("add", ir.Add(), y, _shortcut(s, b, pre, ("downsample", ""), preact=True))
    return b.wired(x, add, add, tuple(s.added))


def _shortcut(s: Scope, b: ir.Block, x: str, names: tuple[str, str], *, preact: bool) -> str:
    """The block's shortcut: x itself, a 1x1 conv (and norm), or timm's avg-pool then 1x1.

    timm's avg-pool shortcut is a Sequential (`downsample.0` the pool, an nn.Identity where the
    block does not stride; `downsample.1` the conv, a ConvNormAct without pre-activation); a
    pre-activation 1x1 shortcut is the bare conv (`downsample`)."""
    if b.shortcut is ShortcutKind.IDENTITY:
        return x
    conv, norm = names
    stride = b.stride
    if b.shortcut is ShortcutKind.AVGPOOL_PROJECTION:
        if stride > 1:
            x = s.add("downsample.0", ir.avg_down(stride), x)
        stride = 1
        conv = "downsample.1" if preact else "downsample.1.conv"
        norm = "downsample.1.bn"
    x = s.conv(conv, x, b.in_channels, b.out_channels, 1, stride)
    return x if preact else s.norm(norm, x, b.out_channels)


def lower_regnet_shortcut(s: Scope, b: ir.Block, x: str) -> str:
    """A user block's shortcut in a RegNet: named as the layout names a RegNet block's (a bare
    projection in timm's names is its pre-activation block's, the `downsample` conv itself)."""
    bare = b.preact and s.spec.layout == "timm"
    names = ("downsample", "") if bare else LAYOUTS[s.spec.layout].proj
    return _shortcut(s, b, x, names, preact=b.preact)


def _lower_se(s: Scope, n: Names, y: str, channels: int, hidden: int) -> str:
    """Squeeze-and-excitation on the 3x3's output (torchvision's and timm's fc1 and fc2)."""
    pool, act, gate, _ = n.se_parts
    g = s.add(f"{n.se}.{pool}", ir.GlobalPool("avg"), y)
    g = s.conv(f"{n.se}.fc1", g, channels, hidden, 1, bias=True)
    g = s.act(f"{n.se}.{act}", g)  # both libraries' SE use the block's activation
    g = s.conv(f"{n.se}.fc2", g, hidden, channels, 1, bias=True)
    return s.add(n.se, ir.Mul(), y, s.act(f"{n.se}.{gate}", g, "sigmoid"))


def lower_simple_stem(s: Scope, x: str, cin: int) -> str:
    """One 3x3 stride-2 conv, norm and activation (RegNet's stem), named by the layout."""
    conv, norm, act = _stem_names(s)
    if not s.spec.stem.norm and s.spec.layout == "timm" and any_regnet(s):
        conv = "stem"  # timm's pre-activation RegNet: the stem is the bare conv
    width = s.spec.stem.out_width
    x = s.conv(conv, x, cin, width, 3, stride=2)
    if s.spec.stem.norm:
        x = s.act(act, s.norm(norm, x, width))
    return x


def _stem_names(s: Scope) -> tuple[str, str, str]:
    if any_regnet(s):
        return LAYOUTS[s.spec.layout].stem
    return "conv1", "bn1", s.act_name


def any_regnet(s: Scope) -> bool:
    return regnet_named(s.spec)
