"""The one jinja2 Environment, and rendering a render model to Python source text."""

from __future__ import annotations

from functools import cache

import jinja2

from resgen.codegen.render import RenderModel
from resgen.resources import data_dir


@cache
def environment() -> jinja2.Environment:
    """The templates' Environment, compiled on first use.

    There is no bytecode cache: compiling every template takes about 30 ms of a 0.3 s build
    (benchmarks/bench_templates.py), and jinja2's cache would load marshalled code from a folder
    on disk, which CI on untrusted pull requests should not trust.
    """
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # we emit Python, not HTML; user text is escaped in render.py
    )


def render_source(model: RenderModel, template: str = "model.py.jinja") -> str:
    """Render the model file; the text ends with exactly one newline."""
    text = environment().get_template(template).render(m=model)
    return text.rstrip("\n") + "\n"
