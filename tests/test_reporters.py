"""Reporters: diagnostics carry locations, and the reporter looks their lines up when it prints."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import resgen
from resgen.diagnostics import (
    MAX_SHOWN,
    REPORTERS,
    SOURCES,
    Diagnostic,
    GitHubReporter,
    JsonReporter,
    Location,
    ResgenError,
    SourceResolver,
    TextReporter,
    error,
    warning,
)

TEXT = "name: x\nblock: {type: basik}\nstages: []\n"


def _resolver(name: str = "x.yaml", text: str = TEXT) -> SourceResolver:
    resolver = SourceResolver()
    resolver.register(name, text)
    return resolver


def test_reporters_are_chosen_by_name() -> None:
    expected = {"text": TextReporter, "json": JsonReporter, "github": GitHubReporter}
    assert expected == REPORTERS
    from resgen.cli.parser import build_parser

    parser = build_parser()
    for name in REPORTERS:  # `resgen check -f NAME` takes exactly these names
        assert parser.parse_args(["check", "specs", "-f", name]).format == name
    with pytest.raises(SystemExit):
        parser.parse_args(["check", "specs", "-f", "xml"])


def test_a_diagnostic_holds_no_source_text() -> None:
    names = [f.name for f in dataclasses.fields(Diagnostic)]
    assert names == ["severity", "code", "message", "location", "hint", "excerpt"]


def test_resolver_lines() -> None:
    resolver = _resolver()
    assert resolver.line(Location("x.yaml", 2, 9)) == "block: {type: basik}"
    assert resolver.line(Location("x.yaml", 4, 1)) is None  # past the end
    assert resolver.line(Location("x.yaml")) is None  # the whole file: no line
    assert resolver.line(Location("other.yaml", 1, 1)) is None  # never registered
    assert resolver.line(None) is None
    resolver.register("x.yaml", "first\nsecond\n")  # a later load replaces the text
    assert resolver.line(Location("x.yaml", 2, 1)) == "second"
    resolver.register_lines("bin.yaml", ["a\x00b"])
    assert resolver.line(Location("bin.yaml", 1, 2)) == "a\x00b"


def test_text_reporter_shows_the_line_it_looks_up() -> None:
    d = error("invalid-value", "block.type: no", Location("x.yaml", 2, 15), "did you mean?")
    assert TextReporter(_resolver()).format(d) == (
        "x.yaml:2:15: error[invalid-value]: block.type: no\n"
        "  2 | block: {type: basik}\n"
        "    |               ^\n"
        "  hint: did you mean?"
    )
    # Without a resolver, or for a whole-file finding, no line is quoted.
    assert TextReporter(None).format(d).splitlines()[1] == "  hint: did you mean?"
    whole = dataclasses.replace(d, excerpt=False)
    assert "|" not in TextReporter(_resolver()).format(whole)
    assert whole.source_line is None


def test_shown_lines_are_made_safe_and_cut() -> None:
    resolver = _resolver("c.yaml", "name: a\x1b[31mb\tc\n" + "x" * 500 + "\n")
    shown = TextReporter(resolver).format(error("e", "m", Location("c.yaml", 1, 9)))
    assert "\x1b" not in shown and "name: a\ufffd[31mb c" in shown
    lines = TextReporter(resolver).format(error("e", "m", Location("c.yaml", 2, 400))).splitlines()
    text, caret = lines[1].split(" | ", 1)[1], lines[2].split(" | ", 1)[1]
    assert text.startswith("...") and text.endswith("...")
    assert len(text) == MAX_SHOWN + 6 and caret.index("^") < len(text)


def test_in_memory_specs_show_their_lines() -> None:
    bad = {"name": "small", "block": {"type": "basik"}, "stages": [{"depth": 1, "width": 8}]}
    with pytest.raises(ResgenError) as exc:
        resgen.load_spec(bad)
    (d,) = exc.value.diagnostics
    assert str(d.location) == "<dict>:4:13"
    assert d.source_line == '    "type": "basik"'
    assert TextReporter().format(d).splitlines()[1] == '  4 |     "type": "basik"'


def test_the_line_shown_is_the_line_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nblock: {type: basik}\nstages: [{depth: 1, width: 8}]\n")
    with pytest.raises(ResgenError) as exc:
        resgen.load_spec(path)
    path.write_text("# rewritten since\n" * 3)
    assert exc.value.diagnostics[0].source_line == "block: {type: basik}"
    assert SOURCES.line(Location("bad.yaml", 2, 1)) == "block: {type: basik}"


def test_check_reporters_output(capsys: pytest.CaptureFixture[str]) -> None:
    resolver = _resolver()
    found = [
        error("invalid-value", "bad, very", Location("x.yaml", 2, 15), "fix: it"),
        warning("w", "50% sure", None),
    ]
    problems = [error("no-such-spec", "no spec named 'y'", Location("y"))]
    printed = {}
    for name, reporter_class in REPORTERS.items():
        reporter = reporter_class(resolver)
        reporter.report_file("x.yaml", found, "")
        reporter.report_file("ok.yaml", [], "12 params")
        reporter.report(problems)
        reporter.finish()
        printed[name] = capsys.readouterr()
    assert printed["json"].err == printed["github"].err == ""
    # Text: the diagnostics on stderr, each file's result and the count on stdout.
    assert printed["text"].err.splitlines() == [
        "x.yaml:2:15: error[invalid-value]: bad, very",
        "  2 | block: {type: basik}",
        "    |               ^",
        "  hint: fix: it",
        "warning[w]: 50% sure",
        "y: error[no-such-spec]: no spec named 'y'",
    ]
    assert printed["text"].out.splitlines() == [
        "ok.yaml: ok (12 params)",
        "checked 2 specs: 1 with errors; 1 argument could not be checked",
    ]
    data = json.loads(printed["json"].out)
    assert [f["file"] for f in data["files"]] == ["x.yaml", "ok.yaml"]
    assert [f["ok"] for f in data["files"]] == [False, True]
    assert data["files"][0]["diagnostics"][0] == found[0].to_json()
    assert data["problems"] == [problems[0].to_json()]
    assert printed["github"].out.splitlines() == [
        "::error file=x.yaml,line=2,col=15,title=resgen invalid-value::bad, very (hint: fix: it)",
        "::warning title=resgen w::50%25 sure",
        "::error file=y,title=resgen no-such-spec::no spec named 'y'",
    ]


def test_one_error_helper() -> None:
    exc = ResgenError.single("code", "message", Location("f", 1, 2), hint="h", excerpt=False)
    assert exc.diagnostics == [error("code", "message", Location("f", 1, 2), "h")]
    assert exc.diagnostics[0].excerpt is False
    assert str(exc) == "f:1:2: error[code]: message\n  hint: h"
