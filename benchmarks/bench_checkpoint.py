"""Activation checkpointing (`checkpoint: blocks`) against the plain model: memory and time.

    .venv/bin/python benchmarks/bench_checkpoint.py              # resnet1202, preact_resnet1001
    .venv/bin/python benchmarks/bench_checkpoint.py --batch 8    # 1/8 of the memory, same ratios
    .venv/bin/python benchmarks/bench_checkpoint.py --quick      # resnet110 at batch 4: seconds

One training step (forward and backward, batch 64 of 32x32 images by default) of the shipped
plain model (generated/<name>.py) and of the same spec built with `checkpoint: blocks`, with the
same weights. Memory, counted op by op with a TorchDispatchMode (exact and repeatable, unlike the
process's RSS): "activations", the bytes a forward leaves alive for its backward (what the
checkpointed blocks keep: their inputs), and "step peak", the peak bytes of tensors made during
the whole step (activations, gradients, a block's rerun, temporaries). Time: median of
interleaved rounds, as the other benchmarks. Targets (issue 19): activations <= 0.35x the plain
step's, time <= 1.4x.

Activation memory grows linearly with the batch, so a smaller `--batch` gives the same ratios
in less memory (the plain preact_resnet1001 step at batch 64 holds 9.3 GB of activations).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import generated, interleave, load, machine, ratio, set_threads, table

TARGETS = {"activations": 0.35, "time": 1.4}


def peak_step_bytes(step: Callable[[], object]) -> int:
    """The peak bytes of storages that `step`'s ops create and that are still alive, op by op.

    Storages made before the step (weights, the input) are not counted; the counting follows
    each storage's life through its Python object, which torch keeps as long as the storage.
    """
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    live: dict[int, int] = {}
    total = peak = 0

    def forget(key: int) -> None:
        nonlocal total
        total -= live.pop(key, 0)

    class Count(TorchDispatchMode):  # type: ignore[misc]
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            nonlocal total, peak
            out = func(*args, **(kwargs or {}))
            for leaf in tree_leaves(out):
                if isinstance(leaf, torch.Tensor):
                    storage = leaf.untyped_storage()
                    key = id(storage)
                    if key not in live:
                        live[key] = storage.nbytes()
                        total += live[key]
                        weakref.finalize(storage, forget, key)
            peak = max(peak, total)
            return out

    with Count():
        step()
    return peak


def models(name: str) -> tuple[Any, Any]:
    """The shipped plain model, and the spec built with checkpointing, with the same weights."""
    import torch

    import resgen

    spec = resgen.load_spec(name).spec
    torch.manual_seed(0)
    plain = getattr(generated(name), spec.model_class)()
    checkpointed = resgen.build_model(spec.model_copy(update={"checkpoint": "blocks"}))
    checkpointed.load_state_dict(plain.state_dict())
    return plain.train(), checkpointed.train()


def training_step(model: Any, x: Any, y: Any) -> Callable[[], object]:
    import torch.nn.functional as F

    def step() -> object:
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    return step


def measure(name: str, batch: int, size: int, reps: int) -> list[list[str]]:
    import torch

    plain, checkpointed = models(name)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, size, size, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    steps = {"plain": training_step(plain, x, y), "checkpoint": training_step(checkpointed, x, y)}
    kept, peaks = {}, {}
    outputs: list[Any] = []
    for label, model in (("plain", plain), ("checkpoint", checkpointed)):
        # What a forward leaves alive is what its backward needs: the activation memory.
        kept[label] = peak_step_bytes(lambda model=model: outputs.append(model(x)))
        outputs.clear()
        peaks[label] = peak_step_bytes(steps[label])
        print(f"  {name} {label}: kept {kept[label] / 2**20:,.0f} MiB, "
              f"step peak {peaks[label] / 2**20:,.0f} MiB", flush=True)  # fmt: skip
    times = interleave(steps, reps=reps, warmup=0)  # the counted runs were the warm-up
    r = ratio(times, "checkpoint", "plain")
    mib = [f"{d[k] / 2**20:,.0f}" for d in (kept, peaks) for k in ("plain", "checkpoint")]
    return [
        [name, str(batch), *mib, f"{kept['checkpoint'] / kept['plain']:.2f}",
         f"{peaks['checkpoint'] / peaks['plain']:.2f}",
         f"{statistics.median(times['plain']):.2f}", f"{r.seconds:.2f}", r.cell(), load()]
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet1202", "preact_resnet1001"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32, help="input height and width")
    parser.add_argument("--reps", type=int, default=3, help="interleaved timed rounds")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--quick", action="store_true", help="resnet110 at batch 4, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.batch, args.reps = ["resnet110"], 4, 1
    set_threads(args.threads)
    import torch

    print(f"# bench_checkpoint: {machine()}")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch}")
    rows = [row for name in args.models for row in measure(name, args.batch, args.size, args.reps)]
    header = ["model", "batch", "kept: plain MiB", "checkpoint MiB", "step peak: plain MiB",
              "checkpoint MiB", "activations", "step peak", "plain s", "checkpoint s",
              "time [IQR]", "load"]  # fmt: skip
    print()
    print(table(header, rows))
    print(f"\nTargets: activations <= {TARGETS['activations']}x, time <= {TARGETS['time']}x.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
