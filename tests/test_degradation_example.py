"""examples/degradation.py: its training loop runs a few steps, and its parts do what they say."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def example() -> ModuleType:
    path = ROOT / "examples" / "degradation.py"
    spec = importlib.util.spec_from_file_location("degradation_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_a_few_steps_of_all_four_networks(example: ModuleType, tmp_path: Path) -> None:
    summary = example.main(["--steps", "3", "--quick", "--out", str(tmp_path)])
    assert list(summary["nets"]) == ["plain20", "plain56", "resnet20", "resnet56"]
    assert summary["config"]["steps"] == 3 and summary["config"]["size"] == 8
    params = {name: net["params"] for name, net in summary["nets"].items()}
    assert params == {"plain20": 269_722, "plain56": 853_018, "resnet20": 269_722,
                      "resnet56": 853_018}  # fmt: skip
    for name, curve in summary["curves"].items():
        assert len(curve) == 3, name
        assert all(0.0 <= e <= 1.0 for e in curve)
        net = summary["nets"][name]
        assert 0.0 <= net["final_train_error"] <= 1.0 and 0.0 <= net["final_test_error"] <= 1.0
    assert set(summary["paper_effect"]) == {
        "plain56_worse_than_plain20",
        "resnet56_better_than_resnet20",
    }
    assert json.loads((tmp_path / "degradation.json").read_text()) == summary
    assert (tmp_path / "degradation.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_learning_rate_warms_up_then_steps_down(example: ModuleType) -> None:
    config = example.Config(steps=100, warmup=10, lr=0.1)
    lrs = [example.learning_rate(step, config) for step in range(100)]
    assert lrs[0] == pytest.approx(0.01)
    assert lrs[:10] == sorted(lrs[:10])
    assert lrs[10:50] == [0.1] * 40
    assert lrs[50:75] == [pytest.approx(0.01)] * 25
    assert lrs[75:] == [pytest.approx(0.001)] * 25


def test_digits_are_upscaled_normalised_and_split(example: ModuleType) -> None:
    x_train, y_train, x_test, y_test = example.load_digits(32, seed=0)
    assert tuple(x_train.shape) == (1437, 3, 32, 32) and tuple(x_test.shape) == (360, 3, 32, 32)
    assert len(y_train) == 1437 and len(y_test) == 360
    assert set(y_train.tolist()) == set(range(10))
    assert abs(float(x_train.mean())) < 1e-4 and abs(float(x_train.std()) - 1) < 1e-3
    assert bool((x_train[:, 0] == x_train[:, 2]).all())  # a grey image in three channels


def test_smoothing(example: ModuleType) -> None:
    assert example.smooth([0.5] * 5) == pytest.approx([0.5] * 5)
    assert example.smooth([1.0, 0.0])[0] == 1.0  # bias-corrected: starts at the first value
