"""Generated models leave PyTorch the usual ways: torch.export, TorchScript and ONNX.

Models come from `resgen.build_model` (the same source `resgen build` writes, run in memory), in
eval mode with random weights, on small 64x64 inputs so the tests stay quick.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import pytest

import resgen

pytestmark = pytest.mark.slow

# Built-in spec names to export: torchvision layouts and a ResNet-D (deep stem, avg-down
# shortcut). Add a name here to cover another spec.
EXPORT_SPECS = ["resnet18", "resnet50", "resnet18d"]

SIZE = 64
# ONNX Runtime's kernels sum in another order than torch's: outputs may differ by rounding, which
# grows with the size of the logits. Measured: 2e-6 (resnet18) and 4e-5 (resnet50) for logits
# up to 3 and 50, i.e. about 1e-6 of the largest logit; allow 1e-4 of it.
ONNX_RTOL = 1e-4


@pytest.fixture(scope="module", params=EXPORT_SPECS)
def model(request: pytest.FixtureRequest) -> Any:
    import torch

    torch.manual_seed(0)
    return resgen.build_model(request.param).eval()


def _inputs(batch: int) -> Any:
    import torch

    return torch.randn(batch, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(batch))


def test_torch_export_dynamic_batch(model: Any) -> None:
    import torch

    batch = torch.export.Dim("batch")
    program = torch.export.export(model, (_inputs(2),), dynamic_shapes={"x": {0: batch}})
    exported = program.module()
    with torch.no_grad():
        for n in (1, 3, 5):  # other batch sizes than the one it was traced with
            x = _inputs(n)
            # Same kernels, so bit-identical in practice; allow float32 rounding regardless.
            torch.testing.assert_close(exported(x), model(x))


def test_torch_jit_script_round_trip(model: Any) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated, still used
        scripted = torch.jit.script(model)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)
        buffer.seek(0)
        loaded = torch.jit.load(buffer)
    x = _inputs(3)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_onnx_export_matches_onnxruntime(model: Any, tmp_path: Path) -> None:
    import numpy as np
    import onnx
    import onnxruntime
    import torch

    batch = torch.export.Dim("batch")
    path = tmp_path / "model.onnx"
    program = torch.onnx.export(
        model, (_inputs(2),), dynamic_shapes={"x": {0: batch}}, dynamo=True, verbose=False
    )
    assert program is not None
    program.save(str(path))
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (feed,) = session.get_inputs()
    assert feed.shape[0] not in (1, 2)  # a named dynamic dimension, not the traced batch
    for n in (1, 3):
        x = _inputs(n)
        with torch.no_grad():
            expected = model(x).numpy()
        (got,) = session.run(None, {feed.name: x.numpy()})
        scale = float(np.abs(expected).max())
        np.testing.assert_allclose(got, expected, rtol=ONNX_RTOL, atol=ONNX_RTOL * scale)
