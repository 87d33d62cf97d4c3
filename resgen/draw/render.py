"""DOT text -> SVG, PNG or PDF through Graphviz's `dot` binary, with a time limit.

`dot` runs as a child process with the DOT text on stdin and the drawing on stdout; no file is
written until it succeeds, so a failed, empty or timed-out render leaves nothing behind.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

from resgen.diagnostics import Diagnostic, printable, warning

# Output formats by file extension; `dot` means the DOT text itself, no rendering.
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
DEFAULT_SUFFIX = ".svg"
DEFAULT_TIMEOUT = 60.0  # seconds; ResNet-1202 at op detail takes a few
INSTALL_HINT = (
    "install Graphviz to render it: `sudo apt-get install graphviz`, `brew install graphviz`, "
    "or https://graphviz.org/download/"
)


class DotMissingError(Exception):
    """Graphviz's `dot` is not on PATH."""


class RenderFailedError(Exception):
    """`dot` failed, timed out or wrote nothing; the message says which, with its stderr."""


class Rendered(NamedTuple):
    """A drawing, and what `dot` said on the way (its warnings, one per line)."""

    data: bytes
    warnings: tuple[str, ...]


def format_of(path: Path) -> str | None:
    """The output format a file name asks for, or None for an unknown extension."""
    return FORMATS.get(path.suffix.lower())


def render(
    dot_text: str, fmt: str, timeout: float = DEFAULT_TIMEOUT, *, dpi: int | None = None
) -> Rendered:
    """Lay out and render DOT text (at `dpi` if given); raise DotMissingError, RenderFailedError."""
    if fmt == "dot":
        return Rendered(dot_text.encode("utf-8"), ())
    dot = shutil.which("dot")
    if dot is None:
        raise DotMissingError(INSTALL_HINT)
    try:
        # subprocess.run kills `dot` on a timeout or on any exception (SIGINT included).
        done = subprocess.run(
            [dot, f"-T{fmt}", *([f"-Gdpi={dpi}"] if dpi is not None else [])],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RenderFailedError(f"`dot` took longer than {timeout:g} s and was stopped") from None
    except OSError as exc:  # not executable, or vanished since `which`
        raise RenderFailedError(f"cannot run {dot}: {exc.strerror or exc}") from None
    said = tuple(_lines(done.stderr))
    if done.returncode != 0:
        how = f"exit status {done.returncode}" if done.returncode > 0 else "killed by a signal"
        raise RenderFailedError("; ".join(said) or f"`dot` failed ({how}) and said nothing")
    if not done.stdout:
        raise RenderFailedError("; ".join(("`dot` wrote an empty drawing", *said)))
    return Rendered(done.stdout, said)


def _lines(stderr: bytes) -> list[str]:
    text = stderr.decode("utf-8", "replace")
    return [line.strip() for line in text.splitlines() if line.strip()]


def dot_warning(line: str, fmt: str) -> Diagnostic:
    """What `dot` said, passed on; for a shrunken bitmap, how to get a readable drawing."""
    hint = None
    if fmt == "png" and ("scaling" in line.lower() or "too large" in line.lower()):
        hint = "draw to .svg or .pdf (no size limit), or use a lower --detail (block or stage)"
    said = line.removeprefix("Warning: ").removeprefix("dot: ")
    return warning("graphviz", f"dot: {printable(said)}", None, hint=hint)
