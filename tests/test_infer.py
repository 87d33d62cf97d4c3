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
from tests.conftest import run_resgen
from tests.reference import zoo
from tests.test_zoo import GIANTS, SHIPPED, _fill, _no_init, _ours

# Built-in specs of ResNet blocks (RegNets have their own layout, not read by infer yet).
RESNETS = [n for n in builtin_spec_names()
           if all((s.block or resgen.load_spec(n).spec.block.type) != "regnet"
                  for s in resgen.load_spec(n).spec.stages)]  # fmt: skip
BIG = GIANTS | {"resnet1202", "preact_resnet1001", "seresnextaa201d_32x8d"}
SIZE = 32


def _params(names: list[Any]) -> list[Any]:
    return [pytest.param(n, marks=[pytest.mark.slow] if _name(n) in BIG else []) for n in names]


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


def test_every_resnet_spec_is_covered() -> None:
    assert len(RESNETS) >= 95 and "resnet50" in RESNETS and "senet154" in RESNETS


@pytest.mark.parametrize("name", _params(RESNETS))
def test_round_trip_from_weights(name: str, tmp_path: Path) -> None:
    """Build, fill, save, infer, build, strict load: the same spec and identical logits."""
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
    assert torch.equal(_load_and_run(got.spec, state), _logits(model))


@pytest.mark.parametrize("name", RESNETS)
def test_round_trip_from_live_module(name: str) -> None:
    """A live model shows what its weights cannot; on meta only zero_init_residual is left."""
    with torch.device("meta"):
        model = _ours(name)
    got = infer(model, name, {"zero_init_residual": resgen.load_spec(name).spec.zero_init_residual})
    assert set(got.assumed) == {"input.size"}
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
