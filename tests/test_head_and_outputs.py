"""The keys timm's RegNetV and RegNetZ brought, on every block kind: `block.linear_out`,
`shortcut: identity_or_none`, `head.final` and `head.features`.

They are spec keys, not RegNet special cases, so each combination with basic, bottleneck and
pre-activation blocks compiles; its static params, MACs and output shape equal what torch
measures; the module has exactly the nodes the graph says (no activation after a linear-out add,
no shortcut where the shape changes); the deploy build equals it in eval mode; and it trains.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resgen
from resgen.api import load_module
from resgen.codegen.deploy import render_deploy_source
from resgen.graph import ir
from resgen.pipeline import check
from tests.conftest import randomise_norms

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _spec(block: str, preact: bool, final: str, features: int | None) -> dict[str, Any]:
    head: dict[str, Any] = {"classes": 10, "final": final}
    if features:
        head["features"] = features
    return {
        "name": f"head_{block}_{int(preact)}_{final}_{features or 0}",
        "input": {"size": 32},
        "stem": {"type": "cifar", "norm": not preact},
        "block": {"type": block, "preact": preact, **({} if preact else {"linear_out": True})},
        "shortcut": "identity_or_none",
        "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}],
        "head": head,
    }


COMBOS = [
    _spec(block, preact, final, features)
    for block, preact, final, features in itertools.product(
        ["basic", "bottleneck"], [False, True], ["none", "act", "norm_act"], [None, 24]
    )
]


@pytest.mark.parametrize("spec", COMBOS, ids=[c["name"] for c in COMBOS])
def test_combination_counts_deploys_and_trains(spec: dict[str, Any]) -> None:
    loaded = resgen.load_spec(spec)
    analysis = check(loaded)
    assert not [d for d in analysis.diagnostics if d.is_error]
    graph = analysis.graph
    # The graph says it: a stage's first block adds nothing (its shape changes), the rest do,
    # and with linear_out nothing follows a block's add.
    for stage in ir.stages_of(graph):
        first, *rest = stage.blocks
        changes = first.stride > 1 or first.in_channels != first.out_channels
        assert (first.add is None) == changes and all(b.add is not None for b in rest)
        assert all(b.output == b.add for b in rest)
    features = spec["head"].get("features")
    assert (f"final_conv.{0}" in graph) == bool(features)
    module = load_module(resgen.compile_source(loaded), spec["name"])
    model = getattr(module, loaded.spec.model_class)().eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = model(x[:1])
    assert tuple(out.shape[1:]) == analysis.output_shape
    assert counter.get_total_flops() == 2 * analysis.total_macs
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    fc = model.get_submodule("fc")
    last = 16 * (4 if spec["block"]["type"] == "bottleneck" else 1)
    assert isinstance(fc, nn.Linear) and fc.in_features == (features or last)
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


def test_head_final_act_is_one_activation_before_the_pool() -> None:
    """`final: act` is an activation alone: no norm (RegNetV's final_conv), none after it."""
    graph = check(resgen.load_spec(_spec("basic", True, "act", None))).graph
    before_pool = list(graph.predecessors("avgpool"))
    assert [type(ir.op(graph, n)).__name__ for n in before_pool] == ["Act"]
    assert "bn_final" not in graph


def test_linear_out_on_preact_blocks_is_an_inert_key() -> None:
    """Pre-activation blocks never activate after the add: `linear_out` there says nothing."""
    spec = _spec("basic", True, "none", None)
    spec["block"]["linear_out"] = True
    diagnostics = check(resgen.load_spec(spec)).diagnostics
    assert [d.code for d in diagnostics] == ["inert-key"]
    assert "linear_out" in diagnostics[0].message
