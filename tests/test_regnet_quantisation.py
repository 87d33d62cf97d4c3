"""RegNet stage quantisation (resgen.spec.regnet) equals torchvision's and timm's, float32 too.

Not only the shipped models' parameters: a sweep over w_0, w_a, w_m, depth, group width and
bottleneck ratio, where a float32 rounding that differed by one ulp would move a block across a
stage boundary or a width across a multiple of 8.
"""

from __future__ import annotations

import math
import random

import pytest
import torch
from timm.models import regnet as timm_regnet
from torchvision.models.regnet import BlockParams

from resgen.spec.regnet import RegNetStage, block_widths, regnet_stages

# (w_0, w_a, w_m, depth, group_width): every torchvision builder's and some of timm's.
SHIPPED = [
    (48, 27.89, 2.09, 16, 8),
    (56, 38.84, 2.4, 14, 16),
    (48, 20.71, 2.65, 27, 24),
    (80, 42.63, 2.66, 21, 24),
    (192, 76.82, 2.19, 17, 56),
    (200, 106.23, 2.48, 18, 112),
    (232, 115.89, 2.53, 20, 232),
    (456, 160.83, 2.52, 27, 264),
    (24, 24.48, 2.54, 22, 16),
    (56, 35.73, 2.28, 16, 16),
    (80, 34.01, 2.25, 18, 24),
    (88, 26.31, 2.25, 25, 48),
    (80, 49.56, 2.88, 23, 120),
    (216, 55.59, 2.1, 22, 128),
    (320, 69.86, 2.0, 23, 168),
    (24, 36.44, 2.49, 13, 8),
    (16, 36.97, 2.5, 14, 8),
]


def _sweep(n: int, seed: int) -> list[tuple[int, float, float, int, int, float]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        w_0 = 8 * rng.randint(1, 60)
        w_a = round(rng.uniform(0.0, 200.0), rng.choice([0, 1, 2]))
        w_m = round(rng.uniform(1.05, 3.5), rng.choice([1, 2, 3]))
        depth = rng.randint(1, 40)
        group = rng.choice([1, 4, 8, 16, 24, 48, 56, 64, 112, 120, 232])
        ratio = rng.choice([1.0, 0.5, 0.25, 2.0, 4.0])
        cases.append((w_0, w_a, w_m, depth, group, ratio))
    return cases


CASES = [(*s, 1.0) for s in SHIPPED] + _sweep(600, 0)


def _torchvision(case: tuple[int, float, float, int, int, float]) -> tuple[RegNetStage, ...]:
    w_0, w_a, w_m, depth, group, ratio = case
    params = BlockParams.from_init_params(depth, w_0, w_a, w_m, group, ratio)
    return tuple(
        RegNetStage(d, w, g)
        for d, w, g in zip(params.depths, params.widths, params.group_widths, strict=True)
    )


def _timm(case: tuple[int, float, float, int, int, float]) -> tuple[RegNetStage, ...]:
    w_0, w_a, w_m, depth, group, ratio = case
    widths, stages, _ = timm_regnet.generate_regnet(w_a, w_0, w_m, depth, group)
    unique, counts = torch.unique(torch.tensor(widths), return_counts=True)
    adjusted, groups = timm_regnet.adjust_widths_groups_comp(
        unique.tolist(), [ratio] * stages, [group] * stages
    )
    return tuple(
        RegNetStage(d, w, g) for d, w, g in zip(counts.tolist(), adjusted, groups, strict=True)
    )


def test_block_widths_equal_torchvisions_float32_arithmetic() -> None:
    for w_0, w_a, w_m, depth, *_ in CASES:
        widths_cont = torch.arange(depth) * w_a + w_0
        capacity = torch.round(torch.log(widths_cont / w_0) / math.log(w_m))
        ref = (torch.round(torch.divide(w_0 * torch.pow(w_m, capacity), 8)) * 8).int().tolist()
        assert block_widths(w_0, w_a, w_m, depth) == ref, (w_0, w_a, w_m, depth)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_stages_equal_torchvision(case: tuple[int, float, float, int, int, float]) -> None:
    w_0, w_a, w_m, depth, group, ratio = case
    assert regnet_stages(w_0, w_a, w_m, depth, group, ratio) == _torchvision(case)


def test_stages_equal_timm() -> None:
    # timm's nearest-multiple rounding (its models without group_min_ratio), batched: one test.
    for case in CASES:
        w_0, w_a, w_m, depth, group, ratio = case
        got = regnet_stages(w_0, w_a, w_m, depth, group, ratio, group_rounding="timm")
        assert got == _timm(case), case


def test_the_two_roundings_differ_somewhere() -> None:
    # Else the timm test would not tell the rules apart.
    differ = [c for c in CASES if regnet_stages(*c) != regnet_stages(*c, group_rounding="timm")]
    assert differ, "the sweep should reach a width where the two rules disagree"
