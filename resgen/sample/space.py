"""Load a design-space file: a spec whose RegNet parameters or stage values may be ranges.

A space is a spec (it may `extends` one) in which

- `regnet:`'s w_0, w_a, w_m, depth, group_width and bottleneck_ratio, or
- `stages:` as `{count: 4, depth: ..., width: ..., group_width: ..., bottleneck_ratio: ...,
  stride: 2}` (every stage drawn from the same ranges) or as a list of such stages

may be distributions (`resgen.sample.dists`), plus a `constraints:` mapping (`constraints.py`).
The rest of the spec is fixed, and the whole is validated as a spec twice, with every range at
its low end and at its high end, so its mistakes are reported where the user wrote them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resgen.diagnostics import Diagnostic, ResgenError, error
from resgen.sample.constraints import Constraints, parse_constraints
from resgen.sample.dists import Dist, fixed, is_dist, parse_dist
from resgen.sample.family import Family, family_of
from resgen.spec.load import load_merged
from resgen.spec.model import Spec
from resgen.spec.paths import default_roots, display_name
from resgen.spec.source import Source
from resgen.spec.validate import validate_data

REGNET_KEYS = ("w_0", "w_a", "w_m", "depth", "group_width", "bottleneck_ratio")
STAGE_KEYS = ("depth", "width", "group_width", "bottleneck_ratio")
MAX_STAGES = 16


@dataclass(frozen=True)
class Space:
    """A validated design space: what is drawn, what is fixed, and the constraints."""

    name: str
    form: str  # "regnet" (RegNet's parameters) or "stages" (AnyNet: values per stage)
    fixed_data: dict[str, Any]  # the spec without the sampled key (`regnet` or `stages`)
    regnet_extra: dict[str, Any]  # form regnet: its fixed keys other than the six numbers
    dists: dict[str, Dist]  # form regnet: by parameter name
    stage_dists: tuple[dict[str, Dist], ...]  # form stages: per stage, by key
    strides: tuple[int, ...]  # form stages: each stage's stride
    group_rounding: str
    constraints: Constraints
    family: Family
    source: Source


def load_space(path: Path) -> Space:
    """Read and validate a space file; raise ResgenError with every problem found."""
    name = display_name(path)
    data, source, _ = load_merged(path, name, roots=default_roots(path))
    if not isinstance(data, dict):
        validate_data(data, source)  # raises: empty, or not a mapping
    data = dict(data)
    found: list[Diagnostic] = []
    constraints, problems = parse_constraints(data.pop("constraints", None), source)
    found += problems
    found += _misplaced(data, source)
    form, dists, stage_dists, strides, problems = _split(data, source)
    found += problems + constraints.check_form(form, source)
    if found:
        raise ResgenError(found)
    fixed_data = {k: v for k, v in data.items() if k != form}
    extra = {k: v for k, v in (data.get("regnet") or {}).items() if k not in REGNET_KEYS}
    ends: list[Spec] = []
    for high in (False, True):  # both ends, so that each end's mistakes are reported at once
        try:
            ends.append(
                _validate_end(
                    fixed_data, extra, form, dists, stage_dists, strides, source, high=high
                )
            )
        except ResgenError as exc:
            found += exc.diagnostics
    if found:
        raise ResgenError(_once(found))
    family, problems = family_of(ends[0], source)
    stage_dists = _with_defaults(stage_dists, ends[0])
    problems += check_stage_constraints(stage_dists, constraints, source)
    if problems:
        raise ResgenError(problems)
    return Space(
        ends[0].name,
        form,
        fixed_data,
        extra,
        dists,
        stage_dists,
        tuple(stage.stride for stage in ends[0].stages) if form == "stages" else (),
        str(extra.get("group_rounding", "torchvision")),
        constraints,
        family,
        source,
    )


def _once(found: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per code and place: a template's stages, or both ends, say it once."""
    seen: dict[tuple[str, object], Diagnostic] = {}
    for d in found:
        seen.setdefault((d.code, d.location), d)
    return list(seen.values())


