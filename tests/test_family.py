"""The whole family: every shipped spec against its reference, torchvision, timm or the papers.

Each generated model loads its reference's state_dict with strict=True and gives bit-identical
outputs, in train mode (batch statistics) and in eval mode (running statistics, randomised so
that they matter). Static params, MACs and per-stage shapes equal what torch measures.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import timm
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from resgen.pipeline import check
from resgen.spec.load import load_spec_file
from tests.conftest import SPECS, generated_module, randomise_norms
from tests.reference import paper_models as paper

Builder = Callable[[], nn.Module]

TORCHVISION = ["resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2",
               "wide_resnet101_2"]  # fmt: skip
TIMM = ["resnet18d", "resnet34d", "resnet26d", "resnet50c", "resnet50d", "resnet101d",
        "seresnet50", "seresnext50_32x4d", "ecaresnet50d", "resnet50_gn"]  # fmt: skip
PAPERS: dict[str, Builder] = {
    "resnet50_v1": paper.resnet50_v1,
    "resnet34_a": paper.resnet34_a,
    "resnet34_c": paper.resnet34_c,
    **{f"resnet{d}": (lambda d=d: paper.cifar_resnet(d)) for d in (20, 32, 44, 56, 110, 1202)},
    "preact_resnet164": lambda: paper.preact_resnet(164),
    "preact_resnet1001": lambda: paper.preact_resnet(1001),
    "wrn28_10": paper.wrn28_10,
}

# Parameter counts from ../shared/REFERENCE.md (torchvision, timm, the papers).
PARAMS = {
    "resnext50_32x4d": 25_028_904, "resnext101_32x8d": 88_791_336,
    "resnext101_64x4d": 83_455_272, "wide_resnet50_2": 68_883_240,
    "wide_resnet101_2": 126_886_696, "resnet18d": 11_708_744, "resnet50d": 25_576_264,
    "seresnet50": 28_088_024, "resnet34_a": 21_623_848, "resnet34_c": 22_716_840,
    "resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586, "resnet56": 853_018,
    "resnet110": 1_727_962, "resnet1202": 19_421_274, "preact_resnet164": 1_703_258,
    "wrn28_10": 36_479_194, "resnet50_v1": 25_557_032,
}  # fmt: skip
# MACs from REFERENCE.md (torchvision's table, and the paper's v1 figure).
MACS = {
    "resnext50_32x4d": 4_230_479_872, "resnext101_32x8d": 16_414_015_488,
    "resnext101_64x4d": 15_460_270_080, "wide_resnet50_2": 11_398_021_120,
    "wide_resnet101_2": 22_753_050_624,
}  # fmt: skip

REFERENCES: dict[str, Builder] = {
    **{n: (lambda n=n: getattr(torchvision.models, n)(weights=None)) for n in TORCHVISION},
    **{n: (lambda n=n: timm.create_model(n, pretrained=False)) for n in TIMM},
    **PAPERS,
}


def _ours(name: str) -> nn.Module:
    spec = load_spec_file(SPECS / f"{name}.yaml").spec
    return getattr(generated_module(name), spec.model_class)()  # type: ignore[no-any-return]


def _input(name: str) -> torch.Tensor:
    size = 32 if load_spec_file(SPECS / f"{name}.yaml").spec.input.hw[0] <= 32 else 64
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_loads_reference_weights_and_matches_outputs(name: str) -> None:
    reference = REFERENCES[name]()
    ours = _ours(name)
    randomise_norms(reference, seed=0)
    ref_sd = reference.state_dict()
    our_sd = ours.state_dict()
    assert sorted(our_sd) == sorted(ref_sd)
    assert {k: tuple(v.shape) for k, v in our_sd.items()} == {
        k: tuple(v.shape) for k, v in ref_sd.items()
    }
    ours.load_state_dict(ref_sd, strict=True)
    x = _input(name)
    for train in (False, True):
        reference.train(train)
        ours.train(train)
        with torch.no_grad():
            expected, got = reference(x), ours(x)
        assert torch.isfinite(expected).all()
        assert torch.equal(got, expected), f"train={train}: {(got - expected).abs().max()}"
    if name in PARAMS:
        assert sum(p.numel() for p in ours.parameters()) == PARAMS[name]


@pytest.mark.parametrize("name", sorted(p.stem for p in SPECS.glob("*.yaml")))
def test_static_analysis_equals_torch(name: str) -> None:
    """Params, MACs (FlopCounterMode / 2) and every stage's shape, for every shipped spec."""
    analysis = check(load_spec_file(SPECS / f"{name}.yaml"))
    model = _ours(name).eval()
    assert analysis.total_params == sum(p.numel() for p in model.parameters())
    if name in PARAMS:
        assert analysis.total_params == PARAMS[name]
    if name in MACS:
        assert analysis.total_macs == MACS[name]
    c, h, w = analysis.graph.graph["input_shape"]
    seen: dict[str, tuple[int, ...]] = {}
    for stage in analysis.graph.graph["stages"]:
        getattr(model, stage.name).register_forward_hook(
            lambda _m, _i, out, name=stage.name: seen.__setitem__(name, tuple(out.shape[1:]))
        )
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        logits = model(torch.randn(1, c, h, w))
    assert counter.get_total_flops() == 2 * analysis.total_macs
    assert tuple(logits.shape[1:]) == analysis.output_shape
    assert seen == {s.name: analysis.shapes[s.output] for s in analysis.graph.graph["stages"]}
    assert [f["channels"] for f in model.feature_info] == [s[0] for s in seen.values()]
