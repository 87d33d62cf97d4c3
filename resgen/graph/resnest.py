"""ResNeSt's block (Zhang et al. 2020; timm's ResNestBottleneck): a bottleneck with split attention.

The 3x3 conv makes `radix` splits of the inner width in each of its `groups` (one conv of
groups x radix groups, `conv2.conv`, with its norm and ReLU). The attention sums the splits,
pools them globally, and runs a grouped 1x1, norm, ReLU and a grouped 1x1 back to one weight per
split and channel (`conv2.fc1`, `conv2.bn1`, `conv2.fc2`), a softmax across the splits within
each group (a sigmoid with one split); the output is the splits' weighted sum. No norm or
activation follows (timm's bn2 and act2 are identities). In a strided block, "avd" (average
downsampling) leaves the 3x3 conv at stride 1 and a 3x3 average pool strides instead, before the
split attention (`avd_first`) or after it (`avd_last`). The split attention is the generated
module's helper `SplitAttn`, as timm's is, so its state_dict keys are timm's.
"""

from __future__ import annotations

from resgen.graph import ir
from resgen.graph.scope import Scope
from resgen.spec.model import Spec


def split_attention_width(spec: Spec, channels: int) -> int:
    """The attention's hidden width for a split-attention conv of `channels` inputs: timm's
    make_divisible(channels x radix / reduction, divisor, min_value)."""
    sa = spec.block.split_attention
    divisor, value = sa.divisor, channels * sa.radix / sa.reduction
    width = max(sa.min_channels, int(value + divisor / 2) // divisor * divisor)
    return width + divisor if width < 0.9 * value else width


def resnest_branch(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """1x1 reduce, the split-attention 3x3 (or its avd pool) carrying the stride, 1x1 expand."""
    avd = s.spec.block.split_attention.avd if b.stride > 1 else "none"
    y = s.relu(1, s.conv_norm(1, x, b.in_channels, b.first_width, 1))
    if avd == "first":
        y = _avd(s, "avd_first", b, y)
    y = _split_attention(s, "conv2", y, b, 1 if avd != "none" else b.stride)
    if avd == "last":
        y = _avd(s, "avd_last", b, y)
    return s.conv_norm(3, y, b.mid_channels, b.out_channels, 1), x


def _avd(s: Scope, name: str, b: ir.Block, x: str) -> str:
    """timm's nn.AvgPool2d(3, stride, padding=1): the padding counts in the average."""
    return s.add(name, ir.Pool("avg", 3, b.stride, 1, ceil_mode=False), x)


def _split_attention(s: Scope, name: str, x: str, b: ir.Block, stride: int) -> str:
    """The splits, the attention over them and their weighted sum, under `name`."""
    radix, width = s.spec.block.split_attention.radix, b.mid_channels
    dilation = b.first_dilation  # a bottleneck's one 3x3 takes the class's `dilation`
    if isinstance(dilation, ir.Arg):
        dilation = dilation.named("dilation")
    s.helper(name, "SplitAttn", ("", b.first_width, None), ("", width, None),
             ("stride", stride, 1), ("dilation", dilation, 1), ("groups", b.groups, 1),
             ("radix", radix, None), ("attn_channels", b.sk_channels, None))  # fmt: skip
    wide = width * radix
    y = s.conv(f"{name}.conv", x, b.first_width, wide, 3, stride=stride, groups=b.groups * radix,
               dilation=dilation)  # fmt: skip
    y = s.act(f"{name}.act0", s.norm(f"{name}.bn0", y, wide))
    splits = [s.add(f"{name}.split#{i}", ir.Slice(i * width, width), y)
              for i in range(radix if radix > 1 else 0)]  # fmt: skip
    a = s.add(f"{name}.gap", ir.Add(), *splits) if splits else y
    a = s.add(f"{name}.mean", ir.GlobalPool("avg"), a)
    a = s.conv(f"{name}.fc1", a, width, b.sk_channels, 1, groups=b.groups, bias=True)
    a = s.act(f"{name}.act1", s.norm(f"{name}.bn1", a, b.sk_channels))
    a = s.conv(f"{name}.fc2", a, b.sk_channels, wide, 1, groups=b.groups, bias=True)
    if radix == 1:
        return s.add(f"{name}.mul", ir.Mul(), y, s.act(f"{name}.rsoftmax", a, "sigmoid"))
    a = s.add(f"{name}.rsoftmax", ir.Softmax(radix, b.groups), a)
    # Every weight slice, then every product: a drawing reads "split into 2 x 64 channels".
    weights = [s.add(f"{name}.attn#{i}", ir.Slice(i * width, width), a) for i in range(radix)]
    weighted = [s.add(f"{name}.mul#{i}", ir.Mul(), split, weight)
                for i, (split, weight) in enumerate(zip(splits, weights, strict=True))]  # fmt: skip
    return s.add(f"{name}.sum", ir.Add(), *weighted)
