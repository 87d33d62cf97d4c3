"""Where PyYAML and the people reading a spec disagree: YAML 1.1 readings, characters, lines.

PyYAML follows YAML 1.1, where `016` is octal 14, `1:04` is base-60 64, `1_6` is 16 and `on` or
`no` are booleans; YAML 1.2's core schema (what editors, linters and most other readers use)
reads `016` as 16 and the others as text. A spec must mean one thing to every reader, so a plain
scalar whose two readings differ is refused, with both readings and the fix.

PyYAML also counts NEL, U+2028, U+2029 and a lone CR as line breaks, and reports a character it
does not accept by its offset. Positions here count lines as editors, git and GitHub do: only LF
ends a line (CRLF's CR belongs to the break).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterator

from resgen.diagnostics import Diagnostic, Location, error, printable

# YAML 1.2.2, 10.3.2 (the core schema's tag resolution), in the order the spec lists them.
_CORE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("null", re.compile(r"null|Null|NULL|~|")),
    ("bool", re.compile(r"true|True|TRUE|false|False|FALSE")),
    ("int", re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")),
    ("float", re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")),
    ("float", re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")),
)

# The characters PyYAML's reader refuses (its NON_PRINTABLE): C0 controls but tab and line
# breaks, DEL, C1 controls but NEL, surrogates, U+FFFE and U+FFFF.
UNACCEPTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
MAX_REPORTED = 20  # control characters reported per file; the rest are the same mistake


def core_reading(text: str) -> tuple[str, object] | None:
    """The (kind, value) YAML 1.2's core schema gives a plain scalar; None for a huge number."""
    kind = next((kind for kind, pattern in _CORE if pattern.fullmatch(text)), "str")
    if kind == "null":
        return kind, None
    if kind == "bool":
        return kind, text.lower() == "true"
    if kind == "float":
        special = text.lstrip("+-").lower()
        if special in (".inf", ".nan"):
            return kind, float(special[1:]) * (-1 if text.startswith("-") else 1)
        return kind, float(text)
    if kind == "str":
        return kind, text
    if text.startswith(("0o", "0x")):
        return kind, int(text[2:], 8 if text[1] == "o" else 16)
    try:
        return kind, int(text)
    except ValueError:  # more digits than Python converts; the 1.1 reading is refused anyway
        return None


def _same(first: tuple[str, object], second: tuple[str, object]) -> bool:
    (kind1, value1), (kind2, value2) = first, second
    if kind1 != kind2:
        return False
    if isinstance(value1, float) and isinstance(value2, float):
        return value1 == value2 or (math.isnan(value1) and math.isnan(value2))
    return value1 == value2


def _describe(kind: str, value: object) -> str:
    if kind == "str":
        return f"the text {printable(repr(value))}"
    if kind == "timestamp":
        return f"the date {value}"
    return _spelled(kind, value)


def _spelled(kind: str, value: object) -> str:
    """How a spec writes this value plainly, so that every reader agrees."""
    if kind == "bool":
        return "true" if value else "false"
    if kind == "null":
        return "null"
    return repr(value) if kind == "float" else str(value)


def version_mismatch(text: str, yaml11: tuple[str, object], where: Location) -> Diagnostic | None:
    """An error if a plain scalar means something else under YAML 1.2 than under 1.1."""
    core = core_reading(text)
    if core is None or _same(yaml11, core):
        return None
    written = [_spelled(*r) for r in (core, yaml11) if r[0] not in ("str", "timestamp")]
    choices = " or ".join(dict.fromkeys(written))
    quoted = "'" + text.replace("'", "''") + "'"
    hint = f"write {choices}, or quote it ({quoted}) if you meant the text"
    if not choices:
        hint = f"quote it ({quoted}) if you meant the text"
    return error(
        "yaml-ambiguous",
        f"`{printable(text)}` reads as {_describe(*yaml11)} under YAML 1.1 but as "
        f"{_describe(*core)} under YAML 1.2, so tools would disagree on this spec",
        where,
        hint,
    )


class Lines:
    """Character offsets -> 1-based (line, column), counting only LF as a line break."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def at(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1


def unacceptable_characters(text: str, name: str) -> Iterator[Diagnostic]:
    """One error per line that holds characters YAML does not allow, at the first of them."""
    lines = Lines(text)
    seen: set[int] = set()
    for match in UNACCEPTABLE.finditer(text):
        line, column = lines.at(match.start())
        if line in seen:
            continue
        seen.add(line)
        if len(seen) > MAX_REPORTED:
            return
        char = match.group()
        yield error(
            "yaml-character",
            f"the character {_codepoint(char)} is not allowed in YAML"
            + ("" if char in "\ufffe\uffff" else " (a control character)"),
            Location(name, line, column),
            hint="remove it; if a value needs it, write it as an escape in a double-quoted "
            f'string "{printable(char)}"',
        )


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X} ({printable(char)})" if ord(char) < 0x100 else f"U+{ord(char):04X}"
