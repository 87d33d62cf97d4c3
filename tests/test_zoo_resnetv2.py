"""Every timm ResNetV2 and BiT (module "resnetv2") as a built-in spec, against timm.

The entrypoints are enumerated when the tests run, so a new one fails until it has a spec. Each
spec (`layout: resnetv2`: timm's names, pre-activation blocks, a bare-conv stem, a final `norm`,
a 1x1-conv classifier) compiles to a graph with the reference's state_dict keys and shapes, its
parameters and its MACs (FlopCounterMode / 2) at 64 px and an odd size, on `meta`. The generated
model loads the reference's weights strictly, in the same key order, and gives bit-identical
logits in eval and train mode with random weights and norm statistics (BatchNorm, GroupNorm,
EvoNorm-S0, FRN; BiT's weight-standardised convs and zero-padded stem pool); the deploy build
(norms folded, standardised weights frozen into plain convs) gives the same logits within float
rounding. BiT's widest (up to 936 M parameters) are checked on `meta` only.
"""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resgen
from resgen.pipeline import check
from resgen.resources import builtin_spec_names, builtin_spec_path
from resgen.spec.load import load_spec_file
from tests import test_zoo
from tests.conftest import generated_module
from tests.reference import zoo

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ENTRIES = zoo.timm_entrypoints("resnetv2")
# BiT's widest take seconds to build on a CPU; keys, shapes and counts are checked on `meta`.
GIANTS = {"resnetv2_50x3_bit", "resnetv2_101x3_bit", "resnetv2_152x2_bit", "resnetv2_152x4_bit"}
SIZES = (64, 33)


def test_every_resnetv2_has_a_builtin_spec() -> None:
    assert len(ENTRIES) == 20
    missing = sorted(set(ENTRIES) - set(builtin_spec_names()))
    assert not missing, f"timm ResNetV2 entrypoints without a spec: {missing}"


def _reference(name: str, device: str) -> nn.Module:
    with test_zoo._no_init(), torch.device(device):
        return timm.create_model(name, pretrained=False)


def _ours(name: str, device: str) -> nn.Module:
    spec = load_spec_file(builtin_spec_path(name)).spec  # type: ignore[arg-type]
    with test_zoo._no_init(), torch.device(device):
        return getattr(generated_module(name), spec.model_class)()  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ENTRIES)
def test_graph_and_counts_equal_the_reference(name: str) -> None:
    """Keys, order and shapes; params; MACs and the output shape at two sizes (on meta)."""
    reference, ours = _reference(name, "meta"), _ours(name, "meta")
    ref_sd, our_sd = reference.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd)
    assert {k: v.shape for k, v in our_sd.items()} == {k: v.shape for k, v in ref_sd.items()}
    for size in SIZES:
        analysis = check(resgen.load_spec({"extends": name, "input": {"size": size}}))
        assert analysis.total_params == sum(p.numel() for p in reference.parameters())
        x = torch.empty(1, 3, size, size, device="meta")
        for model in (reference, ours):
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                logits = model.eval()(x)
            assert counter.get_total_flops() == 2 * analysis.total_macs
            assert tuple(logits.shape[1:]) == analysis.output_shape


@pytest.mark.parametrize("name", [n for n in ENTRIES if n not in GIANTS])
def test_generated_matches_reference(name: str) -> None:
    """Strict load, bit-identical logits in eval and train mode, the deploy build within
    rounding."""
    reference, ours = _reference(name, "cpu"), _ours(name, "cpu")
    state = reference.state_dict()
    test_zoo._fill(state)
    ours.load_state_dict(state, strict=True, assign=True)
    gen = torch.Generator().manual_seed(1)
    inputs = [torch.randn(2, 3, size, size, generator=gen) for size in SIZES]
    spec = load_spec_file(builtin_spec_path(name)).spec  # type: ignore[arg-type]
    deploy_class = getattr(generated_module(f"{name}_deploy"), f"{spec.model_class}Deploy")
    deploy = deploy_class.from_trained(ours.eval()).eval()
    for train in (False, True):  # eval first, while the running statistics are the random ones
        reference.train(train)
        ours.train(train)
        for x in inputs:
            with torch.no_grad():
                expected = reference(x)
                got = ours(x)
                if not train:
                    folded = deploy(x)
                    torch.testing.assert_close(folded, expected, rtol=1e-4, atol=1e-4)
            assert torch.isfinite(expected).all() and expected.abs().max() > 0.1
            assert torch.equal(got, expected), f"train={train} {tuple(x.shape)}"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"block": {"type": "bottleneck", "preact": False}}, "block"),
        ({"stem": {"type": "conv7", "norm": True}}, "stem"),
        ({"shortcut": "pad"}, "shortcut"),
        ({"drop_path": 0.1}, "drop_path"),
        ({"block": {"type": "bottleneck", "preact": True, "attention": {"type": "se"}}}, "block"),
    ],
)
def test_what_the_resnetv2_layout_refuses(change: dict[str, object], key: str) -> None:
    """A switch timm's ResNetV2 has no counterpart for is an error at its key."""
    with pytest.raises(resgen.ResgenError) as raised:
        check(resgen.load_spec({"extends": "resnetv2_50", **change}))
    codes = [d.code for d in raised.value.diagnostics]
    assert codes and set(codes) == {"resnetv2-unsupported"}, codes
