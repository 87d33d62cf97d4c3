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
SE_DIVISORS = (8, 1, 4, 16, 32)


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
    first_in: int  # input channels per group of the first conv (a basic block's show its
    # groups) or of a selective kernel conv's paths
    scale: int = 1  # a Res2Net block's splits (its first 1x1 over its 3x3s' width), a ResNeSt
    # block's radix
    sk_hidden: int = 0  # a selective kernel conv's or a split attention's hidden width


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
    sk = next((c for c in ("conv1", "conv2") if f"{prefix}{c}.paths.0.conv.weight" in shapes), "")
    if sk:
        return _read_selective_kernel(shapes, prefix, sk)
    if f"{prefix}conv2.fc1.weight" in shapes:
        return _read_split_attention(shapes, prefix)
    split = f"{prefix}convs.0.weight" in shapes  # Res2Net: the 3x3 is `scale` splits' convs
    c1, c2 = _w(shapes, prefix + "conv1"), _w(shapes, prefix + ("convs.0" if split else "conv2"))
    bottleneck = f"{prefix}conv3.weight" in shapes
    out = _w(shapes, prefix + "conv3")[0] if bottleneck else c2[0]
    groups = (c2[0] if split else c1[0]) // c2[1] if bottleneck else 1
    kind = "res2net" if split else "bottleneck" if bottleneck else "basic"
    mid = c2[0] if bottleneck else c1[0]  # a basic block's inner width is its first 3x3's
    scale = c1[0] // c2[0] if split else 1
    return Seen(kind, c1[0], mid, out, groups, *_shortcut_of(shapes, prefix),
                *_attention_of(shapes, prefix), c1[1], scale)  # fmt: skip


def _read_selective_kernel(shapes: Shapes, prefix: str, sk: str) -> Seen:
    """SKNet's blocks (timm's names, `conv1.conv`): the selective kernel conv `sk` is a basic
    block's first 3x3 or a bottleneck's 3x3; its paths' input channels per group (half the
    conv's input when it splits it) and its attention's width are left to the caller."""
    path = _w(shapes, f"{prefix}{sk}.paths.0.conv")
    hidden = _w(shapes, f"{prefix}{sk}.attn.fc_reduce")[0]
    if sk == "conv1":
        out = conv_weight(shapes, f"{prefix}conv2.conv", 3)[0]
        return Seen("sk_basic", path[0], path[0], out, 1, *_shortcut_of(shapes, prefix),
                    *_attention_of(shapes, prefix), path[1], sk_hidden=hidden)  # fmt: skip
    first = conv_weight(shapes, f"{prefix}conv1.conv", 1)[0]
    out = conv_weight(shapes, f"{prefix}conv3.conv", 1)[0]
    return Seen("sk_bottleneck", first, path[0], out, 0, *_shortcut_of(shapes, prefix),
                *_attention_of(shapes, prefix), path[1], sk_hidden=hidden)  # fmt: skip


def _read_split_attention(shapes: Shapes, prefix: str) -> Seen:
    """ResNeSt's bottleneck (timm's names): the 3x3 `conv2.conv` makes `radix` splits of the
    inner width (conv3's input) in groups x radix groups; `conv2.fc1` is the attention's width."""
    first = conv_weight(shapes, f"{prefix}conv1", 1)
    conv = conv_weight(shapes, f"{prefix}conv2.conv", 3)
    mid, out = _w(shapes, f"{prefix}conv3")[1], _w(shapes, f"{prefix}conv3")[0]
    radix = conv[0] // mid
    groups = first[0] // (conv[1] * radix)
    hidden = _w(shapes, f"{prefix}conv2.fc1")[0]
    return Seen("resnest", first[0], mid, out, groups, *_shortcut_of(shapes, prefix),
                *_attention_of(shapes, prefix), first[1], radix, hidden)  # fmt: skip


def _shortcut_of(shapes: Shapes, prefix: str) -> tuple[str, int]:
    """A block's projection kind (plain, or ResNet-D's after an avg-pool) and its kernel."""
    shortcut, kernel = "", 1
    for index, kind in ((0, "projection"), (1, "avgpool_projection")):
        conv = shapes.get(f"{prefix}downsample.{index}.weight")
        if conv is not None and len(conv) == 4:
            shortcut, kernel = kind, conv[-1]
    return shortcut, kernel


def _attention_of(shapes: Shapes, prefix: str) -> tuple[str, int]:
    """se (and its hidden width), eca or nothing."""
    if f"{prefix}se.fc1.weight" in shapes:
        return "se", shapes[f"{prefix}se.fc1.weight"][0]
    return ("eca", 0) if f"{prefix}se.conv.weight" in shapes else ("", 0)


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
    """batch, frozen_batch, frn, evonorm_s0, group or none: from which tensors a norm layer has
    (with no norm,
    convs have a bias: the first block's `first_conv`, or a ResNet's stem)."""
    if any(k.endswith(".num_batches_tracked") for k in shapes):
        return "batch"
    if any(k.endswith(".tau") for k in shapes):  # timm's FilterResponseNormTlu2d
        return "frn"
    if any(k.endswith(".v") for k in shapes):  # timm's EvoNorm2dS0
        return "evonorm_s0"
    if any(k.endswith(".running_mean") for k in shapes):
        return "frozen_batch"
    if f"{first_conv}.bias" in shapes or "conv1.bias" in shapes or "conv1.0.bias" in shapes:
        return "none"
    return "group"


def split_attention_width(stages: list[list[Seen]], mids: list[int]) -> dict[str, int] | None:
    """ResNeSt's attention reduction, divisor and least width that give every block's hidden
    width (timm's make_divisible(inner x radix / reduction, divisor, min_value)), if some do."""
    for divisor in SE_DIVISORS:
        for least in (32, divisor, 16, 64):
            for reduction in (4, *range(1, 257)):
                if all(
                    b.sk_hidden == _divisible(n * b.scale / reduction, divisor, True, least)
                    for stage, n in zip(stages, mids, strict=True)
                    for b in stage
                ):
                    return {"reduction": reduction, "divisor": divisor, "min_channels": least}
    return None


def se_reduction(
    stages: list[list[Seen]], nominal: list[int], sk: bool = False
) -> dict[str, int] | None:
    """The SE (or, with `sk`, selective kernel attention) reduction and divisor that give every
    block's hidden width, if one does; timm's make_divisible, which for SK never rounds more
    than 10% down."""
    for divisor in SE_DIVISORS:
        for reduction in (16, *range(1, 257)):
            if all(
                (b.sk_hidden if sk else b.se_hidden) == _divisible(n / reduction, divisor, sk)
                for stage, n in zip(stages, nominal, strict=True)
                for b in stage
            ):
                return {"reduction": reduction, "divisor": divisor}
    return None


def _divisible(value: float, divisor: int, floor_10: bool, least: int = 0) -> int:
    width = max(least or divisor, int(value + divisor / 2) // divisor * divisor)
    return width + divisor if floor_10 and width < 0.9 * value else width
