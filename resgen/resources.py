"""Find the files resgen ships: jinja2 templates and built-in specs.

An installed wheel carries them in `resgen/_data/`; a source checkout (including an editable
install) has them at the repository root, beside the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """Return the directory of shipped `templates` or `specs`."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"resgen installation is missing its {name}/ directory")


def builtin_spec_names() -> list[str]:
    return sorted(p.stem for p in data_dir("specs").glob("*.yaml"))


def builtin_spec_path(name: str) -> Path | None:
    """Return the built-in spec called `name` (no suffix), or None."""
    if not name.isidentifier():
        return None
    path = data_dir("specs") / f"{name}.yaml"
    return path if path.is_file() else None
