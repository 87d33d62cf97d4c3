"""Load a spec file (or a built-in spec name) into a validated `Spec` with its `Source`."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from resgen.diagnostics import Diagnostic, Location, ResgenError, error
from resgen.resources import builtin_spec_names, builtin_spec_path
from resgen.spec.extends import MAX_DEPTH, base_reference, merge
from resgen.spec.model import Spec
from resgen.spec.source import Source, decode_bytes, parse_text

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec, where it came from, and the hash of its bytes."""

    spec: Spec
    source: Source
    sha256: str


def display_name(path: Path) -> str:
    """Name a file for messages and generated docstrings: relative to cwd, never absolute."""
    try:
        rel = Path(os.path.relpath(path.resolve(), Path.cwd().resolve()))
    except ValueError:  # another drive on Windows
        return path.name
    if rel.parts and rel.parts[0] == "..":
        return path.name
    return rel.as_posix()


def resolve_spec_path(arg: str) -> tuple[Path, str]:
    """Map a CLI argument to a spec file: an existing path, or a built-in spec name."""
    path = Path(arg)
    if path.is_file():
        return path, display_name(path)
    builtin = builtin_spec_path(arg)
    if builtin is not None and not path.suffix:
        return builtin, f"<builtin>/{builtin.name}"
    names = builtin_spec_names()
    close = difflib.get_close_matches(arg, names, n=1)
    hint = (
        f"did you mean the built-in spec {close[0]!r}?"
        if close
        else f"pass a .yaml/.json file, a directory, or a built-in name ({', '.join(names)})"
    )
    raise ResgenError(
        [error("no-such-spec", f"no spec file or built-in spec named {arg!r}", Location(arg), hint)]
    )


def load_spec_file(path: Path, name: str | None = None) -> LoadedSpec:
    """Read, parse, merge `extends` bases and validate; raise `ResgenError` with every problem."""
    data, source, raw = load_merged(path, name or display_name(path))
    spec = validate_data(data, source)
    return LoadedSpec(spec, source, hashlib.sha256(raw).hexdigest())


