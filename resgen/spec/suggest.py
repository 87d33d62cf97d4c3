"""Suggestions for a name the user got wrong: a key at the wrong level, a misspelt built-in.

Keys are searched across the whole spec model, not only the mapping they were written in, so a
top-level `classes` points at `head.classes` and a top-level `depth` at each stage's `depth`.
Built-in names rank by edit distance on the whole name, with the user's family (`resnext`) and
number (`50`) first, so `resnet51` and `resnet5O` suggest `resnet50`, and `resnext50`
suggests `resnext50_32x4d`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from pydantic import BaseModel

from resgen.spec.model import Spec

KeyPath = tuple[str, ...]  # field names from the top; "[]" stands for "each item of the list"
_ITEM = "[]"


def _models_in(annotation: Any) -> Iterator[tuple[type[BaseModel], bool]]:
    """The models an annotation holds, each with whether it is a list's item."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, False
        return
    is_list = getattr(annotation, "__origin__", None) is list
    for arg in getattr(annotation, "__args__", ()):
        for model, _ in _models_in(arg):
            yield model, is_list


@cache
def key_paths() -> tuple[KeyPath, ...]:
    """Every key path of the spec model: ("head", "classes"), ("stages", "[]", "depth")..."""
    out: list[KeyPath] = []

    def walk(model: type[BaseModel], prefix: KeyPath) -> None:
        for name, field in model.model_fields.items():
            out.append((*prefix, name))
            for inner, item in _models_in(field.annotation):
                walk(inner, (*prefix, name, _ITEM) if item else (*prefix, name))

    walk(Spec, ())
    return tuple(out)


def describe_path(path: tuple[str | int, ...]) -> str:
    """A data path as a user reads it, stages numbered from 1: `stage 2 depth`, `head.classes`.

    Other list items keep their 0-based index (`stem.widths[0]`), as in Python.
    """
    out = ""
    for i, part in enumerate(path):
        if isinstance(part, int):
            if i and path[i - 1] == "stages":
                out = out.removesuffix("stages") + f"stage {part + 1}"
            else:
                out += f"[{part}]"
        elif out.endswith(tuple("0123456789")) and i and path[i - 2 : i - 1] == ("stages",):
            out += f" {part}"
        else:
            out += f".{part}" if out else part
    return out


def show_path(path: KeyPath) -> str:
    """`head.classes`, `stages[].depth`: a key path as the user would write it."""
    return ".".join(path).replace(".[]", "[]")


def _where(path: KeyPath, value: Any) -> str:
    """Say where a key belongs, with the spec text that puts it there."""
    key, parent = path[-1], path[:-1]
    shown = _flow(value)
    if parent and parent[-1] == _ITEM:
        items = show_path(parent[:-1])
        return f"`{key}` is a key of each item of `{items}`: `{items}: [{{{key}: {shown}, ...}}]`"
    if not parent:
        return f"`{key}` belongs at the top level of the spec"
    return f"`{key}` belongs under `{show_path(parent)}`: `{show_path(parent)}: {{{key}: {shown}}}`"


def _flow(value: Any) -> str:
    """A short YAML flow rendering of a value, for a hint."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isidentifier()):
        return str(value)
    if isinstance(value, dict) and 0 < len(value) <= 3 and all(isinstance(k, str) for k in value):
        inner = ", ".join(f"{k}: {_flow(v)}" for k, v in value.items())
        return "{" + inner + "}"
    return "..."


def _data_keys(path: tuple[str | int, ...]) -> KeyPath:
    return tuple(_ITEM if isinstance(p, int) else p for p in path)


def misplaced_key(key: str, parent: tuple[str | int, ...], value: Any) -> str | None:
    """Where a key unknown at `parent` does belong, if it is a field anywhere else."""
    here = _data_keys(parent)
    homes = [p for p in key_paths() if p[-1] == key and p[:-1] != here]
    if not homes or len(homes) > 3:
        return None  # `type` is a key of half the model: no one home to point at
    return "; ".join(_where(home, value) for home in homes)


def close_key(key: str, siblings: Iterable[str]) -> str | None:
    """The closest sibling field, else the closest field anywhere (as a path), or None."""
    siblings = list(siblings)
    near = difflib.get_close_matches(key, siblings, n=1, cutoff=0.6)
    if near:
        return near[0]
    paths = {path[-1]: path for path in key_paths()}
    far = difflib.get_close_matches(key, list(paths), n=1, cutoff=0.75)
    return show_path(paths[far[0]]) if far else None


# --- built-in names ---------------------------------------------------------------------------

# Letters a user types for the digits they look like, in the digit part of a name.
_LOOKALIKE = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "S": "5"})
_FAMILY = re.compile(r"([a-z_]*?)(\d+)")


def _family(name: str) -> tuple[str, int | None]:
    """`resnext50_32x4d` -> ("resnext", 50); `plain` -> ("plain", None)."""
    match = _FAMILY.match(name)
    return (match[1], int(match[2])) if match else (name, None)


def _normalise(query: str) -> str:
    """Read look-alike letters as the digits they follow or stand among: resnet5O -> resnet50."""
    return re.sub(r"(?<=\d)[OolIS]+", lambda m: m[0].translate(_LOOKALIKE), query)


def closest_names(query: str, names: Iterable[str], n: int = 1) -> list[str]:
    """The built-in names a mistyped `query` most likely means, best first (maybe none)."""
    names = sorted(names)
    query = _normalise(query.strip())
    if not query or not names:
        return []
    family, number = _family(query)

    def rank(name: str) -> tuple[int, int, int, str]:
        theirs, their_number = _family(name)
        extends = name.startswith(query + "_") or name.startswith(query)
        same_family = theirs == family
        distance = _edit_distance(query, name)
        gap = abs(their_number - number) if number is not None and their_number is not None else 0
        return (0 if extends else 1, distance if not same_family else distance - 2, gap, name)

    ranked = sorted(names, key=rank)
    limit = max(2, len(query) // 3)  # a suggestion that rewrites a third of the name is noise
    return [
        name
        for name in ranked[:n]
        if name.startswith(query) or _edit_distance(query, name) <= limit
    ]


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute), case-insensitive."""
    a, b = a.lower(), b.lower()
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
