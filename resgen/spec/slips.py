"""Hints for the shapes of common slips: the right idea written in the wrong form.

`block: basic` means `block: {type: basic}`; `size: [224]` needs two items; a `stages` mapping
patches a base that the spec does not name. Each hint shows the spelling that works.
"""

from __future__ import annotations

from typing import Any

# Sections that are mappings with a `type` key: a bare type name is their most common slip.
_TYPED = {"block": "basic", "stem": "deep", "norm": "group", "attention": "se"}
# Sections whose value is one word: a mapping with a `type` key is the reverse slip.
_WORDS = {"shortcut", "act"}


def slip_hint(path: tuple[str | int, ...], value: Any) -> str | None:
    """A hint for a value of the wrong form at `path`, or None when no slip fits."""
    key = path[-1] if path else None
    if key in _TYPED and isinstance(value, str):
        return (
            f"`{key}` is a mapping: write `{key}: {{type: {value}}}` (other keys of `{key}` "
            "go in the same braces)"
        )
    if key in _WORDS and isinstance(value, dict) and "type" in value:
        return f"`{key}` is one word: write `{key}: {value['type']}`"
    if path == ("input",) and isinstance(value, int):
        return f"write `input: {{size: {value}}}` (and `channels:` beside it if not 3)"
    if path == ("input", "size") and isinstance(value, list) and len(value) != 2:
        return "give one number for a square input (`size: 224`) or two items: [height, width]"
    if path == ("stages",) and isinstance(value, dict):
        return (
            "a mapping under `stages` patches the stages of a base spec (`extends: resnet50`, "
            "then `stages: {3: {depth: 23}}`); without `extends`, list every stage: "
            "`stages: [{depth: 2, width: 64}, ...]`"
        )
    return None
