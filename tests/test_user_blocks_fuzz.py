"""Property-based test of user blocks: any mutation of a block's spec gives diagnostics, never a
crash, and any mutation that still compiles runs with the shapes, parameters and MACs its
analysis states (FlopCounterMode / 2), and trains (its backward runs).

The mutations put values of every kind (names of its ops, activations, norm kinds, expressions,
bad numbers, wrong types) at any key or list item of the `blocks:` section and `block.params`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

import resgen
from resgen.api import check_spec, load_module
from resgen.diagnostics import ResgenError
from tests.test_user_blocks import KITCHEN

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VALUES: list[Any] = [
    0, -1, 1, 2, 3, 5, 64, 10**9, 1.5, True, None, [], {}, "", "x",
    "in_channels", "out_channels", "mid_channels", "stride", "groups", "dilation",
    "mid_channels // 0", "stride - 1", "out_channels * 1000", "-in_channels", "k",
    "make_divisible(0, 0)", "max(1, 2, 3, 4, 5, 6, 7, 8, 9)", "min(mid_channels, 4)",
    "pre_act", "paths.0", "cat", "smooth", "gate", "value", "gated", "same", "mixed", "peak",
    "proj", "proj_norm", "skip", "relu", "gelu", "sigmoid", "batch", "layer", "group",
    "frozen_batch", "evonorm_s0", "frn", "avg", "max", "blur", "none", "conv", "add", "mul",
    "concat", "identity", "scale",
    "global_pool", {"op": "global_pool", "name": "squeeze"}, "channel_conv", "eca.conv",
    "log2(out_channels) // 2 * 2 + 1", "log2(0)", {"op": "channel_conv", "name": "cc"},
    "split", "softmax", "attn", "lo", "w.0", {"op": "split", "name": "sp", "channels": 4},
    {"op": "softmax", "name": "sm", "paths": 2}, "strided", "projecting", "not_projecting",
    ["proj", "value"], ["x", "pre_act"], {"default": 2}, {"op": "identity", "name": "more"},
]  # fmt: skip


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(obj, dict):
        items: Any = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    else:
        return
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


PATHS = [p for p in _paths(KITCHEN) if p[0] in ("blocks", "block")]


def _mutated(changes: list[tuple[tuple[Any, ...], Any]]) -> dict[str, Any]:
    spec = copy.deepcopy(KITCHEN)
    for path, value in changes:
        node: Any = spec
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = copy.deepcopy(value)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change removed the place
    return spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(VALUES)), min_size=1,
                max_size=3))  # fmt: skip
def test_a_mutated_block_gives_diagnostics_or_runs_as_analysed(
    changes: list[tuple[tuple[Any, ...], Any]],
) -> None:
    spec = _mutated(changes)
    try:
        loaded, analysis = check_spec(spec)
        source = resgen.compile_source(loaded)
    except ResgenError as exc:
        assert exc.diagnostics
        assert all(d.location is not None for d in exc.diagnostics)
        return
    model = load_module(source, "mutated").Kitchen().eval()
    x = torch.randn(1, 3, 19, 19, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(x)
    assert tuple(out.shape[1:]) == analysis.output_shape
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    assert counter.get_total_flops() == 2 * analysis.total_macs
    model.train()
    model(torch.randn(2, 3, 19, 19)).sum().backward()
