"""Shared test helpers: the repository layout and the real CLI in a subprocess."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GENERATED = ROOT / "generated"


def run_resgen(
    *args: str, cwd: Path | str = ROOT, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m resgen ARGS` as a user would, capturing text output."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("RESGEN_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "resgen", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def generated_module(name: str) -> ModuleType:
    """Import `generated.<name>` from the checked-in golden files."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"generated.{name}")


@pytest.fixture
def cli() -> object:
    return run_resgen
