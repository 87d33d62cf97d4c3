"""Validate parsed data against the spec models; word pydantic's errors as diagnostics.

Each pydantic error becomes a diagnostic at the line and column of the value (or key) it is
about, in the user's terms: `stage 2 width: must be at least 1 (got 0)`, a did-you-mean for a
misspelt key or value, the field's description as the hint.
"""

from __future__ import annotations

import datetime
import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from resgen.diagnostics import Diagnostic, Location, ResgenError, error
from resgen.spec.model import Spec
from resgen.spec.regnet import expand_regnet
from resgen.spec.slips import slip_hint
from resgen.spec.source import Source
from resgen.spec.suggest import close_key, describe_path, misplaced_key


def validate_data(data: Any, source: Source) -> Spec:
    """Validate parsed data against the spec models, mapping errors back to line:col."""
    if data is None:
        raise ResgenError.single(
            "empty-spec",
            "spec file is empty"
            if not source.text.strip()
            else "spec file holds only comments and blank lines",
            Location(source.name, 1, 1),
            hint="a spec needs at least `name`, `block` and `stages`; see specs/resnet50.yaml",
            excerpt=False,
        )
    if not isinstance(data, dict):
        raise ResgenError.single(
            "not-a-mapping",
            f"a spec must be a mapping of keys to values, not {kind_of(data)}",
            source.locate(()),
            hint="start the file with `name: ...` at the left margin",
        )
    data = expand_regnet(data, source)
    try:
        # The names `blocks:` defines are block types too (resgen.spec.stages.BlockTypeName).
        blocks = data.get("blocks")
        names = tuple(k for k in blocks if isinstance(k, str)) if isinstance(blocks, dict) else ()
        spec = Spec.model_validate(data, context={"user_blocks": names})
    except ValidationError as exc:
        errors = _fold_unions(_untag_ops(exc.errors(include_url=False)), data)
        typos = _typo_targets(errors, data)
        diagnostics = [
            _to_diagnostic(e, source, data)
            for e in errors
            # A misspelt key also makes the real one "missing": report the typo only.
            if not (e["type"] == "missing" and _data_path(e["loc"], data) in typos)
        ]
        raise ResgenError(_dedupe(diagnostics)) from None
    return spec


_OP_TAGS = (
    "conv", "norm", "act", "pool", "global_pool", "scale", "add", "mul", "concat", "identity"
)  # fmt: skip


def _untag_ops(errors: list[Any]) -> list[Any]:
    """A user block's op is a union picked by its `op` key: drop pydantic's branch label from
    the error's path (`ops.1.conv.out` -> `ops.1.out`), and word a missing or unknown `op` as a
    missing key or a value not among the ops."""
    out = []
    for e in errors:
        loc = tuple(e["loc"])
        at = next((i for i in range(len(loc) - 1) if loc[i] == "ops" and isinstance(loc[i + 1], int)
                   and i >= 2 and loc[i - 2] == "blocks"), None)  # fmt: skip
        if at is None:
            out.append(e)
            continue
        op_loc = loc[: at + 2]
        if e["type"] == "union_tag_invalid":
            expected = ", ".join(f"'{tag}'" for tag in _OP_TAGS)
            value = e.get("ctx", {}).get("tag")
            e = {**e, "type": "literal_error", "loc": (*op_loc, "op"), "input": value,
                 "ctx": {"expected": expected}}  # fmt: skip
        elif e["type"] == "union_tag_not_found":
            e = {**e, "type": "missing", "loc": (*op_loc, "op")}
        elif len(loc) > at + 2 and loc[at + 2] in _OP_TAGS:
            e = {**e, "loc": (*op_loc, *loc[at + 3 :])}
        out.append(e)
    return out


def kind_of(data: Any) -> str:
    """Name a value's kind in a message: a list, a string, empty..."""
    if data is None:
        return "empty"
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(data), f"a {type(data).__name__}")


def _fold_unions(errors: list[Any], data: Any) -> list[Any]:
    """A value that fits no branch of a union gets an error per branch; keep the helpful ones.

    When the value has one branch's type (`size: [0, 224]` is a list), that branch's errors say
    what is wrong and the other branches' type errors are noise; when it has none, one error
    lists every type the union accepts.
    """
    branches: dict[tuple[str | int, ...], list[Any]] = {}
    for e in errors:
        at = _branch_at(e["loc"], data)
        if at is not None:
            branches.setdefault(_data_path(e["loc"][:at], data), []).append(e)
    out = []
    for e in errors:
        at = _branch_at(e["loc"], data)
        if at is None:
            out.append(e)
            continue
        path = _data_path(e["loc"][:at], data)
        group = branches.pop(path, [])  # the whole union, where its first error was
        mismatch = [
            g for g in group if g["type"].endswith("_type") and _data_path(g["loc"], data) == path
        ]
        rest = [g for g in group if g not in mismatch]
        if rest or len(mismatch) < 2:
            out += rest or mismatch
        else:
            kinds = [_type_message(g["type"], g["msg"]).removeprefix("must be ") for g in mismatch]
            out.append({**mismatch[0], "msg": "must be " + " or ".join(dict.fromkeys(kinds))})
    return out


def _branch_at(loc: tuple[Any, ...], data: Any) -> int | None:
    """The index in a pydantic `loc` of its first union-branch label, if it has one."""
    node = data
    for i, part in enumerate(loc):
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            node = node[part]
        elif isinstance(part, str) and (not isinstance(node, dict) or _is_branch_label(part)):
            return i
        else:
            return None
    return None


