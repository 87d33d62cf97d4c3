"""Generated ResNets against torchvision's, on this CPU: eval forward and a training step.

    .venv/bin/python benchmarks/bench_models.py            # resnet50 and resnet152, ~30 min
    .venv/bin/python benchmarks/bench_models.py --quick    # resnet50, batch 8, 5 rounds, ~3 min

Each cell times the generated model, torchvision's, and a control (a second torchvision instance)
with the same weights and input, in one process, round by round in alternating order, and prints
median(generated) / median(torchvision) with the 25th-75th percentile of the per-round ratios,
beside the control's ratio, which is pure noise. A cell is slower beyond noise only when three
rounds in four were slower and the ratio is above the control's upper quartile. Before timing,
the aten ops of one forward and backward are compared: identical op sequences mean any gap is
noise, not code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    aten_ops,
    interleave,
    load,
    machine,
    ratio,
    set_threads,
    table,
    twins,
)


def step_fn(model: Any, x: Any, task: str) -> Callable[[], object]:
    """One eval forward (no grad), or one training step: forward, backward, SGD update."""
    import torch

    if task == "eval":
        model.eval()

        def forward() -> object:
            with torch.inference_mode():
                return model(x)

        return forward
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    target = torch.randint(0, 1000, (x.shape[0],), generator=torch.Generator().manual_seed(0))
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_step() -> object:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), target)
        loss.backward()
        optimizer.step()
        return loss

    return train_step


def same_ops(name: str) -> str:
    """Compare the aten op sequences of both models (forward; forward + backward) at 64 px."""
    import torch

    ours, reference = twins(name)
    x = torch.randn(2, 3, 64, 64)
    verdicts = []
    for train in (False, True):
        a, b = aten_ops(ours, x, train), aten_ops(reference, x, train)
        what = "train fwd+bwd" if train else "eval fwd"
        verdict = "identical" if a == b else "DIFFERENT"
        verdicts.append(f"{what}: {verdict} ({len(a)} vs {len(b)} ops)")
    return "; ".join(verdicts)


def run(
    models: list[str], batch: int, reps: int, quick: bool, size: int = 224, only: str = ""
) -> int:
    import torch

    print(f"# bench_models{' --quick' if quick else ''}: {machine()}")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")
    cells = [("eval", 1), ("eval", batch), ("train", batch)]
    rows: list[list[str]] = []
    slower = []
    for name in models:
        print(f"# {name} aten ops vs torchvision: {same_ops(name)}", flush=True)
        for layout in ("NCHW", "channels_last"):
            fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            for task, n in cells:
                if only not in f"{layout} {task} b{n}":
                    continue
                ours, reference = twins(name)
                # The control: a second torchvision instance, same weights. Its ratio to the
                # first is pure noise (placement in memory, the machine), the yardstick for ours.
                control = twins(name)[1]
                x = torch.randn(n, 3, size, size).contiguous(memory_format=fmt)
                contenders = {
                    label: step_fn(model.to(memory_format=fmt), x, task)
                    for label, model in (("generated", ours), ("torchvision", reference),
                                         ("control", control))
                }  # fmt: skip
                times = interleave(contenders, reps=reps, warmup=1)
                r = ratio(times, "generated", "torchvision")
                noise = ratio(times, "control", "torchvision")
                base = ratio(times, "torchvision", "torchvision").seconds
                label = f"{task} b{n}"
                rows.append([name, layout, label, f"{base * 1e3:.0f}", f"{r.seconds * 1e3:.0f}",
                             r.cell(), noise.cell(), load()])  # fmt: skip
                print(f"  {name} {layout} {label}: {r.cell()}, control {noise.cell()} "
                      f"(load {load()})", flush=True)  # fmt: skip
                if r.slower and r.median > noise.high:
                    slower.append(f"{name} {layout} {label}")
    header = ["model", "layout", "task", "torchvision ms", "generated ms",
              "generated/torchvision [IQR]", "control/torchvision [IQR]", "load"]  # fmt: skip
    print()
    print(table(header, rows))
    print(f"\n{len(rows)} cells, {reps} interleaved rounds each; slower beyond noise (three rounds "
          "in four slower, and slower than the control's upper quartile): "
          f"{', '.join(slower) or 'none'}")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="resnet50 only, batch 8, 5 rounds")
    parser.add_argument("--models", nargs="+", help="default: resnet50 resnet152")
    parser.add_argument("--batch", type=int, help="batch of the large cells (default 16; quick 8)")
    parser.add_argument("--reps", type=int, help="rounds per cell (default 11; quick 5)")
    parser.add_argument("--size", type=int, default=224, help="input height and width")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--only", default="", help='cells whose "LAYOUT TASK bN" contains this')
    args = parser.parse_args(argv)
    set_threads(args.threads)
    models = args.models or (["resnet50"] if args.quick else ["resnet50", "resnet152"])
    batch = args.batch or (8 if args.quick else 16)
    reps = args.reps or (5 if args.quick else 11)
    return run(models, batch, reps, args.quick, args.size, args.only)


if __name__ == "__main__":
    sys.exit(main())
