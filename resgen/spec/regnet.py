"""RegNet's design space (Radosavovic et al. 2020): stages from w_0, w_a, w_m and depth.

Block j of `depth` gets the continuous width u_j = w_0 + w_a * j, snapped in log space to
w_0 * w_m^round(log(u_j / w_0) / log(w_m)) and rounded to a multiple of 8; runs of equal widths
are the stages. Each stage's bottleneck width (width x bottleneck ratio) is then made a multiple
of its group width (the group width capped at the bottleneck width), and the stage width follows.

torchvision and timm compute the first step in float32 torch ops; this module repeats it in
float32 without torch (`check`, `build` and `info` never import it), so the stages are theirs
bit for bit. They differ in the last step: torchvision (and timm's `*_tv` models) rounds to the
nearest multiple but never more than 10% down (`_make_divisible`); timm rounds to the nearest.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from resgen.diagnostics import ResgenError
from resgen.spec.source import Source

if TYPE_CHECKING:
    from resgen.spec.model import Spec

GroupRounding = Literal["torchvision", "timm"]

_QUANT = 8  # widths are multiples of 8


class RegNetStage(NamedTuple):
    """One generated stage: its blocks, output width and group width."""

    depth: int
    width: int
    group_width: int


def _f32(value: float) -> float:
    """`value` rounded to the nearest float32, as a torch float32 op stores its result."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def block_widths(w_0: int, w_a: float, w_m: float, depth: int) -> list[int]:
    """Every block's quantised width, as torchvision's `BlockParams.from_init_params` has it.

    Each line is one float32 torch op of the reference: an op on float32 operands computed in
    double and rounded once is the correctly rounded float32 result.
    """
    log_m = _f32(math.log(w_m))  # a Python float divisor: torch uses it in float32
    m32, w32 = _f32(w_m), _f32(w_0)
    widths = []
    for j in range(depth):
        cont = _f32(_f32(j * _f32(w_a)) + w32)
        capacity = round(_f32(_f32(math.log(_f32(cont / w32))) / log_m))
        scaled = _f32(w32 * _f32(m32**capacity))
        widths.append(round(_f32(scaled / _QUANT)) * _QUANT)  # round half to even
    return widths


def inner_width(width: int, bottleneck_ratio: float) -> int:
    """A regnet block's 1x1 and 3x3 width: torchvision's and timm's int(round(width x ratio))."""
    return round(width * bottleneck_ratio)


def _make_divisible(value: float, divisor: int) -> int:
    """torchvision's `_make_divisible`: the nearest multiple, never more than 10% below."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def regnet_stages(
    w_0: int, w_a: float, w_m: float, depth: int, group_width: int,
    bottleneck_ratio: float = 1.0, group_rounding: GroupRounding = "torchvision",
) -> tuple[RegNetStage, ...]:  # fmt: skip
    """The stages a RegNet's parameters generate (validated by the caller: w_0 a multiple of 8,
    w_a >= 0, w_m > 1)."""
    widths = block_widths(w_0, w_a, w_m, depth)
    runs: list[list[int]] = []  # [width, depth] per run of equal widths
    for width in widths:
        if runs and runs[-1][0] == width:
            runs[-1][1] += 1
        else:
            runs.append([width, 1])
    stages = []
    for width, count in runs:
        inner = int(width * bottleneck_ratio)
        group = min(group_width, inner)
        if group_rounding == "torchvision":
            inner = _make_divisible(inner, group)
        else:
            inner = int(round(inner / group) * group)
        stages.append(RegNetStage(count, int(inner / bottleneck_ratio), group))
    return tuple(stages)


def expand_regnet(data: dict[str, Any], source: Source) -> dict[str, Any]:
    """Spec data with `regnet` turned into the `stages` it generates (positioned at `regnet`).

    A spec gives one form or the other; a `regnet` that does not validate is left to the spec's
    validation, with a placeholder stage so that only its own errors are reported.
    """
    from pydantic import ValidationError

    from resgen.spec.parts import RegNetSpec

    if "regnet" not in data:
        return data
    if "stages" in data:
        raise ResgenError.single(
            "regnet-and-stages",
            "the spec gives both `regnet` and `stages`; the RegNet parameters generate the stages",
            source.locate(("regnet",), key=True),
            hint="keep one form: remove `stages`, or remove `regnet` and keep the stages",
        )
    try:
        params = RegNetSpec.model_validate(data["regnet"])
    except ValidationError:
        return {**data, "stages": [{"depth": 1, "width": 8}]}
    where = source.locate(("regnet",))
    position = (where.line, where.column)
    stages = []
    for i, stage in enumerate(regnet_stages(**params.model_dump())):
        entry: dict[str, Any] = {"depth": stage.depth, "width": stage.width, "stride": 2,
                                 "group_width": stage.group_width}  # fmt: skip
        if params.bottleneck_ratio != 1.0:
            entry["bottleneck_ratio"] = params.bottleneck_ratio
        stages.append(entry)
        # Diagnostics about a generated stage point at `regnet`; its keys are no one's typing.
        for key in ("", *entry):
            path = ("stages", i, key) if key else ("stages", i)
            source.values[path] = source.keys[path] = position
            source.origins[path] = where.file
    source.values[("stages",)] = source.keys[("stages",)] = position
    return {**data, "stages": stages}


def regnet_named(spec: Spec) -> bool:
    """The layout names the net's modules as a RegNet's: some stage has regnet blocks, or the
    stages come from `regnet` and a user block fills them (a RegNet block written as ops)."""
    kinds = [stage.block or spec.block.type for stage in spec.stages]
    if "regnet" in kinds:
        return True
    return (
        spec.regnet is not None
        and spec.layout != "resnetv2"
        and any(k in spec.blocks for k in kinds)
    )
