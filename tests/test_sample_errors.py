"""`resgen sample`'s diagnostics: each bad space in tests/specs/spaces_invalid/ has its expected
report beside it (file:line:col, a stable code, the line, a caret, a hint), and the command line's
own mistakes exit 2, a refused output folder 1, never with a traceback or half a folder.

To accept new output after a deliberate change (then read every changed file):
    RESGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_sample_errors.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resgen.cli import main
from tests.conftest import ROOT, run_resgen
from tests.golden import assert_golden

INVALID = ROOT / "tests" / "specs" / "spaces_invalid"
CASES = sorted(p for p in INVALID.iterdir() if p.suffix == ".yaml")


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_bad_space_diagnostics(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = Path.cwd()
    os.chdir(ROOT)
    try:
        relative = path.relative_to(ROOT).as_posix()
        code = main(["sample", relative, "-n", "5", "--max-draws", "20000", "-o", "unused"])
    finally:
        os.chdir(old)
    report = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in report and "internal error" not in report
    assert report.startswith(f"tests/specs/spaces_invalid/{path.name}:")
    assert "  hint: " in report
    assert not (ROOT / "unused").exists()
    assert_golden(report, path.with_name(path.name + ".expected"))


@pytest.mark.parametrize(
    "args",
    [
        ["--macs", "400M:360M"],
        ["--macs", "lots"],
        ["--params", "1:2:3"],
        ["-n", "0"],
        ["--seed", "-1"],
    ],
)
def test_usage_mistakes_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["sample", "specs/spaces/regnetx_400mf.yaml", *args])
    assert stopped.value.code == 2
    assert "resgen: error: argument " in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["specs/spaces/regnetx_400mf.yaml", "--plot"],
        ["specs/spaces/regnetx_400mf.yaml", "--compare", "a.json", "-o", "x.png"],
        ["--compare", "a.json", "-o", "x.txt"],
        ["specs/spaces/regnetx_400mf.yaml", "--results", "a.csv"],
    ],
)
def test_mixed_up_modes_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", *args]) == 2
    assert capsys.readouterr().err.startswith("resgen sample: ")


def test_refused_outputs_leave_everything_as_it_was(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    done = run_resgen("sample", "specs/spaces/regnetx_400mf.yaml", "-n", "2", "-o", str(taken))
    assert done.returncode == 1
    assert "error[unwritable]" in done.stderr and "hint: " in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no temporary folder left
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    missing = run_resgen("sample", str(tmp_path / "nowhere.yaml"), "-n", "2")
    assert missing.returncode == 1
    assert "error[unreadable]" in missing.stderr and "Traceback" not in missing.stderr
