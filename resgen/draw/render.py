"""DOT text -> SVG, PNG or PDF through the `graphviz` package and Graphviz's `dot` binary."""

from __future__ import annotations

from pathlib import Path

# Output formats by file extension; `dot` means the DOT text itself, no rendering.
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
DEFAULT_SUFFIX = ".svg"
INSTALL_HINT = (
    "install Graphviz to render it: `sudo apt-get install graphviz`, `brew install graphviz`, "
    "or https://graphviz.org/download/"
)


class DotMissingError(Exception):
    """Graphviz's `dot` is not on PATH."""


class RenderFailedError(Exception):
    """`dot` ran and failed; the message is its stderr."""


def format_of(path: Path) -> str | None:
    """The output format a file name asks for, or None for an unknown extension."""
    return FORMATS.get(path.suffix.lower())


def render(dot_text: str, fmt: str) -> bytes:
    """Lay out and render DOT text; raise DotMissingError or RenderFailedError."""
    import graphviz  # type: ignore[import-untyped]

    if fmt == "dot":
        return dot_text.encode("utf-8")
    try:
        data: bytes = graphviz.pipe("dot", fmt, dot_text.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound:
        raise DotMissingError(INSTALL_HINT) from None
    except graphviz.CalledProcessError as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else ""
        raise RenderFailedError(stderr.strip() or str(exc)) from None
    return data
