"""Valid input sizes come from the conv/pool arithmetic, checked against torch itself."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
import torch
from torch import nn

import resgen
from resgen.checks.sizes import _ranges, _summarise, valid_sizes
from resgen.diagnostics import Location
from resgen.graph import ir
from resgen.pipeline import check
from resgen.spec.load import load_spec_file
from tests.conftest import SPECS

GOLDEN_SPECS = Path(__file__).parent / "golden" / "specs"


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
    block = ir.Block(
        "layer1.0",
        "layer1",
        1,
        0,
        "basic",
        False,
        4,
        4,
        4,
        2,
        1,
        1,
        1,
        ir.ShortcutKind.PAD,
        0.0,
        0,
        loc,
        "input",
        "layer1.0.add",
        "layer1.0.add",
    )
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


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return path


IDENTITY_STRIDE = """\
name: net
block: {type: basic}
shortcut: identity
input: {size: 4}
stages:
  - {depth: 1, width: 64}
  - {depth: 1, width: 64, stride: 2}
"""


def test_only_a_few_sizes_work_is_said_as_a_range_and_torch_agrees(tmp_path: Path) -> None:
    # The stem takes 1-4 down to 1x1, where a stride-2 identity block still adds up; 5 does not.
    loaded = load_spec_file(_write(tmp_path, IDENTITY_STRIDE))
    report = check(loaded).sizes
    assert report.ranges == ((1, 4),)
    assert report.summary == (
        "H, W in 1-4; at input 5: stage 2 block 1 (layer2.0.add) adds spatial size 1 "
        "(residual branch) to 2 (shortcut)"
    )
    model = resgen.build_model(loaded.spec).eval()
    for size in range(1, 13):
        try:
            model(torch.zeros(1, 3, size, size))
            ran = True
        except RuntimeError:
            ran = False
        assert ran == report.accepts(size), size


def test_channels_that_disagree_mean_no_size_works() -> None:
    report = check(load_spec_file(GOLDEN_SPECS / "broken_identity.yaml")).sizes
    assert report.ranges == () and report.min_size == 0
    assert report.summary == (
        "no input size works: stage 2 block 1 (layer2.0.add) adds 128 channels (residual "
        "branch) to 64 (shortcut)"
    )


def _runs(*runs: range) -> list[int]:
    return [s for r in runs for s in r]


@pytest.mark.parametrize(
    ("valid", "expected"),
    [
        (_runs(range(1, 129)), "any H, W >= 1"),
        (_runs(range(1, 5)), "H, W in 1-4; at input 5: why"),
        (_runs(range(31, 35), range(40, 41), range(63, 129)),
         "H, W in 31-34, 40, >= 63; at input 35"),
        (_runs(*(range(k - 1, k + 3) for k in range(32, 129, 32))),
         "H, W in 31-34, 63-66, 95-98, ... (repeating every 32); at input 35: why"),
        (_runs(range(2, 129, 2)), "H, W >= 2 except sizes = 1 (mod 2); at input 3: why"),
        (_runs(range(3, 62, 2)), "H, W in 3, 5, 7, 9, 11, 13, ... (30 runs in all); at input 4"),
        ([], "no input size up to 128 works (at input 128: why)"),
    ],
)  # fmt: skip
def test_summary_says_which_sizes_work(valid: list[int], expected: str) -> None:
    limit = 128
    reasons = {s: "why" for s in range(1, limit + 1) if s not in valid}
    ranges = _ranges([s for s in range(1, limit + 1) if s not in reasons])
    summary = _summarise(ranges, reasons, limit)
    assert summary.startswith(expected), summary
