"""What regnet blocks do not combine with yet, and widths a RegNet stage cannot have.

A regnet block is torchvision's and timm's (post-activation, 1x1 projections, SE after the 3x3);
the ResNet switches it has no counterpart for are errors at the key that asks for them, not keys
that would be silently ignored.
"""

from __future__ import annotations

from resgen.diagnostics import Diagnostic, error
from resgen.spec.model import Spec
from resgen.spec.regnet import inner_width
from resgen.spec.source import Source

_SHORTCUTS = ("projection", "projection_all", "identity", "none", "identity_or_none")
_TIMM_SHORTCUTS = (*_SHORTCUTS, "avgpool_projection")  # timm's downsample="avg"


def check_regnet_blocks(spec: Spec, source: Source) -> list[Diagnostic]:
    """An error at each switch a regnet block cannot take, and at each width it cannot have."""
    kinds = [stage.block or spec.block.type for stage in spec.stages]
    if "regnet" not in kinds:
        return []
    found = []

    def refuse(path: tuple[str | int, ...], what: str, hint: str) -> None:
        message = f"regnet blocks do not take {what}"
        found.append(error("regnet-unsupported", message, source.locate(path, key=True), hint))

    block = spec.block
    if block.preact and spec.layout != "timm":
        refuse(("block", "preact"), "pre-activation in torchvision's layout",
               "set `layout: timm` (timm's RegNetV), or remove `block.preact`")  # fmt: skip
    if block.reduce_first != 1:
        refuse(("block", "reduce_first"), "`reduce_first`", "remove `block.reduce_first`")
    if spec.anti_alias is not None:
        refuse(("anti_alias",), "anti-aliased downsampling", "remove `anti_alias`")
    if block.attention is not None and block.attention.type != "se":
        refuse(("block", "attention", "type"), "ECA", "use `attention: {type: se, ratio: 0.25}`")
    for i, (kind, stage) in enumerate(zip(kinds, spec.stages, strict=True)):
        if kind != "regnet":
            continue
        shortcut = stage.shortcut or spec.shortcut
        timm_preact = spec.layout == "timm" and block.preact and not spec.output_stride
        allowed = _TIMM_SHORTCUTS if timm_preact else _SHORTCUTS
        if shortcut not in allowed:
            where = ("stages", i, "shortcut") if stage.shortcut else ("shortcut",)
            refuse(where, f"`shortcut: {shortcut}`" + _layout_note(spec, shortcut),
                   "use `projection` (1x1 conv + norm)")  # fmt: skip
        if stage.blocks:
            refuse(("stages", i, "blocks"), "per-block widths", "remove the stage's `blocks`")
        found += _widths(spec, source, i)
    return found


def _layout_note(spec: Spec, shortcut: str) -> str:
    if shortcut != "avgpool_projection":
        return ""
    if spec.layout != "timm" or not spec.block.preact:
        return " (timm's pre-activation RegNetV has it: `layout: timm`, `block.preact`)"
    return " with `output_stride`"


def _widths(spec: Spec, source: Source, i: int) -> list[Diagnostic]:
    """A stage whose inner width is 0, or narrower than its group width."""
    stage = spec.stages[i]
    ratio = stage.bottleneck_ratio or spec.block.bottleneck_ratio
    group = stage.group_width or spec.block.group_width
    inner = inner_width(stage.width, ratio)
    if inner >= max(group, 1) and inner % (inner // group) == 0:
        return []
    if inner >= max(group, 1):  # torchvision and timm make the groups inner // group_width
        return [
            error(
                "conv-groups",
                f"stage {i + 1}: the inner width round({stage.width} x {ratio}) = {inner} over the "
                f"group width {group} makes {inner // group} groups, which do not divide its "
                f"{inner} channels",
                source.locate(("stages", i, "width")),
                hint=f"make the width a multiple of {group} (the `regnet` form rounds widths to "
                "fit their group width), or give the stage a `group_width` that divides it",
            )
        ]
    return [
        error(
            "zero-width" if inner == 0 else "conv-groups",
            f"stage {i + 1}: the inner width round({stage.width} x {ratio}) = {inner} is "
            f"narrower than a group of {group} channels",
            source.locate(("stages", i, "width")),
            hint="widen the stage, or give it a smaller `group_width`",
        )
    ]
