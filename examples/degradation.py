"""The degradation problem (He et al. 2015, Figures 1 and 6), small enough for a 2-core CPU.

Trains the generated plain-20, plain-56, ResNet-20 and ResNet-56 (generated/*.py) on
scikit-learn's bundled 8x8 handwritten digits, upscaled to 32x32 in three channels so the CIFAR
networks see the input size they were designed for, with the paper's CIFAR recipe scaled down:
SGD (momentum 0.9, weight decay 1e-4), lr 0.01 until the training error falls below 80% and then
0.05 (the paper's 0.1 diverges ResNet-56 here; see Config.lr), divided by 10 at 50% and 75% of
training, batch norm, He initialisation as generated, and the paper's light augmentation (pad 4,
random 32x32 crop; no flip, digits are not symmetric).
Every network sees the same minibatches; the run repeats over seeds (initialisation, order and
crops) and plots mean training error against iterations, the seeds' range shaded: plain nets
dashed, residual nets solid, as in the paper. The paper's result: the deeper plain net trains
WORSE than the shallower one, the deeper ResNet better.

    python examples/degradation.py                 # 3 seeds (24 minutes on 2 cores at load 2-3)
    python examples/degradation.py --seeds 1 --steps 200   # one short seed
    python examples/degradation.py --steps 3 --quick --out /tmp/deg   # a smoke test

Writes `<out>/degradation.png` and `<out>/degradation.json` (default out: docs/).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import multiprocessing.queues
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python examples/degradation.py` puts only examples/ there
    sys.path.insert(0, str(ROOT))

from generated.plain20 import Plain20  # noqa: E402
from generated.plain56 import Plain56  # noqa: E402
from generated.resnet20 import ResNet20  # noqa: E402
from generated.resnet56 import ResNet56  # noqa: E402

NETS: dict[str, type[nn.Module]] = {
    "plain20": Plain20,
    "plain56": Plain56,
    "resnet20": ResNet20,
    "resnet56": ResNet56,
}
FAMILIES = ("plain", "resnet")
console = Console(stderr=True)
# (name, seed, step, smoothed training error, seconds so far), once per training step
Report = Callable[[str, int, int, float, float], None]


@dataclass(frozen=True)
class Config:
    # One step of batch 128 on one thread of this project's 2-core machine (channels_last, quiet):
    # ResNet-56 0.80 s, plain-56 0.81 s, ResNet-20 0.27 s, plain-20 0.28 s. Each worker process
    # then takes 1.1 to 1.3 s a step of its two nets: 300 steps x 3 seeds is about 20 minutes.
    steps: int = 300  # 26.7 epochs of the 1,437 training images
    seeds: int = 3
    batch: int = 128
    size: int = 32
    # Half the paper's 0.1: at 0.1, ResNet-56 diverged right after the warm-up in all 3 seeds
    # (loss 2.05 to 15.9 within 10 steps, then chance for good; 79-90% error at step 200), while at
    # 0.05 it trains (seed 0: 1.6% at step 200). The same lr for all four nets.
    lr: float = 0.05
    warmup_lr: float = 0.01  # the paper's warm-up for ResNet-110: until training error < 80%
    warmup_until: float = 0.8
    momentum: float = 0.9
    weight_decay: float = 1e-4
    pad: int = 4  # random crops of the padded image (the paper's CIFAR augmentation)
    # Two processes (plain nets, residual nets) of one intra-op thread each; see run_workers.
    workers: int = 2
    threads: int = 1
    channels_last: bool = True  # 1.2x faster than NCHW for these small convs on the CPU
    train_limit: int | None = None  # only the first N training images (--quick)
    test_limit: int | None = None  # only the first N test images (--quick)


@dataclass
class Run:
    name: str
    seed: int
    params: int
    errors: list[float] = field(default_factory=list)  # per-iteration minibatch training error
    losses: list[float] = field(default_factory=list)
    warmup_steps: int = 0  # steps spent at the warm-up lr
    seconds: float = 0.0
    final_train_error: float = math.nan  # the whole (unaugmented) training set, eval mode
    final_test_error: float = math.nan


def load_digits(size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 8x8 digits: upscaled (bilinear), 3 channels, normalised; 80/20 split.

    The split is fixed (seed 0) so every seed is scored on the same held-out images.
    """
    from sklearn.datasets import load_digits as sk_load_digits  # type: ignore[import-untyped]

    digits = sk_load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    images = images.repeat(1, 3, 1, 1)
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    cut = int(0.8 * len(labels))
    train, test = order[:cut], order[cut:]
    mean, std = images[train].mean(), images[train].std()
    images = (images - mean) / std
    return images[train], labels[train], images[test], labels[test]


