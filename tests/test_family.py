"""The papers' nets: every shipped spec that no library ships, against a hand-written reference.

The specs named after a timm or torchvision entrypoint are checked against the library in
tests/test_zoo.py; the rest (tests/reference/paper_models.py) are checked here the same way. Each
generated model loads its reference's state_dict with strict=True (the same keys, in the same
order) and gives bit-identical outputs, in train mode (batch statistics) and in eval mode (running
statistics, randomised so that they matter). Static params, MACs and per-stage shapes equal what
torch measures; params and MACs equal the published ones, for every spec that has them.

Torch runs big nets at 64x64, as torchvision's own model tests do for large models: the
comparisons are exact at any size, and the static numbers at the spec's own 224 are still checked
against the published ones. The CIFAR nets run at their own 32.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resgen
from resgen.checks import Analysis
from resgen.pipeline import check
from resgen.spec.load import LoadedSpec, load_spec_file
from tests.conftest import SPECS, generated_module, randomise_norms
from tests.reference import paper_models as paper
from tests.reference import zoo

Builder = Callable[[], nn.Module]

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
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904, "resnext101_32x8d": 88_791_336,
    "resnext101_64x4d": 83_455_272, "wide_resnet50_2": 68_883_240,
    "wide_resnet101_2": 126_886_696, "resnet18d": 11_708_744, "resnet50d": 25_576_264,
    "seresnet50": 28_088_024, "resnet34_a": 21_623_848, "resnet34_c": 22_716_840,
    "resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586, "resnet56": 853_018,
    "resnet110": 1_727_962, "resnet1202": 19_421_274, "preact_resnet164": 1_703_258,
    "wrn28_10": 36_479_194, "resnet50_v1": 25_557_032,
}  # fmt: skip
# MACs at 224x224 from REFERENCE.md (torchvision's table, and the paper's v1 figure).
MACS = {
    "resnet18": 1_814_073_344, "resnet34": 3_663_761_408, "resnet50": 4_089_184_256,
    "resnet101": 7_801_405_440, "resnet152": 11_513_626_624,
    "resnext50_32x4d": 4_230_479_872, "resnext101_32x8d": 16_414_015_488,
    "resnext101_64x4d": 15_460_270_080, "wide_resnet50_2": 11_398_021_120,
    "wide_resnet101_2": 22_753_050_624,
}  # fmt: skip

# Specs named after a library's entrypoint are tests/test_zoo.py's; this file measures the rest.
LIBRARY_NAMES = {name for _, name in [*zoo.entrypoints(), *zoo.regnet_entrypoints()]} | {
    name for module in ("res2net", "sknet", "resnetv2", "resnest")
    for name in zoo.timm_entrypoints(module)
}  # fmt: skip
OWN_SPECS = sorted(p.stem for p in SPECS.glob("*.yaml") if p.stem not in LIBRARY_NAMES)

MEASURED_SIZE = 64  # what torch runs big nets at


def _loaded(name: str) -> LoadedSpec:
    return load_spec_file(SPECS / f"{name}.yaml")


def _ours(name: str) -> nn.Module:
    return getattr(generated_module(name), _loaded(name).spec.model_class)()  # type: ignore[no-any-return]


def _input(name: str) -> torch.Tensor:
    size = 32 if _loaded(name).spec.input.hw[0] <= 32 else 64
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))


def _measured(name: str) -> Analysis:
    """The static analysis at the size torch runs the spec at: its own, or MEASURED_SIZE."""
    loaded = _loaded(name)
    if max(loaded.spec.input.hw) <= MEASURED_SIZE:
        return check(loaded)
    return check(resgen.load_spec({"extends": name, "input": {"size": MEASURED_SIZE}}))


def test_every_own_spec_has_a_paper_reference() -> None:
    assert sorted(PAPERS) == [n for n in OWN_SPECS if not n.startswith("plain")]  # test_plain.py


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_loads_reference_weights_and_matches_outputs(name: str) -> None:
    reference = PAPERS[name]()
    ours = _ours(name)
    randomise_norms(reference, seed=0)
    ref_sd = reference.state_dict()
    our_sd = ours.state_dict()
    assert list(our_sd) == list(ref_sd), "state_dict keys (and their order) differ"
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
        # Same ops in the same order on the same weights: bit-identical, not merely close.
        assert torch.equal(got, expected), f"train={train}: {(got - expected).abs().max()}"
    if name in PARAMS:
        assert sum(p.numel() for p in ours.parameters()) == PARAMS[name]


@pytest.mark.parametrize("name", sorted(PARAMS.keys() | MACS.keys()))
def test_published_params_and_macs(name: str) -> None:
    """The static counts at the spec's own size, against the published ones (no torch needed)."""
    full = check(_loaded(name))
    assert full.total_params == PARAMS.get(name, full.total_params)
    assert full.total_macs == MACS.get(name, full.total_macs)


