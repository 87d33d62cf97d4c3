"""Read YAML or JSON into plain data while remembering the line and column of every value.

`Source` holds a spec's text and positions; the two readers (`yaml_source`, `json_source`) fill
it. Both reject duplicate keys (PyYAML would silently keep the last one) and bound the work any
input can cause: alias bombs, deep nesting, huge numbers, oversized or binary files.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any

from resgen.diagnostics import SOURCES, Diagnostic, Location, ResgenError, error

Path = tuple[str | int, ...]

MAX_FILE_BYTES = 1_000_000


@dataclass
class Source:
    """A spec's text, its name for messages, and the position of every value and key.

    A spec that `extends` another carries positions from several files: `origins` names the
    file of every position that is not in this one.
    """

    name: str
    text: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    origins: dict[Path, str] = field(default_factory=dict)

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


def parse_text(text: str, name: str, *, fmt: str) -> tuple[Any, Source]:
    """Parse YAML (`fmt="yaml"`) or JSON text into plain data and its `Source`."""
    from resgen.spec.json_source import JsonParser
    from resgen.spec.yaml_source import load_yaml

    source = Source(name, text)
    SOURCES.register(name, text)  # for the lines that reporters show under diagnostics
    if fmt == "json":
        data = JsonParser(text, source).parse()
    else:
        data = load_yaml(text, source)
    return data, source


# UTF-32 first: its little-endian BOM starts with UTF-16's.
_OTHER_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def decode_bytes(raw: bytes, name: str, *, echo: bool = True) -> str:
    """Decode a spec file's bytes as UTF-8 or raise a diagnostic saying why it cannot be read.

    Without `echo` (an `extends` base), the diagnostic describes the bytes and shows none of them.
    """
    if len(raw) > MAX_FILE_BYTES:
        raise ResgenError.single(
            "file-too-large",
            f"spec file is larger than {MAX_FILE_BYTES:,} bytes, the limit",
            Location(name),
            hint="a ResNet spec is a few hundred bytes; is this the right file?",
        )
    for bom, encoding in _OTHER_ENCODINGS:
        if raw.startswith(bom):
            raise ResgenError.single(
                "encoding",
                f"spec file is {encoding} text; resgen reads UTF-8",
                Location(name, 1, 1),
                hint="save the file as UTF-8",
                excerpt=False,
            )
    if b"\x00" in raw:
        raise ResgenError(
            [
                _at_byte(
                    raw,
                    raw.index(b"\x00"),
                    name,
                    "binary-file",
                    "spec file is binary (it contains a NUL byte), not YAML or JSON text",
                    hint="pass a .yaml, .yml or .json spec",
                    echo=echo,
                )
            ]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResgenError(
            [
                _at_byte(
                    raw,
                    exc.start,
                    name,
                    "encoding",
                    f"spec file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                    hint="save the file as UTF-8",
                    echo=echo,
                )
            ]
        ) from None
    return text.removeprefix("\ufeff")


def _at_byte(
    raw: bytes, index: int, name: str, code: str, message: str, hint: str, *, echo: bool
) -> Diagnostic:
    """A diagnostic at a byte offset; with `echo`, its line is shown (bad bytes replaced)."""
    if echo:
        lines = [part.decode("utf-8", "replace").rstrip("\r") for part in raw.split(b"\n")]
        SOURCES.register_lines(name, lines)
    start = raw.rfind(b"\n", 0, index) + 1
    column = len(raw[start:index].decode("utf-8", "replace")) + 1
    where = Location(name, raw.count(b"\n", 0, index) + 1, column)
    return error(code, message, where, hint, excerpt=echo)