def _with_defaults(
    stage_dists: tuple[dict[str, Dist], ...], spec: Spec
) -> tuple[dict[str, Dist], ...]:
    """Every stage with a group width and a bottleneck ratio: its own, else the block's."""
    defaults = {
        "group_width": spec.block.group_width,
        "bottleneck_ratio": spec.block.bottleneck_ratio,
    }
    return tuple(
        {**{k: fixed(v, ("block", k)) for k, v in defaults.items()}, **per} for per in stage_dists
    )


def check_stage_constraints(
    stage_dists: tuple[dict[str, Dist], ...], constraints: Constraints, source: Source
) -> list[Diagnostic]:
    """A shared value whose stages give different ranges; widths or depths that cannot rise."""
    found = []
    for key in STAGE_KEYS:
        dists = [per[key] for per in stage_dists]
        switch = f"shared_{key}"
        if constraints.on(switch) and len({(d.values, d.weights) for d in dists}) > 1:
            found.append(
                error(
                    "sample-constraint",
                    f"`{switch}`: the stages give `{key}` different ranges",
                    constraints.where[switch],
                    hint=f"give every stage the same `{key}`",
                )
            )
        switch = f"non_decreasing_{key}s"
        if constraints.on(switch) and not _can_rise(dists):
            found.append(
                error(
                    "sample-constraint",
                    f"`{switch}`: no draw of the stages' `{key}` ranges rises",
                    constraints.where[switch],
                    hint="let a later stage reach the earlier one's low end",
                )
            )
    return found


def _can_rise(dists: list[Dist]) -> bool:
    floor: float = float("-inf")
    for d in dists:
        higher = [v for v in d.values if v >= floor]
        if not higher:
            return False
        floor = min(higher)
    return True


def _misplaced(data: dict[str, Any], source: Source) -> list[Diagnostic]:
    """A distribution anywhere but under `regnet` or `stages`."""
    found = []

    def walk(value: Any, path: tuple[str | int, ...]) -> None:
        if is_dist(value):
            found.append(
                error(
                    "sample-not-here",
                    f"`{'.'.join(map(str, path))}` cannot be sampled",
                    source.locate(path, key=True),
                    hint="ranges go in `regnet:` (w_0, w_a, w_m, depth, group_width, "
                    "bottleneck_ratio) or in `stages:` (depth, width, group_width, "
                    "bottleneck_ratio); give this key one value",
                )
            )
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*path, i))

    for key, value in data.items():
        if key == "regnet" and isinstance(value, dict):
            for name, item in value.items():
                if name not in REGNET_KEYS:
                    walk(item, (key, name))
        elif key != "stages":
            walk(value, (key,))
    return found


_Split = tuple[str, dict[str, Dist], tuple[dict[str, Dist], ...], tuple[Any, ...], list[Diagnostic]]


def _split(data: dict[str, Any], source: Source) -> _Split:
    """The sampled form and its distributions, or diagnostics."""
    if "regnet" in data and "stages" not in data and isinstance(data["regnet"], dict):
        dists, found = _parse_all(data["regnet"], REGNET_KEYS, ("regnet",), source)
        return "regnet", dists, (), (), found
    stages = data.get("stages")
    if isinstance(stages, dict) and "count" in stages:
        count = stages["count"]
        if not (
            isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= MAX_STAGES
        ):
            where = source.locate(("stages", "count"))
            hint = "a space samples a fixed number of stages; write one space per count"
            problem = error(
                "sample-stage-count",
                f"`count` must be a whole number from 1 to {MAX_STAGES}",
                where,
                hint,
            )
            return "stages", {}, (), (), [problem]
        template = {k: v for k, v in stages.items() if k != "count"}
        entries: list[tuple[dict[str, Any], tuple[str | int, ...]]]
        entries = [(template, ("stages",))] * count
    elif isinstance(stages, list) and stages and all(isinstance(s, dict) for s in stages):
        entries = [(s, ("stages", i)) for i, s in enumerate(stages)]
    else:
        where = source.locate(("stages",) if "stages" in data else ())
        return "stages", {}, (), (), [_no_form(where, "regnet" in data and "stages" in data)]
    per_stage, strides, found = [], [], _stage_keys(entries, source)
    for stage, path in entries:
        dists, problems = _parse_all(stage, STAGE_KEYS, path, source)
        per_stage.append(dists)
        found += problems
        stride = stage.get("stride", 1)
        if is_dist(stride):
            where = source.locate((*path, "stride"), key=True)
            hint = "give the stride one value; write one space per stride pattern"
            found.append(
                error("sample-not-here", "a stage's stride cannot be sampled", where, hint)
            )
        strides.append(stride)  # as written: validation says what is wrong with it
    return "stages", {}, tuple(per_stage), tuple(strides), found


