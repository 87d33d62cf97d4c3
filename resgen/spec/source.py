"""Read YAML or JSON into plain data while remembering the line and column of every value.

PyYAML's `compose()` keeps a mark on every node; JSON gets a small recursive-descent parser of its
own because the standard library's throws positions away. Both reject duplicate keys (PyYAML
would silently keep the last one) and bound the work an alias bomb can cause.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from resgen.diagnostics import Diagnostic, Location, ResgenError, error

Path = tuple[str | int, ...]

MAX_FILE_BYTES = 1_000_000
# Each node visit costs one unit; an alias bomb (billion laughs) hits this long before memory.
MAX_NODES = 100_000


@dataclass
class Source:
    """A spec's text, its name for messages, and the position of every value and key.

    A spec that `extends` another carries positions from several files: `origins` names the
    file of every position that is not in this one, and `texts` holds those files' text.
    """

    name: str
    text: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    origins: dict[Path, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def line_text(self, line: int, file: str | None = None) -> str | None:
        text = self.text if file in (None, self.name) else self.texts.get(file or "")
        lines = (text or "").splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else None

    def locate(self, path: Path, *, key: bool = False) -> Location:
        """Return the location of the value at `path` (or its key), else of its nearest parent."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            for candidates in (table, self.values):
                if probe in candidates:
                    line, col = candidates[probe]
                    return Location(self.origins.get(probe, self.name), line, col)
            probe = probe[:-1]
        line, col = self.values.get((), (1, 1))
        return Location(self.name, line, col)

    def attach(self, diagnostic: Diagnostic) -> Diagnostic:
        """Return the diagnostic with its source line filled in, for the caret display."""
        loc = diagnostic.location
        if loc is None or diagnostic.source_line is not None:
            return diagnostic
        if loc.file != self.name and loc.file not in self.texts:
            return diagnostic
        return Diagnostic(
            diagnostic.severity,
            diagnostic.code,
            diagnostic.message,
            loc,
            diagnostic.hint,
            self.line_text(loc.line, loc.file),
        )


def parse_text(text: str, name: str, *, fmt: str) -> tuple[Any, Source]:
    """Parse YAML (`fmt="yaml"`) or JSON text into plain data and its `Source`."""
    source = Source(name, text)
    if fmt == "json":
        data = _JsonParser(text, source).parse()
    else:
        data = _load_yaml(text, source)
    return data, source


