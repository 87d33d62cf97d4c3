"""res2net, selective kernel and resnest blocks with the switches no shipped spec of theirs uses.

The zoo tests (tests/test_zoo_res2net.py, test_zoo_sknet.py, test_zoo_resnest.py) hold the
generated models to timm's; these small specs combine the new block kinds with the rest of the
language: dilation past an output stride, grouped and single-split Res2Nets, SE and ECA,
drop-path, plain and pad shortcuts, group norm, SiLU, mixed stages, an SK conv over all its input
and `reduce_first`, ResNeSts of radix 1 and 3 with avd first, last and none. Each compiles,
draws, runs with the shapes, parameters and MACs (FlopCounterMode / 2) the analysis states, and
its deploy build gives the trained module's eval outputs.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import resgen
from resgen.api import load_module
from resgen.codegen.deploy import render_deploy_source
from resgen.draw import draw_dot
from resgen.pipeline import check
from tests.conftest import randomise_norms

pytestmark = pytest.mark.usefixtures("one_torch_thread")

_TWO = [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}]
SPECS: dict[str, dict[str, Any]] = {
    "r2_dilated_se": {
        "block": {"type": "res2net", "base_width": 26, "scale": 4, "attention": {"type": "se"}},
        "output_stride": 8, "drop_path": 0.1,
        "stages": [*_TWO, {"depth": 2, "width": 16, "stride": 2}],
    },
    "r2_grouped_eca_gn": {
        "block": {"type": "res2net", "groups": 2, "base_width": 8, "scale": 3,
                  "attention": {"type": "eca"}},
        "norm": {"type": "group", "groups": 2}, "act": "silu", "stages": _TWO,
    },
    "r2_one_split_pad": {
        "block": {"type": "res2net", "base_width": 32, "scale": 1}, "shortcut": "pad",
        "stages": _TWO,
    },
    "r2_mixed_plain": {
        "block": {"type": "res2net", "base_width": 16, "scale": 2},
        "stem": {"type": "deep", "widths": [8, 8, 16]}, "shortcut": "avgpool_projection",
        "stages": [{"depth": 1, "width": 8, "block": "basic"},
                   {"depth": 2, "width": 8, "stride": 2, "shortcut": "none"}],
    },
    "rn_dilated_se": {
        "block": {"type": "resnest", "attention": {"type": "se"}}, "output_stride": 8,
        "drop_path": 0.1, "stages": [*_TWO, {"depth": 2, "width": 16, "stride": 2}],
    },
    "rn_radix1_avd_first_mixed": {
        "block": {"type": "resnest", "groups": 2, "base_width": 16,
                  "split_attention": {"radix": 1, "avd": "first", "reduction": 2, "divisor": 4,
                                      "min_channels": 8}},
        "shortcut": "projection",
        "stages": [{"depth": 1, "width": 8, "block": "basic"}, *_TWO[1:],
                   {"depth": 1, "width": 16, "stride": 2, "shortcut": "none"}],
    },
    "rn_radix3_grouped_avd_none_pad": {
        "block": {"type": "resnest", "groups": 2, "base_width": 24,
                  "split_attention": {"radix": 3, "avd": "none"}},
        "shortcut": "pad", "stages": _TWO,
    },
    "sk_mixed_dilated": {
        "block": {"type": "sk_bottleneck", "selective_kernel": {"split_input": False}},
        "output_stride": 16, "drop_path": 0.1,
        "stages": [{"depth": 1, "width": 8, "block": "sk_basic"},
                   {"depth": 2, "width": 8, "stride": 2}, {"depth": 2, "width": 16, "stride": 2}],
    },
    "sk_se_reduce_first": {
        "block": {"type": "sk_bottleneck", "groups": 4, "base_width": 16, "reduce_first": 2,
                  "attention": {"type": "se"}},
        "shortcut": "projection_all",
        "stages": [{"depth": 2, "width": 16}, {"depth": 2, "width": 32, "stride": 2}],
    },
}  # fmt: skip


def _loaded(name: str) -> resgen.LoadedSpec:
    return resgen.load_spec({"name": name, "input": {"size": 37}, "stem": {"width": 8},
                             "head": {"classes": 5}, **SPECS[name]})  # fmt: skip


@pytest.mark.parametrize("name", sorted(SPECS))
def test_runs_as_analysed_and_deploys(name: str) -> None:
    loaded = _loaded(name)
    analysis = check(loaded)
    assert not [d for d in analysis.diagnostics if d.severity.value == "error"]
    for detail in ("stage", "block", "op"):
        assert draw_dot(loaded, analysis, detail).startswith("digraph")
    model = getattr(load_module(resgen.compile_source(loaded), name), loaded.spec.model_class)()
    randomise_norms(model, seed=0)
    model.eval()
    x = torch.randn(2, 3, 37, 37, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        expected = model(x)
    assert tuple(expected.shape[1:]) == analysis.output_shape
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    assert counter.get_total_flops() == 2 * len(x) * analysis.total_macs
    deploy_module = load_module(render_deploy_source(loaded, analysis), f"{name}_deploy")
    deploy = getattr(deploy_module, f"{loaded.spec.model_class}Deploy").from_trained(model)
    with torch.inference_mode():
        got = deploy(x)
    scale = float(expected.abs().max())
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * scale)
    model.train()
    model(x).sum().backward()  # trains: every weight gets a gradient
