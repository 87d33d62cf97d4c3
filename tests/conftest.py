"""Shared test helpers: the repository layout and the real CLI in a subprocess."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from torch import nn

# One torch thread per test process (and per subprocess a test starts), set before torch loads.
# Test tensors are small, so threads gain little, and under `pytest -n 2` on two cores they
# contend: OpenMP threads spin while their partner is descheduled, and a 1,200-layer net took 7x
# as long with two threads as with one on a busy 2-core machine. Set it yourself to override.
os.environ.setdefault("OMP_NUM_THREADS", "1")
if "torch" in sys.modules:  # a plugin loaded it first
    sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

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


def randomise_norms(model: nn.Module, seed: int) -> None:
    """Random norm affines and statistics (init leaves them at 1, 0), so comparisons see them."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if not value.is_floating_point():
                continue
            if key.endswith("running_var"):
                value.copy_(torch.rand(value.shape, generator=gen) + 0.5)
            elif key.endswith("running_mean"):
                value.copy_(torch.randn(value.shape, generator=gen) * 0.1)
            elif value.dim() == 1 and key.endswith(".weight"):  # norm scales: keep deep nets finite
                value.copy_(torch.rand(value.shape, generator=gen) * 0.5 + 0.25)
            elif value.dim() == 1 and key.endswith(".bias"):
                value.copy_(torch.randn(value.shape, generator=gen) * 0.1)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Small tensors gain nothing from threads, and two xdist workers on 2 cores would contend."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def cli() -> object:
    return run_resgen
