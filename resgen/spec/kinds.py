"""The block types of the spec language, and the family every pass sizes alike.

One place for what each pass would otherwise list for itself (the output factor, the inner width
and its zero-width check, which keys count), so a new block kind joins a family in one line.
"""

from __future__ import annotations

from typing import Literal, get_args

BlockType = Literal[
    "basic", "bottleneck", "regnet", "res2net", "sk_basic", "sk_bottleneck", "resnest"
]
BLOCK_TYPES: tuple[str, ...] = get_args(BlockType)

# 1x1, a 3x3 (or what stands for it: Res2Net's splits, a selective kernel or split-attention
# conv) at the block's first dilation, 1x1 expanding 4x; inner width int(width x base_width / 64)
# x groups.
BOTTLENECK_TYPES = frozenset({"bottleneck", "res2net", "sk_bottleneck", "resnest"})
