"""Weights -> a full spec dict: the stem, every stage's depth, width, groups and block kind,
per-block widths where a stage is irregular, shortcut, attention, norm and head."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from resgen.infer.regnet import regnet_layout, spec_from_regnet
from resgen.infer.resnetv2 import as_resnet, is_resnetv2
from resgen.infer.weights import (
    NotAResNetError,
    Seen,
    Shapes,
    read_blocks,
    read_norm,
    read_stem,
    se_reduction,
    split_attention_width,
)

EXPANSION = {"basic": 1, "bottleneck": 4, "res2net": 4, "sk_basic": 1, "sk_bottleneck": 4,
             "resnest": 4}  # fmt: skip
# A 1x1, the 3x3 (Res2Net's splits of it, SKNet's selective kernel conv, ResNeSt's split
# attention), a 1x1.
BOTTLENECKS = ("bottleneck", "res2net", "sk_bottleneck", "resnest")
BASICS = ("basic", "sk_basic")
SPLIT = "block.selective_kernel.split_input"


def spec_from_shapes(
    shapes: Shapes, name: str, hints: dict[str, Any] | None = None
) -> tuple[dict[str, Any], bool]:
    """The spec the shapes show (invisible fields left out), and whether some block changes
    shape with a shortcut that has no parameters (pad or none: the weights cannot tell).
    `hints` holds given or live values a width depends on (whether an SK conv splits)."""
    layout = regnet_layout(shapes)
    if layout is not None:
        return spec_from_regnet(shapes, layout, name), False
    if is_resnetv2(shapes):
        renamed, free = spec_from_shapes(as_resnet(shapes), name, hints)
        return {**renamed, "layout": "resnetv2"}, free
    stem, channels = read_stem(shapes)
    stem_out = stem["widths"][-1] if stem["type"] == "deep" else stem["width"]
    stages, split = _input_groups(read_blocks(shapes), stem_out, (hints or {}).get(SPLIT, True))
    kind = stages[0][0].kind
    regular = [_regular(stage) for stage in stages]
    nominal = _nominal_widths(stages, regular, stem_out)
    block = _block(stages, regular, nominal)
    if sk := _selective_kernel(stages, split):
        block["selective_kernel"] = sk
    if sa := _split_attention(stages):
        block["split_attention"] = sa
    if "bn_final.weight" in shapes or "bn_final.bias" in shapes:
        block["preact"] = True  # pre-activation nets normalise the last block's output
    spec_stages = []
    for stage, width in zip(stages, nominal, strict=True):
        entry: dict[str, Any] = {"depth": len(stage), "width": width}
        if stage[0].kind != kind:
            entry["block"] = stage[0].kind
        if stage[0].groups != block.get("groups", 1):
            entry["groups"] = stage[0].groups
        spec_stages.append(entry)
    shortcut, kernel, free = _shortcut(stages, stem_out, nominal, spec_stages)
    spec: dict[str, Any] = {"name": name, "input": {"channels": channels}, "stem": stem,
                            "block": block, "shortcut": shortcut}  # fmt: skip
    if kernel != 1:
        spec["shortcut_kernel"] = kernel
    spec["norm"] = {"type": read_norm(shapes)}
    if "bn1.weight" not in shapes and "conv1.bias" not in shapes and "conv1.6.bias" not in shapes:
        stem["norm"] = False
    spec["stages"] = spec_stages
    for stage, entry in zip(stages, spec_stages, strict=True):
        _block_widths(stage, entry, block)
    fc = shapes.get("fc.weight")
    spec["head"] = {"classes": fc[0] if fc else 0}
    return spec, free


def _regular(stage: list[Seen]) -> bool:
    """Whether every block of a stage has the same widths and groups."""
    b0 = stage[0]
    if any((b.kind, b.first, b.mid, b.out, b.groups) !=
           (b0.kind, b0.first, b0.mid, b0.out, b0.groups) for b in stage):  # fmt: skip
        return False
    if b0.kind in BASICS:
        return b0.out % b0.first == 0
    if b0.kind == "res2net":
        return b0.out % 4 == 0 and b0.first == b0.mid * b0.scale
    return b0.out % 4 == 0 and b0.mid % b0.first == 0


def _nominal_widths(stages: list[list[Seen]], regular: list[bool], stem_out: int) -> list[int]:
    """Each stage's width: from its blocks where they agree, else the usual doubling."""
    widths = []
    previous = stem_out // 2
    for stage, ok in zip(stages, regular, strict=True):
        width = stage[0].out // EXPANSION[stage[0].kind] if ok else previous * 2
        widths.append(width)
        previous = width
    return widths


