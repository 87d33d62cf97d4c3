"""Issue 15's features where no timm model combines them: pre-activation blocks, the v1 stride,
dilation, per-block widths, wide projections, conv stem pools and both anti-aliasing kinds.

Each combination compiles; its static params, MACs and output shape equal what torch measures;
the deploy build equals the trained module in eval mode; and it trains (a backward pass).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import resgen
from resgen.api import load_module
from resgen.codegen.deploy import render_deploy_source
from resgen.pipeline import check
from tests.conftest import randomise_norms

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _spec(block: str, preact: bool, stride_on: str, aa: str, pool: str) -> dict[str, Any]:
    widths = {"conv1": 6, "conv2": 10} if block == "bottleneck" else {"conv1": 6}
    return {
        "name": f"combo_{block}_{int(preact)}_{stride_on[0]}_{aa}_{pool}",
        "input": {"size": 64},
        "stem": {"type": "deep", "widths": [8, 8, 16], "pool": pool},
        "block": {"type": block, "preact": preact, "stride_on": stride_on, "reduce_first": 2},
        "shortcut": "projection",
        "shortcut_kernel": 3,
        "anti_alias": aa,
        "output_stride": 16,
        "stages": [
            {"depth": 2, "width": 8, "blocks": {2: widths}},
            {"depth": 2, "width": 16, "stride": 2},
            {"depth": 2, "width": 16, "stride": 2},
        ],
    }


COMBOS = [
    _spec(block, preact, stride_on, aa, pool)
    for block, preact, (stride_on, aa), pool in itertools.product(
        ["basic", "bottleneck"], [False, True], [("3x3", "avg"), ("1x1", "blur")], ["max", "conv"]
    )
]


@pytest.mark.parametrize("spec", COMBOS, ids=[c["name"] for c in COMBOS])
def test_combination_counts_deploys_and_trains(spec: dict[str, Any]) -> None:
    loaded = resgen.load_spec(spec)
    analysis = check(loaded)
    assert not [d for d in analysis.diagnostics if d.is_error]
    module = load_module(resgen.compile_source(loaded), spec["name"])
    model = getattr(module, loaded.spec.model_class)().eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = model(x[:1])
    assert tuple(out.shape[1:]) == analysis.output_shape
    assert counter.get_total_flops() == 2 * analysis.total_macs
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    randomise_norms(model, seed=0)
    source = render_deploy_source(loaded, analysis)
    deploy = getattr(
        load_module(source, spec["name"] + "_deploy"), loaded.spec.model_class + "Deploy"
    )
    with torch.inference_mode():
        want, got = model(x), deploy.from_trained(model)(x)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    model.train()
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
