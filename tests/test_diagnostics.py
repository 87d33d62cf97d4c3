"""Data-driven diagnostics: each bad spec in tests/specs/invalid/ has its expected report beside it.

To accept new output after a deliberate change:
    RESGEN_UPDATE_EXPECTED=1 pytest tests/test_diagnostics.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resgen.cli import main
from tests.conftest import ROOT, run_resgen

INVALID = ROOT / "tests" / "specs" / "invalid"
CASES = sorted(p for p in INVALID.iterdir() if p.suffix != ".expected")


def _report(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        code = main(["check", str(path.relative_to(ROOT))])
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("checked ")]
    return code, "\n".join(lines) + "\n"


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_invalid_spec_diagnostics(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _report(path, capsys)
    assert code == 1
    assert "Traceback" not in report
    expected_file = path.with_name(path.name + ".expected")
    if os.environ.get("RESGEN_UPDATE_EXPECTED"):
        expected_file.write_text(report, encoding="utf-8")
    assert expected_file.is_file(), f"missing {expected_file.name}; see this module's docstring"
    assert report == expected_file.read_text(encoding="utf-8")
    # Every diagnostic points into the file, with a line and a column.
    first = report.splitlines()[0]
    assert first.startswith(f"tests/specs/invalid/{path.name}:"), first


def test_whole_corpus_in_one_subprocess() -> None:
    result = run_resgen("check", "tests/specs/invalid", "-o", "json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    import json

    report = json.loads(result.stdout)
    assert len(report["files"]) == len(CASES)
    assert not any(f["ok"] for f in report["files"])
    for entry in report["files"]:
        assert entry["diagnostics"], entry["file"]
        for d in entry["diagnostics"]:
            assert d["code"] and d["line"] >= 1 and d["column"] >= 1, d


def test_github_annotations() -> None:
    result = run_resgen("check", "tests/specs/invalid/unknown_key.yaml", "-o", "github")
    assert result.returncode == 1
    assert result.stdout.startswith(
        "::error file=tests/specs/invalid/unknown_key.yaml,line=4,col=16,title=resgen unknown-key::"
    )