def load_data(config: Config) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The digits at the configured size, cut to the configured limits."""
    x_train, y_train, x_test, y_test = load_digits(config.size)
    train, test = slice(config.train_limit), slice(config.test_limit)
    return x_train[train], y_train[train], x_test[test], y_test[test]


def learning_rate(step: int, warming: bool, config: Config) -> float:
    """The paper's schedule: lr / 10 at 50% and lr / 100 at 75% of training; warm-up lr first."""
    scale = 1.0 if step < config.steps // 2 else 0.1 if step < 3 * config.steps // 4 else 0.01
    return min(config.warmup_lr, config.lr * scale) if warming else config.lr * scale


def batches(x: torch.Tensor, y: torch.Tensor, config: Config, seed: int) -> Iterator[Any]:
    """Endless shuffled, randomly cropped minibatches; the same sequence for every network."""
    gen = torch.Generator().manual_seed(seed)
    batch, pad, size = min(config.batch, len(y)), config.pad, x.shape[-1]
    # Pad with the background's value (the digits' 0), not the normalised 0.
    padded = F.pad(x, (pad, pad, pad, pad), value=float(x.min()))
    while True:
        order = torch.randperm(len(y), generator=gen)
        for start in range(0, len(y) - batch + 1, batch):
            index = order[start : start + batch]
            shifts = torch.randint(0, 2 * pad + 1, (batch, 2), generator=gen).tolist()
            crops = [
                padded[i, :, r : r + size, c : c + size]
                for i, (r, c) in zip(index, shifts, strict=True)
            ]
            yield torch.stack(crops), y[index]


def train(
    name: str, seed: int, data: tuple[torch.Tensor, ...], config: Config, report: Report
) -> Run:
    """Train one generated network; record the minibatch training error of every step."""
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(seed)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = NETS[name]().to(memory_format=memory_format)  # He init, as generated
    run = Run(name, seed, sum(p.numel() for p in model.parameters()))
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.warmup_lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    warming, start = True, time.perf_counter()
    model.train()
    stream = batches(x_train, y_train, config, seed)
    for step, (xb, yb) in zip(range(config.steps), stream, strict=False):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, warming, config)
        logits = model(xb.contiguous(memory_format=memory_format))
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        optimizer.step()
        run.errors.append(float((logits.argmax(1) != yb).float().mean()))
        run.losses.append(loss.item())
        error = smooth(run.errors)[-1]
        if warming and error < config.warmup_until:
            warming, run.warmup_steps = False, step + 1
        report(name, seed, step + 1, error, time.perf_counter() - start)
    run.seconds = time.perf_counter() - start
    run.final_train_error = evaluate(model, x_train, y_train, memory_format)
    run.final_test_error = evaluate(model, x_test, y_test, memory_format)
    return run


def train_family(family: str, config: Config, report: Report) -> Iterator[Run]:
    """Train one family's nets (plain or residual) over every seed, yielding each when done."""
    torch.set_num_threads(config.threads)
    data = load_data(config)
    for seed in range(config.seeds):
        for name in NETS:
            if name.startswith(family):
                yield train(name, seed, data, config, report)


def _worker(family: str, config: Config, messages: multiprocessing.queues.Queue[Any]) -> None:
    """train_family in a process of its own: every step and every finished run go to the queue."""
    for run in train_family(family, config, lambda *event: messages.put(("step", *event))):
        messages.put(("run", asdict(run)))


def run_workers(
    config: Config, progress: Progress, overall: TaskID, save: Callable[[list[Run]], Any]
) -> list[Run]:
    """Plain and residual nets in two processes of one thread each, showing their steps.

    On 2 cores this beats one process of two threads: 2x one thread's speed against 1.8x when
    the machine is quiet, and no thread waiting on a descheduled sibling when it is busy
    (measured at load 8: one step of ResNet-56 took 18 s with 2 threads, 3.7 s with 1).
    """
    context = multiprocessing.get_context("spawn")  # no fork of a process that ran torch
    messages = context.Queue()
    tasks: dict[tuple[str, int], TaskID] = {}
    runs: list[Run] = []
    workers = [
        context.Process(target=_worker, args=(family, config, messages), daemon=True)
        for family in FAMILIES
    ]
    for worker in workers:
        worker.start()
    while len(runs) < config.seeds * len(NETS):
        kind, *event = messages.get()
        if kind == "run":
            runs.append(Run(**event[0]))
            progress.remove_task(tasks.pop((runs[-1].name, runs[-1].seed)))
            if sum(run.seed == runs[-1].seed for run in runs) == len(NETS):
                save(runs)  # a seed is complete: write what there is, in case of an interrupt
            continue
        show_step(progress, overall, tasks, config, *event)
    for worker in workers:
        worker.join()
    return sorted(runs, key=lambda run: (run.seed, list(NETS).index(run.name)))


