"""The one jinja2 Environment, and rendering a render model to Python source text."""

from __future__ import annotations

from functools import cache

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
    )


def render_source(model: RenderModel) -> str:
    """Render the model file; the text ends with exactly one newline."""
    text = environment().get_template("model.py.jinja").render(m=model)
    return text.rstrip("\n") + "\n"
