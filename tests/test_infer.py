"""resgen infer: checkpoints and live models back to specs.

Every built-in ResNet spec round-trips: its model's (filled) weights, saved as .safetensors or .pt,
infer a spec that resolves equal to the original once the values weights cannot show are given
(`--assume`), loads them strictly and gives identical logits; its live model infers the original
with nothing assumed but what no module holds. Every torchvision and timm reference that resgen
ships infers from its own state_dict alone. Then the held-back set: new heads, DDP and compiled
checkpoints, extra and missing tensors, a non-ResNet, an unsafe pickle.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import resgen
from resgen.infer import Inferred, infer, infer_file, infer_shapes
from resgen.infer.nearest import resolved
from resgen.resources import builtin_spec_names
from tests.conftest import ROOT, run_resgen
from tests.reference import zoo
from tests.test_zoo import GIANTS, SHIPPED, _fill, _no_init, _ours


def block_kinds(name: str) -> set[str]:
    """The block types of the built-in spec `name` (none for one that does not load: a spec
    another session is still writing); timm's ResNetV2 layout counts as a kind of its own."""
    try:
        spec = resgen.load_spec(name).spec
    except resgen.ResgenError:
        return set()
    kinds = {s.block or spec.block.type for s in spec.stages}
    return kinds | {"resnetv2"} if spec.layout == "resnetv2" else kinds


KINDS = {n: block_kinds(n) for n in builtin_spec_names()}
# Built-in specs of ResNet blocks (tests/test_infer_regnet.py reads the RegNets).
READ = {"basic", "bottleneck", "res2net", "sk_basic", "sk_bottleneck", "resnest", "resnetv2"}
RESNETS = [n for n, kinds in KINDS.items() if kinds and kinds <= READ]
BIG = GIANTS | {"resnet1202", "preact_resnet1001", "seresnextaa201d_32x8d", "resnetv2_152x4_bit",
               "resnetv2_101x3_bit", "resnetv2_152x2_bit", "resnetv2_50x3_bit"}  # fmt: skip
SIZE = 32


def _one_per_kind(names: list[str]) -> set[str]:
    """The cheapest spec (MACs in its generated file) of each combination of block kinds, norm,
    attention, pre-activation, stem, shortcut and layout."""
    cheapest: dict[tuple[object, ...], tuple[int, str]] = {}
    for name in names:
        spec = resgen.load_spec(name).spec
        key = (frozenset(KINDS[name]), spec.norm.type, spec.block.attention is not None,
               spec.block.preact, spec.stem.type, spec.shortcut, spec.layout)  # fmt: skip
        text = (ROOT / "generated" / f"{name}.py").read_text(encoding="utf-8")
        found = re.search(r"([\d,]+) multiply-adds", text)
        assert found, name
        cost = int(found[1].replace(",", ""))
        cheapest[key] = min(cheapest.get(key, (cost, name)), (cost, name))
    return {name for _, name in cheapest.values()}


# A spec inferred equal to the one its weights came from builds the same module, so the logits
# are compared once per block kind and norm (a forward pass of both models costs seconds).
LOGITS = _one_per_kind([n for n in RESNETS if n not in BIG])


def _params(names: list[Any]) -> list[Any]:
    return [
        pytest.param(n, id=n if isinstance(n, str) else f"{n[0]}-{n[1]}",
                     marks=[pytest.mark.slow] if _name(n) in BIG else [])
        for n in names
    ]  # fmt: skip


def _name(entry: Any) -> str:
    return entry if isinstance(entry, str) else str(entry[1])


def _original(name: str) -> dict[str, Any]:
    """The values `--assume` takes, as the built-in spec `name` has them."""
    spec = resgen.load_spec(name).spec
    values = {
        "strides": [s.stride for s in spec.stages], "block.stride_on": spec.block.stride_on,
        "stem.pool": spec.stem.pool_kind, "act": spec.act, "anti_alias": spec.anti_alias,
        "output_stride": spec.output_stride, "norm.eps": spec.norm.eps,
        "norm.groups": spec.norm.groups, "shortcut": spec.shortcut, "head.pool": spec.head.pool,
        "head.dropout": spec.head.dropout, "drop_path": spec.drop_path,
        "zero_init_residual": spec.zero_init_residual, "input.size": spec.input.size,
        "block.selective_kernel.split_input": spec.block.selective_kernel.split_input,
        "block.split_attention.avd": spec.block.split_attention.avd,
        "conv.standardize": spec.conv.standardize, "conv.eps": spec.conv.eps,
    }  # fmt: skip
    return values


