"""The degradation problem (He et al. 2015, Figure 1), small enough for a laptop CPU.

Trains plain-20, plain-56, ResNet-20 and ResNet-56, built in memory from resgen's specs, on
scikit-learn's bundled 8x8 handwritten digits (upscaled to 32x32 RGB, so the CIFAR networks see
the input size they were designed for) and plots training error against iterations: plain nets
dashed, residual nets solid, as in the paper. The paper's effect is that the deeper plain net
trains WORSE than the shallower one, while the deeper ResNet trains better.

    python examples/degradation.py                 # the default run (~10 minutes on 2 cores)
    python examples/degradation.py --steps 300     # longer curves (~5 s per step of all four)
    python examples/degradation.py --steps 3 --quick --out /tmp/deg   # a smoke test

Writes `<out>/degradation.png` and `<out>/degradation.json` (default out: docs/).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from torch import nn

import resgen

ROOT = Path(__file__).resolve().parent.parent
NETS = ("plain20", "plain56", "resnet20", "resnet56")  # built-in spec names
console = Console(stderr=True)


@dataclass(frozen=True)
class Config:
    # 60 steps of all four networks take about 10 minutes on 2 cores (ResNet-56: ~4 s a step).
    steps: int = 60
    batch: int = 128
    size: int = 32
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup: int = 6  # steps of linear warmup from lr / 10 (the paper warms up ResNet-110)
    seed: int = 0
    # One intra-op thread by default: on a shared 2-core machine torch's second thread spins
    # more than it works (measured at load 14: 2 threads took 2x the wall time of 1 per step).
    threads: int = 1
    train_limit: int | None = None  # only the first N training images (--quick)
    test_limit: int | None = None  # only the first N test images (--quick)


@dataclass
class Run:
    name: str
    params: int
    errors: list[float] = field(default_factory=list)  # per-iteration minibatch training error
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    final_train_error: float = math.nan  # the whole training set, eval mode
    final_test_error: float = math.nan


def load_digits(
    size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 8x8 digits: upscaled (bilinear), 3 channels, normalised; 80/20 split."""
    from sklearn.datasets import load_digits as sk_load_digits  # type: ignore[import-untyped]

    digits = sk_load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    images = images.repeat(1, 3, 1, 1)
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    cut = int(0.8 * len(labels))
    train, test = order[:cut], order[cut:]
    mean, std = images[train].mean(), images[train].std()
    images = (images - mean) / std
    return images[train], labels[train], images[test], labels[test]


