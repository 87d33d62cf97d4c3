"""The Python API behaves like Python: built models pickle and show their source; `load_spec`
takes the values Python code makes (tuples, numpy numbers, `pathlib.Path`) (issue 14, section 6).
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import io
import json
import pickle
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import resgen

SMALL: dict[str, Any] = {
    "name": "small",
    "input": {"channels": 3, "size": 32},
    "block": {"type": "basic"},
    "stages": [{"depth": 1, "width": 16}, {"depth": 1, "width": 32, "stride": 2}],
    "head": {"classes": 10},
}


def _same_outputs(a: Any, b: Any) -> None:
    import torch

    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(a.eval()(x), b.eval()(x), rtol=0, atol=0)


def test_model_is_registered_under_a_stable_name() -> None:
    model = resgen.build_model(SMALL)
    digest = hashlib.sha256(resgen.compile_source(SMALL).encode("utf-8")).hexdigest()[:16]
    name = f"resgen_generated_small_{digest}"
    assert type(model).__module__ == name
    assert sys.modules[name].Small is type(model)
    # The same spec gives the same class; another spec gets its own module.
    assert type(resgen.build_model(dict(SMALL))) is type(model)
    other = resgen.build_model({**SMALL, "head": {"classes": 3}})
    assert type(other).__module__.startswith("resgen_generated_small_")
    assert type(other).__module__ != name and type(other) is not type(model)


def test_model_pickles_deepcopies_and_torch_saves_whole() -> None:
    import torch

    model = resgen.build_model(SMALL)
    clone = pickle.loads(pickle.dumps(model))
    assert type(clone) is type(model)
    _same_outputs(model, clone)
    _same_outputs(model, copy.deepcopy(model))
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert type(loaded) is type(model)
    _same_outputs(model, loaded)


def test_earlier_models_still_pickle_after_a_rebuild() -> None:
    first = resgen.build_model(SMALL)
    resgen.build_model(SMALL)  # must not replace the class `first` is an instance of
    assert type(pickle.loads(pickle.dumps(first))) is type(first)


def test_unpickles_in_a_fresh_process_that_builds_the_spec(tmp_path: Path) -> None:
    model = resgen.build_model(SMALL)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    (tmp_path / "spec.json").write_text(json.dumps(SMALL))
    script = (
        "import json, pickle, resgen\n"
        "resgen.build_model(json.load(open('spec.json')))\n"
        "model = pickle.load(open('model.pkl', 'rb'))\n"
        "print(type(model).__name__, type(model).__module__)\n"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Small", type(model).__module__]


def test_class_source_is_inspectable() -> None:
    model = resgen.build_model(SMALL)
    source = inspect.getsource(type(model))
    assert source.startswith("class Small(nn.Module):")
    assert source in resgen.compile_source(SMALL)
    assert inspect.getsourcefile(type(model)) == sys.modules[type(model).__module__].__file__
    assert "def forward" in inspect.getsource(type(model).forward)


def test_tuples_and_numpy_numbers_load_like_lists_and_ints() -> None:
    plain = resgen.load_spec({**SMALL, "head": {"classes": 10, "dropout": 0.0}})
    pythonic = {
        **SMALL,
        "input": {"channels": np.int64(3), "size": np.int32(32)},
        "stages": (
            {"depth": np.uint8(1), "width": 16},
            {"depth": 1, "width": np.int16(32), "stride": 2},
        ),
        "head": {"classes": 10, "dropout": np.float32(0.0)},
    }
    loaded = resgen.load_spec(pythonic)
    assert loaded.spec == plain.spec
    assert loaded.sha256 == plain.sha256  # the same <dict> text, so the same positions too
    size = resgen.load_spec({**SMALL, "input": {"channels": 3, "size": (32, np.int64(32))}})
    assert size.spec.input.size == [32, 32]
    halves = resgen.load_spec({**SMALL, "head": {"classes": 10, "dropout": Fraction(1, 2)}})
    assert halves.spec.head.dropout == 0.5 and type(halves.spec.head.dropout) is float
    # A drop path rate given as numpy float64 is a plain float in the validated spec.
    assert type(resgen.load_spec({**SMALL, "drop_path": np.float64(0.1)}).spec.drop_path) is float


def test_numpy_keys_patch_stages() -> None:
    loaded = resgen.load_spec({"extends": "resnet50", "stages": {np.int64(3): {"depth": 23}}})
    assert loaded.spec.stages == resgen.load_spec("resnet101").spec.stages


@pytest.mark.parametrize("flag", [True, np.bool_(True)])
def test_bools_stay_bools(flag: Any) -> None:
    with pytest.raises(resgen.ResgenError) as exc:
        resgen.load_spec({**SMALL, "head": {"classes": flag}})
    assert [d.code for d in exc.value.diagnostics] == ["wrong-type"]
    assert "head.classes: must be an integer, got true" in str(exc.value)


def test_nan_and_infinity_are_diagnostics() -> None:
    bad = {**SMALL, "head": {"classes": 10, "dropout": float("nan")}, "drop_path": np.inf}
    with pytest.raises(resgen.ResgenError) as exc:
        resgen.load_spec(bad)
    lines = [d.format() for d in exc.value.diagnostics]
    assert [d.code for d in exc.value.diagnostics] == ["invalid-value", "invalid-value"]
    assert lines[0].startswith("<dict>:23:16: error[invalid-value]: head.dropout:")
    assert "must be a finite number (got nan)" in lines[0]
    assert "drop_path: must be a finite number (got inf)" in lines[1]
    assert all("hint: NaN and infinity are not spec values" in line for line in lines)
    shown = exc.value.diagnostics[0].source_line
    assert shown is not None and '"dropout": "nan"' in shown


def test_path_extends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "base.yaml").write_text(
        "name: base\nblock: {type: basic}\nstages:\n  - {depth: 1, width: 16}\n"
    )
    monkeypatch.chdir(tmp_path)
    by_path = resgen.load_spec({"extends": Path("base.yaml"), "name": "child"})
    by_str = resgen.load_spec({"extends": "base.yaml", "name": "child"})
    assert by_path.spec == by_str.spec and by_path.spec.stages[0].width == 16
    absolute = resgen.load_spec({"extends": tmp_path / "base.yaml", "name": "child"})
    assert absolute.spec == by_str.spec
