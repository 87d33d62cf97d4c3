"""A design-space study end to end, at toy scale on a CPU (Radosavovic et al. 2019, 2020).

1. Write a small AnyNetX space for 16x16 one-channel digits (four stages of RegNet blocks).
2. `resgen sample` draws N distinct networks of it inside a MACs window: N specs and a table.
3. Each spec becomes a model (`resgen.build_model`), trains a few SGD steps on scikit-learn's
   bundled 8x8 digits (upscaled to 16x16) and is scored on held-out digits, with a progress bar.
4. The errors go to errors.csv, and `resgen sample --compare` draws the complexity distribution,
   the error EDF and the complexity-normalised EDF into design_space.png.

    python examples/design_space.py                       # 8 networks, 60 steps each (~1 min)
    python examples/design_space.py -n 3 --steps 2 --out /tmp/ds     # a smoke test

Writes into `--out` (default build/design_space/, which must not hold an earlier run's samples/):
space.yaml, samples/ (the specs and tables), errors.csv, design_space.png.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python examples/design_space.py` puts only examples/ there
    sys.path.insert(0, str(ROOT))

import resgen  # noqa: E402
from resgen.cli import main as resgen_main  # noqa: E402

SPACE = """\
# AnyNetX_E for 16x16 digits: written by examples/design_space.py
name: digits_anynet
input: {size: 16, channels: 1}
stem: {type: simple, width: 16}
block: {type: regnet}
head: {classes: 10}
stages:
  count: 3
  depth: {uniform: [1, 3]}
  width: {log_uniform: [8, 96], quantum: 8}
  stride: 2
  bottleneck_ratio: {choice: [0.5, 1.0]}
  group_width: {power2: [4, 16]}
constraints:
  shared_bottleneck_ratio: true
  shared_group_width: true
  non_decreasing_widths: true
  non_decreasing_depths: true
"""
console = Console(stderr=True)


def load_digits(size: int = 16) -> tuple[torch.Tensor, ...]:
    """scikit-learn's 1,797 digits, upscaled, normalised; a fixed 80/20 split."""
    from sklearn.datasets import load_digits as sk_load_digits  # type: ignore[import-untyped]

    digits = sk_load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    cut = int(0.8 * len(labels))
    train, test = order[:cut], order[cut:]
    images = (images - images[train].mean()) / images[train].std()
    return images[train], labels[train], images[test], labels[test]


def train_and_score(spec: Path, data: tuple[torch.Tensor, ...], steps: int, seed: int) -> float:
    """A few SGD steps on the training digits; the error (%) on the held-out ones."""
    x, y, x_test, y_test = data
    torch.manual_seed(seed)
    model = resgen.build_model(spec)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    model.train()
    for step in range(steps):
        picked = torch.randint(len(y), (64,), generator=torch.Generator().manual_seed(step))
        loss = F.cross_entropy(model(x[picked]), y[picked])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        wrong = (model(x_test).argmax(1) != y_test).float().mean().item()
    return 100.0 * wrong


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=8, help="networks to sample (default 8)")
    parser.add_argument("--steps", type=int, default=60, help="SGD steps each (default 60)")
    parser.add_argument("--macs", default="100K:1M", help="the MACs window (default 100K:1M)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "design_space")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    # Toy models gain nothing from more threads, and on a shared machine spinning OpenMP
    # threads cost several times the work (see tests/conftest.py).
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    space = args.out / "space.yaml"
    space.write_text(SPACE, encoding="utf-8")
    samples = args.out / "samples"
    sample_args = ["sample", str(space), "-n", str(args.n), "--macs", args.macs]
    if resgen_main([*sample_args, "--seed", str(args.seed), "-o", str(samples)]) != 0:
        raise SystemExit("resgen sample failed (see above)")
    specs = sorted((samples / "specs").glob("*.yaml"))
    data = load_digits()
    errors: dict[str, float] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("last error {task.fields[error]:.1f}%"))  # fmt: skip
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("training", total=len(specs), error=math.nan)
        for spec in specs:
            errors[spec.stem] = train_and_score(spec, data, args.steps, args.seed)
            progress.update(task, advance=1, error=errors[spec.stem])
    results = args.out / "errors.csv"
    rows = "".join(f"{name},{error:.2f}\n" for name, error in errors.items())
    results.write_text("name,error\n" + rows, encoding="utf-8")
    picture = args.out / "design_space.png"
    compare = ["sample", "--compare", str(samples / "samples.json"), "--results", str(results)]
    if resgen_main([*compare, "-o", str(picture)]) != 0:
        raise SystemExit("resgen sample --compare failed (see above)")
    best = min(errors, key=errors.__getitem__)
    console.print(f"best of {len(errors)}: {best} at {errors[best]:.1f}% error; {picture}")
    return {"errors": errors, "picture": str(picture)}


if __name__ == "__main__":
    main()
