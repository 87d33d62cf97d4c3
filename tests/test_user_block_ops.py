"""The `attention` and `reshape` ops of user blocks (issue 23), checked against torch.

- A block with both (SE with its hidden width given, ECA by its default kernel, a channel
  shuffle and a three-way permutation) runs with the shapes, parameters and MACs the analysis
  states (FlopCounterMode / 2), trains, draws at every detail, lints, and its deploy build gives
  its eval outputs.
- The generated reshape is the permutation the spec says, on a tensor of channel numbers.
- The attention op's defaults are timm's: SE's hidden width and ECA's kernel, for every width.
- Mistakes are diagnostics at their line: an order that is no permutation, dims that do not
  split the channels, two -1s, an even ECA kernel; a key the kind ignores is an inert-key warning.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch

import resgen
from resgen.api import check_spec, load_module
from resgen.codegen.deploy import render_deploy_source
from resgen.draw import draw_dot
from resgen.graph import ir
from resgen.spec.expr import evaluate, parse_expr
from resgen.spec.user_ops import ATTENTION_DEFAULTS
from tests.conftest import randomise_norms
from tests.test_user_blocks import (
    _assert_deploy_gives,
    _counted,
    _errors,
    _line_of,
    _lint,
    _one_block,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHUFFLE: dict[str, Any] = {
    "name": "shuffle",
    "input": {"size": 20},
    "stem": {"type": "cifar", "width": 8},
    "blocks": {
        "shuffle_unit": {
            "params": {"shuffle_groups": {"default": 2}},
            "expansion": 2,
            "ops": [
                {"op": "conv", "name": "reduce", "out": "mid_channels", "groups": 2},
                {"op": "norm", "name": "bn1"},
                {"op": "act", "name": "relu"},
                {"op": "reshape", "name": "shuffle", "dims": ["shuffle_groups", -1],
                 "order": [1, 0]},
                {"op": "conv", "name": "dw", "out": "mid_channels", "kernel": 3,
                 "stride": "stride", "groups": "mid_channels"},
                {"op": "norm", "name": "bn2"},
                {"op": "attention", "name": "se", "kind": "se", "hidden": "mid_channels // 4"},
                {"op": "reshape", "name": "mix", "dims": [2, 2, -1], "order": [2, 0, 1]},
                {"op": "conv", "name": "expand", "out": "out_channels", "groups": 2},
                {"op": "norm", "name": "bn3"},
                {"op": "attention", "name": "eca", "kind": "eca"},
            ],
        },
    },
    "block": {"type": "shuffle_unit"},
    "drop_path": 0.1,
    "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}],
    "head": {"classes": 5},
}  # fmt: skip


def test_attention_and_reshape_run_as_analysed(tmp_path: Path) -> None:
    loaded = resgen.load_spec(SHUFFLE)
    loaded, analysis = check_spec(loaded)
    source = resgen.compile_source(loaded)
    _lint(source, tmp_path)
    # The helper modules the built-in blocks call, under the ops' names (timm's keys).
    assert "self.se = SqueezeExcite(mid_channels, mid_channels // 4)" in source
    assert "self.eca = EfficientChannelAttention(" in source and "def log2(" in source
    assert ".unflatten(1, (self.shuffle_groups, -1)).transpose(1, 2).flatten(1, 2)" in source
    assert ".unflatten(1, (2, 2, -1)).permute(0, 3, 1, 2, 4, 5).flatten(1, 3)" in source
    for detail in ("stage", "block", "op"):
        assert draw_dot(loaded, analysis, detail).startswith("digraph")
    dot = draw_dot(loaded, analysis, "op")
    assert "regroup channels (2, 2, 4) as (4, 2, 2)" in dot
    model = load_module(source, "shuffle").Shuffle()
    keys = [k for k in model.state_dict() if k.startswith("layer1.0.")]
    assert {"layer1.0.se.fc1.weight", "layer1.0.se.fc2.bias", "layer1.0.eca.conv.weight"} <= set(
        keys
    )
    randomise_norms(model, seed=1)
    model.eval()
    x = torch.randn(2, 3, 20, 20, generator=torch.Generator().manual_seed(2))
    out, flops = _counted(model, x)
    assert tuple(out.shape[1:]) == analysis.output_shape
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    assert flops == 2 * len(x) * analysis.total_macs
    model.train()
    model(x).sum().backward()
    model.eval()
    deploy = load_module(render_deploy_source(loaded, analysis), "shuffle_deploy")
    _assert_deploy_gives(model, deploy.ShuffleDeploy.from_trained(model), x)


@pytest.mark.parametrize(
    ("dims", "order"), [([2, -1], [1, 0]), ([2, 3, -1], [1, 0, 2]), ([2, 2, 3], [2, 0, 1]),
                        ([3, 2, 2, 1], [3, 1, 0, 2])]
)  # fmt: skip
def test_a_reshape_is_the_permutation_it_says(dims: list[int], order: list[int]) -> None:
    """The generated expression, run on a tensor of channel numbers, puts channel
    (i0, i1, ...) of the blocks at the position the order gives, as numpy's transpose does."""
    channels = 12
    ops: list[dict[str, Any]] = [
        {"op": "conv", "name": "c", "out": channels, "stride": "stride"},
        {"op": "reshape", "name": "r", "dims": dims, "order": order},
    ]
    spec = _one_block(ops)
    spec["stages"] = [{"depth": 1, "width": channels}]
    source = resgen.compile_source(resgen.load_spec(spec))
    (text,) = re.findall(r"= out\.(unflatten\(.*\))$", source, flags=re.M)
    x = torch.arange(channels).view(1, channels, 1, 1).expand(1, channels, 2, 3).contiguous()
    got = eval(f"x.{text}", {"x": x})  # resgen's own generated text, in a test
    full = [channels // math.prod(d for d in dims if d != -1) if d == -1 else d for d in dims]
    expected = torch.arange(channels).view(full).permute(order).reshape(-1)
    assert torch.equal(got[0, :, 1, 2], expected)
    assert got.shape == x.shape


def test_the_attention_defaults_are_timms() -> None:
    """SE's hidden width is timm's make_divisible(C / 16, 8) with round_limit 0; ECA's kernel is
    timm's int(|log2(C) + 1| / 2) made odd, at least 3 (float math here, integers in resgen)."""
    se = parse_expr(ATTENTION_DEFAULTS["se"], frozenset("C"))
    eca = parse_expr(ATTENTION_DEFAULTS["eca"], frozenset("C"))
    for c in range(1, 4097):
        assert evaluate(se, {"C": c}) == max(8, int(c / 16 + 8 / 2) // 8 * 8), c
        t = int(abs(math.log(c, 2) + 1) / 2)
        assert evaluate(eca, {"C": c}) == max(t if t % 2 else t + 1, 3), c


def test_the_attention_op_matches_the_builtin_attention() -> None:
    """An `attention` op after the last norm gives the graph of the spec's `block.attention`:
    the same nodes and ops (and so params and MACs), for SE and ECA, at odd widths too."""
    for kind in ("se", "eca"):
        base: dict[str, Any] = {
            "name": "net", "input": {"size": 16}, "stem": {"type": "cifar", "width": 24},
            "stages": [{"depth": 1, "width": 24}, {"depth": 1, "width": 88, "stride": 2}],
        }  # fmt: skip
        builtin = {**base, "block": {"type": "basic", "attention": {"type": kind}}}
        ops = [
            {"op": "conv", "name": "conv1", "out": "mid_channels", "kernel": 3,
             "stride": "stride"},
            {"op": "norm", "name": "bn1"},
            {"op": "act", "name": "relu"},
            {"op": "conv", "name": "conv2", "out": "out_channels", "kernel": 3},
            {"op": "norm", "name": "bn2"},
            {"op": "attention", "name": "se", "kind": kind},
        ]  # fmt: skip
        user = {**base, "blocks": {"b": {"ops": ops}}, "block": {"type": "b"}}
        graphs = [check_spec(s)[1].graph for s in (builtin, user)]
        ops_of = [{n: ir.op(g, n) for n in g if ".se" in n} for g in graphs]
        # Per block: the pool, fc1, act, fc2 (or the conv), the gate and the multiply.
        assert ops_of[0] == ops_of[1] and len(ops_of[0]) == 2 * (6 if kind == "se" else 4)


def test_reshape_and_attention_mistakes_are_located() -> None:
    """An order that is no permutation and two -1s are errors of the spec; dims that do not
    split this block's channels and an even ECA kernel are errors of the block, with values."""
    ops: list[dict[str, Any]] = [
        {"op": "conv", "name": "c", "out": "out_channels", "stride": "stride"},
        {"op": "reshape", "name": "r2", "dims": [2, -1], "order": [0, 0]},
        {"op": "reshape", "name": "r3", "dims": [-1, -1], "order": [1, 0]},
    ]
    spec = _one_block(ops)
    errors = _errors(spec)
    line = _line_of(spec, '"r2"') + 5  # its order
    assert any(e.startswith(f"{line}:") and "order [0, 0] is no permutation" in e
               for e in errors), errors  # fmt: skip
    line = _line_of(spec, '"r3"') + 1  # its dims
    assert any(e.startswith(f"{line}:") and "more than one dim is -1" in e for e in errors), errors
    ops = [
        {"op": "conv", "name": "c", "out": "out_channels", "stride": "stride"},
        {"op": "reshape", "name": "r1", "dims": [3, -1], "order": [1, 0]},
        {"op": "attention", "name": "gate", "kind": "eca", "kernel": "out_channels // 4"},
    ]
    spec = _one_block(ops)
    errors = _errors(spec)
    line = _line_of(spec, '"r1"') + 1
    assert any(e.startswith(f"{line}:") and "channels do not split as 3 x -1 in stage" in e
               for e in errors), errors  # fmt: skip
    line = _line_of(spec, '"kernel": "out_channels // 4"')
    assert any(e.startswith(f"{line}:") and "kernel gives 4 in stage 2 block 1; ECA's kernel is "
               "odd" in e for e in errors), errors  # fmt: skip


def test_a_key_the_attention_kind_ignores_is_a_warning() -> None:
    ops: list[dict[str, Any]] = [
        {"op": "conv", "name": "c", "out": "out_channels", "stride": "stride"},
        {"op": "attention", "name": "gate", "kind": "eca", "hidden": 4},
    ]
    _, analysis = check_spec(_one_block(ops))
    (warning,) = [d for d in analysis.diagnostics if d.code == "inert-key"]
    assert "`hidden` is SE's" in warning.message and "kind: se" in (warning.hint or "")
