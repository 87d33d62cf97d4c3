"""`resgen diff A B` and `resgen.diff_specs`: field changes, per-stage numbers, totals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import resgen
from resgen.diff import format_diff
from tests.conftest import ROOT, SPECS, run_resgen

BASE: dict[str, Any] = {
    "name": "base",
    "input": {"size": 64},
    "block": {"type": "basic"},
    "stages": [{"depth": 2, "width": 16}, {"depth": 2, "width": 32, "stride": 2}],
    "head": {"classes": 10},
}


def _with(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def _paths(diff: Any) -> dict[str, tuple[str, Any, Any]]:
    return {c.path: (c.kind, c.a, c.b) for c in diff.changes}


def test_resnet18_to_resnet34() -> None:
    diff = resgen.diff_specs(SPECS / "resnet18.yaml", SPECS / "resnet34.yaml")
    changes = _paths(diff)
    assert changes.pop("name") == ("changed", "resnet18", "resnet34")
    changes.pop("description")
    assert changes == {
        "stage 1 depth": ("changed", 2, 3),
        "stage 2 depth": ("changed", 2, 4),
        "stage 3 depth": ("changed", 2, 6),
        "stage 4 depth": ("changed", 2, 3),
    }
    data = diff.to_json()
    # torchvision's counts (shared/REFERENCE.md)
    assert data["params"] == {"a": 11_689_512, "b": 21_797_672, "delta": 10_108_160}
    assert data["macs"]["delta"] == 3_663_761_408 - 1_814_073_344
    changed = [s["name"] for s in data["stages"] if s["changed"]]
    assert changed == ["layer1", "layer2", "layer3", "layer4"]
    assert data["output"] == {"a": [1000], "b": [1000]}


def test_same_architecture_written_differently_is_identical() -> None:
    explicit = {
        "stages": BASE["stages"],
        "head": {"classes": 10, "pool": "avg"},
        "block": {"type": "basic"},
        "input": {"size": 64, "channels": 3},
        "name": "base",
        "shortcut": "projection",
    }
    diff = resgen.diff_specs(BASE, explicit)
    assert diff.identical and diff.to_json()["changes"] == []
    assert all(not s["changed"] for s in diff.to_json()["stages"])
    assert "specs are identical" in format_diff(diff)


def test_stage_added_and_removed() -> None:
    three = _with(stages=[*BASE["stages"], {"depth": 1, "width": 64, "stride": 2}])
    diff = resgen.diff_specs(BASE, three)
    (added,) = diff.changes
    assert added.path == "stage 3" and added.kind == "added"
    assert {"depth": 1, "width": 64, "stride": 2}.items() <= added.b.items()  # defaults too
    data = diff.to_json()
    layer3 = next(s for s in data["stages"] if s["name"] == "layer3")
    assert layer3["a"] is None and layer3["b"]["blocks"] == 1
    assert data["params"]["delta"] > 0
    back = resgen.diff_specs(three, BASE)
    assert [c.kind for c in back.changes] == ["removed"]
    order = ["stem", "layer1", "layer2", "layer3", "head"]  # network order, either way round
    assert [s["name"] for s in data["stages"]] == order
    assert [s["name"] for s in back.to_json()["stages"]] == order
    text = format_diff(back)
    assert '  stage 3  removed {"depth": 1, "width": 64, "stride": 2' in text
    assert text.index("layer3  removed 1") < text.index("head ")


def test_block_shortcut_and_output_changes() -> None:
    identity = _with(stages=[{"depth": 2, "width": 16}], shortcut="identity", stem={"width": 16})
    projection = _with(
        stages=[{"depth": 2, "width": 16}],
        block={"type": "bottleneck"},
        stem={"width": 16},
        head={"classes": 5},
    )
    diff = resgen.diff_specs(identity, projection)
    changes = _paths(diff)
    assert changes["shortcut"] == ("changed", "identity", "projection")
    assert changes["block.type"] == ("changed", "basic", "bottleneck")
    assert changes["head.classes"] == ("changed", 10, 5)
    data = diff.to_json()
    assert data["output"] == {"a": [10], "b": [5]}
    layer1 = next(s for s in data["stages"] if s["name"] == "layer1")
    assert layer1["a"]["output"] == [16, 16, 16] and layer1["b"]["output"] == [64, 16, 16]


def test_cli_text_and_json(tmp_path: Path) -> None:
    text = run_resgen("diff", "specs/resnet50.yaml", "resnet101", cwd=ROOT)
    assert text.returncode == 1, text.stderr  # they differ, as diff(1) says with 1
    out = text.stdout
    assert out.startswith("--- specs/resnet50.yaml (resnet50)\n+++ <builtin>/resnet101.yaml")
    assert "  stage 3 depth  6 -> 23\n" in out
    assert "layer3" in out and "layer1" not in out  # only stages that changed
    assert "params  25,557,032 -> 44,549,160 (+18,992,128, +74.3%)" in out
    assert "output  1000 (unchanged)" in out
    as_json = run_resgen("diff", "resnet50", "resnet101", "-f", "json")
    assert as_json.returncode == 1, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["changes"][-1] == {
        "path": "stage 3 depth", "pointer": "/stages/2/depth", "change": "changed", "a": 6, "b": 23
    }  # fmt: skip
    assert data["identical"] is False and data["params"]["delta"] == 18_992_128


def test_cli_reports_both_specs_errors() -> None:
    bad = ROOT / "tests" / "specs" / "invalid"
    result = run_resgen("diff", str(bad / "unknown_key.yaml"), str(bad / "zero_width.yaml"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "error[unknown-key]" in result.stderr and "zero_width.yaml:" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_resgen("diff", "resnet50", "no_such_spec")
    assert missing.returncode == 1 and "error[no-such-spec]" in missing.stderr
    usage = run_resgen("diff", "resnet50")
    assert usage.returncode == 2 and "usage:" in usage.stderr


@pytest.mark.parametrize("name", ["resnet18", "resnet152"])
def test_spec_against_itself(name: str) -> None:
    assert resgen.diff_specs(name, SPECS / f"{name}.yaml").identical


def test_cli_exits_0_for_the_same_network_and_1_for_another() -> None:
    """As diff(1): 0 when the specs agree on every field, 1 when they differ (issue 14)."""
    same = run_resgen("diff", "specs/resnet50.yaml", "resnet50", cwd=ROOT)
    assert same.returncode == 0, same.stderr
    other = run_resgen("diff", "resnet18", "resnet34", "-f", "json")
    assert other.returncode == 1 and json.loads(other.stdout)["identical"] is False
