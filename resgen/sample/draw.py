"""Draw a batch of candidates from a space: uniforms in, parameter values out.

Each candidate takes a fixed number of uniforms from one PCG64 stream, in candidate order, so
candidate i is the same whatever the batch size, core count or hash seed. Constraints across
stages are sampled directly, never by rejection: a shared value is drawn once; non-decreasing
depths or widths are drawn stage by stage from the exact conditional distribution of
independent draws given that they do not decrease (a backward pass over the quantised values
weighs each value by the number of ways the later stages can still follow it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from resgen.sample.dists import Dist
from resgen.sample.resolve import Floats, Ints
from resgen.sample.space import REGNET_KEYS, STAGE_KEYS, Space

_DEFAULTS = {"bottleneck_ratio": 1.0, "group_width": 1}


@dataclass(frozen=True)
class Table:
    """One distribution as arrays: the inverse CDF's cumulative weights and the values."""

    cumulative: Floats
    values: npt.NDArray[np.generic]

    @classmethod
    def of(cls, dist: Dist) -> Table:
        return cls(np.asarray(dist.cumulative, dtype=np.float64), np.asarray(dist.values))

    def pick(self, u: Floats) -> npt.NDArray[np.generic]:
        return self.values[_search(self.cumulative, u * self.cumulative[-1], 0)]


def _search(cumulative: Floats, target: Floats, low: Ints | int) -> Ints:
    """The index whose interval holds `target` (never below `low`, never past the end)."""
    found = np.searchsorted(cumulative, target, side="right") - 1
    return np.clip(found, low, len(cumulative) - 2).astype(np.int64)


class NonDecreasing:
    """Independent per-stage draws conditioned on v_1 <= v_2 <= ... <= v_S, sampled exactly."""

    def __init__(self, dists: list[Dist]) -> None:
        support = sorted(set().union(*(d.values for d in dists)))
        position = {v: i for i, v in enumerate(support)}
        weights = np.zeros((len(dists), len(support)))
        for s, d in enumerate(dists):
            for v, p in zip(d.values, d.weights, strict=True):
                weights[s, position[v]] = p
        tail = np.ones(len(support))
        self.cumulative: list[Floats] = []
        for s in reversed(range(len(dists))):
            mass = weights[s] * tail  # value v here, times the ways the later stages follow it
            self.cumulative.insert(0, np.concatenate(([0.0], np.cumsum(mass))))
            tail = np.cumsum(mass[::-1])[::-1]
        self.possible = bool(tail[0] > 0)
        self.values = np.asarray(support)

    def pick(self, u: Floats) -> npt.NDArray[np.generic]:
        low = np.zeros(len(u), dtype=np.int64)
        out = np.empty(u.shape, dtype=np.int64)
        for s, cumulative in enumerate(self.cumulative):
            start = cumulative[low]
            low = _search(cumulative, start + u[:, s] * (cumulative[-1] - start), low)
            out[:, s] = low
        return self.values[out]


class Drawer:
    """A space's draws: `columns` uniforms per candidate, turned into parameter arrays.

    Each key is drawn one of three ways: once (a RegNet parameter, or a stage value every stage
    shares), per stage independently, or per stage without decreasing.
    """

    def __init__(self, space: Space) -> None:
        self.form = space.form
        self.stages = len(space.stage_dists)
        self.plan: list[tuple[str, Table | list[Table] | NonDecreasing]] = []
        if space.form == "regnet":
            for key in REGNET_KEYS:
                if key in space.dists:
                    self.plan.append((key, Table.of(space.dists[key])))
        else:
            on = space.constraints.on
            for key in STAGE_KEYS:
                dists = [per[key] for per in space.stage_dists]
                if on(f"shared_{key}") or all(d.kind == "fixed" for d in dists):
                    self.plan.append((key, Table.of(dists[0])))
                elif key in ("depth", "width") and on(f"non_decreasing_{key}s"):
                    self.plan.append((key, NonDecreasing(dists)))
                else:
                    self.plan.append((key, [Table.of(d) for d in dists]))
        self.columns = sum(1 if isinstance(s, Table) else self.stages for _, s in self.plan)

    def draw(self, u: Floats) -> dict[str, npt.NDArray[np.generic]]:
        """Each key's values: (B,) for RegNet's parameters, (B, S) for stage values."""
        out: dict[str, npt.NDArray[np.generic]] = {}
        column = 0
        for key, sampler in self.plan:
            if isinstance(sampler, Table):
                values = sampler.pick(u[:, column])
                column += 1
                if self.form == "stages":
                    values = np.repeat(values[:, None], self.stages, axis=1)
                out[key] = values
                continue
            part = u[:, column : column + self.stages]
            column += self.stages
            if isinstance(sampler, NonDecreasing):
                out[key] = sampler.pick(part)
            else:
                out[key] = np.stack([t.pick(part[:, s]) for s, t in enumerate(sampler)], axis=1)
        if self.form == "regnet":
            for key, default in _DEFAULTS.items():
                out.setdefault(key, np.full(len(u), default))
        return out
