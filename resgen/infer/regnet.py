"""What a RegNet's state_dict shows, in torchvision's or timm's layout: the stem's width, every
stage's depth, width, group width and bottleneck ratio, SE's ratio, the shortcuts, norm and head.

torchvision names a block `trunk_output.block2.block2-0` with `f.a.0` (1x1), `f.b.0` (3x3),
`f.se.fc1`, `f.c.0` (1x1) and `proj.0`; timm names it `s2.b1` with `conv1.conv`, `conv2.conv`,
`se.fc1`, `conv3.conv` and `downsample.conv` (resgen.graph.regnet.LAYOUTS has both). A regnet
block's inner width is round(width x bottleneck ratio) and its 3x3 has inner / group width groups,
so the 3x3's weight, (inner, group width, 3, 3), shows the group width directly.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from resgen.graph.regnet import LAYOUTS, block_path
from resgen.infer.weights import NotAResNetError, Shapes, conv_weight, read_norm

BLOCK_KEYS = {
    "torchvision": re.compile(r"^trunk_output\.block(\d+)\.block(\d+)-(\d+)\."),
    "timm": re.compile(r"^s(\d+)\.b(\d+)\."),
}
# Ratios the libraries use, tried before a stage's own (RegNet: bottleneck 1, SE 0.25).
BOTTLENECK_RATIOS = (1.0, 0.25, 0.5, 2.0, 4.0)
SE_RATIOS = (0.25, 0.5, 0.125, 0.0625, 1.0)
PREACT_NORM = "norm1"  # timm's PreBottleneck normalises before each conv
# A block's projection conv, by the layouts' names (plain, pre-activation's bare conv, timm's
# avg-pool then conv), and the shortcut it makes.
PROJECTIONS = {"proj.0": "projection", "downsample.conv": "projection",
               "downsample": "projection", "downsample.1.conv": "avgpool_projection",
               "downsample.1": "avgpool_projection"}  # fmt: skip
# A stage whose first block has no projection: identity where the shape stays, no shortcut
# where it changes (timm's RegNetZ, downsample=None).
UNPROJECTED = "identity_or_none"


@dataclass(frozen=True)
class RegSeen:
    """One regnet block as its weights show it."""

    cin: int
    mid: int
    out: int
    group_width: int  # input channels per group of the 3x3
    projection: str  # projection, avgpool_projection or "" (none)
    se_hidden: int  # 0: no SE
    preact: bool


def regnet_layout(shapes: Shapes) -> str | None:
    """torchvision or timm, if the keys are a RegNet's blocks; None for any other net."""
    for layout, pattern in BLOCK_KEYS.items():
        if any(pattern.match(k) for k in shapes):
            return layout
    return None


def read_regnet_blocks(shapes: Shapes, layout: str) -> list[list[RegSeen]]:
    """Every block, stage by stage, numbered as the layout numbers them."""
    found: dict[int, set[int]] = {}
    for key in shapes:
        match = BLOCK_KEYS[layout].match(key)
        if match and (layout == "timm" or match[1] == match[2]):
            found.setdefault(int(match[1]), set()).add(int(match[match.lastindex or 0]))
    if sorted(found) != list(range(1, len(found) + 1)):
        raise NotAResNetError(f"RegNet stages {sorted(found)} are not numbered 1, 2, 3, ...")
    first = 0 if layout == "torchvision" else 1
    stages = []
    for number in range(1, len(found) + 1):
        indices = sorted(found[number])
        if indices != list(range(first, first + len(indices))):
            raise NotAResNetError(f"stage {number}'s blocks are not numbered {first}, ...")
        paths = (block_path(layout, number, i - first) for i in indices)
        stages.append([_read_block(shapes, layout, f"{path}.") for path in paths])
    return stages


def _read_block(shapes: Shapes, layout: str, prefix: str) -> RegSeen:
    names = LAYOUTS[layout]
    preact = f"{prefix}{PREACT_NORM}.weight" in shapes  # timm's PreBottleneck: bare convs
    convs = ("conv1", "conv2", "conv3") if preact else names.convs
    c1, c2, c3 = (conv_weight(shapes, prefix + conv, k) for conv, k in zip(convs, (1, 3, 1)))  # noqa: B905
    if c2[0] % c2[1] or c1[0] != c2[0] or c3[1] != c2[0]:
        raise NotAResNetError(f"{prefix[:-1]}'s convs do not chain: {c1}, {c2}, {c3}")
    hidden = shapes.get(f"{prefix}{names.se}.fc1.weight", (0,))[0]
    projection = next((kind for key, kind in PROJECTIONS.items()
                       if f"{prefix}{key}.weight" in shapes), "")  # fmt: skip
    return RegSeen(c1[1], c1[0], c3[0], c2[1], projection, hidden, preact)


