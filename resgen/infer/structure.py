"""Weights -> a full spec dict: the stem, every stage's depth, width, groups and block kind,
per-block widths where a stage is irregular, shortcut, attention, norm and head."""

from __future__ import annotations

import math
from typing import Any

from resgen.infer.regnet import regnet_layout, spec_from_regnet
from resgen.infer.weights import (
    NotAResNetError,
    Seen,
    Shapes,
    read_blocks,
    read_norm,
    read_stem,
    se_reduction,
)

EXPANSION = {"basic": 1, "bottleneck": 4}


def spec_from_shapes(shapes: Shapes, name: str) -> tuple[dict[str, Any], bool]:
    """The spec the shapes show (invisible fields left out), and whether some block changes
    shape with a shortcut that has no parameters (pad or none: the weights cannot tell)."""
    layout = regnet_layout(shapes)
    if layout is not None:
        return spec_from_regnet(shapes, layout, name), False
    stages = read_blocks(shapes)
    stem, channels = read_stem(shapes)
    kind = stages[0][0].kind
    regular = [_regular(stage) for stage in stages]
    stem_out = stem["widths"][-1] if stem["type"] == "deep" else stem["width"]
    nominal = _nominal_widths(stages, regular, stem_out)
    block = _block(stages, regular, nominal)
    if "bn_final.weight" in shapes or "bn_final.bias" in shapes:
        block["preact"] = True  # pre-activation nets normalise the last block's output
    spec_stages = []
    for stage, width in zip(stages, nominal, strict=True):
        entry: dict[str, Any] = {"depth": len(stage), "width": width}
        if stage[0].kind != kind:
            entry["block"] = stage[0].kind
        if stage[0].kind == "bottleneck" and stage[0].groups != block.get("groups", 1):
            entry["groups"] = stage[0].groups
        spec_stages.append(entry)
    shortcut, kernel, free = _shortcut(stages, stem_out, nominal)
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
    if b0.kind == "basic":
        return b0.first == b0.out
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
                   if ok and s[0].kind == "bottleneck"]  # fmt: skip
    if bottlenecks:
        first, width = bottlenecks[0]
        if first.groups != 1:
            block["groups"] = first.groups
        per_group = first.mid // first.groups
        base = math.ceil(per_group * 64 / width)
        if base != 64 and int(width * base / 64) == per_group:
            block["base_width"] = base
        if first.mid != first.first and first.mid % first.first == 0:
            block["reduce_first"] = first.mid // first.first
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


def _shortcut(stages: list[list[Seen]], stem_out: int, nominal: list[int]) -> tuple[str, int, bool]:
    """The shortcut kind, a strided projection's kernel, and whether a shape change has none."""
    kinds = {b.shortcut for s in stages for b in s} - {""}
    if len(kinds) > 1:
        raise NotAResNetError("blocks mix a plain and an avg-pool projection")
    kernels = {b.shortcut_kernel for s in stages for b in s if b.shortcut}
    kind = kinds.pop() if kinds else ""
    every = all(b.shortcut for s in stages for b in s)
    changes, channels = 0, stem_out
    for number, (stage, width) in enumerate(zip(stages, nominal, strict=True)):
        out = width * EXPANSION[stage[0].kind]
        changes += number > 0 or channels != out
        channels = out
    if not kind:
        return ("pad" if changes else "projection"), 1, bool(changes)
    if every and sum(len(s) for s in stages) > changes:
        kind = "projection_all" if kind == "projection" else kind
    return kind, max(kernels), False


def _block_widths(stage: list[Seen], entry: dict[str, Any], block: dict[str, Any]) -> None:
    """Per-block widths where a block differs from what its stage's settings give."""
    width, reduce = entry["width"], block.get("reduce_first", 1)
    groups = entry.get("groups", block.get("groups", 1))
    own: dict[int, dict[str, int]] = {}
    for number, b in enumerate(stage, start=1):
        if b.kind == "bottleneck":
            mid = int(width * block.get("base_width", 64) / 64) * groups
            expect = {"conv1": mid // reduce, "conv2": mid, "conv3": width * 4}
            seen = {"conv1": b.first, "conv2": b.mid, "conv3": b.out}
        else:
            expect = {"conv1": width // reduce, "conv2": width}
            seen = {"conv1": b.first, "conv2": b.out}
        if seen != expect:  # all of the block's widths, as a pruning file lists them
            own[number] = seen
    if own:
        entry["blocks"] = own