def _block(stages: list[list[Seen]], regular: list[bool], nominal: list[int]) -> dict[str, Any]:
    """The block entry: kind, groups, base width, reduce_first and attention."""
    b0 = stages[0][0]
    block: dict[str, Any] = {"type": b0.kind}
    bottlenecks = [(s[0], w) for s, ok, w in zip(stages, regular, nominal, strict=True)
                   if ok and s[0].kind in BOTTLENECKS]  # fmt: skip
    if bottlenecks:
        first, width = bottlenecks[0]
        if first.groups != 1:
            block["groups"] = first.groups
        per_group = first.mid // first.groups
        base = math.ceil(per_group * 64 / width)
        if base != 64 and int(width * base / 64) == per_group:
            block["base_width"] = base
        if first.kind != "res2net" and first.mid != first.first and first.mid % first.first == 0:
            block["reduce_first"] = first.mid // first.first
        if first.kind == "res2net" and first.scale != 4:
            block["scale"] = first.scale
    basics = [s[0] for s, ok in zip(stages, regular, strict=True) if ok and s[0].kind in BASICS]
    if basics and not bottlenecks:
        # timm's block_reduce_first (`expansion` builds the same network: README says so)
        if basics[0].groups != 1:
            block["groups"] = basics[0].groups
        if basics[0].out != basics[0].first:
            block["reduce_first"] = basics[0].out // basics[0].first
    kinds = {b.attention for s in stages for b in s}
    if len(kinds) > 1:
        raise NotAResNetError("some blocks have attention (se) and others not")
    attention = kinds.pop()
    if attention == "eca":
        block["attention"] = {"type": "eca"}
    elif attention == "se":
        outs = [w * EXPANSION[s[0].kind] for s, w in zip(stages, nominal, strict=True)]
        found = se_reduction(stages, outs)
        if found is None:
            raise NotAResNetError("the SE hidden widths follow no reduction and divisor")
        block["attention"] = {"type": "se", **found}
    return block


# Shortcut kinds, most usual first: a stage takes the first its blocks allow.
KINDS = ("projection", "projection_all", "avgpool_projection", "pad", "none")
FREE = {"pad", "none"}  # no parameters: where the shape changes, the weights cannot tell which


def _shortcut(
    stages: list[list[Seen]], stem_out: int, nominal: list[int], entries: list[dict[str, Any]]
) -> tuple[str, int, bool]:
    """The shortcut kind most stages allow, and a stage's own where it differs (marked `_free`
    where it has no parameters, for the `shortcut` assumption); a strided projection's kernel;
    and whether some shape change has a shortcut without parameters."""
    allowed, channels = [], stem_out
    for number, (stage, width) in enumerate(zip(stages, nominal, strict=True)):
        out = width * EXPANSION[stage[0].kind]
        allowed.append(_stage_kinds(stage, number, number > 0 or channels != out))
        channels = out
    common = max(KINDS, key=lambda k: (sum(k in a for a in allowed), -KINDS.index(k)))
    free = False
    for entry, kinds in zip(entries, allowed, strict=True):
        own = common if common in kinds else next(k for k in KINDS if k in kinds)
        if kinds <= FREE and common not in FREE:
            own = "none"  # a plain stage: pad beside a projection of its block type cannot be
        free = free or kinds <= FREE
        if own != common:
            entry["shortcut"] = own
            entry["_free"] = own in FREE
    kernels = {b.shortcut_kernel for s in stages for b in s if b.shortcut}
    return common, max(kernels, default=1), free


