"""Plain nets: `shortcut: none` gives the paper's plain baselines, the same blocks with no add."""

from __future__ import annotations

import pytest
import torch

import resgen
from resgen.api import build_model
from resgen.checks import Analysis
from resgen.graph import ir
from resgen.pipeline import check
from resgen.probe import is_plain, plain_twin
from tests.conftest import GENERATED, SPECS, generated_module

TWINS = {"plain20": "resnet20", "plain56": "resnet56"}


def _analysis(spec: resgen.SpecSource) -> Analysis:
    return check(resgen.load_spec(spec))


def _kinds(analysis: Analysis) -> set[str]:
    return {data.kind for _, data in ir.nodes(analysis.graph)}


def _shortcut_params(analysis: Analysis) -> int:
    return sum(n for node, n in analysis.params.items() if ".downsample." in f"{node}.")


@pytest.mark.parametrize(("plain", "residual"), sorted(TWINS.items()))
def test_shipped_plain_specs_are_their_resnets_without_shortcuts(plain: str, residual: str) -> None:
    ours = resgen.load_spec(SPECS / f"{plain}.yaml").spec
    theirs = resgen.load_spec(SPECS / f"{residual}.yaml").spec
    assert ours.shortcut == "none" and is_plain(ours)
    differ = {"name", "description", "shortcut"}
    assert ours.model_dump(exclude=differ) == theirs.model_dump(exclude=differ)
    a, b = _analysis(ours), _analysis(theirs)
    assert ir.ADD not in _kinds(a) and ir.PAD not in _kinds(a)
    assert ir.ADD in _kinds(b) and ir.PAD in _kinds(b)
    # Option A shortcuts have no parameters, so the plain net has exactly the ResNet's.
    assert _shortcut_params(b) == 0
    assert a.total_params == b.total_params
    assert a.total_macs == b.total_macs
    assert a.output_shape == b.output_shape


@pytest.mark.parametrize("name", sorted(TWINS))
def test_generated_plain_models_have_no_shortcut(name: str) -> None:
    source = (GENERATED / f"{name}.py").read_text(encoding="utf-8")
    assert "downsample" not in source and "identity = x" not in source and "+=" not in source
    spec = resgen.load_spec(SPECS / f"{name}.yaml").spec
    model = getattr(generated_module(name), spec.model_class)()
    assert not [n for n, _ in model.named_modules() if "downsample" in n]
    assert sum(p.numel() for p in model.parameters()) == _analysis(spec).total_params


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet34_c", "resnet50d", "resnet20"])
def test_plain_twin_drops_adds_and_exactly_the_shortcut_params(name: str) -> None:
    loaded = resgen.load_spec(name)
    twin = plain_twin(loaded.spec)
    residual, plain = _analysis(loaded), _analysis(twin)
    assert is_plain(twin) and not is_plain(loaded.spec)
    assert not _kinds(plain) & {ir.ADD, ir.PAD}
    assert _shortcut_params(plain) == 0
    assert plain.total_params == residual.total_params - _shortcut_params(residual)
    model = build_model(twin)
    assert sum(p.numel() for p in model.parameters()) == plain.total_params
    assert not [n for n, _ in model.named_modules() if "downsample" in n]


def test_plain_twin_clears_per_stage_shortcuts() -> None:
    data = resgen.load_spec("resnet20").spec.model_dump(mode="json", exclude_unset=True)
    data["stages"][1]["shortcut"] = "none"  # one plain stage: adds only in stages 1 and 3
    mixed = resgen.load_spec(data)
    assert not is_plain(mixed.spec)
    kinds_by_stage = {
        d.stage for _, d in ir.nodes(_analysis(mixed).graph) if d.kind == ir.ADD
    }
    assert kinds_by_stage == {"layer1", "layer3"}
    every = {
        **data,
        "shortcut": "pad",
        "stages": [{**s, "shortcut": "none"} for s in data["stages"]],
    }
    assert is_plain(resgen.load_spec(every).spec)
    twin = plain_twin(mixed.spec)
    assert all(stage.shortcut is None for stage in twin.stages)
    assert ir.ADD not in _kinds(_analysis(twin))


def test_plain_twin_is_a_valid_spec_that_runs() -> None:
    twin = plain_twin(resgen.load_spec("resnet56").spec)
    assert twin.name == "resnet56_plain" and twin.model_class == "ResNet56Plain"
    assert twin.zero_init_residual is False and twin.drop_path == 0.0
    model = build_model(twin).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