def _infer_as(name: str, run: Any) -> Inferred:
    """Infer with conventions, then again giving the original's values where they differ."""
    first: Inferred = run({})
    original = _original(name)
    given = {k: original[k] for k, v in first.assumed.items() if original[k] != v}
    return run(given) if given else first


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


def _logits(model: nn.Module, seed: int = 1) -> torch.Tensor:
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.eval()(x)  # type: ignore[no-any-return]


def _load_and_run(spec: dict[str, Any], state: dict[str, torch.Tensor]) -> torch.Tensor:
    with _no_init():
        model = resgen.build_model(spec)
    model.load_state_dict(state, strict=True)
    return _logits(model)


def test_every_spec_is_covered() -> None:
    """Every built-in spec is a ResNet-family spec here or a RegNet in test_infer_regnet.py."""
    regnets = {n for n, kinds in KINDS.items() if kinds == {"regnet"}}
    assert set(RESNETS) | regnets == set(KINDS) and len(KINDS) >= 188
    assert {"resnet50", "senet154", "res2next50", "skresnet18", "resnest50d"} <= set(RESNETS)


@pytest.mark.parametrize("name", _params(RESNETS))
def test_round_trip_from_weights(name: str, tmp_path: Path) -> None:
    """Build, fill, save, infer: the same spec, whose text says the same; once per block kind
    and norm (LOGITS), built, strictly loaded and run: identical logits."""
    if name in BIG:  # keys and shapes on meta: the spec must still resolve equal
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in _ours(name).state_dict().items()}
        got = _infer_as(name, lambda given: infer_shapes(shapes, name, name, given))
        assert resolved(got.spec) == resolved(name)
        return
    with _no_init():
        model = _ours(name)
    state = model.state_dict()
    _fill(state)
    suffix = ".safetensors" if RESNETS.index(name) % 2 else ".pt"
    path = _save(state, tmp_path / f"{name}{suffix}")
    got = _infer_as(name, lambda given: infer_file(path, name, given))
    assert resolved(got.spec) == resolved(name)
    (tmp_path / f"{name}.yaml").write_text(got.text, encoding="utf-8")  # the text says the same
    assert resolved(str(tmp_path / f"{name}.yaml")) == resolved(name)
    if name in LOGITS:
        assert torch.equal(_load_and_run(got.spec, state), _logits(model))


@pytest.mark.parametrize("name", RESNETS)
def test_round_trip_from_live_module(name: str) -> None:
    """A live model shows what its weights cannot; on meta only zero_init_residual is left."""
    with torch.device("meta"):
        model = _ours(name)
    spec = resgen.load_spec(name).spec
    got = infer(model, name, {"zero_init_residual": spec.zero_init_residual})
    # EvoNorm and FRN are their own nonlinearity: no activation module shows `act`
    own = {"act"} if spec.norm.type in ("evonorm_s0", "frn") else set()
    assert set(got.assumed) == {"input.size"} | own
    assert resolved(got.spec) == resolved(name)


@pytest.mark.parametrize("name", ["resnet18", "resnet50d", "resnet20", "preact_resnet164"])
def test_live_module_assumes_nothing_a_module_holds(name: str) -> None:
    """Fresh from its constructor, a module shows zero_init_residual too."""
    got = resgen.api.infer(_ours(name), name)
    assert set(got.assumed) == {"input.size"}
    assert resolved(got.spec) == resolved(name)


@pytest.mark.parametrize("entry", _params(SHIPPED))
def test_reference_weights_only(entry: tuple[zoo.Source, str], tmp_path: Path) -> None:
    """A library's own state_dict: strict load and identical logits (invisible values given)."""
    source, name = entry
    device = "meta" if name in BIG else "cpu"
    with _no_init(), torch.device(device):
        reference = zoo.build(source, name)
    state = reference.state_dict()
    if device == "meta":
        shapes = {k: tuple(v.shape) for k, v in state.items()}
        got = _infer_as(name, lambda given: infer_shapes(shapes, name, name, given))
        with torch.device("meta"), _no_init():
            resgen.build_model(got.spec).load_state_dict(state, strict=True, assign=True)
        return
    _fill(state)
    path = _save(state, tmp_path / f"{name}.safetensors")
    got = _infer_as(name, lambda given: infer_file(path, name, given))
    assert torch.equal(_load_and_run(got.spec, state), _logits(reference))


# --- the held-back set, through the command line ----------------------------------------------