def load_merged(path: Path, name: str, chain: tuple[Path, ...] = ()) -> tuple[Any, Source, bytes]:
    """Parse a spec file and the bases it extends; return merged data, positions and all bytes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ResgenError(
            [error("unreadable", f"cannot read spec: {exc.strerror or exc}", Location(name))]
        ) from None
    text = decode_bytes(raw, name)
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    data, source = parse_text(text, name, fmt=fmt)
    if not (isinstance(data, dict) and "extends" in data):
        return data, source, raw
    reference = base_reference(data.pop("extends"), path, source)
    base_path, base_name = _find_base(reference, path, source)
    chain = (*chain, path.resolve())
    if base_path.resolve() in chain or len(chain) > MAX_DEPTH:
        names = " -> ".join(p.name for p in (*chain, base_path.resolve()))
        raise ResgenError(
            [
                source.attach(
                    error(
                        "extends-cycle",
                        f"`extends` goes round in a cycle: {names}"
                        if base_path.resolve() in chain
                        else f"`extends` chain is deeper than {MAX_DEPTH}: {names}",
                        source.locate(("extends",)),
                        hint="a spec cannot extend itself, directly or through its bases",
                    )
                )
            ]
        )
    base_data, base_source, base_raw = load_merged(base_path, base_name, chain)
    if not isinstance(base_data, dict):
        return data, source, raw  # validation reports the base's shape problem
    merged, merged_source = merge(base_data, base_source, data, source)
    return merged, merged_source, raw + b"\0" + base_raw


def _find_base(reference: str, path: Path, source: Source) -> tuple[Path, str]:
    """A built-in name (no suffix, no slash) or a path relative to the extending file."""
    looks_like_path = "/" in reference or "\\" in reference or Path(reference).suffix != ""
    if not looks_like_path:
        builtin = builtin_spec_path(reference)
        if builtin is not None:
            return builtin, f"<builtin>/{builtin.name}"
    candidate = path.parent / reference
    if looks_like_path and candidate.is_file():
        return candidate, display_name(candidate)
    close = difflib.get_close_matches(reference, builtin_spec_names(), n=1)
    hint = (
        f"did you mean the built-in spec {close[0]!r}?"
        if close
        else (
            "give a built-in spec name (see `resgen check` of the package's specs) or a path "
            "relative to this file"
        )
    )
    raise ResgenError(
        [
            source.attach(
                error(
                    "extends-missing",
                    f"the base spec {reference!r} does not exist"
                    + (f" (looked for {display_name(candidate)})" if looks_like_path else ""),
                    source.locate(("extends",)),
                    hint=hint,
                )
            )
        ]
    )


def validate_data(data: Any, source: Source) -> Spec:
    """Validate parsed data against the spec models, mapping errors back to line:col."""
    if data is None:
        raise ResgenError(
            [
                error(
                    "empty-spec",
                    "spec file is empty",
                    Location(source.name, 1, 1),
                    hint="a spec needs at least `name`, `block` and `stages`; "
                    "see specs/resnet50.yaml",
                )
            ]
        )
    if not isinstance(data, dict):
        kind = type(data).__name__.replace("dict", "mapping").replace("list", "list")
        raise ResgenError(
            [
                source.attach(
                    error(
                        "not-a-mapping",
                        f"a spec must be a mapping of keys to values, not a {kind}",
                        source.locate(()),
                        hint="start the file with `name: ...` at the left margin",
                    )
                )
            ]
        )
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        typos = _typo_targets(errors, data)
        diagnostics = [
            _to_diagnostic(e, source, data)
            for e in errors
            # A misspelt key also makes the real one "missing": report the typo only.
            if not (e["type"] == "missing" and _data_path(e["loc"], data) in typos)
        ]
        raise ResgenError(_dedupe(diagnostics)) from None


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
    where = _describe(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        fields = _fields_at(loc[:-1], data)
        close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else None
        if hint is None and fields:
            hint = f"allowed keys here: {', '.join(fields)}"
        parent = _describe(loc[:-1]) or "the spec"
        return source.attach(
            error(
                "unknown-key",
                f"unknown key {key!r} in {parent}",
                source.locate(loc, key=True),
                hint,
            )
        )
    if kind == "missing":
        key = str(loc[-1])
        parent = _describe(loc[:-1]) or "the spec"
        return source.attach(
            error(
                "missing-key",
                f"{parent} needs the key {key!r}",
                source.locate(loc[:-1]),
                hint=_field_description(loc, data),
            )
        )
    value = err.get("input")
    shown = _show(value)
    if kind in {"literal_error", "enum"}:
        expected = err.get("ctx", {}).get("expected", "")
        choices = re.findall(r"'([^']*)'", expected)
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
        return source.attach(
            error(
                "invalid-value",
                f"{where}: {shown} is not one of {expected}",
                source.locate(loc),
                hint=f"did you mean {close[0]!r}?" if close else _field_description(loc, data),
            )
        )
    if kind.endswith("_type") or kind in {"model_type", "model_attributes_type", "dict_type"}:
        return source.attach(
            error(
                "wrong-type",
                f"{where}: {_type_message(kind, err['msg'])}, got {shown}",
                source.locate(loc),
                hint=_field_description(loc, data),
            )
        )
    ctx = err.get("ctx", {})
    message = {
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be greater than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le'):,}"
        if isinstance(ctx.get("le"), int)
        else "",
        "too_short": f"needs at least {ctx.get('min_length')} item(s)",
        "too_long": f"allows at most {ctx.get('max_length')} item(s)",
    }.get(kind) or err["msg"].removeprefix("Value error, ")
    return source.attach(
        error(
            "invalid-value",
            f"{where}: {message[0].lower()}{message[1:]} (got {shown})",
            source.locate(loc),
            hint=_field_description(loc, data),
        )
    )


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


def _describe(path: tuple[str | int, ...]) -> str:
    """Render a data path the way a user reads it: `stages[1].width`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _show(value: Any) -> str:
    text = repr(value)
    if isinstance(value, str):
        text = f'"{value}"'
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list):
        text = "a list"
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
    return _TYPE_MESSAGES.get(kind) or msg.replace("Input should be", "must be")
