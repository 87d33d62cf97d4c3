"""The whole compiler, top to bottom: load -> lower -> analyze -> render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from resgen.checks import Analysis, analyze
from resgen.diagnostics import ResgenError, has_errors
from resgen.graph import lower
from resgen.spec.load import LoadedSpec, load_spec_file


@dataclass(frozen=True)
class Compiled:
    loaded: LoadedSpec
    analysis: Analysis
    source: str | None  # Python text; None when the checks found errors


def check(loaded: LoadedSpec) -> Analysis:
    """Lower a validated spec and run every static pass over its graph."""
    return analyze(lower(loaded))


def compile_spec(loaded: LoadedSpec) -> Compiled:
    """Check, then generate; raise ResgenError with every diagnostic if anything is wrong."""
    analysis = check(loaded)
    diagnostics = [loaded.source.attach(d) for d in analysis.diagnostics]
    if has_errors(diagnostics):
        raise ResgenError(diagnostics)
    # Imported here: `check`, `info` and `draw` never need jinja2 and the render model.
    from resgen.codegen import render_source
    from resgen.codegen.render import build_render_model

    text = render_source(build_render_model(loaded, analysis))
    return Compiled(loaded, analysis, text)


def compile_file(path: Path, name: str | None = None) -> Compiled:
    return compile_spec(load_spec_file(path, name))
