"""Valid input sizes come from the conv/pool arithmetic, checked against torch itself."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from torch import nn

from resgen.checks.sizes import valid_sizes
from resgen.diagnostics import Location
from resgen.graph import ir
from resgen.pipeline import check
from resgen.spec.load import load_spec_file
from tests.conftest import SPECS


def _two_branch_graph(pool_ceil: bool) -> ir.Graph:
    """conv3x3/2 (pad 1) on one side, avgpool 2x2/2 on the other, then an add."""
    g: ir.Graph = nx.DiGraph()
    loc = Location("t.yaml", 1, 1)
    common = {"stage": "layer1", "block": "layer1.0", "loc": loc}
    g.add_node("input", kind=ir.INPUT, channels=4, **{**common, "stage": "stem", "block": None})
    g.add_node("layer1.0.conv1", kind=ir.CONV, in_channels=4, out_channels=4, kernel=3, stride=2,
               padding=1, dilation=1, groups=1, bias=False, **common)  # fmt: skip
    g.add_node("layer1.0.downsample.0", kind=ir.POOL, pool="avg", kernel=2, stride=2, padding=0,
               ceil_mode=pool_ceil, **common)  # fmt: skip
    g.add_node("layer1.0.add", kind=ir.ADD, **common)
    g.add_edge("input", "layer1.0.conv1", port=0)
    g.add_edge("input", "layer1.0.downsample.0", port=0)
    g.add_edge("layer1.0.conv1", "layer1.0.add", port=0)
    g.add_edge("layer1.0.downsample.0", "layer1.0.add", port=1)
    block = ir.BlockInfo("layer1.0", "layer1", 1, 0, "basic", 4, 4, 4, 2, 1, 1, 1, "pad", 0.0, 0,
                         "input", "layer1.0.add", "layer1.0.add", loc)  # fmt: skip
    g.graph["stages"] = (ir.StageInfo("layer1", 1, (block,), "layer1.0.add", loc),)
    return g


def _torch_agrees(size: int, pool_ceil: bool) -> bool:
    conv = nn.Conv2d(1, 1, 3, stride=2, padding=1)
    pool = nn.AvgPool2d(2, 2, ceil_mode=pool_ceil)
    x = torch.zeros(1, 1, size, size)
    try:
        return conv(x).shape == pool(x).shape
    except RuntimeError:
        return False


def test_floor_mode_pool_fails_odd_sizes() -> None:
    report = valid_sizes(_two_branch_graph(pool_ceil=False), limit=64)
    assert report.min_size == 2
    assert report.failing == tuple(range(3, 65, 2))
    assert "except sizes = 1 (mod 2)" in report.summary
    for size in range(1, 65):
        assert (size >= report.min_size and size not in report.failing) == _torch_agrees(
            size, False
        )


def test_ceil_mode_pool_accepts_every_size() -> None:
    report = valid_sizes(_two_branch_graph(pool_ceil=True), limit=64)
    assert report.summary == "any H, W >= 1"
    assert all(_torch_agrees(size, True) for size in range(1, 65))


@pytest.mark.parametrize("name", ["resnet50", "resnet50d", "resnet56", "ecaresnet50d"])
def test_shipped_specs_accept_any_size_and_torch_agrees(name: str) -> None:
    loaded = load_spec_file(SPECS / f"{name}.yaml")
    assert check(loaded).sizes.summary == "any H, W >= 1"
