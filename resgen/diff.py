"""A semantic diff of two specs: what the user changed, and what that does to shapes and counts.

Spec changes come from comparing the two validated specs field by field (defaults filled in), so
reordered keys, comments and spelled-out defaults are no change, and fields added to the spec
language later are compared without any change here. Shapes, params and MACs come from the
static checks, per stage and in total.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from resgen.checks import Analysis
from resgen.checks.shapes import fmt_shape
from resgen.report import info_json
from resgen.spec.load import LoadedSpec
from resgen.spec.suggest import describe_path

ChangeKind = Literal["changed", "added", "removed"]


@dataclass(frozen=True)
class Change:
    """One spec field that differs, at a data path: ("stages", 1, "width")."""

    at: tuple[str | int, ...]
    kind: ChangeKind
    a: Any = None  # the value in the first spec (None when added)
    b: Any = None  # the value in the second spec (None when removed)

    @property
    def path(self) -> str:
        """The field as messages name it, stages numbered from 1: `stage 2 width`."""
        return describe_path(self.at)

    @property
    def pointer(self) -> str:
        """The field as an RFC 6901 JSON Pointer, whose list indices count from 0."""
        return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in self.at)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "pointer": self.pointer, "change": self.kind}
        if self.kind != "added":
            out["a"] = self.a
        if self.kind != "removed":
            out["b"] = self.b
        return out


@dataclass(frozen=True)
class SpecDiff:
    """Two specs' field changes and summaries (each as `resgen.summarize` returns it)."""

    a: dict[str, Any]
    b: dict[str, Any]
    changes: tuple[Change, ...]

    @property
    def identical(self) -> bool:
        """True when the specs agree on every field (layout, comments and key order aside)."""
        return not self.changes

    def stage_rows(self) -> list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]:
        """Pair the two summaries' stage rows by name, in network order."""
        rows_a = {row["name"]: row for row in self.a["stages"]}
        rows_b = {row["name"]: row for row in self.b["stages"]}
        names = _merge_order(list(rows_a), list(rows_b))
        return [(name, rows_a.get(name), rows_b.get(name)) for name in names]

    def to_json(self) -> dict[str, Any]:
        return {
            "a": {"name": self.a["name"], "file": self.a["file"]},
            "b": {"name": self.b["name"], "file": self.b["file"]},
            "identical": self.identical,
            "changes": [c.to_json() for c in self.changes],
            "input": {"a": self.a["input"], "b": self.b["input"]},
            "output": {"a": self.a["output"], "b": self.b["output"]},
            "params": _delta(self.a["params"], self.b["params"]),
            "macs": _delta(self.a["macs"], self.b["macs"]),
            "stages": [
                {"name": name, "changed": row_a != row_b, "a": _row(row_a), "b": _row(row_b)}
                for name, row_a, row_b in self.stage_rows()
            ],
        }


def compare_specs(a: tuple[LoadedSpec, Analysis], b: tuple[LoadedSpec, Analysis]) -> SpecDiff:
    """Compare two checked specs: their fields, and the numbers their analyses give."""
    changes = diff_values(a[0].spec.model_dump(mode="json"), b[0].spec.model_dump(mode="json"), ())
    return SpecDiff(info_json(*a), info_json(*b), tuple(changes))


