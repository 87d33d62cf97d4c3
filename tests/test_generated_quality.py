"""Generated files are as clean as hand-written code: ruff, ruff format, mypy strict."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import GENERATED, ROOT, SPECS


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_check_and_format() -> None:
    lint = _run("ruff", "check", "generated")
    assert lint.returncode == 0, lint.stdout
    fmt = _run("ruff", "format", "--check", "generated")
    assert fmt.returncode == 0, fmt.stdout


def test_mypy_strict_on_a_sample_of_generated_files() -> None:
    # One file per feature family; `make lint` checks all of them.
    sample = ["resnet50", "seresnet50", "ecaresnet50d", "resnet50_gn", "resnet20", "wrn28_10",
              "preact_resnet164", "resnet101d"]  # fmt: skip
    result = _run("mypy", "--no-incremental", *(f"generated/{n}.py" for n in sample))
    assert result.returncode == 0, result.stdout


def test_one_generated_file_per_spec_and_no_absolute_paths() -> None:
    specs = {p.stem for p in SPECS.glob("*.yaml")}
    generated = {p.stem for p in GENERATED.glob("*.py")} - {"__init__"}
    assert specs <= generated
    for path in GENERATED.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert str(ROOT) not in text and "/work/" not in text, path
        assert "\r" not in text and text.endswith("\n") and not text.endswith("\n\n"), path
