"""Where the new downsampling kinds make a network fail, known statically (issue 15).

An anti-aliasing average pool rounds down where a strided projection shortcut (or a ResNet-D
ceil-mode pool) rounds up, so resnetaa50 accepts 31-34, 63-66, ... (every 32) and nothing else;
a blur-pool's reflect padding needs 2 pixels, so the blur nets need 17 px. resgen's answer comes
from the conv and pool arithmetic alone (resgen.checks.sizes); here torch runs every size from 1
to 256 through each kind at width 8 (batch 1, so 256 passes take seconds) and must agree, and timm
itself agrees at the sizes the issue names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import timm
import torch

import resgen
from resgen.pipeline import check, load_file

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZES = range(1, 257)
_NARROW_STAGES = {i: {"depth": 1, "width": 8} for i in range(1, 5)}


def _narrow(base: str, **keys: Any) -> dict[str, Any]:
    """`base` at width 8, one block a stage: the same size arithmetic, a thousandth of the work."""
    stem = {"widths": [8, 8, 8]} if base.endswith("d") else {"width": 8}
    return {"extends": base, "name": "narrow", "stem": stem, "stages": _NARROW_STAGES, **keys}


KINDS = {
    "avg, projection shortcuts": _narrow("resnetaa50"),
    "avg, basic blocks, ResNet-D shortcuts": _narrow("resnetaa34d"),
    "avg, ResNet-D shortcuts": _narrow("resnetaa50d"),
    "avg, dilated": _narrow("resnetaa50d", output_stride=8),
    "blur": _narrow("resnetblur50"),
    "blur, basic blocks": _narrow("resnetblur18"),
    "blur, dilated (stride-1 blurs)": _narrow("resnetblur50", output_stride=8),
    "ResNet-D, dilated (stride-1 same pools)": _narrow("resnet50d", output_stride=8),
}


def _runs(model: torch.nn.Module, size: int) -> bool:
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size))
    except RuntimeError:
        return False
    return True


@pytest.mark.parametrize("spec", KINDS.values(), ids=KINDS.keys())
def test_static_sizes_equal_what_torch_runs(spec: dict[str, Any]) -> None:
    report = check(resgen.load_spec(spec)).sizes
    model = resgen.build_model(spec).eval()
    torch_says = [size for size in SIZES if _runs(model, size)]
    assert [size for size in SIZES if report.accepts(size)] == torch_says


def test_the_answers_for_resnetaa50_and_resnetblur50() -> None:
    """What `resgen check` and `info` say (the issue's closing note), and timm agreeing."""
    aa = check(resgen.load_spec("resnetaa50")).sizes
    assert aa.accepted == "H, W in 31-34, 63-66, 95-98, ... (repeating every 32)"
    assert aa.summary.startswith(aa.accepted + "; at input 35: stage 2 block 1 (layer2.0.add)")
    blur = check(resgen.load_spec("resnetblur50")).sizes
    assert blur.summary == blur.accepted == "any H, W >= 17"
    narrow = {"channels": (8, 8, 8, 8)}  # timm keeps its 64-wide stem
    for name, report, sizes in (
        ("resnetaa50", aa, (30, 31, 34, 35, 62, 63, 66, 67, 200, 223, 224)),
        ("resnetblur50", blur, (2, 16, 17, 18)),
    ):
        model = timm.create_model(name, pretrained=False, **narrow).eval()
        assert {s: _runs(model, s) for s in sizes} == {s: report.accepts(s) for s in sizes}


def test_a_declared_input_size_that_fails_is_an_error_at_the_input(tmp_path: Path) -> None:
    path = tmp_path / "aa200.yaml"
    path.write_text("extends: resnetaa50\nname: aa200\ninput: {size: 200}\n", encoding="utf-8")
    (found,) = [d for d in check(load_file(path)).diagnostics if d.is_error]
    assert (found.code, found.location.line) == ("input-size", 3)
    assert "stage 3 block 1 (layer3.0.add) adds 1024x12x12 (residual branch) to 1024x13x13" in (
        found.message
    )
    assert "the nearest that work are 194 and 223" in (found.hint or "")
