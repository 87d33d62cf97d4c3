"""Activation checkpointing (`checkpoint: blocks`): the same gradients for less kept memory.

In training, a checkpointed block keeps only its input; backward reruns it for the rest. The
rerun must change nothing: gradients are bitwise those of the plain model in float64 (and in
float32 on this CPU, which the test allows a stated tolerance for), drop-path and dropout draw
the same masks (checkpoint restores the RNG state), and batch norm counts each batch once. Eval
and the deploy build run no checkpointing code at all.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from benchmarks.bench_checkpoint import peak_step_bytes
from resgen.api import compile_source, load_module, load_spec
from resgen.codegen.deploy import render_deploy_source
from resgen.diagnostics import Severity
from resgen.pipeline import check
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Small, but every path: basic and bottleneck blocks, projection shortcuts, the randomness of
# drop-path and dropout, and a stage that opts out.
SPEC: dict[str, Any] = {
    "name": "checkpointed",
    "input": {"channels": 3, "size": 16},
    "stem": {"type": "cifar", "width": 8},
    "block": {"type": "basic"},
    "checkpoint": "blocks",
    "stages": [
        {"depth": 2, "width": 8},
        {"depth": 2, "width": 8, "stride": 2, "block": "bottleneck"},
        {"depth": 1, "width": 16, "stride": 2, "checkpoint": False},
    ],
    "head": {"classes": 10, "dropout": 0.2},
    "drop_path": 0.2,
}


def source(spec: dict[str, Any]) -> str:
    return compile_source(load_spec(spec))


def twins(dtype: torch.dtype, spec: dict[str, Any] = SPEC) -> tuple[nn.Module, nn.Module]:
    """The spec's model with checkpointing on and off, the same (random) weights."""
    loaded = load_spec(spec)
    model_class = getattr(load_module(source(spec), loaded.spec.name), loaded.spec.model_class)
    on, off = model_class(), model_class(checkpoint=False)
    off.load_state_dict(on.state_dict())
    return on.to(dtype).train(), off.to(dtype).train()


