"""Diagnostics: what went wrong, where in the user's file, and how to fix it.

Passes return diagnostics as values; the pipeline collects them and raises once; only the CLI
decides how to print them and which exit code to use. A diagnostic carries a location, never a
copy of the source: a reporter looks the line up in `SOURCES` when it prints (as ruff resolves
source files at the edge), and the reporters are chosen by name from `REPORTERS`.
"""

from __future__ import annotations

import contextlib
import enum
import json
import sys
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


class SourceResolver:
    """The text of every spec the loader read, by file name, for showing a diagnostic's line.

    Like `linecache`, but filled by the loader instead of read back from disk: the file in a
    location is a display name (`specs/x.yaml`, `<builtin>/x.yaml`, `<dict>`), not always a path,
    and the line shown must be the one that was parsed, even if the file has changed since. The
    text registered last under a name wins; lines are split on first use.
    """

    def __init__(self) -> None:
        self._sources: dict[str, str | list[str]] = {}

    def register(self, name: str, text: str) -> None:
        """Remember the text of `name`, replacing what an earlier load registered."""
        self._sources[name] = text

    def register_lines(self, name: str, lines: Sequence[str]) -> None:
        """Remember `name` as lines already split (a file that is not valid text)."""
        self._sources[name] = list(lines)

    def line(self, location: Location | None) -> str | None:
        """The source line `location` points into, or None if it has none or it is unknown."""
        if location is None or location.line <= 0:
            return None
        lines = self._sources.get(location.file)
        if lines is None:
            return None
        if isinstance(lines, str):
            lines = self._sources[location.file] = split_lines(lines)
        return lines[location.line - 1] if location.line <= len(lines) else None


