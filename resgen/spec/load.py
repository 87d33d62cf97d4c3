"""Load a spec into a validated `Spec` with its positions: the one loader of CLI and API alike.

A spec comes from a file, a built-in spec name or an in-memory mapping. Its `extends` is resolved
here, in `_merge_bases`, by one rule: a name with no slash and no suffix is a built-in spec; a
path is relative to the file that holds the `extends`, and, for a spec that has no file (a
mapping given to the API), relative to the working folder. A base path must stay inside the
spec's roots (`paths.default_roots`, widened by `extends_root`), so a spec cannot make resgen
read, and quote, any other file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeAlias

from resgen.diagnostics import SOURCES, Location, ResgenError
from resgen.resources import builtin_spec_names, builtin_spec_path
from resgen.spec.extends import MAX_DEPTH, base_reference, merge
from resgen.spec.model import Spec
from resgen.spec.paths import (
    DEFAULT_OUT_DIR,
    SPEC_SUFFIXES,
    UnreadablePathError,
    check_base,
    check_file,
    default_roots,
    display_name,
    printable,
    read_limited,
    real_path,
    reference_from,
)
from resgen.spec.source import MAX_FILE_BYTES, Source, decode_bytes, parse_text
from resgen.spec.suggest import closest_names
from resgen.spec.validate import kind_of, validate_data

__all__ = [
    "SPEC_SUFFIXES",
    "ExtendsRoot",
    "LoadedSpec",
    "display_name",
    "extra_roots",
    "load_merged",
    "load_spec_data",
    "load_spec_file",
    "resolve_spec_path",
    "validate_data",
]

ExtendsRoot: TypeAlias = "str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None"
"""Folders `extends` may also read from: one path, several, or None for only the default."""


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec, where it came from, and the hash of its bytes.

    `path` is the spec's file (None for a mapping or a built-in spec); `out_dir` is the folder its
    generated file goes to, which decides how the file's docstring names the spec.
    """

    spec: Spec
    source: Source
    sha256: str
    path: Path | None = None
    out_dir: Path | None = None

    def for_output(self, out_dir: Path) -> LoadedSpec:
        """The same spec, to be generated into `out_dir`."""
        return replace(self, out_dir=out_dir)

    @property
    def reference(self) -> str:
        """The spec as a generated file names it: a path that depends on the output folder only."""
        if self.path is None or self.source.name.startswith("<"):
            return self.source.name
        return reference_from(self.path, self.out_dir or Path(DEFAULT_OUT_DIR))


def extra_roots(extends_root: ExtendsRoot) -> tuple[Path, ...]:
    """The real paths of the folders given with `--extends-root` (or the API's `extends_root`)."""
    if extends_root is None:
        return ()
    if isinstance(extends_root, (str, os.PathLike)):
        extends_root = [extends_root]
    return tuple(real_path(Path(os.fspath(root))) for root in extends_root)


def resolve_spec_path(arg: str) -> tuple[Path, str]:
    """Map a CLI argument to a spec file: an existing path, or a built-in spec name."""
    path = Path(arg)
    shown = display_name(path)
    try:
        check_file(path)
        return path, shown
    except UnreadablePathError as problem:
        builtin = builtin_spec_path(arg) if not path.suffix else None
        if not problem.missing and builtin is None:
            raise _unreadable(shown, problem, Location(shown)) from None
    if builtin is not None:
        return builtin, f"<builtin>/{builtin.name}"
    names = builtin_spec_names()
    close = closest_names(arg, names)
    hint = (
        f"did you mean the built-in spec {close[0]!r}?"
        if close
        else "pass a .yaml/.json file, a directory, or a built-in name (`resgen list` shows them)"
    )
    given = printable(arg)
    raise ResgenError.single(
        "no-such-spec", f"no spec file or built-in spec named {given!r}", Location(given), hint
    )


_UNREADABLE_HINTS = {
    "permission denied": "make the file (and its folders) readable by this user",
    "it is a symlink loop": "the symlink leads back to itself; point it at a spec file",
}


def _unreadable(
    shown: str, problem: UnreadablePathError, where: Location, base: bool = False
) -> ResgenError:
    """A spec (or base) path that exists but cannot be read as a spec file."""
    what = "the base spec" if base else "spec"
    if problem.reason.startswith("it is a ") and "symlink" not in problem.reason:
        return ResgenError.single(
            "not-a-file",
            f"{what} {shown} is {problem.reason.removeprefix('it is ')}, not a spec file",
            where,
            hint="this command reads one spec file; `resgen check` and `build` also take a "
            "directory of specs",
        )
    return ResgenError.single(
        "unreadable",
        f"cannot read {what} {shown}: {problem.reason}",
        where,
        hint=_UNREADABLE_HINTS.get(
            problem.reason, "check that the path names a readable spec file"
        ),
    )


def load_spec_file(
    path: Path, name: str | None = None, extends_root: ExtendsRoot = None
) -> LoadedSpec:
    """Read, parse, merge `extends` bases and validate; raise `ResgenError` with every problem.

    `extends` reads bases inside the spec's default root (`paths.default_roots`) and the folders
    in `extends_root`.
    """
    roots = (*default_roots(path), *extra_roots(extends_root))
    data, source, raw = load_merged(path, name or display_name(path), roots=roots)
    digest = hashlib.sha256(raw).hexdigest()
    return LoadedSpec(validate_data(data, source), source, digest, path)