def _torchvision_state(num_classes: int = 1000) -> dict[str, torch.Tensor]:
    import torchvision

    with _no_init():
        return torchvision.models.resnet18(num_classes=num_classes).state_dict()  # type: ignore[no-any-return]


def test_fine_tuned_head_becomes_a_short_spec_that_checks_and_builds(tmp_path: Path) -> None:
    """A 37-class head, wrapped by DDP under 'model': extends resnet18; check and build pass."""
    state = {f"module.{k}": v for k, v in _torchvision_state(37).items()}
    torch.save({"model": state, "epoch": 3}, tmp_path / "pets.pth")
    done = run_resgen("infer", str(tmp_path / "pets.pth"), "-o", str(tmp_path / "pets.yaml"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "pets.yaml").read_text(encoding="utf-8")
    assert "extends: resnet18\n" in text and "head: {classes: 37}" in text
    assert "under 'model'" in done.stderr and "'module.' prefix" in done.stderr
    assert (
        "assumed (" in done.stderr and "act: relu" in done.stderr and "Traceback" not in done.stderr
    )
    assert run_resgen("check", str(tmp_path / "pets.yaml")).returncode == 0
    again = run_resgen("infer", str(tmp_path / "pets.pth"), "-o", str(tmp_path / "pets.yaml"))
    assert again.returncode == 1 and "error[exists]" in again.stderr


def test_no_classifier_and_a_compiled_checkpoint(tmp_path: Path) -> None:
    import timm

    with _no_init():
        model = timm.create_model("resnet18", num_classes=0)
    state = {f"_orig_mod.{k}": v for k, v in model.state_dict().items()}
    got = infer_file(_save(state, tmp_path / "features.safetensors"))
    assert got.spec["head"]["classes"] == 0 and got.spec["name"] == "features"
    assert any("'_orig_mod.'" in note for note in got.notes)


def test_extra_and_missing_tensors_are_one_diagnostic_each(tmp_path: Path) -> None:
    state = _torchvision_state()
    state["extra.weight"] = torch.zeros(3)
    del state["layer2.0.bn1.running_var"]
    torch.save(state, tmp_path / "odd.pt")
    done = run_resgen("infer", str(tmp_path / "odd.pt"))
    assert done.returncode == 1 and done.stdout == "" and "Traceback" not in done.stderr
    assert "error[unrecognised-keys]" in done.stderr and "extra.weight" in done.stderr
    assert "error[missing-keys]" in done.stderr and "layer2.0.bn1.running_var" in done.stderr
    assert "1 key outside any recognised" in done.stderr


def test_many_unrecognised_keys_are_grouped_and_counted(tmp_path: Path) -> None:
    state = _torchvision_state()
    state |= {f"adapter.{i}.weight": torch.zeros(1) for i in range(30)}
    with pytest.raises(resgen.ResgenError) as info:
        infer_file(_save(state, tmp_path / "adapted.safetensors"))
    message = info.value.diagnostics[0].message
    assert message.startswith("30 keys") and "adapter.0.weight; adapter.1.weight" in message
    assert "... and 10 more" in message


def test_a_non_resnet_is_a_diagnostic(tmp_path: Path) -> None:
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    torch.save(mlp.state_dict(), tmp_path / "mlp.pt")
    done = run_resgen("infer", str(tmp_path / "mlp.pt"))
    assert done.returncode == 1 and "error[not-a-resnet]" in done.stderr
    assert "0.{weight, bias}; 2.{weight, bias}" in done.stderr and "Traceback" not in done.stderr


class _Payload:
    """Unpickling this would create a file: weights_only must refuse before it runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_a_pickle_that_needs_weights_only_false_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"state_dict": _Payload(marker)}, f)
    done = run_resgen("infer", str(tmp_path / "evil.pth"))
    assert done.returncode == 1 and "error[unsafe-pickle]" in done.stderr
    assert "weights_only=False" in done.stderr and not marker.exists()


def test_usage_mistakes(tmp_path: Path) -> None:
    (tmp_path / "junk.safetensors").write_bytes(b"not a header")
    (tmp_path / "notes.txt").write_text("hi", encoding="utf-8")
    cases = {
        ("junk.safetensors",): (1, "error[checkpoint-unreadable]"),
        ("notes.txt",): (1, "error[checkpoint-format]"),
        ("nothing.pt",): (1, "error[no-such-file]"),
        ("torchvision:resnet9000",): (1, "error[unknown-model]"),
        ("x.pt", "--assume", "colour=red"): (2, "error[unknown-assumption]"),
    }
    for args, (code, text) in cases.items():
        done = run_resgen("infer", *args, cwd=tmp_path)
        assert (done.returncode, text in done.stderr) == (code, True), (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_assume_overrides_and_a_shown_key_is_refused(tmp_path: Path) -> None:
    path = _save(_torchvision_state(), tmp_path / "r18.safetensors")
    got = infer_file(path, given={"act": "silu", "strides": [1, 2, 2, 1]})
    assert got.spec["act"] == "silu" and [s["stride"] for s in got.spec["stages"]] == [1, 2, 2, 1]
    assert "act" not in got.assumed and "# Assumed" in got.text and "act: silu" in got.text
    with pytest.raises(resgen.ResgenError, match="the weights show it"):
        infer_file(path, given={"block.stride_on": "1x1"})  # a basic block has no 1x1


def test_live_library_model_through_the_cli() -> None:
    """timm:NAME shows its anti-aliasing; the spec is the built-in's."""
    done = run_resgen("infer", "timm:resnetaa50d")
    assert done.returncode == 0, done.stderr
    assert "extends: resnetaa50d" in done.stdout and "anti_alias" not in done.stderr


def test_weights_only_torchvision_resnet50_assumptions(tmp_path: Path) -> None:
    """The list the README quotes: what a torchvision ResNet-50 checkpoint cannot show."""
    import torchvision

    with _no_init(), torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in torchvision.models.resnet50().state_dict().items()}
    got = infer_shapes(shapes, "resnet50", "resnet50.pth")
    assert got.base == "resnet50"
    assert list(got.assumed) == [
        "strides", "block.stride_on", "stem.pool", "act", "anti_alias", "output_stride",
        "norm.eps", "head.pool", "head.dropout", "drop_path", "zero_init_residual", "input.size",
    ]  # fmt: skip