@pytest.mark.parametrize("name", OWN_SPECS)
def test_static_analysis_equals_torch(name: str) -> None:
    """Params, MACs (FlopCounterMode / 2) and every stage's shape, for every spec of this file."""
    full = check(_loaded(name))
    model = _ours(name).eval()
    assert full.total_params == sum(p.numel() for p in model.parameters())
    analysis = _measured(name)
    assert analysis.total_params == full.total_params
    c, h, w = analysis.graph.graph["input_shape"]
    seen: dict[str, tuple[int, ...]] = {}
    for stage in analysis.graph.graph["stages"]:
        model.get_submodule(stage.name).register_forward_hook(
            lambda _m, _i, out, name=stage.name: seen.__setitem__(name, tuple(out.shape[1:]))
        )
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        logits = model(torch.randn(1, c, h, w))
    assert counter.get_total_flops() == 2 * analysis.total_macs
    assert tuple(logits.shape[1:]) == analysis.output_shape
    assert seen == {s.name: analysis.shapes[s.output] for s in analysis.graph.graph["stages"]}
    assert [f["channels"] for f in model.feature_info] == [s[0] for s in seen.values()]


def test_big_nets_are_measured_small() -> None:
    assert _measured("resnet50").graph.graph["input_shape"] == (3, 64, 64)
    assert _measured("resnet20").graph.graph["input_shape"] == (3, 32, 32)


def test_every_node_shape_matches_torch_resnet50() -> None:
    """Per module, not only per stage: hook every leaf module that owns a graph node."""
    analysis = _measured("resnet50")
    model = _ours("resnet50").eval()
    modules = dict(model.named_modules())
    seen: dict[str, tuple[int, ...]] = {}
    for node in analysis.graph.nodes:
        if node in modules and "#" not in node:
            modules[node].register_forward_hook(
                lambda _m, _i, out, node=node: seen.__setitem__(node, tuple(out.shape[1:]))
            )
    with torch.no_grad():
        model(torch.randn(1, *analysis.graph.graph["input_shape"]))
    assert len(seen) == sum(1 for n in analysis.graph.nodes if n in modules and "#" not in n) >= 100
    for node, shape in seen.items():
        assert analysis.shapes[node] == shape, node


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_scriptable_and_traceable(name: str) -> None:
    ours = _ours(name).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = ours(x)
        scripted = torch.jit.script(ours)
        assert torch.equal(scripted(x), expected)
        traced = torch.fx.symbolic_trace(ours)
        assert torch.equal(traced(x), expected)


def test_zero_init_residual_and_init_statistics() -> None:
    module = generated_module("resnet50")
    torch.manual_seed(0)
    model = module.ResNet50(zero_init_residual=True)
    for block in model.modules():
        if isinstance(block, module.Bottleneck):
            assert torch.count_nonzero(block.bn3.weight) == 0
            if block.downsample is not None:
                assert torch.all(block.downsample[1].weight == 1)
    # kaiming_normal_(fan_out, relu): std = sqrt(2 / (out_channels * k * k))
    w = model.layer3[1].conv2.weight
    expected = (2 / (w.shape[0] * 9)) ** 0.5
    assert abs(w.std().item() - expected) / expected < 0.05


def test_constructor_arguments() -> None:
    module = generated_module("resnet18")
    model = module.ResNet18(num_classes=10, in_channels=1).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 64, 64))
    assert out.shape == (2, 10)
