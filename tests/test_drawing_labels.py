"""Drawings that read right: one number formatter for labels, the `x N` run, --dpi, file names."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import ClassVar

import pytest

from resgen.api import load_spec
from resgen.draw import DETAILS, draw_dot
from resgen.draw.labels import fmt_value, op_phrase
from resgen.graph import ir
from resgen.pipeline import check
from tests.conftest import run_resgen

needs_dot = pytest.mark.skipif(
    __import__("shutil").which("dot") is None, reason="Graphviz's dot is not installed"
)
# A float printed with its binary rounding: 0.06000000000000001, 0.30000000000000004.
RAW_FLOAT = re.compile(r"\d\.\d{10,}")  # fmt_value gives at most 9 decimals (0.000142857)
DROP_PATH_SPEC = "extends: resnet18\ndrop_path: 0.1\n"


def test_fmt_value_is_the_shortest_honest_number() -> None:
    assert fmt_value(0.06000000000000001) == "0.06"
    assert fmt_value(0.30000000000000004) == "0.3"
    assert fmt_value(1e-05) == "1e-05"
    assert fmt_value(0.5) == "0.5" and fmt_value(1.0) == "1"
    assert fmt_value(7) == "7" and fmt_value((0.1 + 0.2, 2)) == "(0.3, 2)"


def test_drop_phrases() -> None:
    assert op_phrase(ir.Drop("path", 0.06000000000000001)) == "drop path 0.06"
    assert op_phrase(ir.Drop("dropout", 0.5)) == "dropout 0.5"


def test_an_unknown_op_kind_formats_its_floats() -> None:
    @dataclasses.dataclass(frozen=True)
    class Scale:
        kind: ClassVar[str] = "scale_by"
        factor: float

    assert op_phrase(Scale(0.1 + 0.2)) == "scale by factor=0.3"  # type: ignore[arg-type]


@pytest.mark.parametrize("detail", DETAILS)
def test_drop_path_rates_reach_labels_formatted(tmp_path: Path, detail: str) -> None:
    spec = tmp_path / "dp.yaml"
    spec.write_text(DROP_PATH_SPEC, encoding="utf-8")
    loaded = load_spec(spec)
    analysis = check(loaded)
    rates = [op.rate for _, d in ir.nodes(analysis.graph) if isinstance(op := d.op, ir.Drop)]
    assert any(RAW_FLOAT.search(repr(r)) for r in rates)  # the spec does make raw floats
    text = draw_dot(loaded, analysis, detail)
    assert not RAW_FLOAT.search(text), RAW_FLOAT.search(text)
    if detail != "stage":
        assert "drop path 0.0142857" in text or "drop path 0.1" in text
        assert " path 0." not in text.replace("drop path 0.", "")


def _draw(tmp_path: Path, *args: str) -> str:
    result = run_resgen("draw", "resnet18", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stderr


@needs_dot
def test_three_levels_into_a_folder_are_three_files(tmp_path: Path) -> None:
    for detail in DETAILS:
        _draw(tmp_path, "-o", "docs/", "--detail", detail)
    names = sorted(p.name for p in (tmp_path / "docs").iterdir())
    assert names == ["resnet18-op.svg", "resnet18-stage.svg", "resnet18.svg"]
    assert "<title>layer1.0.conv1</title>" in (tmp_path / "docs/resnet18-op.svg").read_text()
    # Without -o the file is still <name>.svg, at any detail.
    assert "wrote resnet18.svg (stage detail)" in _draw(tmp_path, "--detail", "stage")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@needs_dot
def test_dpi_sets_a_pngs_resolution(tmp_path: Path) -> None:
    _draw(tmp_path, "-o", "low.png", "--detail", "stage", "--dpi", "48")
    _draw(tmp_path, "-o", "high.png", "--detail", "stage", "--dpi", "192")
    low, high = _png_size(tmp_path / "low.png"), _png_size(tmp_path / "high.png")
    assert 3.5 < high[0] / low[0] < 4.5 and 3.5 < high[1] / low[1] < 4.5
    said = _draw(tmp_path, "-o", "x.svg", "--dpi", "300")
    assert "warning: --dpi sets a PNG's resolution; a .svg drawing ignores it" in said


@pytest.mark.parametrize("bad", ["0", "-3", "lots", "2401", "1.5"])
def test_dpi_user_mistakes(bad: str) -> None:
    result = run_resgen("draw", "resnet18", "-o", "-", "--dpi", bad)
    assert result.returncode == 2 and "argument --dpi" in result.stderr
    assert "Traceback" not in result.stderr
