"""`resgen info` in every output format: golden files, and the same numbers as the checks.

To accept new output after a deliberate change (see tests/golden.py):
    RESGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_info_formats.py
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from resgen.checks import Analysis
from resgen.draw.parts import stage_blocks
from resgen.pipeline import check
from resgen.report import build_table, info_json, info_latex, info_markdown, info_table
from resgen.spec.load import LoadedSpec, load_spec_file
from tests.conftest import ROOT, SPECS, run_resgen
from tests.golden import assert_golden

GOLDEN = ROOT / "tests" / "golden"
WIDTH = "140"


def load(path: Path) -> tuple[LoadedSpec, Analysis]:
    loaded = load_spec_file(path, path.relative_to(ROOT).as_posix())
    return loaded, check(loaded)


def render(fmt: str, loaded: LoadedSpec, analysis: Analysis, per_block: bool) -> str:
    if fmt == "json":
        return json.dumps(info_json(loaded, analysis, per_block=per_block), indent=2) + "\n"
    if fmt == "markdown":
        return info_markdown(loaded, analysis, per_block=per_block)
    if fmt == "latex":
        return info_latex(loaded, analysis, per_block=per_block)
    out = io.StringIO()
    info_table(loaded, analysis, Console(file=out, width=int(WIDTH)), per_block=per_block)
    return out.getvalue()


SUFFIX = {"text": "txt", "json": "json", "markdown": "md", "latex": "tex"}
CASES = [
    (spec, fmt, per_block)
    for spec, per_block in (("specs/resnet50.yaml", False), ("specs/resnet18.yaml", True))
    for fmt in SUFFIX
] + [("tests/golden/specs/broken_identity.yaml", "markdown", False)]


def golden_path(spec: str, fmt: str, per_block: bool) -> Path:
    stem = Path(spec).stem + (".per-block" if per_block else "")
    return GOLDEN / f"{stem}.info.{SUFFIX[fmt]}"


@pytest.mark.parametrize(
    ("spec", "fmt", "per_block"), CASES, ids=[golden_path(*c).name for c in CASES]
)
def test_info_matches_golden(spec: str, fmt: str, per_block: bool) -> None:
    text = render(fmt, *load(ROOT / spec), per_block)
    assert_golden(text, golden_path(spec, fmt, per_block))


@pytest.mark.parametrize(
    ("spec", "fmt", "per_block"), CASES[:8], ids=[f"{c[1]}" for c in CASES[:8]]
)
def test_cli_prints_the_golden_output(spec: str, fmt: str, per_block: bool) -> None:
    args = ["info", spec, "-f", fmt, *(["--per-block"] if per_block else [])]
    result = run_resgen(*args, env={"COLUMNS": WIDTH})
    assert result.returncode == 0, result.stderr
    assert result.stdout == golden_path(spec, fmt, per_block).read_text(encoding="utf-8")


SHIPPED = sorted(SPECS.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_numbers_are_the_checks_numbers(path: Path) -> None:
    loaded, analysis = load(path)
    data = info_json(loaded, analysis, per_block=True)
    assert data["params"] == analysis.total_params == sum(analysis.params.values())
    assert data["macs"] == analysis.total_macs == sum(analysis.macs.values())
    rows = analysis.rows()
    assert [s["name"] for s in data["stages"]] == [r.name for r in rows]
    assert [(s["params"], s["macs"]) for s in data["stages"]] == [(r.params, r.macs) for r in rows]
    blocks = stage_blocks(analysis.graph)
    for stage in data["stages"]:
        per_block = stage["per_block"]
        assert len(per_block) == len(blocks.get(stage["name"], []))
        for entry, parts in zip(per_block, blocks.get(stage["name"], []), strict=True):
            assert entry["params"] == sum(analysis.params[n] for n in parts.nodes)
            assert entry["macs"] == sum(analysis.macs[n] for n in parts.nodes)
    # Markdown and LaTeX print the very same numbers.
    for text in (info_markdown(loaded, analysis), info_latex(loaded, analysis)):
        for row in rows:
            assert f"{row.params:,}" in text and f"{row.macs:,}" in text
        assert f"{analysis.total_params:,}" in text and f"{analysis.total_macs:,}" in text


def test_recipes_in_the_papers_style() -> None:
    md = info_markdown(*load(SPECS / "resnet50.yaml"))
    assert "| layer1 | 56x56 | [1x1, 64; 3x3, 64; 1x1, 256] x 3 |" in md
    assert "| layer4 | 7x7 | [1x1, 512; 3x3, 512; 1x1, 2048] x 3 |" in md
    assert "7x7, 64, stride 2; 3x3 max pool, stride 2" in md
    tex = info_latex(*load(SPECS / "resnet50.yaml"))
    assert r"\mbox{$1\times1$, 64} \\ \mbox{$3\times3$, 64}" in tex
    assert r"\end{array}\right] \times 3$" in tex
    assert tex.count(r"\\") - tex.count(r"} \\ \mbox") == 8  # header, 6 rows, total


def test_percentages_add_up() -> None:
    loaded, analysis = load(SPECS / "resnet152.yaml")
    md = info_markdown(loaded, analysis)
    rows = [line for line in md.splitlines() if line.startswith("| ") and "%" in line]
    for column in (4, 6):
        pcts = [float(re.sub(r"[%*]", "", r.split("|")[column + 1])) for r in rows[1:-1]]
        assert abs(sum(pcts) - 100) < 0.5


def test_valid_inputs_are_the_checks_summary() -> None:
    for path in (SPECS / "resnet50.yaml", GOLDEN / "specs" / "broken_identity.yaml"):
        loaded, analysis = load(path)
        assert build_table(loaded, analysis).valid_inputs == analysis.sizes.summary
        data = info_json(loaded, analysis)
        assert data["valid_inputs"]["min"] == analysis.sizes.min_size


def test_info_user_mistakes() -> None:
    bad = run_resgen("info", "resnet50", "-f", "html")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    broken = run_resgen("info", "tests/golden/specs/broken_identity.yaml", "-f", "latex")
    assert broken.returncode == 1 and "error[shortcut-shape]" in broken.stderr
    assert r"\begin{tabular}" in broken.stdout and "Traceback" not in broken.stderr
