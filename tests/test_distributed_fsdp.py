"""examples/train_distributed.py under torchrun: FSDP2 over 2 CPU processes (gloo, loopback).

The sharded run gives the losses of the same data-parallel training done without sharding, and a
run resumed from its `torch.distributed.checkpoint`, with activation checkpointing on, continues
with exactly the losses of the uninterrupted run. (tests/test_ddp.py covers
DistributedDataParallel.)
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "train_distributed.py"
WORLD_SIZE = 2
STEPS, SAVE_AT = 5, 2
TINY_SPEC = """\
name: tiny_fsdp
input: {channels: 3, size: 16}
stem: {type: cifar, width: 8}
block: {type: basic}
stages:
  - {depth: 2, width: 8}
  - {depth: 1, width: 16, stride: 2}
head: {classes: 10}
"""
ARGS = ["--steps", str(STEPS), "--size", "16", "--batch", "8"]


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_distributed_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torchrun(*args: str) -> str:
    """Run the example on 2 local processes; return rank 0's output."""
    # Loopback only: keep gloo off any other interface the machine may have.
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", str(WORLD_SIZE), str(EXAMPLE), *args]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def unsharded_losses(example: ModuleType, argv: list[str]) -> list[float]:
    """The same training in one process without FSDP: the ranks' shares by turns, grads averaged."""
    args = example.parse_args(argv)
    model = example.build(args).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    losses = []
    for step in range(1, args.steps + 1):
        shares = [example.batch_for(step, r, WORLD_SIZE, args) for r in range(WORLD_SIZE)]
        # Batch norm sees one rank's share at a time, as in the sharded run.
        loss = sum(F.cross_entropy(model(x), y) for x, y in shares) / WORLD_SIZE
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.slow
def test_sharded_training_matches_unsharded_and_resumes_exactly(
    example: ModuleType, tmp_path: Path
) -> None:
    spec = tmp_path / "tiny_fsdp.yaml"
    spec.write_text(TINY_SPEC, encoding="utf-8")
    saved, full, resumed = tmp_path / "ckpt", tmp_path / "full.json", tmp_path / "resumed.json"
    common = ["--spec", str(spec), *ARGS]
    out = torchrun(*common, "--save", str(saved), "--save-at", str(SAVE_AT), "--losses", str(full))
    assert "FSDP2: 3 blocks sharded over 2 processes" in out, out
    # The resumed run checkpoints its blocks' activations too: the same state_dict, the same ops.
    out = torchrun(*common, "--resume", str(saved), "--losses", str(resumed), "--checkpoint")
    assert "step 3:" in out and "step 1:" not in out, out
    full_losses = json.loads(full.read_text(encoding="utf-8"))
    resumed_losses = json.loads(resumed.read_text(encoding="utf-8"))
    assert len(full_losses) == STEPS
    assert resumed_losses == full_losses[SAVE_AT:]  # bitwise: the same state, the same data
    reference = unsharded_losses(example, common)
    # Float32 sums in another order (gloo's reduce-scatter, per-rank losses): near, not equal.
    torch.testing.assert_close(full_losses, reference, rtol=1e-5, atol=1e-6)
    assert full_losses[0] != full_losses[-1]
