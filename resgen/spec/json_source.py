"""JSON text -> plain data, recording the line and column of every value and key.

The standard library's parser throws positions away, so this is a small strict recursive-descent
parser (RFC 8259) of its own. It reports duplicate keys, trailing commas and unclosed brackets
where they are, and bounds nesting so that no input can exhaust Python's stack.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, NoReturn

from resgen.diagnostics import Diagnostic, Location, ResgenError, error

if TYPE_CHECKING:
    from resgen.spec.source import Path, Source

MAX_NESTING = 100

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_WORD = re.compile(r"[A-Za-z_]\w*")
_HINT = "check commas, quotes and brackets near this position"
# json.decoder.scanstring's messages (both its C and Python versions), worded for people.
_STRING_ERRORS = (
    ("Unterminated string", "this string is never closed", "add the closing double quote"),
    (
        "Invalid control character",
        "a raw control character (a line break or a tab?) inside a string",
        "close the string on its line, or write the character as \\n or \\t",
    ),
    ("Invalid \\u", "an invalid \\uXXXX escape in a string", "write four hex digits after \\u"),
    (
        "Invalid \\escape",
        "an invalid escape in a string",
        "a backslash starts an escape; write \\\\ for a backslash",
    ),
)


class JsonParser:
    """A strict JSON parser that records the position of every value and key in a Source."""

    def __init__(self, text: str, source: Source) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.diagnostics: list[Diagnostic] = []
        self.open: list[int] = []  # positions of the brackets not closed yet

    def parse(self) -> Any:
        self._skip()
        if self.pos >= len(self.text):
            return None
        value = self._value(())
        self._skip()
        if self.pos < len(self.text):
            self._fail("unexpected text after the JSON value", "a JSON file holds one value")
        if self.diagnostics:
            raise ResgenError(self.diagnostics)
        return value

    def _where(self, pos: int | None = None) -> tuple[int, int]:
        pos = self.pos if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return line, col

    def _fail(self, message: str, hint: str = _HINT, pos: int | None = None) -> NoReturn:
        if pos is None and self.pos >= len(self.text) and self.open:
            # The file ends early: the bracket left open is the mistake, not the end of the file.
            pos = self.open[-1]
            bracket = self.text[pos]
            closing = "}" if bracket == "{" else "]"
            message = f"this {bracket!r} is never closed (the file ends first)"
            hint = f"add the missing {closing!r}"
        raise ResgenError.single(
            "json-syntax",
            f"JSON syntax error: {message}",
            Location(self.source.name, *self._where(pos)),
            hint=hint,
        )

    def _no_comment(self) -> None:
        if self.text.startswith(("//", "/*", "#"), self.pos):
            self._fail(
                "a comment: JSON has none",
                "remove it, or write the spec in YAML (.yaml), which allows # comments",
            )

    def _skip(self) -> None:
        match = _WHITESPACE.match(self.text, self.pos)
        assert match is not None  # the pattern matches the empty string
        self.pos = match.end()

    def _value(self, path: Path) -> Any:
        if len(self.open) >= MAX_NESTING:
            self._fail(f"nesting is deeper than {MAX_NESTING} levels")
        self.source.values.setdefault(path, self._where())
        char = self.text[self.pos] if self.pos < len(self.text) else ""
        if char in "{[" and char:
            self.open.append(self.pos)
            value: Any = self._object(path) if char == "{" else self._array(path)
            self.open.pop()
            return value
        if char == '"':
            return self._string()
        return self._literal()

    def _comma(self, closing: str) -> bool:
        """After a member: True to read another, False at the closing bracket."""
        self._skip()
        if self.text.startswith(",", self.pos):
            comma = self.pos
            self.pos += 1
            self._skip()
            if self.text.startswith(closing, self.pos):
                self._fail(
                    f"a trailing comma before {closing!r}",
                    "remove it: JSON allows no comma before a closing bracket",
                    pos=comma,
                )
            return True
        if self.text.startswith(closing, self.pos):
            self.pos += 1
            return False
        self._fail(f"expected ',' or {closing!r}")

    def _object(self, path: Path) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        self._skip()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return out
        more = True
        while more:
            self._skip()
            if not self.text.startswith('"', self.pos):
                self._no_comment()
                self._fail("expected a key in double quotes")
            key_pos = self._where()
            key = self._string()
            self._skip()
            if not self.text.startswith(":", self.pos):
                self._fail("expected ':' after the key")
            self.pos += 1
            self._skip()
            if key in out:
                first = self.source.keys.get((*path, key))
                where = f" (first defined on line {first[0]})" if first else ""
                if first and first[0] == key_pos[0]:
                    where = f" (first defined earlier on this line, column {first[1]})"
                self.diagnostics.append(
                    error(
                        "duplicate-key",
                        f"duplicate key {key!r}{where}",
                        Location(self.source.name, *key_pos),
                        hint="remove one of them",
                    )
                )
                self._value((*path, f"\0dup{self.pos}"))
            else:
                self.source.keys[(*path, key)] = key_pos
                out[key] = self._value((*path, key))
            more = self._comma("}")
        return out

    def _array(self, path: Path) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        self._skip()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return out
        more = True
        while more:
            self._skip()
            out.append(self._value((*path, len(out))))
            more = self._comma("]")
        return out

    def _string(self) -> str:
        try:
            value, end = json.decoder.scanstring(self.text, self.pos + 1, True)  # type: ignore[attr-defined]
        except json.JSONDecodeError as exc:
            if exc.msg.startswith("Invalid control character") and self.text[exc.pos] == "\n":
                self._fail(
                    "this string is not closed before the end of its line",
                    "add the closing double quote (a line break inside a string is written \\n)",
                )
            for prefix, message, hint in _STRING_ERRORS:
                if exc.msg.startswith(prefix):
                    self._fail(message, hint, pos=exc.pos)
            self._fail(exc.msg.lower(), pos=exc.pos)
        self.pos = end
        return str(value)

    def _literal(self) -> Any:
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        match = _NUMBER.match(self.text, self.pos)
        if not match or match.end() == self.pos:
            if self.pos >= len(self.text):
                self._fail("unexpected end of file")
            self._no_comment()
            bare = _WORD.match(self.text, self.pos)
            if bare:
                self._fail(
                    f"unexpected word {bare.group(0)!r}",
                    "JSON's literals are true, false and null; strings need double quotes",
                )
            self._fail(f"unexpected character {self.text[self.pos]!r}")
        if match.group(1) or match.group(2):
            self.pos = match.end()
            return float(match.group(0))
        try:
            number = int(match.group(0))
        except ValueError:  # longer than Python's int-parsing limit (4,300 digits)
            self._fail(
                f"a number with {len(match.group(0)):,} digits is too long to read",
                "a spec's numbers have a few digits",
            )
        self.pos = match.end()
        return number
