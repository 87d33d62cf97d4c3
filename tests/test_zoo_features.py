"""The spec language's features for timm's last ResNets (issue 15), each against timm itself.

Every case is a small spec on top of a built-in one beside the timm model it must equal: timm
constructor arguments that map to spec keys (`output_stride`, `global_pool`, `num_classes`,
`aa_layer`, `block_reduce_first`, `down_kernel_size`), often with the features the last
entrypoints needed (anti-aliased and blur-pool downsampling, the conv stem pool, SENet-154's
blocks) in layouts no entrypoint has. The entrypoints themselves, these included, are
tests/test_zoo.py's, which checks every one with a built-in spec. Each case is checked twice:

- on the `meta` device (no memory, no time, even at 190 M parameters): the same state_dict keys
  in the same order with the same shapes; resgen's static params, MACs (FlopCounterMode / 2) and
  per-stage shapes equal what torch measures on the generated model, at 64 and at an odd size;
- on the CPU: timm's weights (random, with random norm statistics) load strictly into the
  generated model, and the logits are bit-identical in eval and in train mode, at 64x64 and at
  the odd size. The giants are `slow`.

The sizes where a new downsampling kind makes timm crash are tests/test_zoo_sizes.py's.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
import timm
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resgen
from resgen.checks import Analysis
from resgen.diagnostics import has_errors
from resgen.pipeline import check
from resgen.resources import builtin_spec_path
from resgen.spec.load import load_spec_file
from tests.conftest import generated_module

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ODD = 97  # 97 -> 49 -> 25 -> 13 -> 7 -> 4: odd at every stride-2 step but the last


class Case(NamedTuple):
    id: str
    spec: str | dict[str, Any]  # a built-in spec's name, or a spec mapping
    timm: str  # the entrypoint
    kwargs: dict[str, Any]  # its constructor arguments
    odd: int = ODD  # the odd input size measured (one the reference accepts)


def _variant(base: str, **keys: Any) -> dict[str, Any]:
    return {"extends": base, "name": f"{base}_variant", **keys}


CASES = [
    # Fidelity: a dilated ResNet-D stage's shortcut keeps a stride-1 "same" pool.
    Case("resnet50d-os16", _variant("resnet50d", output_stride=16), "resnet50d",
         {"output_stride": 16}),
    Case("resnet50d-os8", _variant("resnet50d", output_stride=8), "resnet50d",
         {"output_stride": 8}),
    Case("resnet34d-os8", _variant("resnet34d", output_stride=8), "resnet34d",
         {"output_stride": 8}),
    Case("resnet18-os8", _variant("resnet18", output_stride=8), "resnet18",
         {"output_stride": 8}),
    # The head's constructor arguments.
    Case("resnet26d-max-10", _variant("resnet26d", head={"pool": "max", "classes": 10}),
         "resnet26d", {"global_pool": "max", "num_classes": 10}),
    Case("resnet18d-features", _variant("resnet18d", head={"classes": 0}), "resnet18d",
         {"num_classes": 0}),
    # Anti-aliased downsampling by 2x2 average pools, in every layout it meets.
    Case("resnetaa50d-os16", _variant("resnetaa50d", output_stride=16), "resnetaa50d",
         {"output_stride": 16}),
    # Blur-pools: a dilated stage's first block blurs at stride 1 (an `aa` argument).
    Case("resnetblur50-os8", _variant("resnetblur50", output_stride=8), "resnetblur50",
         {"output_stride": 8}),
    Case("resnetblur18-os16", _variant("resnetblur18", output_stride=16), "resnetblur18",
         {"output_stride": 16}),
    # The conv stem pool, anti-aliased: conv at stride 1, pool, norm, activation.
    Case("resnetrs50-aa", _variant("resnetrs50", anti_alias="avg"), "resnetrs50",
         {"aa_layer": nn.AvgPool2d}),
    Case("resnetrs50-blur", _variant("resnetrs50", anti_alias="blur"), "resnetrs50",
         {"aa_layer": "blur"}),
    # SENet's blocks and shortcuts on smaller nets, dilated too (a 3x3 projection at stride 1).
    Case("seresnext50-senet-os16",
         _variant("seresnext50_32x4d", block={"reduce_first": 2}, shortcut_kernel=3,
                  output_stride=16),
         "seresnext50_32x4d",
         {"block_reduce_first": 2, "down_kernel_size": 3, "output_stride": 16}),
    Case("resnet18-senet-os8",
         _variant("resnet18", block={"reduce_first": 2}, shortcut_kernel=3, output_stride=8),
         "resnet18", {"block_reduce_first": 2, "down_kernel_size": 3, "output_stride": 8}),
]  # fmt: skip
# Logits of these take seconds each on one core: a `slow` test. None of the cases, for now.
GIANTS: set[str] = set()


def _params(cases: list[Case], *, logits: bool = False) -> list[Any]:
    slow = [pytest.mark.slow] if logits else []
    return [pytest.param(c, id=c.id, marks=slow if c.id in GIANTS else []) for c in cases]


def _ours(case: Case) -> nn.Module:
    """The generated model on the current default device: the checked-in file for a built-in."""
    classes = case.kwargs.get("num_classes", 1000)
    if isinstance(case.spec, str):
        spec = load_spec_file(builtin_spec_path(case.spec)).spec  # type: ignore[arg-type]
        model_class = getattr(generated_module(case.spec), spec.model_class)
        return model_class(num_classes=classes)  # type: ignore[no-any-return]
    return resgen.build_model(case.spec, num_classes=classes)


def _analysis(case: Case, size: int) -> Analysis:
    base: dict[str, Any] = {"extends": case.spec} if isinstance(case.spec, str) else case.spec
    return check(resgen.load_spec({**base, "input": {"size": size}}))


def _measure(model: nn.Module, analysis: Analysis) -> tuple[int, dict[str, tuple[int, ...]]]:
    """Run `model` on `meta` at the analysis' input size: torch's MACs and each stage's shape."""
    seen: dict[str, tuple[int, ...]] = {}
    hooks = [
        getattr(model, stage.name).register_forward_hook(
            lambda _m, _i, out, name=stage.name: seen.__setitem__(name, tuple(out.shape[1:]))
        )
        for stage in analysis.graph.graph["stages"]
    ]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        logits = model.eval()(torch.empty(1, *analysis.graph.graph["input_shape"], device="meta"))
    for hook in hooks:
        hook.remove()
    assert tuple(logits.shape[1:]) == analysis.output_shape
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2, seen