def _stage_keys(
    entries: list[tuple[dict[str, Any], tuple[str | int, ...]]], source: Source
) -> list[Diagnostic]:
    """A stage key other than depth, width, group_width, bottleneck_ratio and stride."""
    found = []
    for stage, path in entries[:1] if entries and entries[0][1] == ("stages",) else entries:
        for key in stage:
            if key not in (*STAGE_KEYS, "stride"):
                where = source.locate((*path, key), key=True)
                message = f"a sampled stage takes {', '.join(STAGE_KEYS)} and stride, not `{key}`"
                hint = "set the key for the whole network (e.g. `block:`), or remove it"
                found.append(error("sample-stage-key", message, where, hint))
    return found


def _no_form(where: Any, both: bool) -> Diagnostic:
    if both:
        return error(
            "regnet-and-stages",
            "the space gives both `regnet` and `stages`",
            where,
            hint="sample one form: RegNet's parameters, or stages",
        )
    return error(
        "sample-no-ranges",
        "a space samples `regnet:` parameters or `stages:`, and this file has neither",
        where,
        hint="add `regnet: {w_0: {log_uniform: [8, 256], quantum: 8}, ...}` or `stages: "
        "{count: 4, depth: {uniform: [1, 16]}, width: ...}` (see specs/spaces/)",
    )


def _parse_all(
    mapping: dict[str, Any], keys: tuple[str, ...], path: tuple[str | int, ...], source: Source
) -> tuple[dict[str, Dist], list[Diagnostic]]:
    dists: dict[str, Dist] = {}
    found: list[Diagnostic] = []
    for key in keys:
        if key not in mapping:
            continue
        value, where = mapping[key], (*path, key)
        if is_dist(value):
            parsed = parse_dist(value, where, source)
            if isinstance(parsed, Dist):
                dists[key] = parsed
            else:
                found.append(parsed)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            dists[key] = fixed(value, where)
        elif isinstance(value, dict):
            named = ", ".join(f"`{k}`" for k in value) or "nothing"
            found.append(
                error(
                    "sample-distribution",
                    f"`{key}` is a mapping of {named}, which is no distribution",
                    source.locate(where, key=True),
                    hint="write one value, or one of uniform, log_uniform, power2, choice: e.g. "
                    "`{log_uniform: [8, 256], quantum: 8}`",
                )
            )
    return dists, found


def _validate_end(
    fixed_data: dict[str, Any],
    extra: dict[str, Any],
    form: str,
    dists: dict[str, Dist],
    stage_dists: tuple[dict[str, Dist], ...],
    strides: tuple[Any, ...],
    source: Source,
    *,
    high: bool,
) -> Spec:
    """Validate the spec with every range at one end; positions stay the space file's."""
    source = copy.copy(source)
    source.values, source.keys = dict(source.values), dict(source.keys)
    data = copy.deepcopy(fixed_data)

    def end(d: Dist) -> Any:
        return d.high if high else d.low

    if form == "regnet":
        data["regnet"] = {**extra, **{k: end(d) for k, d in dists.items()}}
    else:
        stages = []
        for i, (per, stride) in enumerate(zip(stage_dists, strides, strict=True)):
            stage: dict[str, Any] = {k: end(d) for k, d in per.items()}
            stage["stride"] = stride
            for key, d in per.items():  # a template's ranges are at one place for every stage
                where = source.locate(d.path)
                source.values[("stages", i, key)] = (where.line, where.column)
            stages.append(stage)
        data["stages"] = stages
    return validate_data(data, source)
