"""The training benchmarks (issue 19) run, at toy sizes. Speed is never asserted here."""

from __future__ import annotations

import pytest

from benchmarks import bench_checkpoint, bench_compile

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_bench_checkpoint_runs(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--models", "resnet20", "--batch", "2", "--reps", "1"]
    assert bench_checkpoint.main(args) == 0
    out = capsys.readouterr().out
    assert "| resnet20 | 2 " in out and "resnet20 checkpoint: kept" in out


def test_bench_compile_runs(capsys: pytest.CaptureFixture[str]) -> None:
    # dynamo's graph with AOT autograd, without inductor's code generation (minutes here).
    args = ["--quick", "--backend", "aot_eager", "--size", "32", "--reps", "1"]
    assert bench_compile.main(args) == 0
    out = capsys.readouterr().out
    assert "| eval b2 " in out and "| train step b2 " in out
