"""Drawn parameters -> the stages they make, for a batch of candidates at once (numpy).

`regnet_batch` is `resgen.spec.regnet.regnet_stages` vectorised: the same float32 steps (numpy's
float32 +, * and / are IEEE-rounded, as the reference's double-then-float32 steps are for
float32 operands), the same logarithm (math.log, recomputed one by one wherever numpy's could
round differently), the same powers (Python's), the same group rounding. `adjust_groups` is the
last step alone, which stage spaces share. tests/test_sample_count.py checks both against
`regnet_stages` and the graph on every draw they make.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

_QUANT = 8
# A quotient this close to a rounding half is recomputed with math.log: numpy's log may differ
# from it by an ulp or two of a double, which moves a float32 result by at most one ulp.
_NEAR_HALF = 1e-4


@dataclass(frozen=True)
class Stages:
    """A batch's stages, one row per candidate; columns past a row's `count` are zeros."""

    depth: Ints  # (B, S)
    width: Ints  # stage (output) width
    group_width: Ints
    ratio: Floats  # bottleneck ratio
    count: Ints  # (B,) stages per candidate
    ok: Bools  # (B,) False where the network cannot be built (a width of 0, groups that
    # do not divide)

    @property
    def mid(self) -> Ints:
        """The inner (1x1, 3x3) width as the graph has it: round(width x ratio)."""
        return np.rint(self.width * self.ratio).astype(np.int64)

    @property
    def groups(self) -> Ints:
        """The 3x3's groups as the graph has them: max(1, inner // group width)."""
        return np.maximum(1, self.mid // np.maximum(self.group_width, 1))


def _f32(values: npt.ArrayLike) -> npt.NDArray[np.float32]:
    return np.asarray(values, dtype=np.float64).astype(np.float32)


def block_widths_batch(w_0: Ints, w_a: Floats, w_m: Floats, depth: Ints) -> Ints:
    """Every block's quantised width, (B, max depth); 0 past a row's depth."""
    j = np.arange(int(depth.max()), dtype=np.float32)[None, :]
    w32, a32, m32 = _f32(w_0)[:, None], _f32(w_a)[:, None], _f32(w_m)
    log_m = _f32([math.log(m) for m in w_m.tolist()])[:, None]
    ratio = (j * a32 + w32) / w32  # float32 throughout
    lg = _f32(np.log(ratio.astype(np.float64)))
    quotient = lg / log_m
    near = np.abs(np.abs(quotient - np.trunc(quotient)) - 0.5) < _NEAR_HALF
    if near.any():
        exact = _f32([math.log(x) for x in ratio[near].astype(np.float64).tolist()])
        quotient[near] = exact / np.broadcast_to(log_m, quotient.shape)[near]
    capacity = np.rint(quotient).astype(np.int64)
    top = int(capacity.max()) + 1
    powers = _f32([[m**k for k in range(top)] for m in m32.astype(np.float64).tolist()])
    scaled = w32 * np.take_along_axis(powers, capacity, axis=1)
    widths: Ints = np.rint(scaled / np.float32(_QUANT)).astype(np.int64) * _QUANT
    widths[np.arange(widths.shape[1])[None, :] >= depth[:, None]] = 0
    return widths


def regnet_batch(
    w_0: Ints,
    w_a: Floats,
    w_m: Floats,
    depth: Ints,
    group_width: Ints,
    ratio: Floats,
    rounding: str,
) -> Stages:
    """The stages RegNet's parameters make, row by row: runs of equal block widths."""
    widths = block_widths_batch(w_0, w_a, w_m, depth)
    valid = widths > 0
    starts = valid.copy()
    starts[:, 1:] &= widths[:, 1:] != widths[:, :-1]
    stage = np.cumsum(starts, axis=1) - 1
    count = starts.sum(axis=1)
    most = int(count.max())
    depths = np.zeros((len(depth), most), dtype=np.int64)
    stage_widths = np.zeros_like(depths)
    for s in range(most):
        inside = valid & (stage == s)
        depths[:, s] = inside.sum(axis=1)
        stage_widths[:, s] = np.where(inside, widths, 0).max(axis=1)
    used = np.arange(most)[None, :] < count[:, None]
    groups = np.where(used, group_width[:, None], 0)
    ratios = np.where(used, ratio[:, None], 0.0)
    return adjust_groups(depths, stage_widths, groups, ratios, count, rounding)


def adjust_groups(
    depth: Ints, width: Ints, group_width: Ints, ratio: Floats, count: Ints, rounding: str
) -> Stages:
    """Make each inner width a multiple of its group width, as `regnet_stages` does."""
    used = np.arange(depth.shape[1])[None, :] < count[:, None]
    safe_ratio = np.where(used, ratio, 1.0)
    inner = np.trunc(width * safe_ratio).astype(np.int64)
    group = np.minimum(group_width, inner)
    bad: Bools = np.asarray((used & (group <= 0)).any(axis=1))
    g = np.maximum(group, 1)
    if rounding == "torchvision":  # _make_divisible: nearest, never more than 10% down
        rounded = np.maximum(g, np.trunc(inner + g / 2).astype(np.int64) // g * g)
        inner = np.where(rounded < 0.9 * inner, rounded + g, rounded)
    else:
        inner = (np.rint(inner / g) * g).astype(np.int64)
    new_width = np.where(used, np.trunc(inner / safe_ratio).astype(np.int64), 0)
    stages = Stages(depth, new_width, np.where(used, g, 0), np.where(used, ratio, 0.0), count, ~bad)
    mid, groups = stages.mid, stages.groups
    builds = ~used | ((new_width > 0) & (mid >= g) & (mid % groups == 0))
    ok: Bools = np.asarray(~bad & builds.all(axis=1))
    return Stages(depth, new_width, stages.group_width, stages.ratio, count, ok)