def _typo_targets(errors: list[Any], data: Any) -> set[tuple[str | int, ...]]:
    """Paths of missing keys that an unknown sibling key is a misspelling of."""
    missing = {_data_path(e["loc"], data) for e in errors if e["type"] == "missing"}
    targets = set()
    for e in errors:
        if e["type"] != "extra_forbidden":
            continue
        loc = _data_path(e["loc"], data)
        siblings = [str(m[-1]) for m in missing if m[:-1] == loc[:-1]]
        for match in difflib.get_close_matches(str(loc[-1]), siblings, n=1, cutoff=0.6):
            targets.add((*loc[:-1], match))
    return targets


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for d in diagnostics:
        key = (d.location, d.code, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _to_diagnostic(err: Any, source: Source, data: Any) -> Diagnostic:
    loc = _data_path(err["loc"], data)
    kind = err["type"]
    where = describe_path(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        fields = _fields_at(loc[:-1], data)
        close = close_key(key, fields)
        hint = misplaced_key(key, loc[:-1], err.get("input")) or (
            f"did you mean {close!r}?" if close else None
        )
        if hint is None and fields:
            hint = f"allowed keys here: {', '.join(fields)}"
        parent = describe_path(loc[:-1]) or "the spec"
        return error(
            "unknown-key",
            f"unknown key {key!r} in {parent}",
            source.locate(loc, key=True),
            hint,
        )
    if kind == "missing":
        key = str(loc[-1])
        parent = describe_path(loc[:-1]) or "the spec"
        return error(
            "missing-key",
            f"{parent} needs the key {key!r}",
            source.locate(loc[:-1]),
            hint=_field_description(loc, data),
        )
    value = err.get("input")
    shown = _show(value)
    if kind in {"literal_error", "enum"}:
        expected = err.get("ctx", {}).get("expected", "")
        choices = re.findall(r"'([^']*)'", expected)
        lower = {c.lower(): c for c in choices}
        matches = [lower[str(value).lower()]] if str(value).lower() in lower else []
        matches = matches or difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
        return error(
            "invalid-value",
            f"{where}: {shown} is not one of {expected}",
            source.locate(loc),
            hint=f"did you mean {matches[0]!r}?" if matches else _field_description(loc, data),
        )
    if kind.endswith("_type") or kind in {"model_type", "model_attributes_type", "dict_type"}:
        return error(
            "wrong-type",
            f"{where}: {_type_message(kind, err['msg'])}, got {shown}",
            source.locate(loc),
            hint=slip_hint(loc, value) or _field_description(loc, data),
        )
    message = _constraint_message(kind, err)
    return error(
        "invalid-value",
        f"{where}: {message[0].lower()}{message[1:]} (got {shown})",
        source.locate(loc),
        hint=slip_hint(loc, value) or _field_description(loc, data),
    )


def _constraint_message(kind: str, err: Any) -> str:
    """Word a broken bound or length in the user's terms; pydantic's own words otherwise."""
    ctx = err.get("ctx", {})
    message: str = {
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be greater than {ctx.get('gt')}",
        "less_than": f"must be less than {ctx.get('lt')}",
        "less_than_equal": f"must be at most {ctx.get('le'):,}"
        if isinstance(ctx.get("le"), int)
        else "",
        "too_short": f"needs at least {ctx.get('min_length')} item(s)",
        "too_long": f"allows at most {ctx.get('max_length')} item(s)",
    }.get(kind) or err["msg"].removeprefix("Value error, ")
    return message


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[str | int, ...]:
    """Drop pydantic's union-branch labels (`int`, `list[int]`...) that are not in the data."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not _is_branch_label(part):
            out.append(part)  # a missing or unknown key
            node = None
    return tuple(out)


def _is_branch_label(part: str) -> bool:
    return any(c in part for c in "[]()") or part in {"int", "str", "bool", "float", "list", "none"}


def _model_at(path: tuple[str | int, ...]) -> type[BaseModel] | None:
    model: Any = Spec
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _unwrap(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()):
        found = _unwrap(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation


def _fields_at(path: tuple[str | int, ...], data: Any) -> list[str]:
    model = _model_at(path)
    return list(model.model_fields) if model else []


def _field_description(path: tuple[str | int, ...], data: Any) -> str | None:
    keys = [p for p in path if isinstance(p, str)]
    if not keys:
        return None
    model = _model_at(path[: max(i for i, p in enumerate(path) if isinstance(p, str))])
    field = model.model_fields.get(keys[-1]) if model else None
    if field is None or not field.description:
        return None
    return field.description


def _show(value: Any) -> str:
    text = repr(value)
    if isinstance(value, str):
        # Escaped, so that no control character from a spec reaches the terminal.
        text = '"' + "".join(c if c.isprintable() else ascii(c)[1:-1] for c in value) + '"'
    elif isinstance(value, datetime.date):
        text = f"the date {value.isoformat()}"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list):
        text = "a list" if value else "an empty list"
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_MESSAGES = {
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of keys to values",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
}


def _type_message(kind: str, msg: str) -> str:
    if msg.startswith("must be "):  # already worded (a folded union)
        return msg
    return _TYPE_MESSAGES.get(kind) or msg.replace("Input should be", "must be")
