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
# A stage's values that go without saying (resolved stages hold every field).
STAGE_DEFAULTS = {"stride": 1, "dilation": 1, "group_width": 1, "bottleneck_ratio": 1.0}


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
    dumped["head"]["final"] = spec.head.final or ("norm_act" if spec.block.preact else "none")
    _push_down(dumped)
    return {k: v for k, v in dumped.items() if k not in OWN}


def _push_down(dumped: dict[str, Any]) -> None:
    """Say a RegNet's stages one way: the `regnet` parameters only as the stages they generate,
    and each regnet stage's group width and bottleneck ratio on the stage, not the block."""
    dumped.pop("regnet", None)
    block = dumped["block"]
    regnets = [s for s in dumped["stages"] if (s["block"] or block["type"]) == "regnet"]
    if not regnets:
        return
    for key, default in (("group_width", 1), ("bottleneck_ratio", 1.0)):
        for stage in regnets:
            stage[key] = stage[key] or block[key]
        block[key] = default


@cache
def _param_form(name: str) -> bool:
    """Whether the built-in spec `name` gives RegNet parameters in place of stages."""
    from resgen.api import load_spec

    return load_spec(name).spec.regnet is not None


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
        changes = _changes(name, base, target)
        # JSON ranks as the YAML would, at a fraction of its cost
        rank = (_leaves(changes), name != full["name"], len(json.dumps(changes)), name)
        if best is None or rank < best:
            best = rank
    if best is None:
        return None
    base = _builtin(best[-1])
    assert base is not None
    data = {"extends": best[-1], "name": full["name"], "description": full["description"]}
    data |= _changes(best[-1], base, target)
    try:
        if resolved(data) != target:
            return None
    except ResgenError:
        return None
    return "".join(yaml_entry(k, v) for k, v in data.items())


def _changes(name: str, base: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """What a spec extending `name` sets to give `target`. A base in RegNet parameters that
    needs other stages drops them (`regnet: null`) for the inferred stages."""
    changes = {k: patch(base[k], v) if k != "stages" else stage_patch(base[k], v)
               for k, v in target.items() if base[k] != v}  # fmt: skip
    if "stages" in changes and _param_form(name):
        changes["regnet"] = None
        changes["stages"] = [_compact(stage) for stage in target["stages"]]
    return changes


def _compact(stage: dict[str, Any]) -> dict[str, Any]:
    """A resolved stage without the values that go without saying."""
    return {k: v for k, v in stage.items() if v is not None and v != STAGE_DEFAULTS.get(k)}


def _leaves(value: Any) -> int:
    """How many values a patch sets."""
    if isinstance(value, dict):
        return sum(_leaves(v) for v in value.values())
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return sum(_leaves(item) for item in value)  # a replaced stage list sets all it holds
    return 1


def full_form(full: dict[str, Any]) -> str:
    return "".join(yaml_entry(k, v) for k, v in full.items())
