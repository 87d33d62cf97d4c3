"""Graph -> render model -> jinja2 -> Python source (resgen.codegen.emit renders)."""
