"""examples/design_space.py: the whole loop (space, sample, build, train, score, EDF) runs."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def test_the_design_space_loop_runs(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    path = ROOT / "examples" / "design_space.py"
    spec = importlib.util.spec_from_file_location("design_space_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    result = module.main(["-n", "2", "--steps", "1", "--out", str(tmp_path)])
    assert sorted(result["errors"]) == ["digits_anynet_0000", "digits_anynet_0001"]
    assert all(0.0 <= e <= 100.0 for e in result["errors"].values())
    with (tmp_path / "errors.csv").open() as handle:
        assert [row["name"] for row in csv.DictReader(handle)] == sorted(result["errors"])
    assert (tmp_path / "design_space.png").read_bytes().startswith(b"\x89PNG")
    assert len(list((tmp_path / "samples" / "specs").glob("*.yaml"))) == 2
