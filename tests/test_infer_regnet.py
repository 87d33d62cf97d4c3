"""resgen infer on RegNets: torchvision's and timm's layouts back to specs.

Every built-in RegNet spec round-trips: its model's (filled) weights, saved as .safetensors or
.pt, infer a spec that resolves equal to the original (its `regnet` parameters as the stages they
generate) once the values weights cannot show are given, loads them strictly and gives identical
logits; its live model infers the original with nothing assumed but the input size. Every
torchvision and timm RegNet that resgen ships infers from its own state_dict. Then the held-back
set: a fine-tuned head, a deeper stage, a stripped head, group norm's groups, live library
models through the command line, and RegNets the spec language cannot say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import resgen
from resgen.infer import Inferred, infer, infer_file, infer_shapes
from resgen.infer.nearest import resolved
from tests.conftest import run_resgen
from tests.reference import zoo
from tests.test_infer import KINDS, _load_and_run, _logits, _save
from tests.test_zoo import _fill, _no_init, _ours
from tests.test_zoo_regnet import GIANTS, SHIPPED, _reference

REGNETS = [n for n, kinds in KINDS.items() if "regnet" in kinds]
# Logits for these take seconds on a 2-core CPU: their keys and shapes are checked on meta.
BIG = GIANTS | {"regnety_080", "regnety_080_tv", "regnetx_080", "regnety_064", "regnetx_064",
                "regnet_y_8gf", "regnet_x_8gf", "regnety_040", "regnetx_040", "regnety_040_sgn",
                "regnet_y_3_2gf", "regnet_x_3_2gf", "regnety_032", "regnetx_032"}  # fmt: skip


def _id(entry: Any) -> str:
    return entry if isinstance(entry, str) else f"{entry[0]}-{entry[1]}"


def _original(name: str) -> dict[str, Any]:
    """The values `--assume` takes, as the built-in spec `name` has them."""
    spec = resgen.load_spec(name).spec
    group = {"norm.group_size": spec.norm.group_size} if spec.norm.group_size else {}
    final = spec.head.final or ("norm_act" if spec.block.preact else "none")
    ends = {"block.linear_out": spec.block.linear_out, "head.final": final}
    return {**ends,
        "strides": [s.stride for s in spec.stages], "stem.pool": spec.stem.pool_kind,
        "act": spec.act, "anti_alias": spec.anti_alias, "output_stride": spec.output_stride,
        "norm.eps": spec.norm.eps, "norm.groups": spec.norm.groups, **group,
        "head.pool": spec.head.pool, "head.dropout": spec.head.dropout,
        "drop_path": spec.drop_path, "zero_init_residual": spec.zero_init_residual,
        "input.size": spec.input.size,
    }  # fmt: skip


def _infer_as(name: str, run: Any) -> Inferred:
    """Infer with conventions, then again giving the original's values where they differ."""
    first: Inferred = run({})
    original = _original(name)
    given = {k: original[k] for k, v in first.assumed.items() if original[k] != v}
    return run(given) if given else first


def _meta_shapes(model_of: Any) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in model_of().state_dict().items()}


def test_every_regnet_spec_is_covered() -> None:
    assert len(REGNETS) >= 46 and {"regnet_y_400mf", "regnetx_002"} <= set(REGNETS)
    assert set(REGNETS) >= BIG


@pytest.mark.parametrize("name", REGNETS)
def test_round_trip_from_weights(name: str, tmp_path: Path) -> None:
    """Build, fill, save, infer, build, strict load: the same spec and identical logits."""
    if name in BIG:  # keys and shapes on meta: the spec must still resolve equal
        shapes = _meta_shapes(lambda: _ours(name))
        got = _infer_as(name, lambda given: infer_shapes(shapes, name, name, given))
        assert resolved(got.spec) == resolved(name) and got.base == name
        return
    with _no_init():
        model = _ours(name)
    state = model.state_dict()
    _fill(state)
    suffix = ".safetensors" if REGNETS.index(name) % 2 else ".pt"
    path = _save(state, tmp_path / f"{name}{suffix}")
    got = _infer_as(name, lambda given: infer_file(path, name, given))
    assert resolved(got.spec) == resolved(name) and got.base == name
    (tmp_path / f"{name}.yaml").write_text(got.text, encoding="utf-8")  # the text says the same
    assert resolved(str(tmp_path / f"{name}.yaml")) == resolved(name)
    assert torch.equal(_load_and_run(got.spec, state), _logits(model))


