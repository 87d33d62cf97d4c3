"""Warnings: specs that compile but likely mean something else. Exit code 0, one clear line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import resgen
from resgen.api import build_model
from resgen.pipeline import check
from tests.conftest import SPECS, run_resgen

CIFAR: dict[str, Any] = {
    "name": "narrowing", "input": {"size": 32}, "stem": {"type": "cifar", "width": 32},
    "block": {"type": "basic"}, "shortcut": "pad",
    "stages": [{"depth": 1, "width": 32}, {"depth": 1, "width": 16, "stride": 2}],
}  # fmt: skip


def _codes(spec: dict[str, Any]) -> list[str]:
    return [d.code for d in check(resgen.load_spec(spec)).diagnostics if not d.is_error]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({}, "pad-crops"),
        ({"shortcut": "none", "zero_init_residual": True}, "zero-init-plain"),
        ({"shortcut": "none", "drop_path": 0.1}, "drop-path-plain"),
    ],
)
def test_warning_codes(change: dict[str, Any], code: str) -> None:
    assert _codes({**CIFAR, **change}) == [code]


@pytest.mark.parametrize("name", sorted(p.stem for p in SPECS.glob("*.yaml")))
def test_shipped_specs_have_no_warnings(name: str) -> None:
    assert _codes(SPECS / f"{name}.yaml") == []  # type: ignore[arg-type]


def test_widening_pad_and_projection_narrowing_do_not_warn() -> None:
    widening = {
        **CIFAR,
        "stem": {"type": "cifar", "width": 16},
        "stages": [{"depth": 1, "width": 16}, {"depth": 1, "width": 32, "stride": 2}],
    }
    assert _codes(widening) == []
    assert _codes({**CIFAR, "shortcut": "projection"}) == []


def test_pad_shortcut_that_narrows_really_crops() -> None:
    """What the warning says is what the generated PadShortcut does: the last channels vanish."""
    model = build_model(CIFAR).eval()
    shortcut = model.layer2[0].downsample
    x = torch.randn(2, 32, 8, 8)
    assert torch.equal(shortcut(x), x[:, :16, ::2, ::2])


def test_cli_prints_the_warning_and_exits_zero(tmp_path: Path) -> None:
    spec = tmp_path / "narrowing.yaml"
    spec.write_text(
        "name: narrowing\ninput: {size: 32}\nstem: {type: cifar, width: 32}\n"
        "block: {type: basic}\nshortcut: pad\nstages:\n"
        "  - {depth: 1, width: 32}\n  - {depth: 1, width: 16, stride: 2}\n",
        encoding="utf-8",
    )
    result = run_resgen("check", str(spec))
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert "narrowing.yaml:8:5: warning[pad-crops]" in out
    assert "drops the last 16 input channels" in out and "shortcut: projection" in out
