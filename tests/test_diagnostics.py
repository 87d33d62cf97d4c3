"""Data-driven diagnostics: each bad spec in tests/specs/invalid/ has its expected report beside it.

Specs that are awkward to check in (other encodings, NUL bytes, a BOM or CRLF line ends that an
editor or a hook would "fix", a file over the size limit) are written from the bytes in `BYTES`
at test time; their expected reports live in tests/specs/invalid/bytes/.

To accept new output after a deliberate change (then read every changed file; see tests/golden.py):
    RESGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_diagnostics.py
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from resgen.cli import main
from tests.conftest import ROOT, run_resgen
from tests.golden import assert_golden

INVALID = ROOT / "tests" / "specs" / "invalid"
CASES = sorted(p for p in INVALID.iterdir() if p.is_file() and p.suffix != ".expected")

_TYPO = b"name: typo\nblock: {type: basic, groupz: 2}\nstages:\n  - {depth: 2, width: 64}\n"
BYTES = {
    # Latin-1, not UTF-8: the error points at the byte, the line shown with it replaced.
    "latin1.yaml": b"name: resnet\ndescription: R\xe9seau r\xe9siduel\nblock: {type: basic}\n"
    b"stages:\n  - {depth: 2, width: 64}\n",
    # The first bytes of a PNG image.
    "binary.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10",
    "nul_byte.json": b'{\n  "name": "nul",\n  "description": "a\x00b"\n}\n',
    "utf16.yaml": _TYPO.decode().encode("utf-16"),
    "oversized.yaml": b"name: oversized\n" + b"# a long comment line, repeated " * 40_000,
    # These two read fine; the typo is there to show that columns still count from 1.
    "crlf.yaml": _TYPO.replace(b"\n", b"\r\n"),
    "bom.yaml": codecs.BOM_UTF8 + _TYPO,
    "bom_crlf.json": codecs.BOM_UTF8
    + b'{\r\n  "name": "typo",\r\n  "block": {"type": "basic", "groupz": 2},\r\n'
    b'  "stages": [{"depth": 2, "width": 64}]\r\n}\r\n',
}


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _report(
    path: Path, capsys: pytest.CaptureFixture[str], root: Path = ROOT, *args: str
) -> tuple[int, str]:
    with _cwd(root):
        code = main(["check", path.relative_to(root).as_posix(), *args])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("checked ")]
    return code, "\n".join(lines) + "\n"


_HEADER = re.compile(r"^(\S+?):(\d+):(\d+): (error|warning)\[[a-z0-9-]+\]: \S")


def _assert_every_diagnostic_shows_its_line(report: str) -> None:
    """Each `file:line:col:` header is followed by the source line and a caret under the column."""
    lines = report.splitlines()
    headers = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    assert headers, report
    for i in headers:
        match = _HEADER.match(lines[i])
        assert match is not None
        number = match.group(2)
        assert lines[i + 1].startswith(f"  {number} | "), (lines[i], lines[i + 1])
        caret = lines[i + 2]
        assert caret.startswith("  " + " " * len(number) + " | ") and caret.endswith("^"), caret


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_invalid_spec_diagnostics(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _report(path, capsys)
    assert code == 1
    assert "Traceback" not in report and "internal error" not in report
    assert_golden(report, path.with_name(path.name + ".expected"))
    # Every diagnostic points into a file of the corpus (an `extends` cycle may close in the
    # other file), with a line and a column, and shows that line with a caret.
    first = report.splitlines()[0]
    assert first.startswith("tests/specs/invalid/"), first
    if "empty-spec" not in first:
        _assert_every_diagnostic_shows_its_line(report)


@pytest.mark.parametrize("name", sorted(BYTES))
def test_bytes_spec_diagnostics(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tests" / "specs" / "invalid" / "bytes" / name
    path.parent.mkdir(parents=True)
    path.write_bytes(BYTES[name])
    code, report = _report(path, capsys, tmp_path)
    assert code == 1
    assert "Traceback" not in report and "internal error" not in report
    assert_golden(report, INVALID / "bytes" / (name + ".expected"))
    assert report.startswith(f"tests/specs/invalid/bytes/{name}:"), report


def test_whole_corpus_in_one_subprocess() -> None:
    result = run_resgen("check", "tests/specs/invalid", "-f", "json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert len(report["files"]) == len(CASES)
    assert not any(f["ok"] for f in report["files"])
    for entry in report["files"]:
        assert entry["diagnostics"], entry["file"]
        for d in entry["diagnostics"]:
            assert d["code"] and d["line"] >= 1 and d["column"] >= 1, d


def test_github_annotations() -> None:
    result = run_resgen("check", "tests/specs/invalid/unknown_key.yaml", "-f", "github")
    assert result.returncode == 1
    assert result.stdout.startswith(
        "::error file=tests/specs/invalid/unknown_key.yaml,line=4,col=16,title=resgen unknown-key::"
    )
