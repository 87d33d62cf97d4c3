"""The top-level names a generated module defines or imports, read off the templates.

A model class named like one of them would replace it and break the module, so the spec passes
refuse such a name. The names come from the templates themselves (and the block kinds' class
names, which templates print from the render model), so a new helper is reserved by being written.
"""

from __future__ import annotations

from functools import cache

from resgen.graph.lower import BLOCK_KINDS
from resgen.resources import data_dir


@cache
def defined_names() -> frozenset[str]:
    """Every name a template defines or imports at the top level, and every block class."""
    found = {kind.class_name for kind in BLOCK_KINDS.values()}
    for path in sorted(data_dir("templates").rglob("*.jinja")):
        for line in path.read_text(encoding="utf-8").splitlines():
            found.update(_names_in(line))
    return frozenset(found)


def _names_in(line: str) -> list[str]:
    """The names a top-level line of Python binds: `class X`, `def f`, imports, `NAME = ...`."""
    words = line.split()
    if line.startswith(("class ", "def ")) and "{{" not in words[1]:
        return [words[1].split("(")[0].rstrip(":")]
    if line.startswith("import "):
        return [words[1].split(".")[0]]
    if line.startswith("from ") and "__future__" not in line:
        return [w.strip(",") for w in words[3:]]
    if " = " in line and not line.startswith((" ", "{", "#")):
        return [words[0].rstrip(":")]  # `NAME = ...` or `NAME: type = ...`
    return []