def split_lines(text: str) -> list[str]:
    """Lines as editors, git and GitHub number them: only LF ends one (CRLF's CR goes with it).

    `str.splitlines` also breaks at NEL, U+2028, form feeds and lone CRs, which would shift
    every later line against the positions the readers report.
    """
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return lines[:-1] if text.endswith("\n") else lines


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` with every character a terminal would act on written as a Python escape.

    Control characters, line and paragraph separators and bidirectional overrides from a file
    name or a spec would otherwise move the cursor, recolour the terminal, end a CI log line or
    reorder what is shown; printed escaped, they are seen.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def use_safe_streams() -> None:
    """Make stdout and stderr write a character their encoding lacks as an escape.

    Under `PYTHONIOENCODING=ascii`, a cp1252 console or a C locale, a file name or a spec value
    with other characters would otherwise end the run in UnicodeEncodeError.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            # Closed or detached: printing will say so itself.
            with contextlib.suppress(OSError, ValueError):
                reconfigure(errors="backslashreplace")


# The process's resolver: the spec loader registers every text it parses here.
SOURCES = SourceResolver()


@dataclass(frozen=True)
class Diagnostic:
    """One finding: a stable kebab-case code, a message, where, and a hint at the fix."""

    severity: Severity
    code: str
    message: str
    location: Location | None = None
    hint: str | None = None
    # False for a finding about the whole file (it is empty, it is not UTF-8): its position is
    # nominal, so reporters quote no line under it.
    excerpt: bool = field(default=True, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def source_line(self) -> str | None:
        """The line the location points into, looked up now; None when none is shown."""
        return SOURCES.line(self.location) if self.excerpt else None

    def format(self, *, show_source: bool = True) -> str:
        """Format as `file:line:col: error[code]: message`, the source line, a caret and a hint."""
        return TextReporter(SOURCES if show_source else None).format(self)

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


def error(
    code: str,
    message: str,
    location: Location | None = None,
    hint: str | None = None,
    *,
    excerpt: bool = True,
) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, location, hint, excerpt)


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


def in_line_order(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    """Sort diagnostics by line and column within each file, files in order of first mention.

    Stable: diagnostics at one place (or with no line) keep the order the passes found them in.
    """
    files: dict[str, int] = {}
    for d in diagnostics:
        files.setdefault(d.location.file if d.location else "", len(files))

    def key(d: Diagnostic) -> tuple[int, int, int]:
        if d.location is None:
            return (files[""], 0, 0)
        return (files[d.location.file], d.location.line, d.location.column)

    return sorted(diagnostics, key=key)


class ResgenError(Exception):
    """Raised at the end of a stage that found errors; carries every diagnostic it found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = in_line_order(diagnostics)
        super().__init__("\n".join(d.format(show_source=False) for d in self.diagnostics))

    @classmethod
    def single(
        cls,
        code: str,
        message: str,
        location: Location | None = None,
        hint: str | None = None,
        *,
        excerpt: bool = True,
    ) -> ResgenError:
        """The error of a step that cannot go on past its first problem: one error diagnostic."""
        return cls([error(code, message, location, hint, excerpt=excerpt)])


# --- reporters ----------------------------------------------------------------------------------

# Characters of a source line shown around the caret; a minified 10,000-character line is cut.
MAX_SHOWN = 100


class Reporter:
    """Prints diagnostics in one format: every command's findings, and `resgen check`'s run.

    `report` prints findings as they come; `report_file` prints one checked file's findings;
    `finish` closes a `check` run (a count, or the whole JSON document).
    """

    def __init__(self, resolver: SourceResolver | None = SOURCES) -> None:
        self.resolver = resolver  # None: quote no source lines

    def report(self, diagnostics: Iterable[Diagnostic]) -> None:
        """Print diagnostics (or keep them, for a format printed whole at the end)."""
        raise NotImplementedError

    def report_file(self, name: str, diagnostics: Sequence[Diagnostic], summary: str) -> None:
        """Report one checked file; `summary` describes it when it has no errors."""
        self.report(diagnostics)

    def finish(self) -> None:
        """Print what follows every file of a `check` run."""


class TextReporter(Reporter):
    """Human text: diagnostics on stderr (`file:line:col: error[code]: message`, the line, a
    caret, a hint); a `check` run's results, each file's `ok` and the count, on stdout."""

    def __init__(self, resolver: SourceResolver | None = SOURCES) -> None:
        super().__init__(resolver)
        self.checked = self.failed = self.unfound = 0

    def format(self, diagnostic: Diagnostic) -> str:
        loc = diagnostic.location
        where = f"{loc}: " if loc else ""
        header = f"{where}{diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"
        lines = [printable(header)]
        shown = None
        if self.resolver is not None and diagnostic.excerpt:
            shown = self.resolver.line(loc)
        if loc and shown is not None:
            gutter = str(loc.line)
            text, caret = _excerpt(shown, loc.column)
            lines.append(f"  {gutter} | {text}")
            lines.append(f"  {' ' * len(gutter)} | {' ' * caret}^")
        if diagnostic.hint:
            lines.append(f"  hint: {printable(diagnostic.hint)}")
        return "\n".join(lines)

    def report(self, diagnostics: Iterable[Diagnostic]) -> None:
        for d in diagnostics:
            print(self.format(d), file=sys.stderr)
            self.unfound += d.severity is Severity.ERROR  # an argument that is no readable spec

    def report_file(self, name: str, diagnostics: Sequence[Diagnostic], summary: str) -> None:
        for d in diagnostics:
            print(self.format(d), file=sys.stderr)
        self.checked += 1
        if has_errors(diagnostics):
            self.failed += 1
        else:  # flushed, so that a terminal showing both streams keeps their order
            print(printable(f"{name}: ok ({summary})"), flush=True)

    def finish(self) -> None:
        plural = "s" if self.checked != 1 else ""
        line = f"checked {self.checked} spec{plural}: {self.failed} with errors"
        if self.unfound:
            many = "s" if self.unfound != 1 else ""
            line += f"; {self.unfound} argument{many} could not be checked"
        print(line, flush=True)


class GitHubReporter(Reporter):
    """GitHub Actions workflow commands on stdout, so CI marks the offending lines."""

    def format(self, diagnostic: Diagnostic) -> str:
        kind = "error" if diagnostic.is_error else "warning"
        props = []
        loc = diagnostic.location
        if loc:
            props.append(f"file={_gh_escape(printable(loc.file), prop=True)}")
            if loc.line > 0:
                props.append(f"line={loc.line}")
                props.append(f"col={loc.column}")
        props.append(f"title=resgen {diagnostic.code}")
        message = diagnostic.message + (f" (hint: {diagnostic.hint})" if diagnostic.hint else "")
        return f"::{kind} {','.join(props)}::{_gh_escape(printable(message))}"

    def report(self, diagnostics: Iterable[Diagnostic]) -> None:
        for d in diagnostics:
            print(self.format(d))


class JsonReporter(Reporter):
    """One JSON document on stdout when the run ends: each file's diagnostics, then the rest."""

    def __init__(self, resolver: SourceResolver | None = SOURCES) -> None:
        super().__init__(resolver)
        self.files: list[dict[str, object]] = []
        self.problems: list[Diagnostic] = []

    def report(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.problems.extend(diagnostics)

    def report_file(self, name: str, diagnostics: Sequence[Diagnostic], summary: str) -> None:
        found = [d.to_json() for d in diagnostics]
        self.files.append({"file": name, "ok": not has_errors(diagnostics), "diagnostics": found})

    def finish(self) -> None:
        problems = [d.to_json() for d in self.problems]
        print(json.dumps({"files": self.files, "problems": problems}, indent=2))


REPORTERS: dict[str, type[Reporter]] = {
    "text": TextReporter,
    "json": JsonReporter,
    "github": GitHubReporter,
}


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
