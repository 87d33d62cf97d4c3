"""YAML that means something else than it looks (issue 13, section 6).

Three classes: plain scalars that YAML 1.1 (PyYAML) and YAML 1.2 read differently, characters
YAML refuses (reported at file:line:col, not at PyYAML's "position N"), and line breaks that only
PyYAML counts (a U+2028, NEL or lone CR inside a string must not shift later lines).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from resgen.cli import main
from resgen.diagnostics import ResgenError
from resgen.spec.source import parse_text
from tests.conftest import run_resgen

SPEC_TAIL = "block: {type: basic}\nstages:\n  - {depth: 2, width: 64}\n"


def _codes(text: str) -> list[tuple[str, int, int, str, str]]:
    """(code, line, column, message, hint) of every diagnostic parsing `text` gives."""
    try:
        parse_text(text, "t.yaml", fmt="yaml")
    except ResgenError as exc:
        return [
            (d.code, d.location.line, d.location.column, d.message, d.hint or "")
            for d in exc.diagnostics
            if d.location is not None
        ]
    return []


# Each reads one way under YAML 1.1 and another (or as text) under YAML 1.2's core schema.
AMBIGUOUS = [
    # numbers: octal by a leading 0, base 60, digit separators, binary, 1.2-only octal and
    # exponents, 1.1-only float forms
    "016", "0224", "-010", "0777", "1:04", "1:30:00", "-1:00", "1_6", "1_000", "0b10", "-0b1",
    "0o17", "08", "09", "1e3", "2.56e2", "1E-3", "1_0.5", "1.5_0", "+0b11", "0x_10", "-.5",
    # booleans only under 1.1
    "on", "On", "ON", "off", "Off", "OFF", "yes", "Yes", "YES", "no", "No", "NO",
    # dates and times
    "2015-12-10", "2001-12-14t21:59:43.10-05:00", "2002-12-14 21:59:43.10 -5",
]  # fmt: skip


@pytest.mark.parametrize("scalar", AMBIGUOUS)
def test_scalars_read_differently_by_yaml_1_1_and_1_2_are_refused(scalar: str) -> None:
    found = _codes(f"name: t\nkey: [1, {scalar}]\n")
    assert len(found) == 1, found
    code, line, column, message, hint = found[0]
    assert (code, line, column) == ("yaml-ambiguous", 2, 10)
    assert message.startswith(f"`{scalar}` reads as "), message
    assert "YAML 1.1" in message and "YAML 1.2" in message
    assert f"quote it ('{scalar}') if you meant the text" in hint


@pytest.mark.parametrize(
    ("scalar", "advice"),
    [("016", "write 16 or 14,"), ("1_6", "write 16,"), ("1:04", "write 64,"),
     ("on", "write true,"), ("no", "write false,"), ("0o17", "write 15,"),
     ("1e3", "write 1000.0,")],
)  # fmt: skip
def test_the_hint_spells_the_number_or_boolean_every_reader_agrees_on(
    scalar: str, advice: str
) -> None:
    (found,) = _codes(f"v: {scalar}\n")
    assert found[4].startswith(advice), found


# The same under both versions, or not a plain scalar: accepted as they are.
AGREED = {
    "16": 16, "+16": 16, "-3": -3, "0": 0, "00": 0, "0x40": 64, "1.5": 1.5, ".5": 0.5,
    "1.5e+3": 1500.0, ".inf": float("inf"), "-.Inf": float("-inf"), "true": True,
    "False": False, "~": None, "null": None, "": None, "relu": "relu", "3x3": "3x3",
    "'016'": "016", '"on"': "on", "!!str on": "on", "!!str 1_6": "1_6", "'1:04'": "1:04",
    "|\n  on": "on\n",
}  # fmt: skip


@pytest.mark.parametrize("scalar", sorted(AGREED))
def test_scalars_both_versions_read_alike_are_accepted(scalar: str) -> None:
    data, _ = parse_text(f"v: {scalar}\n", "t.yaml", fmt="yaml")
    assert data == {"v": AGREED[scalar]}


def test_every_ambiguous_value_of_a_spec_is_reported_in_one_run(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\nact: on\ninput: {size: 0224}\nblock: {type: basic}\n"
                    "stages:\n  - {depth: 1_6, width: 1:04}\n", encoding="utf-8")  # fmt: skip
    result = run_resgen("check", "s.yaml", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    for where, written in (("2:6", "on"), ("3:15", "0224"), ("6:13", "1_6"), ("6:25", "1:04")):
        assert f"s.yaml:{where}: error[yaml-ambiguous]: `{written}` reads as" in result.stderr


REFUSED_CHARACTERS = ["\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x80", "\x9b", "\ufffe",
                      "\uffff"]  # fmt: skip


@pytest.mark.parametrize("char", REFUSED_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
def test_characters_yaml_refuses_are_reported_at_line_and_column(
    char: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text(f"name: c\ndescription: ab{char}c\n{SPEC_TAIL}", encoding="utf-8")
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert f"c.yaml:2:16: error[yaml-character]: the character U+{ord(char):04X}" in err
    assert "position" not in err and "Traceback" not in err
    assert char not in err  # the excerpt and the message show it escaped or replaced


def test_every_line_with_a_refused_character_is_reported(tmp_path: Path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_bytes(b"name: c\x01\ndescription: \x7f\n\x0c\n" + SPEC_TAIL.encode())
    result = run_resgen("check", "c.yaml", "-f", "github", cwd=tmp_path)
    assert result.returncode == 1
    lines = [(line.split(",")[1], line.split(",")[2]) for line in result.stdout.splitlines()]
    assert lines == [("line=1", "col=8"), ("line=2", "col=14"), ("line=3", "col=1")]


SEPARATORS = {"LS": "\u2028", "PS": "\u2029", "NEL": "\x85", "CR": "\r"}


@pytest.mark.parametrize("quote", ['"', "'"])
@pytest.mark.parametrize("name", sorted(SEPARATORS))
def test_line_breaks_only_pyyaml_counts_do_not_shift_later_lines(
    name: str, quote: str, tmp_path: Path
) -> None:
    sep = SEPARATORS[name]
    spec = tmp_path / "l.yaml"
    text = f"name: l\ndescription: {quote}a{sep}b {sep}{sep}c{quote}\n"
    text += "block: {type: basic, groupz: 2}\n"
    spec.write_bytes((text + "stages:\n  - {depth: 2, width: 64}\n").encode())
    result = run_resgen("check", "l.yaml", cwd=tmp_path)
    assert "l.yaml:3:22: error[unknown-key]" in result.stderr, result.stderr
    assert "  3 | block: {type: basic, groupz: 2}\n" in result.stderr
    github = run_resgen("check", "l.yaml", "-f", "github", cwd=tmp_path)
    assert github.stdout.startswith("::error file=l.yaml,line=3,col=22,"), github.stdout


def test_json_counts_lines_the_same_way(tmp_path: Path) -> None:
    spec = tmp_path / "l.json"
    text = '{"name": "l", "description": "a\u2028b\x85c",\n'
    text += ' "block": {"type": "basic", "groupz": 2},\n'
    spec.write_bytes((text + ' "stages": [{"depth": 2, "width": 64}]}\n').encode())
    result = run_resgen("check", "l.json", cwd=tmp_path)
    assert "l.json:2:29: error[unknown-key]" in result.stderr, result.stderr
