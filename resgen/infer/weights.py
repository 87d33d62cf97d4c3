"""What a ResNet's state_dict shows: every width, depth, group, kind and the head, by key name.

Keys follow the names torchvision and timm give a ResNet (and resgen's generated models share):
`conv1` or a deep stem's `conv1.0/3/6`, `layerN.I.conv1..3`, `downsample`, `se`, `bn_final`, `fc`.
The values the weights cannot show come from resgen.infer.assume.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Shapes = dict[str, tuple[int, ...]]

BLOCK_KEY = re.compile(r"^layer(\d+)\.(\d+)\.")
SE_DIVISORS = (8, 1, 4, 16)


class NotAResNetError(Exception):
    """The keys do not show a ResNet: the message says what was looked for."""


@dataclass(frozen=True)
class Seen:
    """One block as its weights show it."""

    kind: str  # basic or bottleneck
    first: int  # the first conv's output channels
    mid: int  # the 3x3's output channels (a basic block's first 3x3)
    out: int
    groups: int
    shortcut: str  # projection, avgpool_projection or "" (no parameters)
    shortcut_kernel: int
    attention: str  # se, eca or ""
    se_hidden: int
    first_in: int  # the first conv's input channels per group (a basic block's show its groups)
    scale: int = 1  # a Res2Net block's splits: its first 1x1 over its 3x3s' width


def _w(shapes: Shapes, key: str) -> tuple[int, ...]:
    shape = shapes.get(f"{key}.weight")
    if shape is None:
        raise NotAResNetError(f"no {key}.weight")
    return shape


def conv_weight(shapes: Shapes, key: str, kernel: int) -> tuple[int, ...]:
    """A conv's weight shape, which must be a `kernel` x `kernel` conv's."""
    shape = _w(shapes, key)
    if len(shape) != 4 or shape[-2:] != (kernel, kernel):
        raise NotAResNetError(
            f"{key}.weight has shape {list(shape)}, not a {kernel}x{kernel} conv's"
        )
    return shape


def read_block(shapes: Shapes, prefix: str) -> Seen:
    """A block's widths, groups, shortcut and attention from its keys under `prefix`."""
    split = f"{prefix}convs.0.weight" in shapes  # Res2Net: the 3x3 is `scale` splits' convs
    c1, c2 = _w(shapes, prefix + "conv1"), _w(shapes, prefix + ("convs.0" if split else "conv2"))
    bottleneck = f"{prefix}conv3.weight" in shapes
    out = _w(shapes, prefix + "conv3")[0] if bottleneck else c2[0]
    groups = (c2[0] if split else c1[0]) // c2[1] if bottleneck else 1
    shortcut, kernel = "", 1
    for index, kind in ((0, "projection"), (1, "avgpool_projection")):
        conv = shapes.get(f"{prefix}downsample.{index}.weight")
        if conv is not None and len(conv) == 4:
            shortcut, kernel = kind, conv[-1]
    attention, hidden = "", 0
    if f"{prefix}se.fc1.weight" in shapes:
        attention, hidden = "se", shapes[f"{prefix}se.fc1.weight"][0]
    elif f"{prefix}se.conv.weight" in shapes:
        attention = "eca"
    kind = "res2net" if split else "bottleneck" if bottleneck else "basic"
    mid = c2[0] if bottleneck else c1[0]  # a basic block's inner width is its first 3x3's
    scale = c1[0] // c2[0] if split else 1
    return Seen(kind, c1[0], mid, out, groups, shortcut, kernel, attention, hidden, c1[1], scale)


def read_blocks(shapes: Shapes) -> list[list[Seen]]:
    """Every block, stage by stage, from the `layerN.I.` keys."""
    found: dict[int, set[int]] = {}
    for key in shapes:
        match = BLOCK_KEY.match(key)
        if match:
            found.setdefault(int(match[1]), set()).add(int(match[2]))
    if not found:
        raise NotAResNetError("no layerN.I. keys (the blocks of a ResNet)")
    if sorted(found) != list(range(1, len(found) + 1)):
        raise NotAResNetError(f"stages {sorted(found)} are not numbered 1, 2, 3, ...")
    stages = []
    for number in range(1, len(found) + 1):
        if sorted(found[number]) != list(range(len(found[number]))):
            raise NotAResNetError(f"layer{number}'s blocks are not numbered 0, 1, 2, ...")
        stages.append([read_block(shapes, f"layer{number}.{i}.") for i in sorted(found[number])])
    return stages


def read_stem(shapes: Shapes) -> tuple[dict[str, Any], int]:
    """The stem's spec entry, and the input channels."""
    if "conv1.0.weight" in shapes:
        widths = [_w(shapes, f"conv1.{i}")[0] for i in (0, 3, 6)]
        stem: dict[str, Any] = {"type": "deep", "widths": widths}
        channels = shapes["conv1.0.weight"][1]
    else:
        conv = _w(shapes, "conv1")
        if len(conv) != 4 or conv[-1] not in (3, 7):
            raise NotAResNetError(f"conv1.weight has shape {list(conv)}, not a 7x7 or 3x3 conv")
        stem = {"type": "conv7" if conv[-1] == 7 else "cifar", "width": conv[0]}
        channels = conv[1]
    if "maxpool.0.weight" in shapes:
        stem["pool"] = "conv"
    return stem, channels


def read_norm(shapes: Shapes, first_conv: str = "layer1.0.conv1") -> str:
    """batch, frozen_batch, group or none: from which tensors a norm layer has (with no norm,
    convs have a bias: the first block's `first_conv`, or a ResNet's stem)."""
    if any(k.endswith(".num_batches_tracked") for k in shapes):
        return "batch"
    if any(k.endswith(".running_mean") for k in shapes):
        return "frozen_batch"
    if f"{first_conv}.bias" in shapes or "conv1.bias" in shapes or "conv1.0.bias" in shapes:
        return "none"
    return "group"


def se_reduction(stages: list[list[Seen]], nominal: list[int]) -> dict[str, int] | None:
    """The SE reduction and divisor that give every block's hidden width, if one does."""
    for divisor in SE_DIVISORS:
        for reduction in (16, *range(1, 257)):
            if all(
                b.se_hidden == max(divisor, int(n / reduction + divisor / 2) // divisor * divisor)
                for stage, n in zip(stages, nominal, strict=True)
                for b in stage
            ):
                return {"reduction": reduction, "divisor": divisor}
    return None
