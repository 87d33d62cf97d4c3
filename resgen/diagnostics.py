"""Diagnostics: what went wrong, where in the user's file, and how to fix it.

Passes return diagnostics as values; the pipeline collects them and raises once; only the CLI
decides how to print them and which exit code to use.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A position in a source file; line and column are 1-based, as editors count."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One finding: a stable kebab-case code, a message, where, and a hint at the fix."""

    severity: Severity
    code: str
    message: str
    location: Location | None = None
    hint: str | None = None
    # The source line the location points into, for the caret display; filled by the loader.
    source_line: str | None = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def format(self, *, show_source: bool = True) -> str:
        """Format as `file:line:col: error[code]: message`, the source line, a caret and a hint."""
        where = f"{self.location}: " if self.location else ""
        lines = [f"{where}{self.severity.value}[{self.code}]: {self.message}"]
        loc = self.location
        if show_source and loc and loc.line > 0 and self.source_line is not None:
            gutter = str(loc.line)
            text, caret = _excerpt(self.source_line, loc.column)
            lines.append(f"  {gutter} | {text}")
            lines.append(f"  {' ' * len(gutter)} | {' ' * caret}^")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        loc = self.location
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "column": loc.column if loc else None,
            "hint": self.hint,
        }

    def format_github(self) -> str:
        """Format as a GitHub Actions workflow command, so CI marks the offending line."""
        kind = "error" if self.is_error else "warning"
        props = []
        if self.location:
            props.append(f"file={_gh_escape(self.location.file, prop=True)}")
            if self.location.line > 0:
                props.append(f"line={self.location.line}")
                props.append(f"col={self.location.column}")
        props.append(f"title=resgen {self.code}")
        message = self.message + (f" (hint: {self.hint})" if self.hint else "")
        return f"::{kind} {','.join(props)}::{_gh_escape(message)}"


# Characters of a source line shown around the caret; a minified 10,000-character line is cut.
MAX_SHOWN = 100


def _excerpt(line: str, column: int) -> tuple[str, int]:
    """The printable part of a source line around `column` (1-based), and the caret's offset.

    Control characters become U+FFFD, one for one, so that the caret stays under its column and
    nothing from the file can drive the terminal.
    """
    text = "".join(
        c if c.isprintable() or c == "\t" else "\ufffd" for c in line.rstrip("\r\n")
    ).expandtabs(1)
    caret = max(column - 1, 0)
    if len(text) <= MAX_SHOWN:
        return text, caret
    start = max(0, min(caret - MAX_SHOWN // 2, len(text) - MAX_SHOWN))
    prefix = "..." if start > 0 else ""
    suffix = "..." if start + MAX_SHOWN < len(text) else ""
    return prefix + text[start : start + MAX_SHOWN] + suffix, caret - start + len(prefix)


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def error(
    code: str, message: str, location: Location | None = None, hint: str | None = None
) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, location, hint)


def warning(
    code: str, message: str, location: Location | None = None, hint: str | None = None
) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, location, hint)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Order by position in the file, so reports read top to bottom."""
    return sorted(
        diagnostics,
        key=lambda d: (d.location or Location(""), d.code, d.message),
    )


class ResgenError(Exception):
    """Raised at the end of a stage that found errors; carries every diagnostic it found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.format(show_source=False) for d in self.diagnostics))


def format_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2)
