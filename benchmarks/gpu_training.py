"""benchmarks/gpu.py's training-at-scale part (issue 19): checkpointing, FSDP2, max-autotune.

- Activation checkpointing: one training step (batch 64, 32x32) of resnet1202 and
  preact_resnet1001, plain and with `checkpoint: blocks`: peak memory (the CUDA allocator's) and
  time ratios, measured in one run.
- FSDP2 on one GPU: examples/train_distributed.py under torchrun (one process, NCCL), with
  checkpointing, a few steps: a smoke run.
- Inference compiled with mode="max-autotune": the deploy module against torchvision's eager
  (a row group of gpu.py's inference table).

With --dry-run, the same code at toy sizes on the CPU (memory counted by bench_checkpoint's
op-by-op counter, gloo instead of NCCL, dynamo's eager backend instead of autotuning).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import ROOT, generated, interleave, ratio, table

DEEP = ("resnet1202", "preact_resnet1001")


def autotune_models(eager: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
    """torchvision's eager model (the baseline) and the deploy module under max-autotune."""
    import torch

    if dry_run:
        compiled = torch.compile(eager["deploy"], backend="eager")
    else:
        compiled = torch.compile(eager["deploy"], mode="max-autotune")
    return {"torchvision": eager["torchvision"], "deploy": compiled}


def scaling_report(device: Any, *, dry_run: bool, reps: int) -> None:
    """Print the checkpointing table and run the FSDP2 smoke test."""
    names, batch = (("resnet20",), 2) if dry_run else (DEEP, 64)
    rows = [checkpoint_row(name, batch, device, reps) for name in names]
    print()
    header = ["model", "batch", "plain MiB", "checkpoint MiB", "memory", "plain ms",
              "checkpoint ms", "time [IQR]"]  # fmt: skip
    print(table(header, rows))
    print("(targets: memory <= 0.35x the plain step's activations, time <= 1.4x)")
    fsdp_smoke(device, dry_run=dry_run)


def checkpoint_row(name: str, batch: int, device: Any, reps: int) -> list[str]:
    import torch

    import resgen
    from benchmarks.bench_checkpoint import peak_step_bytes

    spec = resgen.load_spec(name).spec
    torch.manual_seed(0)
    plain = getattr(generated(name), spec.model_class)().to(device).train()
    checkpointed = resgen.build_model(spec.model_copy(update={"checkpoint": "blocks"}))
    checkpointed.load_state_dict(plain.state_dict())
    checkpointed.to(device).train()
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    steps = {"plain": step(plain, x, y, device), "checkpoint": step(checkpointed, x, y, device)}
    peaks = {}
    for label, fn in steps.items():
        if device.type == "cuda":
            fn()  # warm-up: cuDNN's workspaces, the allocator's first blocks
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            fn()
            peaks[label] = torch.cuda.max_memory_allocated(device) - base
        else:
            peaks[label] = peak_step_bytes(fn)
    times = interleave(steps, reps=reps, warmup=2)
    r = ratio(times, "checkpoint", "plain")
    ms = [f"{statistics.median(times[k]) * 1e3:.0f}" for k in steps]
    mib = [f"{peaks[k] / 2**20:,.0f}" for k in steps]
    memory = f"{peaks['checkpoint'] / peaks['plain']:.2f}"
    row = [name, str(batch), *mib, memory, *ms, r.cell()]
    print(f"  checkpointing {name}: memory {memory}x, time {r.cell()}", flush=True)
    return row


def step(model: Any, x: Any, y: Any, device: Any) -> Callable[[], object]:
    import torch
    import torch.nn.functional as F

    def run() -> object:
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return loss

    return run


def fsdp_smoke(device: Any, *, dry_run: bool) -> None:
    """A few FSDP2 steps with checkpointing, one process under torchrun (the example itself)."""
    size = ["--spec", "resnet20", "--size", "32", "--batch", "4", "--steps", "2"]
    if not dry_run:
        size = ["--spec", "resnet50", "--size", "224", "--batch", "32", "--steps", "5"]
    example = str(ROOT / "examples" / "train_distributed.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
               "1", example, *size, "--checkpoint"]  # fmt: skip
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo"} if device.type != "cuda" else None
    start = time.perf_counter()
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    seconds = time.perf_counter() - start
    lines = result.stdout.strip().splitlines()
    verdict = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
    print(f"\nFSDP2 smoke run ({' '.join(size)} --checkpoint, one process): {verdict}, "
          f"{seconds:.0f} s; {lines[-1] if lines else result.stderr[-500:]}")  # fmt: skip
