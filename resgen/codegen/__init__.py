"""Graph -> render model -> jinja2 -> Python source."""

from resgen.codegen.emit import render_source

__all__ = ["render_source"]