def step(model: nn.Module, x: torch.Tensor, seed: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """One forward and backward with a fixed RNG; the loss and every gradient."""
    torch.manual_seed(seed)
    loss = model(x).logsumexp(1).mean()
    loss.backward()
    return loss.detach(), {k: p.grad for k, p in model.named_parameters()}


def image(dtype: torch.dtype, batch: int = 4) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(batch, 3, 16, 16, generator=gen).to(dtype)


# Without drop-path the blocks draw no random numbers, and checkpoint skips saving the RNG state.
DETERMINISTIC_BLOCKS = {**SPEC, "drop_path": 0.0}


@pytest.mark.parametrize("spec", [SPEC, DETERMINISTIC_BLOCKS], ids=["drop_path", "no_drop_path"])
def test_float64_gradients_are_bitwise_the_plain_models(spec: dict[str, Any]) -> None:
    on, off = twins(torch.float64, spec)
    x = image(torch.float64)
    loss_on, grads_on = step(on, x, seed=3)
    loss_off, grads_off = step(off, x, seed=3)
    assert torch.equal(loss_on, loss_off)
    for key, grad in grads_off.items():
        assert torch.equal(grads_on[key], grad), key
    # The rerun restored the norms' statistics: each batch counted once, as without it.
    for (key, a), b in zip(on.state_dict().items(), off.state_dict().values(), strict=True):
        assert torch.equal(a, b), key


def test_float32_gradients_match_within_tolerance() -> None:
    # The rerun does the same float32 ops in the same order; allow for a reordering kernel.
    on, off = twins(torch.float32)
    x = image(torch.float32)
    loss_on, grads_on = step(on, x, seed=5)
    loss_off, grads_off = step(off, x, seed=5)
    torch.testing.assert_close(loss_on, loss_off, rtol=1e-6, atol=1e-7)
    for key, grad in grads_off.items():
        torch.testing.assert_close(grads_on[key], grad, rtol=1e-5, atol=1e-6, msg=key)


def test_checkpointed_blocks_keep_a_fraction_of_the_activations() -> None:
    """Counted exactly, op by op (benchmarks/bench_checkpoint.py measures the big nets so)."""
    deep = {**SPEC, "stages": [{"depth": 6, "width": 8}, {"depth": 6, "width": 16, "stride": 2}]}
    on, off = twins(torch.float32, deep)
    x = image(torch.float32, batch=8)
    outputs: list[torch.Tensor] = []
    # What the forward leaves alive is what backward needs: each block's input, or everything.
    kept = [peak_step_bytes(lambda m=m: outputs.append(m(x))) for m in (on, off)]
    outputs.clear()
    assert kept[0] < 0.35 * kept[1], kept  # 0.30 here; fewer, wider blocks keep more
    # The step's peak adds the gradients and one block's rerun.
    peaks = [peak_step_bytes(lambda m=m: m(x).sum().backward()) for m in (on, off)]
    assert peaks[0] < 0.5 * peaks[1], peaks  # 0.44 here


def test_eval_runs_no_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    on, off = twins(torch.float64)
    calls: list[object] = []
    original = torch.utils.checkpoint.checkpoint
    monkeypatch.setattr(
        torch.utils.checkpoint, "checkpoint", lambda *a, **k: calls.append(a) or original(*a, **k)
    )
    x = image(torch.float64)
    assert torch.equal(on.eval()(x), off.eval()(x))
    with torch.no_grad():
        on.train()(x)
    assert calls == []
    on(x)
    assert len(calls) == 4  # the two checkpointed stages' blocks; the last stage opts out


def test_only_checkpointed_stages_run_through_run_stage() -> None:
    text = source(SPEC)
    assert text.count("x = self.run_stage(self.layer1, x)") == 2  # forward_stages, _features
    assert "x = self.run_stage(self.layer2, x)" in text and "x = self.layer3(x)" in text
    assert "checkpoint: bool = True," in text
    assert (
        "Activation checkpointing in training (run_stage): the blocks of layer1 and layer2." in text
    )
    assert "import torch.utils.checkpoint" in text


def test_off_by_default_and_in_the_deploy_build() -> None:
    def has_checkpointing(text: str) -> bool:
        return any(mark in text for mark in ("run_stage", "checkpoint: bool", "KeepBuffers"))

    plain = {k: v for k, v in SPEC.items() if k != "checkpoint"}
    assert not has_checkpointing(source(plain))  # layer3 still says `checkpoint: false`
    assert not has_checkpointing(source({**SPEC, "checkpoint": "none"}))
    loaded = load_spec(SPEC)
    assert not has_checkpointing(render_deploy_source(loaded, check(loaded)))


def test_a_stage_can_opt_in_alone() -> None:
    spec = {**SPEC, "checkpoint": "none"}
    spec["stages"] = [{**SPEC["stages"][0], "checkpoint": True}, *SPEC["stages"][1:]]
    text = source(spec)
    assert "x = self.run_stage(self.layer1, x)" in text and "x = self.layer2(x)" in text
    assert "(run_stage): the blocks of layer1." in text


def test_checkpoint_for_every_stage_by_their_own_keys_is_inert() -> None:
    spec = {**SPEC, "stages": [{**s, "checkpoint": True} for s in SPEC["stages"]]}
    diagnostics = check(load_spec(spec)).diagnostics
    inert = [d for d in diagnostics if d.code == "inert-key"]
    assert len(inert) == 1 and inert[0].severity == Severity.WARNING
    assert "every stage sets one" in inert[0].message + (inert[0].hint or "")


@pytest.mark.slow
def test_checkpointed_file_passes_ruff_and_mypy_strict(tmp_path: Path) -> None:
    """What tests/test_generated_quality.py asks of generated/, for a checkpointed model."""
    path = tmp_path / "checkpointed.py"
    path.write_text(source(SPEC), encoding="utf-8")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}  # fmt: skip
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom)}  # fmt: skip
    assert imported == {"contextlib", "torch"}
    config = str(ROOT / "pyproject.toml")
    for command in (["ruff", "check"], ["ruff", "format", "--check"]):
        result = run_module(*command, "--config", config, str(path))
        assert result.returncode == 0, result.stdout + result.stderr
    # As for generated/: strict, but torch's Module.__call__ returns Any.
    mypy = run_module("mypy", "--strict", "--no-warn-return-any", "--no-incremental", str(path))
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


def run_module(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_rng_state_is_kept_only_where_blocks_draw_random_numbers() -> None:
    # Saving and restoring the RNG state costs each checkpointed block (resnet1202: 600 a step).
    assert "preserve_rng_state=False" not in source(SPEC)
    assert "preserve_rng_state=False" in source(DETERMINISTIC_BLOCKS)