@pytest.mark.parametrize("case", _params(CASES))
def test_keys_shapes_and_static_counts(case: Case) -> None:
    """On `meta`: keys, shapes, and resgen's params, MACs and stage shapes against torch's."""
    with torch.device("meta"):
        reference = timm.create_model(case.timm, pretrained=False, **case.kwargs)
        ours = _ours(case)
    ref_sd, our_sd = reference.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd), "state_dict keys (and their order) differ"
    assert {k: v.shape for k, v in our_sd.items()} == {k: v.shape for k, v in ref_sd.items()}
    params = sum(p.numel() for p in reference.parameters())
    assert sum(p.numel() for p in ours.parameters()) == params
    for size in (64, case.odd):
        analysis = _analysis(case, size)
        assert analysis.total_params == params
        assert not has_errors(analysis.diagnostics)
        stages = {s.name: analysis.shapes[s.output] for s in analysis.graph.graph["stages"]}
        assert _measure(reference, analysis) == _measure(ours, analysis) == (
            analysis.total_macs, stages)  # fmt: skip


def _randomise(model: nn.Module, seed: int) -> None:
    """Random weights at He scale, norm scales in [0.25, 0.75], random running statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if not value.is_floating_point():
                continue
            if key.endswith("running_var"):
                value.copy_(torch.rand(value.shape, generator=gen) + 0.5)
            elif value.dim() == 1 and key.endswith(".weight"):  # norm scales
                value.copy_(torch.rand(value.shape, generator=gen) * 0.5 + 0.25)
            elif value.dim() == 1:  # biases and running means
                value.copy_(torch.randn(value.shape, generator=gen) * 0.1)
            else:
                scale = (2 / value[0].numel()) ** 0.5
                value.copy_(torch.randn(value.shape, generator=gen) * scale)


@pytest.mark.parametrize("case", _params(CASES, logits=True))
def test_loads_timm_weights_and_matches_logits(case: Case) -> None:
    torch.manual_seed(0)
    reference = timm.create_model(case.timm, pretrained=False, **case.kwargs)
    ours = _ours(case)
    _randomise(reference, seed=0)
    ours.load_state_dict(reference.state_dict(), strict=True)
    gen = torch.Generator().manual_seed(1)
    inputs = [torch.randn(2, 3, size, size, generator=gen) for size in (64, case.odd)]
    for train in (False, True):  # eval first, while the running statistics are the random ones
        reference.train(train)
        ours.train(train)
        for x in inputs:
            with torch.no_grad():
                expected, got = reference(x), ours(x)
            assert torch.isfinite(expected).all() and expected.abs().max() > 0.1
            # Same ops in the same order on the same weights: bit-identical, not merely close.
            assert torch.equal(got, expected), (
                f"train={train} size={x.shape[-1]}: {(got - expected).abs().max()}"
            )


def test_drop_path_reaches_every_block_after_the_first() -> None:
    """The first block's rate is 0, so its class must not decide whether DropPath is built."""
    model = resgen.build_model(_variant("resnet18", drop_path=0.3))
    stages = (model.layer1, model.layer2, model.layer3, model.layer4)
    rates = [block.drop_path.rate for stage in stages for block in stage]
    assert rates == pytest.approx([0.3 * i / 7 for i in range(8)])