def diff_values(a: Any, b: Any, path: tuple[str | int, ...]) -> list[Change]:
    """List the leaf differences of two JSON-like values; lists of mappings go item by item."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[Change] = []
        for key in [*a, *(k for k in b if k not in a)]:
            where = (*path, key)
            if key not in b:
                out.append(Change(where, "removed", a=a[key]))
            elif key not in a:
                out.append(Change(where, "added", b=b[key]))
            else:
                out.extend(diff_values(a[key], b[key], where))
        return out
    if _is_records(a) and _is_records(b):
        out = []
        for i in range(max(len(a), len(b))):
            where = (*path, i)
            if i >= len(b):
                out.append(Change(where, "removed", a=a[i]))
            elif i >= len(a):
                out.append(Change(where, "added", b=b[i]))
            else:
                out.extend(diff_values(a[i], b[i], where))
        return out
    if a == b and type(a) is type(b):
        return []
    return [Change(path, "changed", a, b)]


def _merge_order(a: list[str], b: list[str]) -> list[str]:
    """Both lists' names once, in network order: a name only in `a` stays where `a` had it."""
    out: list[str] = []
    start = 0
    for name in b:
        if name in a:
            at = a.index(name)
            out.extend(x for x in a[start:at] if x not in b)
            start = max(start, at + 1)
        out.append(name)
    out.extend(x for x in a[start:] if x not in b)
    return out


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _delta(a: int, b: int) -> dict[str, Any]:
    return {"a": a, "b": b, "delta": b - a}


def _row(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {k: v for k, v in row.items() if k != "name"}


def format_diff(diff: SpecDiff) -> str:
    """Render a diff as plain text: spec changes, changed stages, then totals."""
    a, b = diff.a, diff.b
    lines = [f"--- {a['file']} ({a['name']})", f"+++ {b['file']} ({b['name']})"]
    if diff.identical:
        lines.append("specs are identical")
        return "\n".join(lines) + "\n"
    lines.append("spec:")
    width = max(len(c.path) for c in diff.changes)
    for c in diff.changes:
        if c.kind == "changed":
            text = f"{_show(c.a)} -> {_show(c.b)}"
        else:
            text = f"{c.kind} {_show(c.a if c.kind == 'removed' else c.b)}"
        lines.append(f"  {c.path:<{width}}  {text}")
    table = [("stage", "blocks", "output", "params", "MACs")]
    for name, row_a, row_b in diff.stage_rows():
        if row_a != row_b:
            table.append(
                (
                    name,
                    _pair(row_a, row_b, "blocks", lambda v: str(v or "-")),
                    _pair(row_a, row_b, "output", lambda v: fmt_shape(v and tuple(v))),
                    _pair(row_a, row_b, "params", _count, delta=True),
                    _pair(row_a, row_b, "macs", _count, delta=True),
                )
            )
    if len(table) > 1:
        lines.append("stages:")
        widths = [max(len(row[i]) for row in table) for i in range(5)]
        lines.extend(
            "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in table
        )
    else:
        lines.append("stages: no change in shapes, params or MACs")
    lines.append("totals:")
    lines.append(f"  params  {_change(a['params'], b['params'])}")
    lines.append(f"  MACs    {_change(a['macs'], b['macs'])}")
    out_a, out_b = (fmt_shape(s and tuple(s)) for s in (a["output"], b["output"]))
    lines.append(f"  output  {out_a}" + (f" -> {out_b}" if out_a != out_b else " (unchanged)"))
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    # A field left out (or set to null) takes its default, which depends on other fields.
    if value is None:
        return "(default)"
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if v is not None}
    return json.dumps(value, ensure_ascii=False)


def _count(value: Any) -> str:
    return f"{value:,}"


def _pair(
    row_a: dict[str, Any] | None,
    row_b: dict[str, Any] | None,
    key: str,
    show: Callable[[Any], str],
    *,
    delta: bool = False,
) -> str:
    if row_a is None or row_b is None:
        row = row_a or row_b
        assert row is not None
        return f"{'removed' if row_b is None else 'added'} {show(row[key])}"
    if row_a[key] == row_b[key]:
        return show(row_a[key])
    text = f"{show(row_a[key])} -> {show(row_b[key])}"
    return f"{text} ({row_b[key] - row_a[key]:+,})" if delta else text


def _change(a: int, b: int) -> str:
    if a == b:
        return f"{a:,} (unchanged)"
    ratio = f", {100 * (b - a) / a:+.1f}%" if a else ""
    return f"{a:,} -> {b:,} ({b - a:+,}{ratio})"