def _stage_kinds(stage: list[Seen], number: int, changes: bool) -> set[str]:
    """The shortcut kinds a stage's blocks allow: its first block's projection, in every block
    or only where the shape changes; without one, any that keeps an unchanged shape, or one
    without parameters where the shape changes."""
    first, later = stage[0].shortcut, {b.shortcut for b in stage[1:]}
    if first and later == {first} and first == "projection":
        return {"projection_all"}
    if first and later <= {""}:
        return {first, "projection_all"} if first == "projection" and not later else {first}
    if first or later - {""}:
        raise NotAResNetError(f"layer{number + 1}: a later block projects and the first does not")
    return set(FREE) if changes else set(KINDS) - {"projection_all"}


def _input_groups(
    stages: list[list[Seen]], channels: int, split: bool
) -> tuple[list[list[Seen]], bool]:
    """Each block with the groups its input shows: a basic block's input channels over its first
    conv's per group, a selective kernel conv's input over its paths' per group (half of it when
    the conv splits its input; an SK basic block, ungrouped, shows whether it does)."""
    out = []
    sk_basic = next((b for s in stages for b in s if b.kind == "sk_basic"), None)
    for stage in stages:
        row = []
        for b in stage:
            if b.kind == "sk_basic" and b is sk_basic:
                split = channels == 2 * b.first_in
            width = b.first // 2 if split else b.first  # an SK bottleneck's paths' input
            if b.kind in ("basic", "sk_bottleneck"):
                cin = channels if b.kind == "basic" else width
                if cin % b.first_in:
                    raise NotAResNetError(f"a block's {cin} inputs are no groups of {b.first_in}")
                b = replace(b, groups=cin // b.first_in)
            row.append(b)
            channels = b.out
        out.append(row)
    return out, split


def _selective_kernel(stages: list[list[Seen]], split: bool) -> dict[str, Any] | None:
    """An SK conv's attention reduction and divisor, and whether it splits its input."""
    if not any(b.kind.startswith("sk_") for s in stages for b in s):
        return None
    found = se_reduction(stages, [s[0].mid for s in stages], sk=True)
    if found is None:
        raise NotAResNetError("the selective kernel attention widths follow no reduction")
    return {**found, "split_input": split}


def _split_attention(stages: list[list[Seen]]) -> dict[str, Any] | None:
    """ResNeSt's radix and its attention's reduction, divisor and least width."""
    blocks = [b for s in stages for b in s if b.kind == "resnest"]
    if not blocks:
        return None
    if len({b.scale for b in blocks}) > 1:
        raise NotAResNetError("ResNeSt blocks with different radixes")
    found = split_attention_width(stages, [s[0].mid for s in stages])
    if found is None:
        raise NotAResNetError("the split attention widths follow no reduction")
    return {"radix": blocks[0].scale, **found}


def _block_widths(stage: list[Seen], entry: dict[str, Any], block: dict[str, Any]) -> None:
    """Per-block widths where a block differs from what its stage's settings give."""
    width, reduce = entry["width"], block.get("reduce_first", 1)
    groups = entry.get("groups", block.get("groups", 1))
    own: dict[int, dict[str, int]] = {}
    for number, b in enumerate(stage, start=1):
        if b.kind in BOTTLENECKS:
            mid = int(width * block.get("base_width", 64) / 64) * groups
            first = mid * block.get("scale", 4) if b.kind == "res2net" else mid // reduce
            expect = {"conv1": first, "conv2": mid, "conv3": width * 4}
            seen = {"conv1": b.first, "conv2": b.mid, "conv3": b.out}
        else:
            expect = {"conv1": width // reduce, "conv2": width}
            seen = {"conv1": b.first, "conv2": b.out}
        if seen != expect:  # all of the block's widths, as a pruning file lists them
            own[number] = seen
    if own:
        entry["blocks"] = own
