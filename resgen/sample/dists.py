"""Distributions of a design space: ranges and choices as finite, weighted sets of values.

Every distribution is discrete: a range is quantised (`quantum`), so each has a support (its
values, ascending) and a probability per value, computed once. Drawing is then an inverse-CDF
lookup, which vectorises, and constraints across stages can be sampled exactly (`draw`).

The weights follow pycls's samplers (pycls/sweep/random.py) so that a space means the same in
both tools: `uniform` gives every multiple of the quantum in [low, high] the same chance;
`log_uniform` draws log-uniformly in (low - q*, high] with q* = min(q, low / 2) and rounds up to
the quantum; `power2` gives every power of two in [low, high] the same chance; `choice` every
listed value the same chance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import accumulate
from typing import Any

from resgen.diagnostics import Diagnostic, error
from resgen.spec.source import Path, Source

KINDS = ("uniform", "log_uniform", "power2", "choice")
MAX_SUPPORT = 1_000_000  # values in one range: beyond this the tables cost more than they help

Number = int | float


@dataclass(frozen=True)
class Dist:
    """A finite distribution: ascending values, their probabilities, and what the user wrote."""

    kind: str  # one of KINDS, or "fixed" for a plain value
    values: tuple[Number, ...]
    weights: tuple[float, ...]
    path: Path

    @property
    def cumulative(self) -> tuple[float, ...]:
        """0, then the running sums of the weights (the inverse CDF's table)."""
        return (0.0, *accumulate(self.weights))

    @property
    def low(self) -> Number:
        return self.values[0]

    @property
    def high(self) -> Number:
        return self.values[-1]


def fixed(value: Number, path: Path) -> Dist:
    return Dist("fixed", (value,), (1.0,), path)


def is_dist(value: Any) -> bool:
    """Whether a value of the space file is a distribution (a mapping naming one kind)."""
    return isinstance(value, dict) and any(kind in value for kind in KINDS)


def parse_dist(value: dict[str, Any], path: Path, source: Source) -> Dist | Diagnostic:
    """A distribution from its mapping, or the diagnostic that says what is wrong with it."""
    kinds = [k for k in KINDS if k in value]
    extra = sorted(str(k) for k in value if k not in (*KINDS, "quantum"))
    if len(kinds) != 1 or extra:
        what = f"both `{kinds[0]}` and `{kinds[1]}`" if len(kinds) > 1 else f"`{extra[0]}`"
        return error(
            "sample-distribution",
            f"a distribution takes one of {', '.join(KINDS)} and a `quantum`, not {what}",
            source.locate(path, key=True),
            hint="e.g. `{log_uniform: [8, 256], quantum: 8}` or `{choice: [1, 2, 4]}`",
        )
    kind = kinds[0]
    where = source.locate((*path, kind))
    bounds = value[kind]
    if kind == "choice":
        return _choice(bounds, path, where)
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(map(_is_number, bounds))):
        return error(
            "sample-distribution",
            f"`{kind}` takes [low, high], two numbers",
            where,
            hint=f"e.g. `{kind}: [16, 64]`",
        )
    low, high = bounds
    if low > high:
        return error(
            "sample-range-empty",
            f"the range [{low}, {high}] is empty: low is above high",
            where,
            hint=f"swap the bounds: [{high}, {low}]",
        )
    if kind == "power2":
        return _power2(low, high, path, where)
    return _quantised(kind, low, high, value.get("quantum"), path, source)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _choice(options: Any, path: Path, where: Any) -> Dist | Diagnostic:
    if not (isinstance(options, list) and options and all(map(_is_number, options))):
        return error(
            "sample-distribution",
            "`choice` takes a non-empty list of numbers",
            where,
            hint="e.g. `choice: [1, 2, 4]`",
        )
    counts: dict[Number, int] = {}
    for option in options:
        counts[option] = counts.get(option, 0) + 1
    values = tuple(sorted(counts))
    return Dist("choice", values, tuple(counts[v] / len(options) for v in values), path)


def _power2(low: Number, high: Number, path: Path, where: Any) -> Dist | Diagnostic:
    exponents = [_log2(low), _log2(high)]
    if exponents[0] is None or exponents[1] is None:
        return error(
            "sample-power2",
            f"`power2` bounds must be powers of two, not [{low}, {high}]",
            where,
            hint="e.g. `power2: [1, 32]` or `power2: [0.25, 1.0]`",
        )
    lo, hi = exponents[0], exponents[1]
    as_int = isinstance(low, int) and isinstance(high, int)
    values = tuple(int(2**e) if as_int else float(2.0**e) for e in range(lo, hi + 1))
    return Dist("power2", values, tuple(1 / len(values) for _ in values), path)


def _log2(value: Number) -> int | None:
    if value <= 0:
        return None
    mantissa, exponent = math.frexp(value)
    return exponent - 1 if mantissa == 0.5 else None


def _quantised(
    kind: str, low: Number, high: Number, quantum: Any, path: Path, source: Source
) -> Dist | Diagnostic:
    where = source.locate((*path, "quantum")) if quantum is not None else source.locate(path)
    integral = isinstance(low, int) and isinstance(high, int)
    if quantum is None and not integral:
        return error(
            "sample-quantum",
            f"a `{kind}` range of non-integers needs a `quantum`",
            where,
            hint=f"add the step its values are multiples of, e.g. `{{{kind}: [{low}, {high}], "
            "quantum: 0.1}`",
        )
    q = Decimal(1) if quantum is None else _decimal(quantum)
    if q is None or q <= 0:
        return error(
            "sample-quantum",
            f"`quantum` must be a positive number, not {quantum!r}",
            where,
            hint="e.g. `quantum: 8` for widths, `quantum: 0.1` for a slope",
        )
    lo, hi = Decimal(repr(low)), Decimal(repr(high))
    if lo % q or hi % q:
        return error(
            "sample-quantum",
            f"the quantum {quantum} does not divide the bounds [{low}, {high}]",
            where,
            hint="make both bounds multiples of the quantum (e.g. [8, 256] with quantum 8)",
        )
    if kind == "log_uniform" and low <= 0:
        return error(
            "sample-range-empty",
            f"a `log_uniform` range must be above 0, not [{low}, {high}]",
            source.locate((*path, kind)),
            hint="start the range at the smallest positive value you mean",
        )
    count = int((hi - lo) / q) + 1
    if count > MAX_SUPPORT:
        return error(
            "sample-quantum",
            f"[{low}, {high}] in steps of {quantum} has {count:,} values (at most {MAX_SUPPORT:,})",
            where,
            hint="use a coarser quantum",
        )
    ints = integral and q == q.to_integral_value()
    values = tuple(int(lo + i * q) if ints else float(lo + i * q) for i in range(count))
    if kind == "uniform":
        return Dist(kind, values, tuple(1 / count for _ in values), path)
    return Dist(kind, values, _log_weights(values, float(q)), path)


def _decimal(value: Any) -> Decimal | None:
    if not _is_number(value):
        return None
    try:
        return Decimal(repr(value))
    except InvalidOperation:
        return None


def _log_weights(values: Sequence[Number], q: float) -> tuple[float, ...]:
    """pycls's log_uniform: log-uniform on (low - q*, high], each value taking (v - q, v]."""
    low, high = values[0], values[-1]
    start = math.log(low - min(q, low / 2))
    span = math.log(high) - start
    edges = [start, *(math.log(v) for v in values)]
    return tuple((edges[i + 1] - edges[i]) / span for i in range(len(values)))