@pytest.mark.parametrize("name", REGNETS)
def test_round_trip_from_live_module(name: str) -> None:
    """A live model shows its strides, activation and group norm; on meta only zero-init and
    the input size are left."""
    with torch.device("meta"):
        model = _ours(name)
    got = infer(model, name, {"zero_init_residual": resgen.load_spec(name).spec.zero_init_residual})
    assert set(got.assumed) == {"input.size"}
    assert resolved(got.spec) == resolved(name)


@pytest.mark.parametrize("entry", SHIPPED, ids=_id)
def test_reference_weights_only(entry: tuple[zoo.Source, str], tmp_path: Path) -> None:
    """A library's own state_dict: strict load and identical logits (invisible values given);
    the big ones' keys and shapes on meta."""
    source, name = entry
    if name in BIG:
        shapes = {k: tuple(v.shape) for k, v in _reference(source, name)[0].state_dict().items()}
        got = _infer_as(name, lambda given: infer_shapes(shapes, name, name, given))
        assert resolved(got.spec) == resolved(name)
        return
    with _no_init():
        reference = zoo.build(source, name)
    state = reference.state_dict()
    _fill(state)
    path = _save(state, tmp_path / f"{name}.safetensors")
    got = _infer_as(name, lambda given: infer_file(path, name, given))
    assert resolved(got.spec) == resolved(name)
    assert torch.equal(_load_and_run(got.spec, state), _logits(reference))


# --- the held-back set ---------------------------------------------------------------------


def _torchvision_regnet(num_classes: int = 1000) -> nn.Module:
    import torchvision

    with _no_init():
        return torchvision.models.regnet_y_400mf(num_classes=num_classes)  # type: ignore[no-any-return]