def show_step(
    progress: Progress, overall: TaskID, tasks: dict[tuple[str, int], TaskID], config: Config,
    name: str, seed: int, step: int, error: float, seconds: float,
) -> None:  # fmt: skip
    """Advance a net's bar; a log file sees no bar, so it gets a line every 25% instead."""
    if (name, seed) not in tasks:
        tasks[name, seed] = progress.add_task(f"{name} s{seed}", total=config.steps, error=0.0)
    progress.update(tasks[name, seed], completed=step, error=error)
    progress.update(overall, advance=1)
    if not progress.console.is_terminal and step % max(config.steps // 4, 1) == 0:
        progress.console.print(
            f"{name} seed {seed}: step {step}/{config.steps}, train error {error:.1%}, "
            f"{seconds:.0f} s"
        )


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, memory_format: torch.memory_format
) -> float:
    """Error rate over a whole set, in eval mode (batch norm's running statistics)."""
    model.eval()
    wrong = 0
    for xb, yb in zip(torch.split(x, 256), torch.split(y, 256), strict=True):
        wrong += int((model(xb.contiguous(memory_format=memory_format)).argmax(1) != yb).sum())
    model.train()
    return wrong / len(y)


def smooth(values: Sequence[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing)."""
    out, average = [], 0.0
    for i, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight**i))
    return out


def last_error(run: Run) -> float:
    """The mean minibatch training error of the last 10% of steps: where the curve ends."""
    tail = max(1, len(run.errors) // 10)
    return sum(run.errors[-tail:]) / tail


def spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.fmean(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
    }


def summarize(runs: Sequence[Run], config: Config, seconds: float) -> dict[str, Any]:
    nets: dict[str, Any] = {}
    for name in NETS:
        mine = [run for run in runs if run.name == name]
        nets[name] = {
            "params": mine[0].params,
            "seconds": round(sum(run.seconds for run in mine), 1),
            "train_error": spread([last_error(run) for run in mine]),
            "final_train_error": spread([run.final_train_error for run in mine]),
            "final_test_error": spread([run.final_test_error for run in mine]),
            "warmup_steps": [run.warmup_steps for run in mine],
            "seeds": {
                str(run.seed): {
                    "train_error": round(last_error(run), 4),
                    "final_train_error": round(run.final_train_error, 4),
                    "final_test_error": round(run.final_test_error, 4),
                    "seconds": round(run.seconds, 1),
                }
                for run in mine
            },
        }
    return {
        "config": asdict(config),
        "total_seconds": round(seconds, 1),  # wall time of the whole run so far
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "nets": nets,
        "curves": {f"{r.name}/{r.seed}": [round(e, 4) for e in smooth(r.errors)] for r in runs},
    }


def paper_ordering(summary: dict[str, Any], key: str = "train_error") -> dict[str, bool]:
    """Figure 6's ordering of the final training errors, on the seeds' means."""
    err = {name: net[key]["mean"] for name, net in summary["nets"].items()}
    return {
        "resnet56_at_most_resnet20": err["resnet56"] <= err["resnet20"],
        "resnet20_below_plain20": err["resnet20"] < err["plain20"],
        "plain20_below_plain56": err["plain20"] < err["plain56"],
    }


def plot(summary: dict[str, Any], path: Path) -> None:
    """Mean training error against iterations, the seeds' range shaded, one panel per family."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config, curves = summary["config"], summary["curves"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True, layout="constrained")
    colours = {"20": "tab:orange", "56": "tab:red"}
    for ax, family in zip(axes, ("plain", "resnet"), strict=True):
        for name, net in summary["nets"].items():
            if not name.startswith(family):
                continue
            depth = name.removeprefix(family)
            seeds = [curves[f"{name}/{seed}"] for seed in net["seeds"]]
            mean = [100 * statistics.fmean(v) for v in zip(*seeds, strict=True)]
            low = [100 * min(v) for v in zip(*seeds, strict=True)]
            high = [100 * max(v) for v in zip(*seeds, strict=True)]
            steps = range(1, len(mean) + 1)
            train, test = net["train_error"], net["final_test_error"]
            label = (f"{'plain' if family == 'plain' else 'ResNet'}-{depth}: "
                     f"{100 * train['mean']:.1f}% ({100 * train['min']:.1f}-"
                     f"{100 * train['max']:.1f}), test {100 * test['mean']:.1f}%")  # fmt: skip
            dashed = family == "plain"
            ax.plot(steps, mean, color=colours.get(depth), label=label,
                    linestyle="--" if dashed else "-",
                    linewidth=1.3 if dashed else 2.4)  # fmt: skip
            ax.fill_between(steps, low, high, color=colours.get(depth), alpha=0.2, linewidth=0)
        ax.set_xlabel("iteration")
        ax.set_title("plain networks" if family == "plain" else "residual networks")
        ax.set_ylim(0, 100)
        ax.grid(True, alpha=0.3)
        ax.legend(title="final train error, mean (range), test error", fontsize=8)
    axes[0].set_ylabel("training error (%), smoothed")
    fig.suptitle(
        f"sklearn digits at {config['size']}x{config['size']}, pad-{config['pad']} crops; "
        f"batch {config['batch']}, SGD lr {config['lr']} (warm-up {config['warmup_lr']}), "
        f"/10 at 50% and 75%; mean of {config['seeds']} seeds, range shaded"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    default = Config()
    parser.add_argument("--steps", type=int, default=default.steps, help="iterations per net")
    parser.add_argument("--seeds", type=int, default=default.seeds, help="seeds 0..N-1 (3)")
    parser.add_argument("--batch", type=int, default=default.batch)
    parser.add_argument("--lr", type=float, default=default.lr, help="after the warm-up")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: batch 16, the digits' own 8x8, 128 training and 64 test images, "
        "1 process",
    )
    parser.add_argument(
        "--workers", type=int, default=default.workers, help="processes: 2 (plain, residual) or 1"
    )
    parser.add_argument("--threads", type=int, default=default.threads, help="torch threads each")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="output folder")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.seeds < 1:
        parser.error("--steps and --seeds must be at least 1")
    if args.workers not in (1, 2):
        parser.error("--workers must be 1 or 2")
    config = replace(
        default, steps=args.steps, seeds=args.seeds, batch=args.batch, lr=args.lr,
        workers=args.workers, threads=args.threads,
    )  # fmt: skip
    if args.quick:
        # In this process: the tests import the module, which a spawned worker could not.
        config = replace(config, batch=16, size=8, pad=1, workers=1, train_limit=128, test_limit=64)
    return config, args.out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    config, out = parse_args(argv)
    threads = torch.get_num_threads()
    _, y_train, _, y_test = load_data(config)
    console.print(
        f"digits: {len(y_train)} training, {len(y_test)} test images at "
        f"{config.size}x{config.size}; {config.steps} steps of batch {config.batch} per network "
        f"and seed, {config.seeds} seeds; {config.workers} process(es), "
        f"{config.threads} thread(s) each"
    )
    start = time.perf_counter()
    columns = (
        TextColumn("{task.description:>11}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("train err {task.fields[error]:6.1%}"), TimeElapsedColumn(),
        TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console) as progress:
        total = config.seeds * len(NETS) * config.steps
        overall = progress.add_task("all", total=total, error=math.nan)
        if config.workers > 1:
            runs = run_workers(
                config, progress, overall, lambda runs: save(runs, config, out, start)
            )
        else:  # in this process (the tests, a 1-core machine)
            tasks: dict[tuple[str, int], TaskID] = {}
            report: Report = lambda *event: show_step(progress, overall, tasks, config, *event)  # noqa: E731
            runs = [run for family in FAMILIES for run in train_family(family, config, report)]
            runs.sort(key=lambda run: (run.seed, list(NETS).index(run.name)))
    torch.set_num_threads(threads)  # leave the caller's torch as it was (tests import this)
    summary = save(runs, config, out, start)
    print_summary(summary, out)
    return summary


def save(runs: list[Run], config: Config, out: Path, start: float) -> dict[str, Any]:
    """Summarise the seeds whose four runs are all done; write the JSON and the plot."""
    seeds = {run.seed for run in runs if sum(r.seed == run.seed for r in runs) == len(NETS)}
    done = sorted(
        (run for run in runs if run.seed in seeds),
        key=lambda run: (run.seed, list(NETS).index(run.name)),
    )
    summary = summarize(done, replace(config, seeds=len(seeds)), time.perf_counter() - start)
    summary["paper_ordering"] = paper_ordering(summary)
    out.mkdir(parents=True, exist_ok=True)
    (out / "degradation.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    plot(summary, out / "degradation.png")
    return summary


def print_summary(summary: dict[str, Any], out: Path) -> None:
    config = summary["config"]
    table = Table(
        title=f"after {config['steps']} steps, {config['seeds']} seeds "
        f"({summary['total_seconds']} s): mean (min-max)"
    )
    for column in ("net", "params", "train err (last 10%)", "train err (eval)", "test err", "s"):
        table.add_column(column, justify="left" if column == "net" else "right")
    for name, net in summary["nets"].items():
        cells = [
            f"{s['mean']:.1%} ({s['min']:.1%}-{s['max']:.1%})"
            for s in (net["train_error"], net["final_train_error"], net["final_test_error"])
        ]
        table.add_row(name, f"{net['params']:,}", *cells, f"{net['seconds']}")
    console.print(table)
    for finding, held in summary["paper_ordering"].items():
        console.print(f"{finding}: {'yes' if held else 'no'}")
    console.print(f"wrote {out / 'degradation.png'} and {out / 'degradation.json'}")


if __name__ == "__main__":
    main()
    sys.exit(0)
