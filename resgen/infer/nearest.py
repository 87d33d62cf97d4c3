"""The shortest faithful spec: `extends:` the nearest built-in spec, or the full spec.

A candidate is kept only if it resolves to exactly the inferred spec, so `extends` never changes
what the spec means.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from resgen.diagnostics import ResgenError
from resgen.spec.resolve import yaml_entry

# Fields a patch never carries: they name the new spec, not its architecture.
OWN = ("extends", "name", "class_name", "description")


def resolved(data: dict[str, Any] | str) -> dict[str, Any]:
    """A spec's resolved values, every default filled in (those that depend on another field
    too: the stem's widths and pool), without its own names."""
    from resgen.api import load_spec

    spec = load_spec(data).spec
    dumped: dict[str, Any] = spec.model_dump(mode="json")
    stem = dumped["stem"]
    if spec.stem.type == "deep":
        stem["widths"] = list(spec.stem.conv_widths)
    else:
        stem["width"] = spec.stem.out_width
    stem["pool"] = spec.stem.pool_kind
    return {k: v for k, v in dumped.items() if k not in OWN}


@cache
def _builtin(name: str) -> dict[str, Any] | None:
    try:
        return resolved(name)
    except ResgenError:
        return None  # a built-in another session is still writing


def patch(base: Any, new: Any) -> Any:
    """What `extends` must change in `base` to get `new` (mappings merge, lists replace)."""
    if isinstance(base, dict) and isinstance(new, dict):
        return {k: patch(base.get(k), v) for k, v in new.items() if base.get(k) != v}
    return new


def stage_patch(base: list[Any], new: list[Any]) -> Any:
    """Stages patched by number where the count agrees, else the whole list."""
    if len(base) != len(new):
        return new
    return {i: patch(b, n) for i, (b, n) in enumerate(zip(base, new, strict=True), 1) if b != n}


def extends_form(full: dict[str, Any], target: dict[str, Any], names: list[str]) -> str | None:
    """The shortest `extends` spec text equal to `target`, if some built-in gives one: fewest
    changed values first, then the built-in of the spec's own name, then the shortest patch."""
    best: tuple[int, bool, int, str] | None = None
    for name in names:
        base = _builtin(name)
        if base is None:
            continue
        changes = {k: patch(base[k], v) if k != "stages" else stage_patch(base[k], v)
                   for k, v in target.items() if base[k] != v}  # fmt: skip
        # JSON ranks as the YAML would, at a fraction of its cost
        rank = (_leaves(changes), name != full["name"], len(json.dumps(changes)), name)
        if best is None or rank < best:
            best = rank
    if best is None:
        return None
    data = {"extends": best[-1], "name": full["name"], "description": full["description"]}
    base = _builtin(best[-1])
    assert base is not None
    for key, value in target.items():
        if base[key] != value:
            data[key] = patch(base[key], value) if key != "stages" else (
                stage_patch(base[key], value))  # fmt: skip
    try:
        if resolved(data) != target:
            return None
    except ResgenError:
        return None
    return "".join(yaml_entry(k, v) for k, v in data.items())


def _leaves(value: Any) -> int:
    """How many values a patch sets."""
    if isinstance(value, dict):
        return sum(_leaves(v) for v in value.values())
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return sum(_leaves(item) for item in value)  # a replaced stage list sets all it holds
    return 1


def full_form(full: dict[str, Any]) -> str:
    return "".join(yaml_entry(k, v) for k, v in full.items())