def load_spec_data(
    data: Mapping[str, Any], name: str, extends_root: ExtendsRoot = None
) -> LoadedSpec:
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
    roots = (*default_roots(None), *extra_roots(extends_root))
    merged, source, raw = _merge_bases(dict(data), source, text.encode("utf-8"), None, (), roots)
    return LoadedSpec(validate_data(merged, source), source, hashlib.sha256(raw).hexdigest())


def load_merged(
    path: Path,
    name: str,
    chain: tuple[Path, ...] = (),
    *,
    roots: tuple[Path, ...] = (),
    extends_at: Location | None = None,
) -> tuple[Any, Source, bytes]:
    """Parse a spec file and the bases it extends; return merged data, positions and all bytes.

    `extends_at` is where a base was named; a base's unreadable or binary content is reported
    there or described, never shown.
    """
    try:  # never more than the limit, whatever the file's size
        raw = read_limited(path, MAX_FILE_BYTES + 1)
    except UnreadablePathError as problem:
        where = extends_at or Location(name)
        raise _unreadable(name, problem, where, extends_at is not None) from None
    text = decode_bytes(raw, name, echo=extends_at is None)
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    data, source = parse_text(text, name, fmt=fmt)
    return _merge_bases(data, source, raw, path, chain, roots or default_roots(path))


def _merge_bases(
    data: Any,
    source: Source,
    raw: bytes,
    origin: Path | None,
    chain: tuple[Path, ...],
    roots: tuple[Path, ...],
) -> tuple[Any, Source, bytes]:
    """Merge a spec over the base it `extends` (and that base over its own, and so on).

    `origin` is the spec's file (None for an in-memory spec), `chain` the files that extend it,
    for finding cycles, and `roots` the folders bases may come from. The data, positions and
    bytes come back merged.
    """
    if not (isinstance(data, dict) and "extends" in data):
        return data, source, raw
    reference = base_reference(data.pop("extends"), source)
    where = source.locate(("extends",))
    base_path, base_name, base_real = _find_base(reference, origin, where, roots)
    if origin is not None:
        chain = (*chain, real_path(origin))
    if base_real in chain or len(chain) > MAX_DEPTH:
        names = " -> ".join(p.name for p in (*chain, base_real))
        raise ResgenError.single(
            "extends-cycle",
            f"`extends` goes round in a cycle: {names}"
            if base_real in chain
            else f"`extends` chain is deeper than {MAX_DEPTH}: {names}",
            where,
            hint="a spec cannot extend itself, directly or through its bases",
        )
    base_data, base_source, base_raw = load_merged(
        base_path, base_name, chain, roots=roots, extends_at=where
    )
    if not isinstance(base_data, dict):
        raise ResgenError.single(
            "extends-base",
            f"the base spec {base_name} is {kind_of(base_data)}, not a mapping of keys to values",
            where,
            hint="`extends` names a spec file (or a built-in spec) to build on",
        )
    merged, merged_source = merge(base_data, base_source, data, source)
    return merged, merged_source, raw + b"\0" + base_raw


def _find_base(
    reference: str, origin: Path | None, where: Location, roots: tuple[Path, ...]
) -> tuple[Path, str, Path]:
    """A built-in name (no suffix, no slash), or a path relative to the extending file's folder.

    A spec with no file has the working folder instead. Returns the path to read, its name in
    messages and its real path; a path `extends` may not read is an `extends-refused` error.
    """
    looks_like_path = "/" in reference or "\\" in reference or Path(reference).suffix != ""
    if not looks_like_path:
        builtin = builtin_spec_path(reference)
        if builtin is not None:
            return builtin, f"<builtin>/{builtin.name}", real_path(builtin)
    candidate = (origin.parent if origin is not None else Path()) / reference
    shown = display_name(candidate)
    if looks_like_path:
        try:
            return candidate, shown, check_base(candidate, roots)
        except UnreadablePathError as problem:
            if problem.reason in _UNREADABLE_HINTS:  # a loop, or a folder this user cannot search
                raise _unreadable(shown, problem, where, base=True) from None
            if not problem.missing:
                raise _refused(reference, problem, where) from None
    raise _missing_base(reference, shown if looks_like_path else None, origin, where)


def _refused(reference: str, problem: UnreadablePathError, where: Location) -> ResgenError:
    return ResgenError.single(
        "extends-refused",
        f"`extends` may not read {reference!r}: {problem.reason}",
        where,
        hint="a base is a .yaml, .yml or .json file in this spec's folder (or the current "
        "folder, if it holds the spec); pass --extends-root DIR to allow another folder",
    )


def _missing_base(
    reference: str, looked_for: str | None, origin: Path | None, where: Location
) -> ResgenError:
    close = closest_names(reference, builtin_spec_names())
    relative_to = "this file" if origin is not None else "the working folder"
    hint = (
        f"did you mean the built-in spec {close[0]!r}?"
        if close
        else (
            "give a built-in spec name (`resgen list` shows them) or a path "
            f"relative to {relative_to}"
        )
    )
    return ResgenError.single(
        # An in-memory spec has always said `no-such-spec`, as the API does for any name that is
        # neither a file nor a built-in spec; codes are stable, so each keeps its own.
        "extends-missing" if origin is not None else "no-such-spec",
        f"the base spec {reference!r} does not exist"
        + (f" (looked for {looked_for})" if looked_for is not None else ""),
        where,
        hint=hint,
    )