def learning_rate(step: int, config: Config) -> float:
    """Warmup, then the paper's schedule: divide by 10 at 50% and 75% of training."""
    if step < config.warmup:
        return config.lr * (0.1 + 0.9 * step / config.warmup)
    if step < config.steps // 2:
        return config.lr
    return config.lr / (10 if step < 3 * config.steps // 4 else 100)


def batches(n: int, batch: int, seed: int) -> Any:
    """Endless shuffled minibatch indices; the same order for every network."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(n, generator=gen)
        for start in range(0, n - batch + 1, batch):
            yield order[start : start + batch]


def train(name: str, data: tuple[torch.Tensor, ...], config: Config, progress: Progress) -> Run:
    """Train one network from its spec; record the minibatch training error of every step."""
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(config.seed)
    model = resgen.build_model(name)
    run = Run(name, sum(p.numel() for p in model.parameters()))
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    task = progress.add_task(name, total=config.steps, error=math.nan)
    batch = min(config.batch, len(y_train))
    start = time.perf_counter()
    model.train()
    for step, index in zip(
        range(config.steps), batches(len(y_train), batch, config.seed), strict=False
    ):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        logits = model(x_train[index])
        loss = F.cross_entropy(logits, y_train[index])
        optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        optimizer.step()
        error = float((logits.argmax(1) != y_train[index]).float().mean())
        run.errors.append(error)
        run.losses.append(loss.item())
        progress.update(task, advance=1, error=smooth(run.errors)[-1])
        if not progress.console.is_terminal and (step + 1) % max(config.steps // 10, 1) == 0:
            progress.console.print(  # a log file sees no bar: a line every 10% instead
                f"{name}: step {step + 1}/{config.steps}, "
                f"train error {smooth(run.errors)[-1]:.1%}, {time.perf_counter() - start:.0f} s"
            )
    run.seconds = time.perf_counter() - start
    run.final_train_error = evaluate(model, x_train, y_train)
    run.final_test_error = evaluate(model, x_test, y_test)
    return run


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Error rate over a whole set, in eval mode (batch norm's running statistics)."""
    model.eval()
    wrong = 0
    for xb, yb in zip(torch.split(x, 256), torch.split(y, 256), strict=True):
        wrong += int((model(xb).argmax(1) != yb).sum())
    model.train()
    return wrong / len(y)


def smooth(values: Sequence[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing)."""
    out, average = [], 0.0
    for i, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight**i))
    return out


def plot(runs: Sequence[Run], config: Config, path: Path) -> None:
    """Training error against iterations: plain dashed and thin, residual solid and bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True, layout="constrained")
    colours = {"20": "tab:orange", "56": "tab:red"}
    for ax, family in zip(axes, ("plain", "resnet"), strict=True):
        for run in runs:
            if not run.name.startswith(family):
                continue
            depth = run.name.removeprefix(family)
            style: dict[str, Any] = (
                {"linestyle": "--", "linewidth": 1.3}
                if family == "plain"
                else {"linestyle": "-", "linewidth": 2.4}
            )
            label = f"{family}-{depth}" if family == "plain" else f"ResNet-{depth}"
            steps = range(1, len(run.errors) + 1)
            ax.plot(steps, [100 * e for e in smooth(run.errors)], color=colours.get(depth),
                    label=label, **style)  # fmt: skip
        ax.set_xlabel("iteration")
        ax.set_title("plain networks" if family == "plain" else "residual networks")
        ax.grid(True, alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("training error (%), smoothed")
    fig.suptitle(
        f"sklearn digits upscaled to {config.size}x{config.size}, batch {config.batch}, "
        f"SGD lr {config.lr} (seed {config.seed})"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summarize(runs: Sequence[Run], config: Config, seconds: float) -> dict[str, Any]:
    tail = max(1, len(runs[0].errors) // 10)
    return {
        "config": asdict(config),
        "total_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "nets": {
            run.name: {
                "params": run.params,
                "seconds": round(run.seconds, 1),
                # The mean minibatch error of the last 10% of steps: what the curve ends on.
                "last_train_error": round(sum(run.errors[-tail:]) / tail, 4),
                "final_train_error": round(run.final_train_error, 4),
                "final_test_error": round(run.final_test_error, 4),
            }
            for run in runs
        },
        "curves": {run.name: [round(e, 4) for e in smooth(run.errors)] for run in runs},
    }


def degradation_showed(summary: dict[str, Any], key: str = "last_train_error") -> dict[str, bool]:
    """The paper's two findings, checked on the measured numbers."""
    nets = summary["nets"]
    return {
        "plain56_worse_than_plain20": nets["plain56"][key] > nets["plain20"][key],
        "resnet56_better_than_resnet20": nets["resnet56"][key] < nets["resnet20"][key],
    }


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, help="iterations per network (default 60)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: batch 16, the digits' own 8x8, 128 training and 64 test images",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="output folder")
    args = parser.parse_args(argv)
    config = Config(seed=args.seed, threads=args.threads)
    if args.quick:
        config = Config(
            batch=16, size=8, seed=args.seed, threads=args.threads, train_limit=128, test_limit=64
        )
    if args.steps is not None:
        if args.steps < 1:
            parser.error("--steps must be at least 1")
        config = Config(
            **{**asdict(config), "steps": args.steps, "warmup": max(args.steps // 10, 1)}
        )
    return config, args.out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    config, out = parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    x_train, y_train, x_test, y_test = load_digits(config.size, config.seed)
    x_train, y_train = x_train[: config.train_limit], y_train[: config.train_limit]
    x_test, y_test = x_test[: config.test_limit], y_test[: config.test_limit]
    data = (x_train, y_train, x_test, y_test)
    console.print(
        f"digits: {len(y_train)} training, {len(y_test)} test images at "
        f"{config.size}x{config.size}; {config.steps} steps of batch {config.batch} per network, "
        f"{torch.get_num_threads()} threads"
    )
    start = time.perf_counter()
    columns = (
        TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("train err {task.fields[error]:6.1%}"), TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console) as progress:
        runs = [train(name, data, config, progress) for name in NETS]
    summary = summarize(runs, config, time.perf_counter() - start)
    torch.set_num_threads(threads)  # leave the caller's torch as it was (tests import this)
    summary["paper_effect"] = degradation_showed(summary)
    out.mkdir(parents=True, exist_ok=True)
    (out / "degradation.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    plot(runs, config, out / "degradation.png")
    print_summary(summary, out)
    return summary


def print_summary(summary: dict[str, Any], out: Path) -> None:
    table = Table(title=f"after {summary['config']['steps']} steps ({summary['total_seconds']} s)")
    for column in ("net", "params", "train err (last 10%)", "train err (eval)", "test err", "s"):
        table.add_column(column, justify="left" if column == "net" else "right")
    for name, net in summary["nets"].items():
        table.add_row(
            name, f"{net['params']:,}", f"{net['last_train_error']:.1%}",
            f"{net['final_train_error']:.1%}", f"{net['final_test_error']:.1%}",
            f"{net['seconds']}",
        )  # fmt: skip
    console.print(table)
    for finding, held in summary["paper_effect"].items():
        console.print(f"{finding}: {'yes' if held else 'no'}")
    console.print(f"wrote {out / 'degradation.png'} and {out / 'degradation.json'}")


if __name__ == "__main__":
    main()
    sys.exit(0)
