"""The benchmarks run (at toy sizes), and the generated code runs torchvision's ops exactly.

Speed itself is never asserted here (house style: speed goals are benchmark ratios against a
baseline of the same run); these tests keep the scripts working and check the property that
makes generated/torchvision ratios of 1.00 the expected outcome: identical aten op sequences.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import bench_compiler, bench_deploy, bench_models, common, gpu
from resgen.api import check_spec
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_generated_runs_the_same_aten_ops_as_torchvision(name: str) -> None:
    verdict = bench_models.same_ops(name)
    assert "DIFFERENT" not in verdict and verdict.count("identical") == 2, verdict


def test_ratio_medians_and_quartiles() -> None:
    times = {"a": [2.0, 4.0, 6.0, 8.0, 100.0], "b": [1.0, 2.0, 3.0, 4.0, 5.0]}
    r = common.ratio(times, "a", "b")
    assert r.median == 2.0 and r.seconds == 6.0
    assert (r.low, r.high) == (2.0, 2.0) and r.slower
    assert not common.ratio(times, "b", "a").slower
    calls: list[str] = []
    timed = common.interleave({k: (lambda k=k: calls.append(k)) for k in "xy"}, reps=3, warmup=1)
    assert calls == ["x", "y", "x", "y", "y", "x", "x", "y"]  # warm-up, then alternating order
    assert [len(v) for v in timed.values()] == [3, 3]


def test_bench_models_runs(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--quick", "--models", "resnet18", "--reps", "1", "--batch", "2", "--size", "32"]
    assert bench_models.main(args) == 0
    out = capsys.readouterr().out
    assert "eval fwd: identical" in out and out.count("| resnet18 |") == 6


def test_bench_deploy_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_deploy.main(["--quick", "--model", "resnet18", "--reps", "1", "--size", "32"]) == 0
    out = capsys.readouterr().out
    assert "deploy eager at batch 8:" in out and "deploy jit.freeze" in out


def test_bench_compiler_synthetic_spec_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "blocks_31.yaml"
    path.write_text(bench_compiler.synthetic_spec(31), encoding="utf-8")
    loaded, analysis = check_spec(path)
    assert sum(stage.depth for stage in loaded.spec.stages) == 31
    assert [s.depth for s in loaded.spec.stages] == [11, 10, 10]
    assert analysis.total_params > 0


def test_gpu_script_without_cuda_says_so() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is here: the script would run for minutes")
    result = subprocess.run(
        [sys.executable, "benchmarks/gpu.py"], cwd=ROOT, capture_output=True, text=True,
        check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no CUDA device here" in result.stdout


def test_gpu_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Every path of the GPU script at toy sizes; compile traced with dynamo's eager backend."""
    assert gpu.main(["--dry-run", "--model", "resnet18", "--reps", "1"]) == 0
    out = capsys.readouterr().out
    for row in ("train step, eager", "inference, eager", "inference, compile"):
        assert f"| {row}" in out, out
    assert "| deploy " in out
