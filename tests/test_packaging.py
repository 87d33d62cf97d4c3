"""`pip install .` into a fresh virtual environment gives a resgen that works outside the repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _run(args: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_pip_install_gives_working_resgen(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    bin_dir = venv / "bin"
    python = bin_dir / "python"
    # A clean environment: nothing from this checkout or its .venv on the path.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    work = tmp_path / "work"
    work.mkdir()

    _run([sys.executable, "-m", "venv", venv], work, env)
    _run([python, "-m", "pip", "install", "--quiet", ROOT], work, env)

    # The installed files are what the wheel held: its RECORD lists every one of them.
    (record,) = (venv / "lib").glob("python3*/site-packages/resgen-*.dist-info/RECORD")
    files = {line.split(",")[0] for line in record.read_text().splitlines()}
    for folder, suffix in (("templates", ".jinja"), ("specs", ".yaml")):
        shipped = {p.relative_to(ROOT / folder).as_posix() for p in (ROOT / folder).rglob("*")}
        shipped = {p for p in shipped if p.endswith(suffix)}
        assert shipped, folder
        assert {f"resgen/_data/{folder}/{p}" for p in shipped} <= files
    assert "resgen/py.typed" in files
    assert not any(f.startswith(("tests/", "generated/")) for f in files)

    version = _run([bin_dir / "resgen", "--version"], work, env)
    assert version.startswith("resgen ") and "unknown" not in version
    assert _run([python, "-m", "resgen", "--version"], work, env) == version
    _run([bin_dir / "resgen", "build", "resnet50", "-o", "out"], work, env)
    model = (work / "out" / "resnet50.py").read_text()
    assert "class ResNet50(nn.Module):" in model
    _run([bin_dir / "resgen", "check", "resnet18", "resnet50"], work, env)

    # The Python API runs from the installed package, not from this checkout.
    where = _run(
        [python, "-c", "import resgen, sys; print(resgen.__file__); "
         "sys.stdout.write(resgen.compile_source('resnet50'))"],
        work, env,
    )  # fmt: skip
    location, _, source = where.partition("\n")
    assert Path(location).is_relative_to(venv)
    assert source == model
