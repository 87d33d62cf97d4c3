"""Pictures of sampled spaces (matplotlib, drawn off-screen to PNG bytes).

One or more runs (their samples.json) give the complexity distribution: the cumulative share of
each run's networks by MACs. With a results file per run (one error per sampled network), two
more panels give the error EDF, the share of networks with an error below e, and the
complexity-normalised EDF of Radosavovic et al. (2019), which weighs each network so that every
log-spaced MACs bin holds the same weight in every run (bins some run lacks are left out), so that
spaces are compared at matched complexity.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from resgen.diagnostics import Location, ResgenError

BINS = 8
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Run:
    """One sampled space: its name, and each network's name and MACs."""

    label: str
    names: tuple[str, ...]
    macs: Floats


def load_run(path: Path) -> Run:
    """A samples.json that `resgen sample -o` wrote; ResgenError if it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        samples = document["samples"]
        names = tuple(str(s["name"]) for s in samples)
        macs = np.array([float(s["macs"]) for s in samples])
        label = str(document.get("space", path.stem))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResgenError.single(
            "not-a-sample-table", f"{path} is not a samples.json of `resgen sample`: {exc!r}",
            Location(str(path)), hint="pass the samples.json that `resgen sample -o DIR` wrote",
        ) from None  # fmt: skip
    return Run(label, names, macs)


def load_errors(path: Path, run: Run) -> Floats:
    """Each network's error from a CSV with `name` and `error` columns, in the run's order."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        found = {row["name"]: float(row["error"]) for row in rows}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResgenError.single(
            "bad-results", f"cannot read errors from {path}: {exc!r}", Location(str(path)),
            hint="a CSV with a header `name,error` and one row per sampled network",
        ) from None  # fmt: skip
    missing = [name for name in run.names if name not in found]
    if missing:
        raise ResgenError.single(
            "bad-results",
            f"{path} has no error for {len(missing)} of {run.label}'s networks ({missing[0]}, ...)",
            Location(str(path)),
            hint="give every network of the samples.json a row (name,error)",
        )
    return np.array([found[name] for name in run.names])


def normalised_weights(runs: list[Run]) -> list[Floats]:
    """Per run, weights that give every shared log-MACs bin the same total weight."""
    low = min(float(r.macs.min()) for r in runs)
    high = max(float(r.macs.max()) for r in runs)
    edges = np.geomspace(low, high * (1 + 1e-12), BINS + 1) if high > low else None
    bins = [
        np.zeros(len(r.macs), dtype=np.int64) if edges is None else
        np.clip(np.searchsorted(edges, r.macs, side="right") - 1, 0, BINS - 1)
        for r in runs
    ]  # fmt: skip
    shared = set.intersection(*(set(b.tolist()) for b in bins))
    weights = []
    for b in bins:
        counts = np.bincount(b, minlength=BINS)
        w = np.array([1.0 / counts[i] if i in shared else 0.0 for i in b.tolist()])
        weights.append(w / w.sum())
    return weights


def edf(values: Floats, weights: Floats) -> tuple[Floats, Floats]:
    """The (weighted) empirical distribution function as steps: sorted values, cumulative."""
    order = np.argsort(values, kind="stable")
    return values[order], np.cumsum(weights[order])


def render(runs: list[Run], errors: list[Floats] | None) -> bytes:
    """The PNG: complexity distributions, and with errors the EDF and normalised EDF panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 1 if errors is None else 3
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 4), squeeze=False)
    ax = axes[0][0]
    for run in runs:
        x, y = edf(run.macs / 1e6, np.full(len(run.macs), 1 / len(run.macs)))
        ax.step(x, y, where="post", label=f"{run.label} (n={len(run.macs)})")
    ax.set(xlabel="MACs (M)", ylabel="cumulative share", title="complexity")
    if errors is not None:
        weighted = normalised_weights(runs)
        for run, err, w in zip(runs, errors, weighted, strict=True):
            x, y = edf(err, np.full(len(err), 1 / len(err)))
            axes[0][1].step(x, y, where="post", label=run.label)
            x, y = edf(err, w)
            axes[0][2].step(x, y, where="post", label=run.label)
        axes[0][1].set(xlabel="error", ylabel="cumulative share", title="error EDF")
        axes[0][2].set(xlabel="error", title="complexity-normalised error EDF")
    for row in axes:
        for panel in row:
            panel.grid(alpha=0.3)
            panel.legend(fontsize="small")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return out.getvalue()


def compare(paths: list[Path], results: list[Path] | None) -> bytes:
    """Load the runs (and their errors) and draw them; ResgenError for a bad file."""
    runs = [load_run(p) for p in paths]
    if results is not None and len(results) != len(runs):
        raise ResgenError.single(
            "bad-results", f"{len(results)} results files for {len(runs)} sample tables",
            None, hint="give --results one CSV per samples.json, in the same order",
        )  # fmt: skip
    empty = [str(p) for p, r in zip(paths, runs, strict=True) if len(r.macs) == 0]
    if empty:
        raise ResgenError.single(
            "not-a-sample-table", f"{empty[0]} holds no networks", Location(empty[0]),
            hint="sample at least one network into it",
        )  # fmt: skip
    pairs = zip(results or [], runs, strict=False)
    errors = None if results is None else [load_errors(p, r) for p, r in pairs]
    return render(runs, errors)
