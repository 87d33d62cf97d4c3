"""The five classic ResNets are weight- and output-identical to torchvision's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from resgen.pipeline import check
from resgen.spec.load import load_spec_file
from tests.conftest import SPECS, generated_module

# (spec name, torchvision builder, params from REFERENCE.md, MACs from REFERENCE.md)
MODELS = [
    ("resnet18", "resnet18", 11_689_512, 1_814_073_344),
    ("resnet34", "resnet34", 21_797_672, 3_663_761_408),
    ("resnet50", "resnet50", 25_557_032, 4_089_184_256),
    ("resnet101", "resnet101", 44_549_160, 7_801_405_440),
    ("resnet152", "resnet152", 60_192_808, 11_513_626_624),
]


def _pair(name: str, builder: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    module = generated_module(name)
    cls = getattr(module, load_spec_file(SPECS / f"{name}.yaml").spec.model_class)
    torch.manual_seed(0)
    reference = getattr(torchvision.models, builder)(weights=None).eval()
    ours = cls().eval()
    return ours, reference


@pytest.mark.parametrize(("name", "builder", "params", "macs"), MODELS, ids=[m[0] for m in MODELS])
def test_state_dict_load_and_logits_match(name: str, builder: str, params: int, macs: int) -> None:
    ours, reference = _pair(name, builder)
    ref_sd = reference.state_dict()
    our_sd = ours.state_dict()
    assert list(our_sd) == list(ref_sd), "state_dict keys (and their order) differ"
    assert {k: v.shape for k, v in our_sd.items()} == {k: v.shape for k, v in ref_sd.items()}
    ours.load_state_dict(ref_sd, strict=True)
    # Make BN statistics non-trivial so the comparison exercises them too.
    with torch.no_grad():
        for key, value in ours.state_dict().items():
            if key.endswith("running_var"):
                value.uniform_(0.5, 2.0)
            elif key.endswith("running_mean"):
                value.normal_(0, 0.1)
    reference.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours_out, ref_out = ours(x), reference(x)
    # Same ops in the same order on the same weights: bit-identical, not merely close.
    assert torch.equal(ours_out, ref_out), (ours_out - ref_out).abs().max()
    assert sum(p.numel() for p in ours.parameters()) == params


@pytest.mark.parametrize(("name", "builder", "params", "macs"), MODELS, ids=[m[0] for m in MODELS])
def test_static_numbers_equal_torch(name: str, builder: str, params: int, macs: int) -> None:
    loaded = load_spec_file(SPECS / f"{name}.yaml")
    analysis = check(loaded)
    assert analysis.total_params == params
    assert analysis.total_macs == macs
    ours, _ = _pair(name, builder)
    assert analysis.total_params == sum(p.numel() for p in ours.parameters())
    c, h, w = analysis.graph.graph["input_shape"]
    x = torch.randn(1, c, h, w)
    seen: dict[str, tuple[int, ...]] = {}
    hooks = [
        getattr(ours, stage.name).register_forward_hook(
            lambda _m, _i, out, name=stage.name: seen.__setitem__(name, tuple(out.shape[1:]))
        )
        for stage in analysis.graph.graph["stages"]
    ]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        logits = ours(x)
    for hook in hooks:
        hook.remove()
    assert counter.get_total_flops() == 2 * analysis.total_macs
    assert tuple(logits.shape[1:]) == analysis.output_shape
    static = {s.name: analysis.shapes[s.output] for s in analysis.graph.graph["stages"]}
    assert seen == static


def test_every_node_shape_matches_torch_resnet50() -> None:
    """Per module, not only per stage: hook every leaf module that owns a graph node."""
    analysis = check(load_spec_file(SPECS / "resnet50.yaml"))
    model, _ = _pair("resnet50", "resnet50")
    modules = dict(model.named_modules())
    seen: dict[str, tuple[int, ...]] = {}
    for node in analysis.graph.nodes:
        if node in modules and "#" not in node:
            modules[node].register_forward_hook(
                lambda _m, _i, out, node=node: seen.__setitem__(node, tuple(out.shape[1:]))
            )
    with torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    assert len(seen) == sum(1 for n in analysis.graph.nodes if n in modules and "#" not in n) >= 100
    for node, shape in seen.items():
        assert analysis.shapes[node] == shape, node


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_scriptable_and_traceable(name: str) -> None:
    ours, _ = _pair(name, name)
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


def test_generated_file_imports_only_torch() -> None:
    import ast

    for path in sorted(Path(generated_module("resnet18").__file__).parent.glob("resnet*.py")):
        tree = ast.parse(path.read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add((node.module or "").split(".")[0])
        assert imported == {"torch"}, path
