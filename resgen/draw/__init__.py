"""Graph -> Graphviz: DOT text first (a pure function of the analysis), rendering second.

This module stays light (the CLI reads its option lists before loading anything); the work is
imported when a drawing is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from resgen.checks import Analysis
    from resgen.draw.dot import Drawing
    from resgen.spec.load import LoadedSpec

DETAILS = ("stage", "block", "op")
RANKDIRS = ("TB", "LR")

__all__ = ["DETAILS", "RANKDIRS", "build_drawing", "draw_dot"]


def build_drawing(
    loaded: LoadedSpec, analysis: Analysis, detail: str = "block", rankdir: str = "TB"
) -> Drawing:
    """Decide what to draw at one detail level (`stage`, `block` or `op`), as plain data."""
    from resgen.draw.layout import make_context, title
    from resgen.draw.views import draw

    ctx = make_context(analysis)
    heading = title(ctx, loaded.spec.model_class, loaded.source.name)
    return draw(ctx, detail, rankdir, loaded.spec.name, heading)


def draw_dot(
    loaded: LoadedSpec, analysis: Analysis, detail: str = "block", rankdir: str = "TB"
) -> str:
    """The DOT text of a spec's drawing: deterministic, so it can be golden-tested."""
    from resgen.draw.dot import to_dot

    return to_dot(build_drawing(loaded, analysis, detail, rankdir))
