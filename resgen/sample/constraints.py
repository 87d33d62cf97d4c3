"""A space's `constraints:`: AnyNet's switches across stages, RegNet's stage count, and the
complexity window (MACs, params, activations) a sampled network must fall in.

    constraints:
      shared_bottleneck_ratio: true   # stages: one ratio for all stages (AnyNetX_B)
      shared_group_width: true        # stages: one group width for all stages (AnyNetX_C)
      non_decreasing_widths: true     # stages: w_1 <= w_2 <= ... (AnyNetX_D)
      non_decreasing_depths: true     # stages: d_1 <= d_2 <= ... (AnyNetX_E)
      num_stages: 4                   # regnet: how many stages the parameters generate
      macs: [360M, 400M]              # inclusive; the command line's --macs overrides it
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from resgen.diagnostics import Diagnostic, Location, error
from resgen.spec.source import Source
from resgen.spec.suggest import closest_names

SWITCHES = (
    "shared_bottleneck_ratio",
    "shared_group_width",
    "non_decreasing_widths",
    "non_decreasing_depths",
)
WINDOWS = ("macs", "params", "acts")
KEYS = (*SWITCHES, "num_stages", *WINDOWS)

_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_COUNT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Window:
    """An inclusive range of a count; None on a side that is open."""

    low: int | None = None
    high: int | None = None

    def __str__(self) -> str:
        return f"{_short(self.low)}:{_short(self.high)}"


@dataclass(frozen=True)
class Constraints:
    switches: frozenset[str] = frozenset()
    num_stages: tuple[int, int] | None = None
    windows: dict[str, Window] = field(default_factory=dict)
    where: dict[str, Location] = field(default_factory=dict)  # each key's place in the file

    def on(self, switch: str) -> bool:
        return switch in self.switches

    def check_form(self, form: str, source: Source) -> list[Diagnostic]:
        """An error at each constraint the space's form has no use for."""
        wrong = [s for s in self.switches if form == "regnet"]
        if form == "stages" and self.num_stages is not None:
            wrong.append("num_stages")
        hint = {
            "regnet": "RegNet's parameters share one ratio and one group width, and widths and "
            "depths only grow; remove the switch",
            "stages": "a stage space has as many stages as it lists (or `count`); remove it",
        }[form]
        return [
            error(
                "sample-constraint",
                f"`{key}` does not apply to a space of {form}",
                self.where[key],
                hint=hint,
            )
            for key in sorted(wrong)
        ]


def parse_count(value: Any) -> int | None:
    """A count as written in a window: 400000000, 4e8, '400M', '1.6G'; None if it is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if value >= 0 and value == int(value) else None
    if isinstance(value, str):
        match = _COUNT.match(value)
        if match:
            amount = Decimal(match[1]) * _SUFFIX[match[2].upper()]
            return int(amount) if amount == amount.to_integral_value() else None
    return None


def parse_window(text: str) -> Window | None:
    """`LOW:HIGH` from the command line (either side may be empty); None if it is not one."""
    low_text, sep, high_text = text.partition(":")
    if not sep:
        return None
    low = parse_count(low_text) if low_text.strip() else None
    high = parse_count(high_text) if high_text.strip() else None
    if (low_text.strip() and low is None) or (high_text.strip() and high is None):
        return None
    return Window(low, high)


def parse_constraints(value: Any, source: Source) -> tuple[Constraints, list[Diagnostic]]:
    """The `constraints:` mapping, or the diagnostics of what is wrong in it."""
    if value is None:
        return Constraints(), []
    if not isinstance(value, dict):
        hint = "e.g. `constraints: {non_decreasing_widths: true, macs: [360M, 400M]}`"
        at = source.locate(("constraints",))
        return Constraints(), [
            error("sample-constraint", "`constraints` must be a mapping", at, hint)
        ]
    taken: dict[str, Any] = {}
    where: dict[str, Location] = {}
    found: list[Diagnostic] = []
    for key, item in value.items():
        where[str(key)] = source.locate(("constraints", key), key=True)
        problem = _take(str(key), item, taken)
        if problem is not None:
            code, message, hint = problem
            found.append(error(code, message, source.locate(("constraints", key)), hint))
    switches = frozenset(k for k in SWITCHES if taken.get(k))
    windows = {k: taken[k] for k in WINDOWS if k in taken}
    return Constraints(switches, taken.get("num_stages"), windows, where), found


def _take(key: str, item: Any, taken: dict[str, Any]) -> tuple[str, str, str] | None:
    """Record one constraint's value; or (code, message, hint) saying what is wrong with it."""
    if key not in KEYS:
        close = closest_names(key, KEYS)
        hint = f"did you mean `{close[0]}`?" if close else f"constraints are {', '.join(KEYS)}"
        return "sample-constraint", f"unknown constraint `{key}`", hint
    if key in SWITCHES:
        if not isinstance(item, bool):
            return "sample-constraint", f"`{key}` is true or false", f"write `{key}: true`"
        taken[key] = item
    elif key == "num_stages":
        taken[key] = _stage_range(item)
        if taken[key] is None:
            hint = "e.g. `num_stages: 4` or `num_stages: [3, 5]`"
            return "sample-constraint", "`num_stages` is a count or [low, high]", hint
    else:
        window = _window(item)
        if isinstance(window, str):
            return "sample-window", f"`{key}`: {window}", f"e.g. `{key}: [360M, 400M]` (inclusive)"
        taken[key] = window
    return None


def _stage_range(item: Any) -> tuple[int, int] | None:
    values = item if isinstance(item, list) and len(item) == 2 else [item, item]
    if all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        low, high = values
        return (low, high) if low <= high else None
    return None


def _window(item: Any) -> Window | str:
    if not (isinstance(item, list) and len(item) == 2):
        return "a window is [low, high]"
    low, high = (parse_count(v) if v is not None else None for v in item)
    if (item[0] is not None and low is None) or (item[1] is not None and high is None):
        return "a bound is a count such as 400000000, 4e8 or 400M (null for none)"
    if low is not None and high is not None and low > high:
        return f"the window [{item[0]}, {item[1]}] is empty: low is above high"
    return Window(low, high)


def _short(value: int | None) -> str:
    if value is None:
        return ""
    for suffix in ("T", "G", "M", "K"):
        if value % _SUFFIX[suffix] == 0 and value >= _SUFFIX[suffix]:
            return f"{value // _SUFFIX[suffix]}{suffix}"
    return str(value)