def spec_from_regnet(shapes: Shapes, layout: str, name: str) -> dict[str, Any]:
    """The spec a RegNet's shapes show, the values weights cannot show left out."""
    names = LAYOUTS[layout]
    bare = "stem.weight" in shapes  # timm's pre-activation RegNet: the stem is one conv
    stem_conv = conv_weight(shapes, "stem" if bare else names.stem[0], 3)
    stages = read_regnet_blocks(shapes, layout)
    block = _block(stages)
    entries = [_stage(stage, number) for number, stage in enumerate(stages, start=1)]
    _hoist(block, entries, "group_width", 1)
    ratio = _ratio([(e["width"], e.pop("mid")) for e in entries], BOTTLENECK_RATIOS)
    if ratio is None:  # each stage its own
        for entry, stage in zip(entries, stages, strict=True):
            entry["bottleneck_ratio"] = stage[0].mid / entry["width"]
    elif ratio != 1.0:
        block["bottleneck_ratio"] = ratio
    first_conv = prefix_conv(layout, block.get("preact", False))
    spec: dict[str, Any] = {
        "name": name, "input": {"channels": stem_conv[1]}, "layout": layout,
        "stem": {"type": "simple", "width": stem_conv[0]}, "block": block,
        "shortcut": _shortcuts(stages, entries), "norm": {"type": read_norm(shapes, first_conv)},
    }  # fmt: skip
    if bare or not any(k.startswith(f"{names.stem[1]}.") for k in shapes):
        spec["stem"]["norm"] = False
    spec["stages"] = entries
    spec["head"] = _head(shapes, layout)
    return spec


def _block(stages: list[list[RegSeen]]) -> dict[str, Any]:
    """The block entry: pre-activation and SE, which every block must share."""
    block: dict[str, Any] = {"type": "regnet"}
    preact = {b.preact for stage in stages for b in stage}
    if len(preact) > 1:
        raise NotAResNetError("some RegNet blocks are pre-activation (norm1) and others not")
    if preact.pop():
        block["preact"] = True
    if attention := _attention(stages):
        block["attention"] = attention
    return block


def _head(shapes: Shapes, layout: str) -> dict[str, Any]:
    """Classes, a 1x1 conv to more features (timm's final_conv), a pre-activation net's final
    norm; whether an activation alone runs before the pool no tensor shows."""
    head: dict[str, Any] = {}
    if features := shapes.get(f"final_conv.{'conv' if layout == 'timm' else '0'}.weight"):
        head["features"] = features[0]
    if "bn_final.weight" in shapes or "bn_final.running_mean" in shapes:
        head["final"] = "norm_act"
    fc = shapes.get(f"{LAYOUTS[layout].fc}.weight")
    return {"classes": fc[0] if fc else 0, **head}


def prefix_conv(layout: str, preact: bool) -> str:
    """The first block's first conv, whose bias says `norm: none`."""
    return f"{block_path(layout, 1, 0)}.{'conv1' if preact else LAYOUTS[layout].convs[0]}"


def _stage(stage: list[RegSeen], number: int) -> dict[str, Any]:
    """A stage's depth, width, inner width and group width; every block must agree."""
    b0 = stage[0]
    for b in stage[1:]:
        if (b.mid, b.out, b.group_width, b.cin) != (b0.mid, b0.out, b0.group_width, b0.out):
            raise NotAResNetError(
                f"stage {number}'s blocks differ in width ({b0.out} then {b.out} out, "
                f"{b0.mid} then {b.mid} inner): a RegNet stage's blocks share one width"
            )
    return {"depth": len(stage), "width": b0.out, "group_width": b0.group_width, "mid": b0.mid}


def _hoist(block: dict[str, Any], entries: list[dict[str, Any]], key: str, default: Any) -> None:
    """Move the value most stages share (the last stage's on a tie) into `block`."""
    counts = Counter(e[key] for e in entries)
    common = max(counts, key=lambda v: (counts[v], v == entries[-1][key]))
    if common != default:
        block[key] = common
    for entry in entries:
        if entry[key] == common:
            del entry[key]


def _ratio(pairs: list[tuple[int, int]], candidates: tuple[float, ...]) -> float | None:
    """A ratio r with round(a * r) == b for every (a, b) pair: a usual one, else the first
    pair's own; None if none fits them all."""
    own = tuple(b / a for a, b in pairs[:1])
    for r in (*candidates, *own):
        if all(round(a * r) == b for a, b in pairs):
            return r
    return None


def _attention(stages: list[list[RegSeen]]) -> dict[str, Any] | None:
    """SE's ratio of the block's input width (torchvision's and timm's se_ratio)."""
    blocks = [b for stage in stages for b in stage]
    if not any(b.se_hidden for b in blocks):
        return None
    if not all(b.se_hidden for b in blocks):
        raise NotAResNetError("some RegNet blocks have SE and others not")
    ratio = _ratio([(b.cin, b.se_hidden) for b in blocks], SE_RATIOS)
    if ratio is None or not 0 < ratio <= 1:
        raise NotAResNetError("the SE hidden widths are no one ratio of the blocks' inputs")
    return {"type": "se", "ratio": ratio}


def _shortcuts(stages: list[list[RegSeen]], entries: list[dict[str, Any]]) -> str:
    """The spec's shortcut, and stages' own where they differ. Every RegNet stage strides, so
    its first block changes shape: with no projection there, it has no shortcut at all."""
    kinds = []
    for number, stage in enumerate(stages, start=1):
        first, later = stage[0].projection, {b.projection for b in stage[1:]}
        if later == {first} and first == "projection":
            kinds.append("projection_all")
        elif later <= {""}:
            kinds.append(first or UNPROJECTED)
        else:
            raise NotAResNetError(f"stage {number}: later blocks project as the first does not")
    common = Counter(kinds).most_common(1)[0][0]
    for entry, kind in zip(entries, kinds, strict=True):
        if kind != common:
            entry["shortcut"] = kind
    return common
