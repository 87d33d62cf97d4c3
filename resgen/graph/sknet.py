"""SKNet's blocks (Li et al. 2019; timm's SelectiveKernelBasic and SelectiveKernelBottleneck).

A selective kernel conv runs two 3x3 paths, at dilation 1 and 2 (timm keeps 3x3 kernels for its
3x3 and 5x5), each with its norm and activation; by default each path sees its own half of the
input channels. An attention (the paths' sum, global average pool, 1x1 reduce, norm, activation,
1x1 to one weight per path and channel, a softmax across the paths) weighs the paths, and their
weighted sum is the output. The conv replaces a basic block's first 3x3 or a bottleneck's 3x3,
and every conv of the block is named as timm's ConvNormAct is (`conv1.conv`, `conv1.bn`); the
selective kernel conv is the generated module's helper `SelectiveKernel`, as timm's is.
"""

from __future__ import annotations

from resgen.graph import ir
from resgen.graph.scope import Scope
from resgen.spec.model import Spec

PATHS = 2  # timm's kernel_size [3, 5] with keep_3x3: dilations 1 and 2


def sk_attention_width(spec: Spec, kind: str, channels: int) -> int:
    """The attention's hidden width for a conv of `channels` outputs: timm's make_divisible of
    channels / reduction (0 for other block types)."""
    if kind not in ("sk_basic", "sk_bottleneck"):
        return 0
    sk = spec.block.selective_kernel
    divisor, value = sk.divisor, channels / sk.reduction
    width = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return width + divisor if width < 0.9 * value else width


def sk_basic_branch(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """A selective kernel conv (strided), then a 3x3 conv and norm."""
    y = _selective_kernel(s, "conv1", x, b, b.in_channels, b.mid_channels, groups=1)
    return _conv_norm(s, "conv2", y, b.mid_channels, b.out_channels, 3, b.dilation), x


def sk_bottleneck_branch(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """1x1 reduce, a selective kernel conv (strided, grouped), 1x1 expand."""
    y = s.act("conv1.act", _conv_norm(s, "conv1", x, b.in_channels, b.first_width, 1))
    y = _selective_kernel(s, "conv2", y, b, b.first_width, b.mid_channels, groups=b.groups)
    return _conv_norm(s, "conv3", y, b.mid_channels, b.out_channels, 1), x


def _conv_norm(
    s: Scope, name: str, x: str, cin: int, cout: int, kernel: int, dilation: int = 1
) -> str:
    """timm's ConvNormAct without its activation: `name.conv`, `name.bn`."""
    return s.norm(f"{name}.bn", s.conv(f"{name}.conv", x, cin, cout, kernel, dilation=dilation),
                  cout)  # fmt: skip


def _selective_kernel(
    s: Scope, name: str, x: str, b: ir.Block, cin: int, cout: int, groups: int
) -> str:
    """The paths, the attention over them and their weighted sum, under `name`."""
    split = s.spec.block.selective_kernel.split_input
    dilation = b.first_dilation
    s.helper(name, "SelectiveKernel", ("", cin, None), ("", cout, None), ("stride", b.stride, 1),
             ("dilation", dilation, 1), ("groups", groups, 1),
             ("attn_channels", b.sk_channels, None), ("split_input", split, True))  # fmt: skip
    width = cin // PATHS if split else cin
    ins = [s.add(f"{name}.split#{i}", ir.Slice(i * width, width), x) if split else x
           for i in range(PATHS)]  # fmt: skip
    paths = []
    for i, y in enumerate(ins):
        y = s.conv(f"{name}.paths.{i}.conv", y, width, cout, 3, stride=b.stride,
                   groups=groups, dilation=dilation * (i + 1))  # fmt: skip
        paths.append(s.act(f"{name}.paths.{i}.act", s.norm(f"{name}.paths.{i}.bn", y, cout)))
    a = s.add(f"{name}.attn.sum", ir.Add(), *paths)
    a = s.add(f"{name}.attn.mean", ir.GlobalPool("avg"), a)
    a = s.norm(f"{name}.attn.bn", s.conv(f"{name}.attn.fc_reduce", a, cout, b.sk_channels, 1),
               b.sk_channels)  # fmt: skip
    a = s.act(f"{name}.attn.act", a)
    a = s.conv(f"{name}.attn.fc_select", a, b.sk_channels, cout * PATHS, 1)
    a = s.add(f"{name}.attn.softmax", ir.Softmax(PATHS), a)
    weights = [s.add(f"{name}.attn#{i}", ir.Slice(i * cout, cout), a) for i in range(PATHS)]
    weighted = [s.add(f"{name}.mul#{i}", ir.Mul(), path, weight)
                for i, (path, weight) in enumerate(zip(paths, weights, strict=True))]  # fmt: skip
    return s.add(f"{name}.sum", ir.Add(), *weighted)