def test_fine_tuned_regnet_becomes_a_short_spec_that_checks_and_builds(tmp_path: Path) -> None:
    """A 37-class torchvision RegNetY-400MF under DDP: extends the built-in, checks, builds and
    loads the checkpoint strictly with identical logits."""
    model = _torchvision_regnet(37)
    state = model.state_dict()
    _fill(state)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "ft.pth")
    done = run_resgen("infer", str(tmp_path / "ft.pth"), "-o", str(tmp_path / "ft.yaml"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "ft.yaml").read_text(encoding="utf-8")
    assert "extends: regnet_y_400mf\n" in text and "head: {classes: 37}" in text
    assert "strides: 2,2,2,2" in done.stderr and "Traceback" not in done.stderr
    assert run_resgen("check", str(tmp_path / "ft.yaml")).returncode == 0
    assert torch.equal(_load_and_run(resgen.load_spec(tmp_path / "ft.yaml"), state),
                       _logits(model))  # fmt: skip


def test_a_deeper_stage_drops_the_regnet_parameters(tmp_path: Path) -> None:
    """One more block in timm regnetx_002's stage 2: the stages form, extending the built-in."""
    import timm

    with _no_init():
        model = timm.create_model("regnetx_002", num_classes=10)
    state = model.state_dict()
    for key, value in list(state.items()):  # s2.b2 is a copy of its stage's later blocks' shapes
        if key.startswith("s3.b2."):
            state[key.replace("s3.b2.", "s2.b2.")] = torch.zeros(
                [56 if d == 152 else d for d in value.shape], dtype=value.dtype)  # fmt: skip
    _fill(state)
    got = infer_file(_save(state, tmp_path / "deeper.safetensors"))
    assert got.base == "regnetx_002" and "regnet: null" in got.text, got.text
    assert [s["depth"] for s in got.spec["stages"]] == [1, 2, 4, 7]
    (tmp_path / "deeper.yaml").write_text(got.text, encoding="utf-8")
    assert run_resgen("check", str(tmp_path / "deeper.yaml")).returncode == 0
    with _no_init():
        resgen.build_model(tmp_path / "deeper.yaml").load_state_dict(state, strict=True)


def test_a_stripped_head_and_the_live_library_models() -> None:
    """timm:NAME (through the command line) and a torchvision module read the module: nothing
    assumed but the input size; a head stripped to features is `classes: 0`."""
    done = run_resgen("infer", "timm:regnetx_002")
    assert done.returncode == 0, done.stderr
    assert "extends: regnetx_002\n" in done.stdout and "assumed (1;" in done.stderr
    got = infer(_torchvision_regnet(), "regnet_y_400mf")
    assert got.base == "regnet_y_400mf" and set(got.assumed) == {"input.size"}
    import timm

    with _no_init():
        features = timm.create_model("regnety_002", num_classes=0)
    got = infer(features, "features")
    assert got.spec["head"]["classes"] == 0 and "head: {classes: 0}" in got.text


def test_group_norm_groups_are_an_assumption_or_the_modules(tmp_path: Path) -> None:
    """Weights cannot show GroupNorm's groups: a RegNet assumes groups of 16 channels, --assume
    norm.groups replaces that; a live module shows them (a ResNet-50 with 16 groups)."""
    shapes = _meta_shapes(lambda: _ours("regnety_040_sgn"))
    got = infer_shapes(shapes, "sgn", "sgn.pt", {"act": "silu"})
    assert got.assumed["norm.group_size"] == 16 and got.base == "regnety_040_sgn"
    got = infer_shapes(shapes, "sgn", "sgn.pt", {"norm.groups": 8})
    assert "norm.group_size" not in got.assumed and "norm.groups" not in got.assumed
    assert got.spec["norm"] == {"type": "group", "eps": 1e-5, "groups": 8}
    import torchvision

    with _no_init():
        gn16 = torchvision.models.resnet50(norm_layer=lambda c: nn.GroupNorm(16, c))
    weights_only = infer_shapes({k: tuple(v.shape) for k, v in gn16.state_dict().items()},
                                "gn16", "gn16.pt")  # fmt: skip
    assert weights_only.assumed["norm.groups"] == 32
    live = infer(gn16, "gn16")
    assert "norm.groups" not in live.assumed and live.spec["norm"]["groups"] == 16
    assert "extends: resnet50" in live.text and "groups: 16}" in live.text


def test_a_group_norm_convention_divides_every_width() -> None:
    """A RegNet whose norms are 24 channels wide somewhere assumes groups of 8, not 16."""
    shapes = _meta_shapes(lambda: _ours("regnety_040_sgn"))
    narrow = {k: (24, *v[1:]) if k.startswith("stem.") else v for k, v in shapes.items()}
    for key in ("s1.b1.conv1.conv.weight", "s1.b1.downsample.conv.weight"):
        narrow[key] = (shapes[key][0], 24, 1, 1)
    narrow |= {"s1.b1.se.fc1.weight": (6, 128, 1, 1), "s1.b1.se.fc1.bias": (6,),
               "s1.b1.se.fc2.weight": (128, 6, 1, 1)}  # fmt: skip
    got = infer_shapes(narrow, "narrow", "narrow.pt")
    assert got.assumed["norm.group_size"] == 8 and got.spec["stem"]["width"] == 24


@pytest.mark.parametrize("change", ["irregular", "se-in-one-block", "1x1-where-3x3"])
def test_regnets_resgen_cannot_say_are_diagnostics(change: str, tmp_path: Path) -> None:
    """A stage whose blocks differ, SE in some blocks only, a conv of the wrong kernel: one
    not-a-resnet diagnostic (through the command line for the first), never a traceback."""
    state = {k: torch.zeros(v) for k, v in _meta_shapes(lambda: _ours("regnety_002")).items()}
    if change == "irregular":
        state["s3.b2.conv3.conv.weight"] = torch.zeros(150, 152, 1, 1)
    elif change == "se-in-one-block":
        state = {k: v for k, v in state.items() if not k.startswith("s2.b1.se.")}
    else:
        state["s1.b1.conv2.conv.weight"] = torch.zeros(24, 8, 1, 1)
    torch.save(state, tmp_path / "odd.pt")
    if change == "irregular":
        done = run_resgen("infer", str(tmp_path / "odd.pt"))
        assert done.returncode == 1 and "error[not-a-resnet]" in done.stderr, done.stderr
        assert "stage 3's blocks differ in width" in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
        return
    with pytest.raises(resgen.ResgenError) as info:
        infer_file(tmp_path / "odd.pt")
    assert [d.code for d in info.value.diagnostics] == ["not-a-resnet"]
    expected = "SE and others not" if change == "se-in-one-block" else "not a 3x3 conv"
    assert expected in info.value.diagnostics[0].message
