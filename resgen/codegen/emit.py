"""The one jinja2 Environment, and rendering a render model to Python source text."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import jinja2

from resgen.codegen.render import RenderModel
from resgen.resources import data_dir


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # we emit Python, not HTML; user text is escaped in render.py
        bytecode_cache=bytecode_cache(),
    )


def bytecode_cache() -> jinja2.BytecodeCache | None:
    """The templates, compiled, in the user's cache folder; None where there is none to use.

    Compiling the templates costs a build about 0.1 s, as much as everything else resgen does for
    ResNet-152. The output cannot depend on the cache: jinja2 keys each entry by the template's
    path and checks its source checksum and the Python version. RESGEN_NO_CACHE=1 turns it off;
    RESGEN_CACHE_DIR (else $XDG_CACHE_HOME/resgen, else ~/.cache/resgen) says where it lives.
    """
    if os.environ.get("RESGEN_NO_CACHE"):
        return None
    try:
        root = os.environ.get("RESGEN_CACHE_DIR") or Path(
            os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "resgen"
        )
        directory = Path(root, f"jinja2-{jinja2.__version__}")
        directory.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home directory
        return None
    if not os.access(directory, os.W_OK | os.X_OK):
        return None
    return jinja2.FileSystemBytecodeCache(str(directory))


def render_source(model: RenderModel, template: str = "model.py.jinja") -> str:
    """Render the model file; the text ends with exactly one newline."""
    text = environment().get_template(template).render(m=model)
    return text.rstrip("\n") + "\n"
