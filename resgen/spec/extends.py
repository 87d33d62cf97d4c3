"""`extends:` a spec builds on another spec file or a built-in spec, then overrides parts of it.

Merge rules (child over base):

- mappings merge key by key, recursively (`block: {groups: 32}` keeps the base block's type);
- lists and scalars replace the base value wholesale (`stages: [...]` replaces every stage);
- `stages` may instead be a mapping from stage number (1-based) to a partial stage, which merges
  into that base stage: `stages: {3: {depth: 23}}` turns ResNet-50 into ResNet-101;
- `null` removes a key, so the field falls back to its default (`attention: null`);
- `extends` itself is not inherited. Bases may extend further bases, up to 16 deep; a cycle is an
  error.

Every merged value keeps the position of the file it came from, so diagnostics point into the
base file for inherited values. Which file a base is, `spec/load.py` decides, in one place.
"""

from __future__ import annotations

import re
from typing import Any

from resgen.diagnostics import Diagnostic, Location, ResgenError
from resgen.spec.source import Path as DataPath
from resgen.spec.source import Source

MAX_DEPTH = 16


def merge(
    base: Any, base_src: Source, child: dict[str, Any], child_src: Source
) -> tuple[Any, Source]:
    """Merge child data over base data; return the data and a Source with both files' positions."""
    merged = Source(child_src.name, child_src.text)
    for path, pos in base_src.values.items():
        merged.values[path] = pos
        merged.origins[path] = base_src.origins.get(path, base_src.name)
    for path, pos in base_src.keys.items():
        merged.keys[path] = pos
        merged.origins.setdefault(path, base_src.origins.get(path, base_src.name))
    data = _merge_value(base, child, (), child_src, merged)
    merged.values[()] = child_src.values.get((), (1, 1))
    merged.origins.pop((), None)
    return data, merged


def _merge_value(base: Any, child: Any, path: DataPath, src: Source, out: Source) -> Any:
    if path == ("stages",) and isinstance(child, dict) and isinstance(base, list):
        return _patch_stages(base, child, src, out)
    if isinstance(base, dict) and isinstance(child, dict):
        merged = dict(base)
        for key, value in child.items():
            sub = (*path, key)
            _take_key_position(sub, src, out)
            if value is None:
                merged.pop(key, None)
                _drop_positions(sub, out)
            else:
                merged[key] = _merge_value(base.get(key), value, sub, src, out)
        return merged
    _drop_positions(path, out)
    _take_positions(path, path, src, out)
    return child


def _patch_stages(base: list[Any], patches: dict[Any, Any], src: Source, out: Source) -> list[Any]:
    stages = list(base)
    problems: list[Diagnostic] = []
    for key in patches:  # every bad key in one run, not only the first
        try:
            _stage_index(key, len(stages), src.locate(("stages", key), key=True))
        except ResgenError as exc:
            problems += exc.diagnostics
    if problems:
        raise ResgenError(problems)
    for key, patch in patches.items():
        index = _stage_index(key, len(stages), src.locate(("stages", key), key=True))
        if not isinstance(patch, dict) or not isinstance(stages[index], dict):
            stages[index] = patch
            _take_positions(("stages", key), ("stages", index), src, out)
            continue
        merged = dict(stages[index])
        for field, value in patch.items():
            target = ("stages", index, field)
            _drop_positions(target, out)
            if value is None:
                merged.pop(field, None)
                continue
            merged[field] = value
            _take_positions(("stages", key, field), target, src, out)
            if ("stages", key, field) in src.keys:
                out.keys[target] = src.keys[("stages", key, field)]
                out.origins.pop(target, None)
        stages[index] = merged
        # The stage now reads as the child wrote it: point diagnostics about it at the patch.
        if ("stages", key) in src.values:
            out.values[("stages", index)] = src.values[("stages", key)]
            out.origins.pop(("stages", index), None)
    return stages


def _stage_index(key: Any, count: int, where: Location) -> int:
    """The list index a stage patch key names: a plain ASCII decimal number from 1 to `count`.

    Only ASCII digits count: `str.isdigit` also takes superscripts and other scripts' digits,
    which `int()` then rejects or silently reads as numbers.
    """
    hint = "stage patches are keyed by 1-based stage number: `stages: {3: {depth: 23}}`"
    text = (
        str(key) if isinstance(key, str) or (isinstance(key, int) and key.bit_length() < 64) else ""
    )
    if isinstance(key, bool) or not re.fullmatch(r"[0-9]+", text, flags=re.ASCII):
        raise ResgenError.single(
            "extends-stage",
            f"stage patch key {_shorten(key)} is not a stage number (a plain decimal number)",
            where,
            hint=hint,
        )
    digits = text.lstrip("0")
    number = int(digits) if 0 < len(digits) <= len(str(count)) else 0
    if not 1 <= number <= count:
        raise ResgenError.single(
            "extends-stage",
            f"stage {_shorten(text)} does not exist in the base spec (it has stages 1 to {count})",
            where,
            hint=hint,
        )
    return number - 1


def _shorten(key: Any) -> str:
    """A key as a message shows it: quoted, and cut short when it is long (a 4,000-digit key)."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"a {key.bit_length()}-bit number" if key.bit_length() >= 64 else repr(str(key))
    text = repr(key) if isinstance(key, str) else f"{type(key).__name__} {key!r}"
    return text if len(text) <= 40 else f"{text[:30]}...' ({len(str(key)):,} characters)"


def _take_key_position(path: DataPath, src: Source, out: Source) -> None:
    if path in src.keys:
        out.keys[path] = src.keys[path]


def _take_positions(src_path: DataPath, dst_path: DataPath, src: Source, out: Source) -> None:
    """Copy the positions under src_path in the child to dst_path in the merged source."""
    n = len(src_path)
    for table, target in ((src.values, out.values), (src.keys, out.keys)):
        for path, pos in table.items():
            if path[:n] == src_path:
                new = (*dst_path, *path[n:])
                target[new] = pos
                origin = src.origins.get(path)
                if origin:
                    out.origins[new] = origin
                else:
                    out.origins.pop(new, None)


def _drop_positions(prefix: DataPath, out: Source) -> None:
    n = len(prefix)
    for table in (out.values, out.keys, out.origins):
        for path in [p for p in table if p[:n] == prefix and len(p) > n]:
            del table[path]


def base_reference(value: Any, src: Source) -> str:
    """Check the `extends` value is a non-empty string and return it."""
    if not isinstance(value, str) or not value.strip():
        raise ResgenError.single(
            "wrong-type",
            "extends: must be a built-in spec name or a path to a spec file",
            src.locate(("extends",)),
            hint="e.g. `extends: resnet50` or `extends: ../base.yaml`",
        )
    return value.strip()
