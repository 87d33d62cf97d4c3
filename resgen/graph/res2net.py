"""Res2Net's block (Gao et al. 2019; timm's Bottle2neck): a bottleneck whose 3x3 is multi-scale.

The first 1x1 widens to `scale` splits of the inner width. Split i > 0 adds the previous split's
output, then runs its own 3x3, norm and activation (`convs.i`, `bns.i`); the last split passes
through. A block that strides or projects (timm's `is_first`) adds nothing across splits and
average-pools its last split instead. The splits are concatenated and a 1x1 expands them.
"""

from __future__ import annotations

from resgen.graph import ir
from resgen.graph.scope import Scope


def res2net_branch(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """1x1, the scales' 3x3s with cumulative adds, concatenation, 1x1 expand."""
    width, scale = b.mid_channels, s.spec.block.scale
    y = s.relu(1, s.conv_norm(1, x, b.in_channels, b.first_width, 1))
    first = b.stride > 1 or b.downsample
    splits = [s.add(f"split#{i}", ir.Slice(i * int(width), int(width)), y) for i in range(scale)]
    dilation = b.first_dilation  # the class's `dilation`, as a bottleneck's one 3x3 takes it
    if isinstance(dilation, ir.Arg):
        dilation = dilation.named("dilation")
    outs: list[str] = []
    for i in range(max(1, scale - 1)):
        sp = splits[i]
        if i > 0 and not first:
            sp = s.add(f"add#{i}", ir.Add(), outs[-1], sp)
        sp = s.conv(f"convs.{i}", sp, width, width, 3, stride=b.stride, groups=b.groups,
                    dilation=dilation)  # fmt: skip
        outs.append(s.relu(i + 2, s.norm(f"bns.{i}", sp, width)))
    if scale == 1:
        return s.conv_norm(3, outs[0], b.first_width, b.out_channels, 1), x
    last = splits[-1]
    if first:
        # timm counts the zero padding in the average (its FIXME keeps the trained weights'
        # behaviour), and pools even at stride 1 in a stage's projecting first block.
        last = s.add("pool", ir.Pool("avg", 3, b.stride, 1, ceil_mode=False), last)
    y = s.add("cat", ir.Concat(), *outs, last)
    return s.conv_norm(3, y, b.first_width, b.out_channels, 1), x
