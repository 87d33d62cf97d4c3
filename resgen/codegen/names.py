"""The names a spec may not choose, derived from what the generated module uses.

A model class named like a name the generated module defines, imports or calls (`super`,
`isinstance`) would replace it and break the module; a `<name>.py` named like a module of the
standard library or of torch's dependencies would be imported in its place when its folder is on
sys.path. The names come from the templates themselves (and the block kinds' class names, which
templates print from the render model), from `sys.stdlib_module_names` and from torch's installed
metadata, so a new helper is reserved by being written.
"""

from __future__ import annotations

import builtins
import re
import sys
from functools import cache

from resgen.codegen.torch_modules import TORCH_MODULES
from resgen.graph.blocks import BLOCK_KINDS
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


# Python code in a template: strings and comments hold prose ("the input"), not names it uses.
_PROSE = re.compile(r'"""(?:.|\n)*?"""|"[^"\n]*"|\'[^\'\n]*\'|#[^\n]*')
_JINJA = re.compile(r"\{\{(?:.|\n)*?\}\}|\{%(?:.|\n)*?%\}|\{#(?:.|\n)*?#\}")


@cache
def used_builtins() -> frozenset[str]:
    """Every builtin a template's Python code names (`super`, `range`, `isinstance`, ...)."""
    found: set[str] = set()
    for path in sorted(data_dir("templates").rglob("*.jinja")):
        code = _PROSE.sub(" ", _JINJA.sub(" ", path.read_text(encoding="utf-8")))
        found.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))
    return frozenset(found & set(dir(builtins)))


@cache
def shadowed_modules() -> dict[str, str]:
    """Lower-cased top-level modules a `<name>.py` beside the generated file could shadow.

    Python's standard library and torch with its dependencies (TORCH_MODULES, derived from the
    installed metadata by the tests); lower-cased because macOS and Windows file systems are
    case-insensitive, so `Functools.py` shadows `functools` there.
    """
    found = {m.lower(): "the standard library's `{}` module" for m in sys.stdlib_module_names}
    found |= {m.lower(): "the `{}` module, which torch imports" for m in TORCH_MODULES}
    return found | {"torch": "the `{}` module"}


def reserved_reason(name: str, *, module: bool) -> str | None:
    """Why `name` cannot be the generated module's name (`module`) or its model class."""
    if name.startswith("__") and (name.endswith("__") or not module):
        return "Python reserves names that start with `__`"
    if module and name.lower() in shadowed_modules():
        return "shadows " + shadowed_modules()[name.lower()].format(name.lower())
    if name in used_builtins():
        return f"would replace the builtin `{name}`, which the generated module calls"
    if name in defined_names():
        return "would replace a name the generated module defines"
    return None
