"""resgen infer on ResNets no built-in spec has: shortcut kinds that differ from stage to stage,
basic blocks with groups, reduce_first or expansion.

Each spec is built by resgen with random (filled) weights, saved, inferred back and built again:
the inferred spec must resolve equal to the original where the weights tell them apart (else build
the same network: a strict load and identical logits).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import resgen
from resgen.infer import infer_file
from resgen.infer.nearest import resolved
from tests.test_infer import _load_and_run, _logits, _save
from tests.test_zoo import _fill, _no_init

CIFAR = {"input": {"size": 32}, "stem": {"type": "cifar", "width": 16}}
SPECS: dict[str, dict[str, Any]] = {
    # a plain stage 3 (no shortcut: assumed, as weights cannot tell none from pad), projections in
    # every block of stage 4
    "mixed_shortcuts": {"extends": "resnet50", "name": "mixed_shortcuts", "stages": {
        3: {"shortcut": "none"}, 4: {"shortcut": "projection_all"}}},
    "resnext_basic": {"name": "resnext_basic", **CIFAR,
                      "block": {"type": "basic", "groups": 4, "reduce_first": 2},
                      "stages": [{"depth": 2, "width": 32}, {"depth": 2, "width": 64, "stride": 2},
                                 {"depth": 1, "width": 128, "stride": 2, "groups": 8}]},
    # option A in the basic stage 2, projections in the bottleneck stages
    "pad_and_projection": {"name": "pad_and_projection", **CIFAR, "block": {"type": "basic"},
                           "stages": [{"depth": 1, "width": 16},
                                      {"depth": 2, "width": 32, "stride": 2, "shortcut": "pad"},
                                      {"depth": 2, "width": 16, "stride": 2,
                                       "block": "bottleneck"}]},
}  # fmt: skip


def _round_trip(
    spec: dict[str, Any], tmp_path: Path, given: dict[str, Any] | None = None, same: bool = True
) -> Any:
    """Infer from the spec's filled weights; the inferred spec loads them strictly, and (unless
    an assumption differs from the spec) its logits are identical."""
    with _no_init():
        model = resgen.build_model(spec)
    state = model.state_dict()
    _fill(state)
    got = infer_file(_save(state, tmp_path / f"{spec['name']}.pt"), given=given)
    assert torch.equal(_load_and_run(got.spec, state), _logits(model)) == same
    return got


@pytest.mark.parametrize("name", sorted(SPECS))
def test_round_trip(name: str, tmp_path: Path) -> None:
    """Build, fill, save, infer, build, strict load: the same spec and identical logits."""
    spec = SPECS[name]
    given = {"shortcut": "pad"} if name == "pad_and_projection" else {}
    got = _round_trip(spec, tmp_path, given)
    assert resolved(got.spec) == resolved(spec)
    if name == "mixed_shortcuts":  # the plain stage's shortcut is the assumption
        assert got.assumed["shortcut"] == "none" and got.spec["shortcut"] == "projection"
        assert [s.get("shortcut") for s in got.spec["stages"]] == [
            None, None, "none", "projection_all"]  # fmt: skip


def test_a_stage_without_parameters_takes_the_shortcut_assumption(tmp_path: Path) -> None:
    """Weights alone assume that stage plain; --assume shortcut=pad changes it, not the spec's."""
    spec = SPECS["pad_and_projection"]
    got = _round_trip(spec, tmp_path, same=False)  # pad and none: a different network
    assert got.assumed["shortcut"] == "none"
    assert [s.get("shortcut") for s in got.spec["stages"]] == [None, "none", None]
    got = _round_trip(spec, tmp_path, {"shortcut": "pad"})
    assert "shortcut" not in got.assumed and got.spec["shortcut"] == "projection"
    assert [s.get("shortcut") for s in got.spec["stages"]] == [None, "pad", None]


def test_a_basic_block_with_expansion_is_read_as_reduce_first(tmp_path: Path) -> None:
    """Output = 2 x the first conv's width: `expansion: 2` and `reduce_first: 2` (stage widths
    doubled) build the same network; infer writes timm's reduce_first."""
    spec = {"name": "wide_out", **CIFAR, "block": {"type": "basic", "expansion": 2},
            "stages": [{"depth": 2, "width": 16},
                       {"depth": 2, "width": 32, "stride": 2}]}  # fmt: skip
    got = _round_trip(spec, tmp_path)
    assert got.spec["block"] == {"type": "basic", "reduce_first": 2}
    assert [s["width"] for s in got.spec["stages"]] == [32, 64]
