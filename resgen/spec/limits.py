"""Checks of a validated spec that no single field can make: totals, derived widths, names.

They run right after validation, before anything is lowered, so that a spec asking for an absurd
amount of work is refused before the work starts.
"""

from __future__ import annotations

from collections.abc import Callable

from resgen.codegen.names import defined_names, reserved_reason
from resgen.diagnostics import Diagnostic, error
from resgen.spec.kinds import BOTTLENECK_TYPES
from resgen.spec.model import Spec
from resgen.spec.parts import MAX_DEPTH
from resgen.spec.source import Source

# Blocks over all stages. One stage may have MAX_DEPTH; checking costs about a millisecond a
# block, so more in all would make `resgen check` take minutes.
MAX_DEPTH_TOTAL = MAX_DEPTH


# Names the generated module defines or imports at its top level, read off the templates.
GENERATED_NAMES = defined_names()

SpecPass = Callable[[Spec, Source], list[Diagnostic]]


def check_spec_limits(spec: Spec, source: Source) -> list[Diagnostic]:
    """Return the problems of a spec that pydantic validated field by field."""
    found = []
    blocks = sum(stage.depth for stage in spec.stages)
    if blocks > MAX_DEPTH_TOTAL:
        found.append(
            error(
                "too-many-blocks",
                f"the stages have {blocks:,} blocks in all; the limit is {MAX_DEPTH_TOTAL:,}",
                source.locate(("stages",), key=True),
                hint="the deepest published ResNets have about 400 blocks; check the depths",
            )
        )
    for i, stage in enumerate(spec.stages):
        inner = int(stage.width * spec.block.base_width / 64)
        if (stage.block or spec.block.type) in BOTTLENECK_TYPES and inner == 0:
            found.append(
                error(
                    "zero-width",
                    f"stage {i + 1}: the bottleneck's inner width, int(width x base_width / 64) x "
                    f"groups = int({stage.width} x {spec.block.base_width} / 64) x groups, is 0",
                    source.locate(("stages", i, "width")),
                    hint="width x block.base_width must be at least 64",
                )
            )
    found += check_block_widths(spec, source)
    found += check_names(spec, source)
    return found


def check_block_widths(spec: Spec, source: Source) -> list[Diagnostic]:
    """Per-block widths name blocks the stage has; `block.reduce_first` leaves a conv a channel."""
    found = []
    for i, stage in enumerate(spec.stages):
        for number in sorted(n for n in stage.blocks or {} if n > stage.depth):
            found.append(
                error(
                    "no-such-block",
                    f"stage {i + 1} has {stage.depth} block{'s' if stage.depth != 1 else ''}, "
                    f"so it has no block {number} to set widths for",
                    source.locate(("stages", i, "blocks", str(number)), key=True),
                    hint=f"number the blocks from 1 to {stage.depth}, or deepen the stage",
                )
            )
        groups = stage.groups or spec.block.groups
        mid = int(stage.width * spec.block.base_width / 64) * groups
        if (stage.block or spec.block.type) in ("basic", "sk_basic"):
            mid = stage.width
        if mid and mid < spec.block.reduce_first:
            found.append(
                error(
                    "zero-width",
                    f"stage {i + 1}: block.reduce_first = {spec.block.reduce_first} leaves the "
                    "first conv of its blocks no channels",
                    source.locate(("block", "reduce_first")),
                    hint="make reduce_first at most the stage's inner width",
                )
            )
    return found


def check_names(spec: Spec, source: Source) -> list[Diagnostic]:
    """A `name` or model class that would break the generated module or what imports it."""
    found = []
    reason = reserved_reason(spec.name, module=True)
    if reason is not None:
        found.append(
            error(
                "reserved-name",
                f"name: {spec.name!r} would make {spec.name}.py, which {reason}"
                if reason.startswith("shadows")
                else f"name: {spec.name!r} {_as_name(reason)}",
                source.locate(("name",)),
                hint="choose another name; it becomes the generated file's name",
            )
        )
    model_class = spec.model_class
    reason = reserved_reason(model_class, module=False)
    if reason is not None:
        field = "class_name" if spec.class_name else "name"
        found.append(
            error(
                "reserved-name",
                f"{field}: the model class {model_class!r} {_as_name(reason)}",
                source.locate((field,)),
                hint="set `class_name` to another name",
            )
        )
    return found


def _as_name(reason: str) -> str:
    return f"cannot be used: {reason}" if reason.startswith("Python") else reason
