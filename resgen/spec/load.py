"""Load a spec into a validated `Spec` with its positions: the one loader of CLI and API alike.

A spec comes from a file, a built-in spec name or an in-memory mapping. Its `extends` is resolved
here, in `_merge_bases`, by one rule: a name with no slash and no suffix is a built-in spec; a
path is relative to the file that holds the `extends`, and, for a spec that has no file (a
mapping given to the API), relative to the working folder.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resgen.diagnostics import SOURCES, Location, ResgenError
from resgen.resources import builtin_spec_names, builtin_spec_path
from resgen.spec.extends import MAX_DEPTH, base_reference, merge
from resgen.spec.model import Spec
from resgen.spec.source import MAX_FILE_BYTES, Source, decode_bytes, parse_text
from resgen.spec.validate import kind_of, validate_data

__all__ = [
    "SPEC_SUFFIXES",
    "LoadedSpec",
    "display_name",
    "load_merged",
    "load_spec_data",
    "load_spec_file",
    "resolve_spec_path",
    "validate_data",
]

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
    raise ResgenError.single(
        "no-such-spec", f"no spec file or built-in spec named {arg!r}", Location(arg), hint
    )


def load_spec_file(path: Path, name: str | None = None) -> LoadedSpec:
    """Read, parse, merge `extends` bases and validate; raise `ResgenError` with every problem."""
    data, source, raw = load_merged(path, name or display_name(path))
    return LoadedSpec(validate_data(data, source), source, hashlib.sha256(raw).hexdigest())


def load_spec_data(data: Mapping[str, Any], name: str) -> LoadedSpec:
    """Validate a mapping as if it were a JSON file called `name`; positions are in its dump.

    The dump (`json.dumps(indent=2)`) is parsed only for its positions; the caller's own objects
    are validated, so a tuple or a float is judged as what it is, not as what JSON makes of it.
    """
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False, default=repr, skipkeys=True) + "\n"
    except ValueError:  # a circular reference: validation reports it, without positions
        text = ""
    if text:
        source = parse_text(text, name, fmt="json")[1]
    else:
        source = Source(name, "")
        SOURCES.register(name, "")  # drop an earlier text of the same name
    merged, source, raw = _merge_bases(dict(data), source, text.encode("utf-8"), None, ())
    return LoadedSpec(validate_data(merged, source), source, hashlib.sha256(raw).hexdigest())


def load_merged(path: Path, name: str, chain: tuple[Path, ...] = ()) -> tuple[Any, Source, bytes]:
    """Parse a spec file and the bases it extends; return merged data, positions and all bytes."""
    try:
        with path.open("rb") as handle:  # never more than the limit, whatever the file's size
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ResgenError.single(
            "unreadable", f"cannot read spec: {exc.strerror or exc}", Location(name)
        ) from None
    text = decode_bytes(raw, name)
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    data, source = parse_text(text, name, fmt=fmt)
    return _merge_bases(data, source, raw, path, chain)


def _merge_bases(
    data: Any, source: Source, raw: bytes, origin: Path | None, chain: tuple[Path, ...]
) -> tuple[Any, Source, bytes]:
    """Merge a spec over the base it `extends` (and that base over its own, and so on).

    `origin` is the spec's file (None for an in-memory spec) and `chain` the files that extend
    it, for finding cycles. The data, positions and bytes come back merged.
    """
    if not (isinstance(data, dict) and "extends" in data):
        return data, source, raw
    reference = base_reference(data.pop("extends"), source)
    base_path, base_name = _find_base(reference, origin, source)
    if origin is not None:
        chain = (*chain, origin.resolve())
    if base_path.resolve() in chain or len(chain) > MAX_DEPTH:
        names = " -> ".join(p.name for p in (*chain, base_path.resolve()))
        raise ResgenError.single(
            "extends-cycle",
            f"`extends` goes round in a cycle: {names}"
            if base_path.resolve() in chain
            else f"`extends` chain is deeper than {MAX_DEPTH}: {names}",
            source.locate(("extends",)),
            hint="a spec cannot extend itself, directly or through its bases",
        )
    base_data, base_source, base_raw = load_merged(base_path, base_name, chain)
    if not isinstance(base_data, dict):
        raise ResgenError.single(
            "extends-base",
            f"the base spec {base_name} is {kind_of(base_data)}, not a mapping of keys to values",
            source.locate(("extends",)),
            hint="`extends` names a spec file (or a built-in spec) to build on",
        )
    merged, merged_source = merge(base_data, base_source, data, source)
    return merged, merged_source, raw + b"\0" + base_raw


def _find_base(reference: str, origin: Path | None, source: Source) -> tuple[Path, str]:
    """A built-in name (no suffix, no slash), or a path relative to the extending file's folder.

    A spec with no file has the working folder instead.
    """
    looks_like_path = "/" in reference or "\\" in reference or Path(reference).suffix != ""
    if not looks_like_path:
        builtin = builtin_spec_path(reference)
        if builtin is not None:
            return builtin, f"<builtin>/{builtin.name}"
    candidate = (origin.parent if origin is not None else Path()) / reference
    if looks_like_path and candidate.is_file():
        return candidate, display_name(candidate)
    close = difflib.get_close_matches(reference, builtin_spec_names(), n=1)
    relative_to = "this file" if origin is not None else "the working folder"
    hint = (
        f"did you mean the built-in spec {close[0]!r}?"
        if close
        else (
            "give a built-in spec name (see `resgen check` of the package's specs) or a path "
            f"relative to {relative_to}"
        )
    )
    raise ResgenError.single(
        # An in-memory spec has always said `no-such-spec`, as the API does for any name that is
        # neither a file nor a built-in spec; codes are stable, so each keeps its own.
        "extends-missing" if origin is not None else "no-such-spec",
        f"the base spec {reference!r} does not exist"
        + (f" (looked for {display_name(candidate)})" if looks_like_path else ""),
        source.locate(("extends",)),
        hint=hint,
    )
