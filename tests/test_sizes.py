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

    def node(op: ir.Op, stage: str = "layer1", block: str | None = "layer1.0") -> ir.Node:
        return ir.Node(op, stage, block, loc)

    g.add_node("input", node=node(ir.Input(4), "stem", None))
    g.add_node("layer1.0.conv1", node=node(ir.Conv(4, 4, 3, stride=2, padding=1)))
    g.add_node("layer1.0.downsample.0", node=node(ir.Pool("avg", 2, 2, 0, ceil_mode=pool_ceil)))
    g.add_node("layer1.0.add", node=node(ir.Add()))
    g.add_edge("input", "layer1.0.conv1", port=0)
    g.add_edge("input", "layer1.0.downsample.0", port=0)
    g.add_edge("layer1.0.conv1", "layer1.0.add", port=0)
    g.add_edge("layer1.0.downsample.0", "layer1.0.add", port=1)
    block = ir.Block("layer1.0", "layer1", 1, 0, "basic", False, 4, 4, 4, 2, 1, 1, 1,
                     ir.ShortcutKind.PAD, 0.0, 0, loc, "input", "layer1.0.add", "layer1.0.add")
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
