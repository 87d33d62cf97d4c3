"""The sampling loop: draw candidates in batches, keep the distinct ones inside the window.

Everything a candidate needs comes from its own slice of one PCG64 stream (`draw.Drawer`), and
candidates are judged in order, so the kept set depends on the space, the seed and N only. The
tally says where every candidate went: unbuildable, outside the stage count, outside the window,
a network already kept (distinct means distinct stages, not distinct parameters), or kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from resgen.diagnostics import ResgenError
from resgen.sample.constraints import Window
from resgen.sample.count import Counts, count_batch
from resgen.sample.draw import Drawer
from resgen.sample.resolve import Stages, adjust_groups, regnet_batch
from resgen.sample.space import Space

BATCH = 4096
MAX_DRAWS = 2_000_000


@dataclass(frozen=True)
class Sample:
    """One kept network: what was drawn, the stages it makes, and its counts."""

    drawn: dict[str, Any]  # RegNet: each parameter; stages: each key's per-stage list
    stages: tuple[tuple[int, int, int, float], ...]  # (depth, width, group_width, ratio)
    params: int
    macs: int
    acts: int


@dataclass
class Tally:
    candidates: int = 0
    unbuildable: int = 0
    stage_count: int = 0
    window: int = 0
    duplicate: int = 0
    kept: int = 0
    low: dict[str, int] = field(default_factory=dict)  # the least and most of each count seen
    high: dict[str, int] = field(default_factory=dict)

    @property
    def acceptance(self) -> float:
        return self.kept / self.candidates if self.candidates else 0.0


def sample_space(
    space: Space,
    n: int,
    seed: int,
    windows: Mapping[str, Window],
    max_draws: int = MAX_DRAWS,
) -> tuple[list[Sample], Tally]:
    """Up to `n` distinct networks in the windows, from at most `max_draws` candidates."""
    drawer = Drawer(space)
    rng = np.random.Generator(np.random.PCG64(seed))
    kept: list[Sample] = []
    seen: set[tuple[tuple[int, ...], ...]] = set()
    tally = Tally()
    while len(kept) < n and tally.candidates < max_draws:
        rows = min(BATCH, max_draws - tally.candidates)
        u = rng.random((rows, drawer.columns))
        drawn = drawer.draw(u)
        stages = resolve(space, drawn)
        counts = count_batch(stages, space.strides, space.family)
        verdict = _judge(space, stages, counts, windows, tally)
        for row in np.flatnonzero(verdict == _IN):
            key = _key(stages, int(row))
            if key in seen:
                verdict[row] = _DUPLICATE
                continue
            seen.add(key)
            kept.append(_sample(space, drawn, stages, counts, int(row)))
            if len(kept) == n:
                verdict = verdict[: row + 1]
                break
        _tally(tally, verdict, counts)
    return kept, tally


def resolve(space: Space, drawn: dict[str, npt.NDArray[Any]]) -> Stages:
    """The stages every candidate of a batch makes."""
    if space.form == "regnet":
        return regnet_batch(
            drawn["w_0"].astype(np.int64),
            drawn["w_a"].astype(np.float64),
            drawn["w_m"].astype(np.float64),
            drawn["depth"].astype(np.int64),
            drawn["group_width"].astype(np.int64),
            drawn["bottleneck_ratio"].astype(np.float64),
            space.group_rounding,
        )
    depth = drawn["depth"].astype(np.int64)
    count = np.full(len(depth), depth.shape[1], dtype=np.int64)
    return adjust_groups(
        depth,
        drawn["width"].astype(np.int64),
        drawn["group_width"].astype(np.int64),
        drawn["bottleneck_ratio"].astype(np.float64),
        count,
        space.group_rounding,
    )


_UNBUILDABLE, _STAGE_COUNT, _WINDOW, _IN, _DUPLICATE = range(5)


def _judge(
    space: Space, stages: Stages, counts: Counts, windows: Mapping[str, Window], tally: Tally
) -> npt.NDArray[np.int64]:
    """Each candidate's fate before distinctness: the first test it fails, else _IN."""
    verdict = np.full(len(stages.count), _IN, dtype=np.int64)
    inside = np.ones(len(verdict), dtype=bool)
    for name, window in windows.items():
        values = getattr(counts, name)
        if window.low is not None:
            inside &= values >= window.low
        if window.high is not None:
            inside &= values <= window.high
    verdict[~inside] = _WINDOW
    if space.constraints.num_stages is not None:
        low, high = space.constraints.num_stages
        verdict[(stages.count < low) | (stages.count > high)] = _STAGE_COUNT
    verdict[~stages.ok] = _UNBUILDABLE
    return verdict


def _tally(tally: Tally, verdict: npt.NDArray[np.int64], counts: Counts) -> None:
    tally.candidates += len(verdict)
    tally.unbuildable += int((verdict == _UNBUILDABLE).sum())
    tally.stage_count += int((verdict == _STAGE_COUNT).sum())
    tally.window += int((verdict == _WINDOW).sum())
    tally.duplicate += int((verdict == _DUPLICATE).sum())
    tally.kept += int((verdict == _IN).sum())
    built = verdict[: len(verdict)] != _UNBUILDABLE
    for name in ("params", "macs", "acts"):
        values = getattr(counts, name)[: len(verdict)][built]
        if len(values):
            tally.low[name] = min(tally.low.get(name, int(values.min())), int(values.min()))
            tally.high[name] = max(tally.high.get(name, int(values.max())), int(values.max()))


def _key(stages: Stages, row: int) -> tuple[tuple[int, ...], ...]:
    """What makes two networks the same: each stage's depth, width, inner width and groups."""
    count = int(stages.count[row])
    columns = (stages.depth, stages.width, stages.mid, stages.groups)
    return tuple(tuple(int(c[row, s]) for c in columns) for s in range(count))


def _sample(
    space: Space, drawn: dict[str, npt.NDArray[Any]], stages: Stages, counts: Counts, row: int
) -> Sample:
    values = {key: array[row].tolist() for key, array in drawn.items()}
    if space.form == "regnet":
        values = {key: values[key] for key in drawn if key in space.dists}
    count = int(stages.count[row])
    resolved = tuple(
        (
            int(stages.depth[row, s]),
            int(stages.width[row, s]),
            int(stages.group_width[row, s]),
            float(stages.ratio[row, s]),
        )
        for s in range(count)
    )
    return Sample(
        values, resolved, int(counts.params[row]), int(counts.macs[row]), int(counts.acts[row])
    )


def require(
    n: int, kept: list[Sample], tally: Tally, windows: Mapping[str, Window], where: Any
) -> None:
    """Raise the error that says why fewer than `n` networks were found, if they were."""
    if len(kept) >= n:
        return
    shown = ", ".join(f"{name} {window}" for name, window in windows.items())
    within = f" within {shown}" if shown else ""
    seen = ", ".join(
        f"{name} {_human(tally.low[name])} to {_human(tally.high[name])}" for name in tally.low
    )
    if kept:
        code = "too-few-networks"
        message = f"only {len(kept)} distinct networks{within} in {tally.candidates:,} "
        message += f"candidates, of the {n} asked for"
        hint = "ask for fewer (-n), allow more candidates (--max-draws), or widen the window"
    else:
        code = "window-unreachable"
        message = f"no network in {tally.candidates:,} candidates is{within}"
        hint = "widen the window, or move the space's ranges"
    message += f"; the candidates had {seen}"
    raise ResgenError.single(code, message, where, hint)


def _human(count: int) -> str:
    for suffix, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            return f"{count / size:.3g}{suffix}"
    return str(count)
