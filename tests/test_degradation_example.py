"""examples/degradation.py: its training loop runs a few steps, and its parts do what they say."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

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


def test_a_few_steps_of_all_four_networks_over_two_seeds(
    example: ModuleType, tmp_path: Path
) -> None:
    summary = example.main(["--steps", "3", "--seeds", "2", "--quick", "--out", str(tmp_path)])
    assert list(summary["nets"]) == ["plain20", "plain56", "resnet20", "resnet56"]
    config = summary["config"]
    assert config["steps"] == 3 and config["seeds"] == 2 and config["size"] == 8
    params = {name: net["params"] for name, net in summary["nets"].items()}
    assert params == {"plain20": 269_722, "plain56": 853_018, "resnet20": 269_722,
                      "resnet56": 853_018}  # fmt: skip
    assert len(summary["curves"]) == 8
    for name, curve in summary["curves"].items():
        assert len(curve) == 3, name
        assert all(0.0 <= e <= 1.0 for e in curve)
    for net in summary["nets"].values():
        assert list(net["seeds"]) == ["0", "1"]
        for key in ("train_error", "final_train_error", "final_test_error"):
            spread = net[key]
            assert 0.0 <= spread["min"] <= spread["mean"] <= spread["max"] <= 1.0
    assert set(summary["paper_ordering"]) == {
        "resnet56_at_most_resnet20",
        "resnet20_below_plain20",
        "plain20_below_plain56",
    }
    assert json.loads((tmp_path / "degradation.json").read_text()) == summary
    assert (tmp_path / "degradation.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_learning_rate_warms_up_then_steps_down(example: ModuleType) -> None:
    config = example.Config(steps=100, lr=0.1, warmup_lr=0.01)
    lrs = [example.learning_rate(step, False, config) for step in range(100)]
    assert lrs[:50] == [0.1] * 50
    assert lrs[50:75] == [pytest.approx(0.01)] * 25
    assert lrs[75:] == [pytest.approx(0.001)] * 25
    warming = [example.learning_rate(step, True, config) for step in (0, 49, 50, 75)]
    assert warming == [0.01, 0.01, pytest.approx(0.01), pytest.approx(0.001)]


def test_minibatches_are_shifted_crops_in_one_order_per_seed(example: ModuleType) -> None:
    config = example.Config(batch=4, pad=2)
    x = torch.zeros(8, 3, 6, 6)
    x[:, :, 2:4, 2:4] = 1.0  # a bright 2x2 square in the middle of each image
    y = torch.arange(8)
    first = [b for _, b in zip(range(3), example.batches(x, y, config, seed=1), strict=False)]
    again = [b for _, b in zip(range(3), example.batches(x, y, config, seed=1), strict=False)]
    for (xa, ya), (xb, yb) in zip(first, again, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    xs, ys = first[0]
    assert tuple(xs.shape) == (4, 3, 6, 6) and len(set(ys.tolist())) == 4
    assert bool((xs.sum(dim=(1, 2, 3)) == 12.0).all())  # a shift of <= pad keeps the square
    assert sorted(torch.cat([first[0][1], first[1][1]]).tolist()) == list(range(8))  # an epoch


def test_digits_are_upscaled_normalised_and_split(example: ModuleType) -> None:
    x_train, y_train, x_test, y_test = example.load_digits(32)
    assert tuple(x_train.shape) == (1437, 3, 32, 32) and tuple(x_test.shape) == (360, 3, 32, 32)
    assert len(y_train) == 1437 and len(y_test) == 360
    assert set(y_train.tolist()) == set(range(10))
    assert abs(float(x_train.mean())) < 1e-4 and abs(float(x_train.std()) - 1) < 1e-3
    assert bool((x_train[:, 0] == x_train[:, 2]).all())  # a grey image in three channels


def test_paper_ordering_reads_the_means(example: ModuleType) -> None:
    errors = {"plain20": 0.05, "plain56": 0.2, "resnet20": 0.01, "resnet56": 0.01}
    summary = {"nets": {name: {"train_error": {"mean": e}} for name, e in errors.items()}}
    assert all(example.paper_ordering(summary).values())
    summary["nets"]["resnet56"]["train_error"]["mean"] = 0.02
    assert not example.paper_ordering(summary)["resnet56_at_most_resnet20"]


def test_smoothing(example: ModuleType) -> None:
    assert example.smooth([0.5] * 5) == pytest.approx([0.5] * 5)
    assert example.smooth([1.0, 0.0])[0] == 1.0  # bias-corrected: starts at the first value
