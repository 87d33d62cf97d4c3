"""A spec with every default filled in as the compiler uses it (`resgen resolve --defaults`).

A field whose default is None means "derived": the class name from `name`, the stem's width and
pool from its type, `block.expansion` from the block type, a stage's block, groups and shortcut
from the spec's. Each gets the value lowering uses, read through the same properties and
`stage_settings` as `plan_blocks`, so the two cannot disagree. A stem field that its stem type
does not use (a deep stem's `width`, another stem's `widths`) has no value and is left out; None
stays where it means "off" (`attention`, `output_stride`).
"""

from __future__ import annotations

from typing import Any

from resgen.graph.lower import stage_settings
from resgen.spec.model import Spec


def used_values(spec: Spec) -> dict[str, Any]:
    """Every field of `spec` (JSON types), derived defaults replaced by the values used."""
    data: dict[str, Any] = spec.model_dump(mode="json", exclude={"extends"})
    data["class_name"] = spec.model_class
    stem, used = spec.stem, data["stem"]
    used["pool"] = stem.pool_kind
    if stem.type == "deep":
        used["widths"] = list(stem.conv_widths)
        del used["width"]
    else:
        used["width"] = stem.out_width
        del used["widths"]
    data["block"]["expansion"] = spec.block.out_factor(spec.block.type)
    for stage, out in zip(spec.stages, data["stages"], strict=True):
        out["block"], out["groups"], out["shortcut"] = stage_settings(spec, stage)
    return data