def test_a_conv_of_the_wrong_rank_is_a_diagnostic() -> None:
    shapes = {k: tuple(v.shape) for k, v in _torchvision_state().items()}
    shapes["layer1.0.conv1.weight"] = ()  # a scalar where a conv is
    with pytest.raises(resgen.ResgenError) as info:
        infer_shapes(shapes, "broken", "broken.pt")
    assert info.value.diagnostics[0].code == "not-a-resnet"


RES2NETS = [("timm", n) for n in zoo.timm_entrypoints("res2net") if n in KINDS]


@pytest.mark.parametrize("entry", _params(RES2NETS))
def test_res2net_reference_weights_only(entry: tuple[zoo.Source, str], tmp_path: Path) -> None:
    """timm's Res2Nets from their own state_dict: the built-in spec, a strict load on meta, and
    for one of them identical logits."""
    source, name = entry
    if name != "res2next50":
        with _no_init(), torch.device("meta"):
            state = zoo.build(source, name).state_dict()
        shapes = {k: tuple(v.shape) for k, v in state.items()}
        got = _infer_as(name, lambda given: infer_shapes(shapes, name, name, given))
        assert resolved(got.spec) == resolved(name)
        with torch.device("meta"), _no_init():
            resgen.build_model(got.spec).load_state_dict(state, strict=True, assign=True)
        return
    with _no_init():
        reference = zoo.build(source, name)
    state = reference.state_dict()
    _fill(state)
    got = _infer_as(name, lambda given: infer_file(_save(state, tmp_path / "r.pt"), name, given))
    assert resolved(got.spec) == resolved(name)
    assert torch.equal(_load_and_run(got.spec, state), _logits(reference))


SKNETS = [("timm", n) for n in zoo.timm_entrypoints("sknet") if n in KINDS]
RESNESTS = [("timm", n) for n in zoo.timm_entrypoints("resnest") if n in KINDS]
RESNETV2S = [("timm", n) for n in zoo.timm_entrypoints("resnetv2") if n in KINDS]


@pytest.mark.parametrize("entry", _params(SKNETS + RESNESTS + RESNETV2S))
def test_timm_family_reference_weights_only(entry: tuple[zoo.Source, str]) -> None:
    """timm's SKNets, ResNeSts and ResNetV2s from their own state_dict: the built-in spec (given
    what weights cannot show: whether skresnext50_32x4d's paths see all their input or half of
    it in twice the groups, where a ResNeSt's avg-pool strides) and a strict load, on meta."""
    source, name = entry
    with _no_init(), torch.device("meta"):
        state = zoo.build(source, name).state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    got = _infer_as(name, lambda given: infer_shapes(shapes, name, name, given))
    assert resolved(got.spec) == resolved(name)
    with torch.device("meta"), _no_init():
        resgen.build_model(got.spec).load_state_dict(state, strict=True, assign=True)
