"""What every benchmark shares: interleaved timing with medians, the machine, tables, models.

Speed goals are ratios against a baseline timed in the same process, in alternating order, so
that a busy machine (these 2 cores are shared) slows both sides alike. Each ratio comes with the
spread of its per-round ratios, the honest measure of noise here.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Ratio:
    """Median time of a contender over the baseline's, and the spread of per-round ratios."""

    median: float  # median(contender) / median(baseline)
    low: float  # 25th percentile of the per-round ratios
    high: float  # 75th percentile
    seconds: float  # the contender's median time

    def cell(self) -> str:
        return f"{self.median:.2f} [{self.low:.2f}-{self.high:.2f}]"

    @property
    def slower(self) -> bool:
        """Slower beyond noise: three rounds in four were slower than the baseline."""
        return self.low > 1.0


def interleave(
    contenders: dict[str, Callable[[], object]], reps: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Time each callable `reps` times, round by round, reversing the order every other round."""
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            contenders[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(reps):
        for name in names if round_ % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - start)
    return times


def ratio(times: dict[str, list[float]], name: str, baseline: str) -> Ratio:
    mine, base = times[name], times[baseline]
    rounds = sorted(a / b for a, b in zip(mine, base, strict=True))
    quartiles = statistics.quantiles(rounds, n=4, method="inclusive") if len(rounds) > 1 else None
    low, high = (quartiles[0], quartiles[2]) if quartiles else (rounds[0], rounds[0])
    median = statistics.median(mine)
    return Ratio(median / statistics.median(base), low, high, median)


def machine() -> str:
    """Date, cores, CPU model, load and versions: the line every result is recorded with."""
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    python = sys.version.split()[0]
    return f"{now}; nproc {os.cpu_count()}; {model}; load average {load}; Python {python}"


def set_threads(threads: int | None) -> None:
    """Use `threads` torch threads; None keeps torch's default (one per core)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table, columns padded so it also reads as plain text."""
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in rows
    ]
    return "\n".join(lines)


def generated(name: str) -> ModuleType:
    """The checked-in generated module `generated/<name>.py`."""
    import importlib

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"generated.{name}")


def deploy_module(name: str) -> ModuleType:
    """`<name>_deploy.py`, compiled in memory from `specs/<name>.yaml`."""
    from resgen.api import load_module, load_spec
    from resgen.codegen.deploy import render_deploy_source
    from resgen.pipeline import check

    loaded = load_spec(ROOT / "specs" / f"{name}.yaml")
    return load_module(render_deploy_source(loaded, check(loaded)), f"{name}_deploy")


def twins(name: str) -> tuple[Any, Any]:
    """The generated model and torchvision's, with the same (random) weights."""
    import torch
    import torchvision  # type: ignore[import-untyped]

    from resgen.api import load_spec

    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None)
    ours = getattr(generated(name), load_spec(name).spec.model_class)()
    ours.load_state_dict(reference.state_dict(), strict=True)
    return ours, reference


def aten_ops(model: Any, x: Any, train: bool) -> list[str]:
    """The aten ops one forward (and, when training, backward) runs, in order."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    seen: list[str] = []

    class Record(TorchDispatchMode):  # type: ignore[no-untyped-call]
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            seen.append(str(func.overloadpacket.__name__))
            return func(*args, **(kwargs or {}))

    model.train(train)
    with Record():  # type: ignore[no-untyped-call]
        if train:
            model(x).sum().backward()
        else:
            with torch.no_grad():
                model(x)
    return seen
