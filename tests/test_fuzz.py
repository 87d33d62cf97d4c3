"""Property-based tests: any valid spec compiles, runs and matches its static analysis; any
mutated spec gives diagnostics, never a crash.

CI runs the `ci` profile (a few hundred examples, about a minute). `make fuzz` runs the `fuzz`
profile, thousands of examples:
    HYPOTHESIS_PROFILE=fuzz pytest tests/test_fuzz.py -p no:cacheprovider
"""

from __future__ import annotations

import ast
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from torch.utils.flop_counter import FlopCounterMode

from resgen.api import load_module, load_spec
from resgen.cli import main
from resgen.diagnostics import ResgenError
from resgen.graph import ir
from resgen.pipeline import compile_spec
from resgen.spec.load import load_spec_file
from tests.strategies import mutated_specs, valid_specs

# (valid, mutated) examples per profile; the mutation test is cheap, the torch test is not.
EXAMPLES = {"ci": (40, 200), "fuzz": (3000, 20000)}
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
VALID, MUTATED = EXAMPLES.get(PROFILE, EXAMPLES["ci"])
for profile in EXAMPLES:
    settings.register_profile(
        profile,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
settings.load_profile(PROFILE if PROFILE in EXAMPLES else "ci")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny tensors: threads only contend (10x slower on a shared 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


_ACTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "silu": F.silu,
    "gelu": F.gelu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
    "elu": F.elu,
    "mish": F.mish,
    "hardswish": F.hardswish,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def _interpret(graph: ir.Graph, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Evaluate the IR itself in eval mode: convs, norms and linears through the model's own
    modules (node ids are their paths), everything else from the node's attributes."""
    values: dict[str, torch.Tensor] = {}
    for node, data in ir.nodes(graph):
        attrs = {"kind": data.kind, **dict(ir.op_fields(data.op))}
        ins = [
            values[src]
            for src, _, _ in sorted(graph.in_edges(node, data="port"), key=lambda e: int(e[2]))
        ]
        kind = attrs["kind"]
        module = node.split("#")[0]
        if kind == ir.INPUT:
            y = x
        elif kind in (ir.CONV, ir.NORM, ir.LINEAR):
            y = model.get_submodule(module)(ins[0])
        elif kind == ir.CHANNEL_CONV:
            n, c = ins[0].shape[:2]
            y = model.get_submodule(module)(ins[0].view(n, 1, c)).view(n, c, 1, 1)
        elif kind == ir.ACT:
            y = _ACTS[attrs["act"]](ins[0])
        elif kind == ir.POOL and attrs["pool"] == "max":
            k, s, p = attrs["kernel"], attrs["stride"], attrs["padding"]
            y = F.max_pool2d(ins[0], k, s, p, ceil_mode=attrs["ceil_mode"])
        elif kind == ir.POOL:
            k, s, p = attrs["kernel"], attrs["stride"], attrs["padding"]
            end = attrs.get("pad_end", 0)  # zeros after the last row and column, averaged in
            y = F.avg_pool2d(F.pad(ins[0], (0, end, 0, end)), k, s, p, ceil_mode=attrs["ceil_mode"],
                             count_include_pad=attrs.get("count_include_pad", True))  # fmt: skip
        elif kind == ir.GLOBAL_POOL:
            y = (
                ins[0].amax((2, 3), keepdim=True)
                if attrs["pool"] == "max"
                else ins[0].mean((2, 3), keepdim=True)
            )
        elif kind == ir.FLATTEN:
            y = torch.flatten(ins[0], 1)
        elif kind == ir.PAD:
            s = attrs["stride"]
            y = F.pad(
                ins[0][:, :, ::s, ::s], (0, 0, 0, 0, 0, attrs["out_channels"] - ins[0].shape[1])
            )
        elif kind == ir.ADD:
            y = sum(ins[1:], ins[0])  # a block's add, or a sum of splits (SK, ResNeSt)
        elif kind == ir.MUL:
            y = ins[0] * ins[1]
        elif kind == ir.SLICE:
            y = ins[0][:, attrs["start"] : attrs["start"] + attrs["channels"]]
        elif kind == ir.CONCAT:
            y = torch.cat(ins, 1)
        elif kind == ir.SOFTMAX:  # channels (group, path, c) in, (path, group, c) out
            n, paths, groups = ins[0].shape[0], attrs["paths"], attrs["groups"]
            y = ins[0].reshape(n, groups, paths, -1).transpose(1, 2).softmax(1)
            y = y.reshape(ins[0].shape)
        else:
            assert kind == ir.DROP, kind
            y = ins[0]  # identity in eval mode
        values[node] = y
    return values[list(graph.nodes)[-1]]


def _module_paths(model: torch.nn.Module) -> set[str]:
    """Paths of the modules that hold parameters or buffers themselves."""
    return {
        name
        for name, module in model.named_modules()
        if any(True for _ in module.parameters(recurse=False))
        or any(True for _ in module.buffers(recurse=False))
    }


def _node_paths(graph: ir.Graph) -> set[str]:
    kinds = (ir.CONV, ir.NORM, ir.LINEAR, ir.CHANNEL_CONV)
    return {node for node, data in ir.nodes(graph) if data.kind in kinds}


def _randomize(model: torch.nn.Module) -> None:
    """Random weights and norm statistics, so that no layer is the identity by accident."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator)
                tensor.copy_(values + 0.5 if name.endswith("running_var") else values - 0.5)


def _measure(model: torch.nn.Module, x: torch.Tensor, stage_names: list[str]) -> dict[str, Any]:
    """Run the model once under hooks and the FLOP counter; return what torch measured."""
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        getattr(model, name).register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:]))
        )
        for name in stage_names
    ]
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = model(x)
    for hook in hooks:
        hook.remove()
    return {"shapes": shapes, "out": tuple(out.shape[1:]), "flops": counter.get_total_flops()}


@settings(max_examples=VALID)
@given(valid_specs())
def test_valid_specs_compile_run_and_match_torch(spec: dict[str, Any]) -> None:
    loaded = load_spec(spec)
    compiled = compile_spec(loaded)  # a valid spec: any diagnostic here is a failure
    assert compiled.source is not None
    assert not [d for d in compiled.analysis.diagnostics if d.is_error]
    module = load_module(compiled.source, loaded.spec.name)
    torch.manual_seed(0)
    model = getattr(module, loaded.spec.model_class)()
    analysis = compiled.analysis
    c, h, w = analysis.graph.graph["input_shape"]

    # Forward and backward in training mode (batch 2: batch norm needs more than one value).
    model.train()
    out = model(torch.randn(2, c, h, w))
    out.float().sum().backward()
    params = list(model.parameters())
    assert all(p.grad is not None for p in params if p.requires_grad)

    # Static analysis against what torch measures, one sample in eval mode.
    model.eval()
    stages = ir.stages_of(analysis.graph)
    measured = _measure(model, torch.randn(1, c, h, w), [s.name for s in stages])
    for stage in stages:
        assert measured["shapes"][stage.name] == analysis.shapes[stage.output], stage.name
    assert measured["out"] == analysis.output_shape
    assert sum(p.numel() for p in params) == analysis.total_params
    assert measured["flops"] == 2 * analysis.total_macs

    # Node ids are the model's module paths: every module with parameters or buffers is a node.
    assert _module_paths(model) == _node_paths(analysis.graph)

    # The generated forward computes what the graph says, value for value.
    _randomize(model)
    x = torch.randn(2, c, h, w)
    with torch.no_grad():
        want = _interpret(analysis.graph, model, x.clone())
        got = model(x)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_deep_stem_without_norm_keeps_module_paths() -> None:
    spec = {
        "name": "deep_plain",
        "input": {"size": 16},
        "stem": {"type": "deep", "widths": [4, 4, 8]},
        "norm": {"type": "none"},
        "block": {"type": "basic"},
        "stages": [{"depth": 1, "width": 8}],
    }
    compiled = compile_spec(load_spec(spec))
    assert compiled.source is not None
    model = load_module(compiled.source, "deep_plain").DeepPlain()
    assert _module_paths(model) == _node_paths(compiled.analysis.graph)


def _check_file(suffix: str, raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"spec{suffix}"
        path.write_bytes(raw)
        lines = raw.count(b"\n") + 1
        try:
            compiled = compile_spec(load_spec_file(path, path.name))
        except ResgenError as exc:
            assert exc.diagnostics
            for d in exc.diagnostics:
                assert d.code and d.message
                loc = d.location
                if loc is not None and loc.file == path.name:
                    assert 0 <= loc.line <= lines + 1 and loc.column >= 0, d
        else:
            assert compiled.source is not None
            ast.parse(compiled.source)


@settings(max_examples=MUTATED)
@given(mutated_specs())
def test_mutated_specs_give_diagnostics_never_exceptions(case: tuple[str, bytes]) -> None:
    _check_file(*case)


@settings(
    max_examples=max(MUTATED // 10, 10),
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # capsys is read every example
)
@given(case=mutated_specs())
def test_cli_never_crashes_on_mutated_specs(
    capsys: pytest.CaptureFixture[str], case: tuple[str, bytes]
) -> None:
    suffix, raw = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"spec{suffix}"
        path.write_bytes(raw)
        for args in (["check", str(path)], ["check", str(path), "-f", "json"], ["info", str(path)]):
            code = main(args)
            err = capsys.readouterr().err
            assert code in (0, 1), (args, err)
            assert "internal error" not in err and "Traceback" not in err, err
