"""`resgen probe`: gradient norms and activation statistics of every block at initialisation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from torch import nn

import resgen
from resgen.api import build_model
from resgen.probe import (
    first_block_ratios,
    is_plain,
    plain_twin,
    probe_spec,
    probe_specs,
    results_json,
    strip_norm,
)
from tests.conftest import run_resgen


def _spec(name: str) -> resgen.Spec:
    return resgen.load_spec(name).spec


def test_numbers_are_deterministic_for_a_seed() -> None:
    spec = _spec("resnet20")
    first, again = probe_spec(spec, seed=3, batch=4), probe_spec(spec, seed=3, batch=4)
    assert first == again  # exact float equality, every block
    other = probe_spec(spec, seed=4, batch=4)
    assert [b.grad_norm for b in other.blocks] != [b.grad_norm for b in first.blocks]


def test_every_block_is_measured_in_order() -> None:
    result = probe_spec(_spec("resnet20"), seed=0, batch=4)
    names = [f"layer{s}.{b}" for s in (1, 2, 3) for b in range(3)]
    assert [b.name for b in result.blocks] == names
    assert [b.depth for b in result.blocks] == list(range(1, 10))
    for block in result.blocks:
        assert block.grad_norm > 0 and block.act_std > 0
        assert math.isfinite(block.grad_norm) and math.isfinite(block.act_mean)
    # Basic blocks end in a ReLU: their outputs are never negative on average.
    assert all(b.act_mean > 0 for b in result.blocks)
    assert math.isfinite(result.loss) and result.norm == "batch" and not result.plain


def test_twin_and_norm_stripping() -> None:
    spec = _spec("resnet20")
    results = probe_specs([strip_norm(spec)], twin=True, seed=0, batch=4)
    assert [r.label for r in results] == ["resnet20", "resnet20 (plain)"]
    assert [r.plain for r in results] == [False, True]
    assert {r.norm for r in results} == {"none"}
    assert not any(isinstance(m, nn.BatchNorm2d) for m in build_model(strip_norm(spec)).modules())
    (ratio,) = first_block_ratios(results)
    assert ratio[:2] == ("resnet20 (plain)", "resnet20")
    assert ratio[2] == results[1].blocks[0].grad_norm / results[0].blocks[0].grad_norm
    # A plain spec has no twin: probing it with --twin probes it alone.
    assert len(probe_specs([plain_twin(spec)], twin=True, seed=0, batch=4)) == 1
    assert is_plain(_spec("plain56"))


# Measured first-block gradient-norm ratio, plain-56 / ResNet-56, batch 8, seeds 0-5 (and seeds
# 0-4 at batch 32 agree):
#   with batch norm:    277, 405, 407, 425, 460, 529. The plain net's first block gets a LARGER
#                       gradient (x2000 its own last block's): BN makes a deep plain net's
#                       gradients grow towards the input at initialisation; nothing vanishes.
#   without norm:       8.5e-7 to 1.2e-5. The plain net's gradient shrinks 4-15x from its last
#                       block to its first, and the norm-less ResNet's explodes (its activations
#                       double in variance per block): 5 to 6 orders of magnitude apart.
# The assertions keep two orders of magnitude of margin on both; one seed each keeps CI quick.
@pytest.mark.parametrize("norm", [True, False], ids=["batch_norm", "no_norm"])
def test_first_block_gradient_ratio_of_plain56_to_resnet56(norm: bool) -> None:
    spec = _spec("resnet56") if norm else strip_norm(_spec("resnet56"))
    residual, plain = probe_specs([spec], twin=True, seed=0, batch=8)
    assert len(plain.blocks) == len(residual.blocks) == 27
    (ratio,) = (r for _, _, r in first_block_ratios([residual, plain]))
    assert math.isfinite(ratio) and ratio > 0
    if norm:
        assert 1 < ratio < 1e5
    else:
        assert ratio < 1e-3
        # ... and the plain net's own gradient does shrink on the way to the input.
        assert plain.blocks[0].grad_norm < plain.blocks[-1].grad_norm


def test_json_output_of_the_cli() -> None:
    result = run_resgen(
        "probe", "resnet20", "--twin", "--batch", "2", "--seed", "1", "-f", "json", timeout=600
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [r["label"] for r in data["runs"]] == ["resnet20", "resnet20 (plain)"]
    assert all(r["seed"] == 1 and r["batch"] == 2 for r in data["runs"])
    assert [len(r["blocks"]) for r in data["runs"]] == [9, 9]
    assert set(data["runs"][0]["blocks"][0]) == {
        "block",
        "depth",
        "grad_norm",
        "act_mean",
        "act_std",
    }
    spec = _spec("resnet20")
    expected = results_json(probe_specs([spec], twin=True, seed=1, batch=2))
    assert data == json.loads(json.dumps(expected))  # the same numbers in and out of process
    assert len(data["first_block_ratios"]) == 1


def test_plot_output_of_the_cli(tmp_path: Path) -> None:
    target = tmp_path / "plots" / "probe.png"
    result = run_resgen(
        "probe", "resnet20", "--twin", "--no-norm", "--batch", "2", "-o", str(target), timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "wrote" in result.stderr and "norm: none" in result.stderr
    assert result.stdout == ""


def test_cli_errors(tmp_path: Path) -> None:
    clash = run_resgen("probe", "resnet20", "-f", "json", "-o", str(tmp_path / "x.png"))
    assert clash.returncode == 2 and "format-conflict" in clash.stderr
    no_file = run_resgen("probe", "resnet20", "-f", "png")
    assert no_file.returncode == 2 and "needs-output" in no_file.stderr
    into_folder = run_resgen("probe", "resnet20", "-f", "pdf", "-o", str(tmp_path))
    assert into_folder.returncode == 2 and "output-is-folder" in into_folder.stderr
    assert run_resgen("probe", "resnet20", "--batch", "1").returncode == 2
    missing = run_resgen("probe", "no_such_spec")
    assert missing.returncode == 1 and "error[" in missing.stderr
    assert not list(tmp_path.iterdir())