def decode_bytes(raw: bytes, name: str) -> str:
    """Decode a spec file's bytes as UTF-8 or raise a diagnostic saying why it cannot be read."""
    if len(raw) > MAX_FILE_BYTES:
        raise ResgenError(
            [
                error(
                    "file-too-large",
                    f"spec file is {len(raw):,} bytes; the limit is {MAX_FILE_BYTES:,}",
                    Location(name),
                    hint="a ResNet spec is a few hundred bytes; is this the right file?",
                )
            ]
        )
    if b"\x00" in raw:
        raise ResgenError(
            [
                error(
                    "binary-file",
                    "spec file is binary (it contains NUL bytes), not YAML or JSON text",
                    Location(name),
                    hint="pass a .yaml, .yml or .json spec",
                )
            ]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ResgenError(
            [
                error(
                    "encoding",
                    f"spec file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                    Location(name, line, col),
                    hint="save the file as UTF-8",
                )
            ]
        ) from None
    return text.removeprefix("\ufeff")


# --- YAML ---------------------------------------------------------------------------------------


def _load_yaml(text: str, source: Source) -> Any:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        raise ResgenError(
            [
                source.attach(
                    error(
                        "yaml-syntax",
                        f"YAML syntax error: {problem}",
                        Location(source.name, line, col),
                        hint="check indentation, colons and brackets near this position",
                    )
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise ResgenError(
            [error("yaml-syntax", f"YAML syntax error: {exc}", Location(source.name))]
        ) from None
    if node is None:
        return None
    converter = _YamlConverter(source)
    data = converter.convert(node, ())
    if converter.diagnostics:
        raise ResgenError(converter.diagnostics)
    return data


class _YamlConverter:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.constructor = yaml.SafeLoader("")
        self.visits = 0
        self.diagnostics: list[Diagnostic] = []

    def convert(self, node: yaml.Node, path: Path) -> Any:
        self.visits += 1
        if self.visits > MAX_NODES:
            raise ResgenError(
                [
                    self.source.attach(
                        error(
                            "too-many-nodes",
                            f"spec expands to more than {MAX_NODES:,} YAML nodes "
                            "(an alias bomb, or a far too large spec)",
                            self._loc(node),
                            hint="avoid nested YAML aliases (*name); specs need a few dozen nodes",
                        )
                    )
                ]
            )
        self.source.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        self.constructor.flatten_mapping(node)  # resolves `<<: *base` merge keys
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.diagnostics.append(
                    self.source.attach(
                        error(
                            "invalid-key",
                            "mapping keys must be plain names",
                            self._loc(key_node),
                        )
                    )
                )
                continue
            key = self.constructor.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key_node.value)
            if key in out:
                first = self.source.keys.get((*path, key))
                where = f" (first defined on line {first[0]})" if first else ""
                self.diagnostics.append(
                    self.source.attach(
                        error(
                            "duplicate-key",
                            f"duplicate key {key!r}{where}",
                            self._loc(key_node),
                            hint="remove one of them; YAML would silently keep only the last",
                        )
                    )
                )
                continue
            self.source.keys[(*path, key)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = self.convert(value_node, (*path, key))
        return out

    def _loc(self, node: yaml.Node) -> Location:
        return Location(self.source.name, node.start_mark.line + 1, node.start_mark.column + 1)


# --- JSON ---------------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class _JsonParser:
    """A strict JSON parser (RFC 8259) that records the position of every value and key."""

    def __init__(self, text: str, source: Source) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.diagnostics: list[Diagnostic] = []
        self.depth = 0

    def parse(self) -> Any:
        self._skip()
        if self.pos >= len(self.text):
            return None
        value = self._value(())
        self._skip()
        if self.pos < len(self.text):
            self._fail("unexpected text after the JSON value")
        if self.diagnostics:
            raise ResgenError(self.diagnostics)
        return value

    def _where(self, pos: int | None = None) -> tuple[int, int]:
        pos = self.pos if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return line, col

    def _fail(self, message: str) -> None:
        line, col = self._where()
        raise ResgenError(
            [
                self.source.attach(
                    error(
                        "json-syntax",
                        f"JSON syntax error: {message}",
                        Location(self.source.name, line, col),
                        hint="check commas, quotes and brackets near this position",
                    )
                )
            ]
        )

    def _skip(self) -> None:
        match = _WHITESPACE.match(self.text, self.pos)
        assert match is not None  # the pattern matches the empty string
        self.pos = match.end()

    def _value(self, path: Path) -> Any:
        self.depth += 1
        if self.depth > 100:
            self._fail("nesting is deeper than 100 levels")
        self.source.values.setdefault(path, self._where())
        char = self.text[self.pos] if self.pos < len(self.text) else ""
        if char == "{":
            value: Any = self._object(path)
        elif char == "[":
            value = self._array(path)
        elif char == '"':
            value = self._string()
        else:
            value = self._literal()
        self.depth -= 1
        return value

    def _object(self, path: Path) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        self._skip()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return out
        while True:
            self._skip()
            if not self.text.startswith('"', self.pos):
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
                self.diagnostics.append(
                    self.source.attach(
                        error(
                            "duplicate-key",
                            f"duplicate key {key!r}{where}",
                            Location(self.source.name, *key_pos),
                            hint="remove one of them",
                        )
                    )
                )
                self._value((*path, f"\0dup{self.pos}"))
            else:
                self.source.keys[(*path, key)] = key_pos
                out[key] = self._value((*path, key))
            self._skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return out
            self._fail("expected ',' or '}'")

    def _array(self, path: Path) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        self._skip()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return out
        while True:
            self._skip()
            out.append(self._value((*path, len(out))))
            self._skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return out
            self._fail("expected ',' or ']'")

    def _string(self) -> str:
        try:
            value, end = json.decoder.scanstring(self.text, self.pos + 1, True)  # type: ignore[attr-defined]
        except json.JSONDecodeError as exc:
            self.pos = exc.pos
            self._fail(exc.msg.lower())
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
            self._fail(f"unexpected character {self.text[self.pos]!r}")
        assert match is not None
        self.pos = match.end()
        if match.group(1) or match.group(2):
            return float(match.group(0))
        return int(match.group(0))
