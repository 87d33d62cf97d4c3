"""The Python API: load_spec, compile_source, build_model, summarize, as a user calls them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import resgen
from tests.conftest import GENERATED, ROOT, SPECS, run_resgen

INVALID = ROOT / "tests" / "specs" / "invalid"

SMALL: dict[str, Any] = {
    "name": "small",
    "input": {"channels": 3, "size": 64},
    "block": {"type": "basic"},
    "stages": [{"depth": 1, "width": 16}, {"depth": 1, "width": 32, "stride": 2}],
    "head": {"classes": 10},
}


def _codes(exc: pytest.ExceptionInfo[resgen.ResgenError]) -> list[str]:
    return [d.code for d in exc.value.diagnostics]


def test_load_spec_from_path_name_mapping_and_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    by_str = resgen.load_spec("specs/resnet18.yaml")
    by_path = resgen.load_spec(SPECS / "resnet18.yaml")
    by_name = resgen.load_spec("resnet18")
    assert by_str.spec == by_path.spec == by_name.spec
    assert by_str.source.name == "specs/resnet18.yaml"
    assert by_name.source.name == "<builtin>/resnet18.yaml"
    by_dict = resgen.load_spec(SMALL)
    assert by_dict.source.name == "<dict>" and by_dict.spec.stages[1].width == 32
    assert resgen.load_spec(by_dict) is by_dict  # a loaded spec passes through
    assert resgen.load_spec(by_dict.spec).spec == by_dict.spec
    assert resgen.load_spec(dict(SMALL)).sha256 == by_dict.sha256  # deterministic


def test_mapping_errors_point_into_dict_text() -> None:
    bad = {**SMALL, "block": {"type": "basik"}, "stages": [{"depth": 0, "width": 8}], "x": 1}
    with pytest.raises(resgen.ResgenError) as exc:
        resgen.load_spec(bad)
    assert sorted(_codes(exc)) == ["invalid-value", "invalid-value", "unknown-key"]
    text = "\n".join(d.format() for d in exc.value.diagnostics)
    assert '<dict>:8:13: error[invalid-value]: block.type: "basik" is not one of' in text
    assert "hint: did you mean 'basic'?" in text
    assert all(d.location and d.location.file == "<dict>" for d in exc.value.diagnostics)
    assert "stage 1 depth: must be at least 1 (got 0)" in str(exc.value)


def test_mapping_keeps_python_types() -> None:
    # Validation sees the caller's objects: True is not an int, even though JSON would print it.
    with pytest.raises(resgen.ResgenError) as exc:
        resgen.load_spec({**SMALL, "head": {"classes": True}})
    assert _codes(exc) == ["wrong-type"]


def test_mapping_extends_a_builtin_spec() -> None:
    patch = {"extends": "resnet50", "name": "resnet101_10", "stages": {3: {"depth": 23}},
             "head": {"classes": 10}}  # fmt: skip
    loaded = resgen.load_spec(patch)
    resnet101 = resgen.load_spec("resnet101").spec
    assert loaded.spec.stages == resnet101.stages and loaded.spec.head.classes == 10
    with pytest.raises(resgen.ResgenError) as exc:
        resgen.load_spec({**patch, "stages": {"3": {"dpth": 23}}})
    assert _codes(exc) == ["unknown-key"]
    assert str(exc.value.diagnostics[0].location).startswith("<dict>:")
    with pytest.raises(resgen.ResgenError) as exc:
        resgen.load_spec({**patch, "extends": "resnet5O"})
    assert _codes(exc) == ["no-such-spec"]
    assert str(exc.value.diagnostics[0].location) == "<dict>:2:14"


def test_load_spec_errors() -> None:
    with pytest.raises(resgen.ResgenError) as exc:
        resgen.load_spec("resnt50")
    assert _codes(exc) == ["no-such-spec"]
    assert "did you mean the built-in spec 'resnet50'?" in str(exc.value.diagnostics[0].hint)
    with pytest.raises(resgen.ResgenError) as exc:
        resgen.load_spec(INVALID / "unknown_key.yaml")
    assert _codes(exc) == ["unknown-key"]
    with pytest.raises(TypeError, match="not int"):
        resgen.load_spec(42)  # type: ignore[arg-type]


def test_compile_source_is_what_build_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert resgen.compile_source("specs/resnet18.yaml") == (GENERATED / "resnet18.py").read_text()
    loaded = resgen.load_spec("specs/resnet50.yaml")
    assert resgen.compile_source(loaded) == (GENERATED / "resnet50.py").read_text()
    assert "class Small(nn.Module):" in resgen.compile_source(SMALL)


def test_check_errors_raise_with_every_diagnostic() -> None:
    spec = INVALID / "identity_width_change.yaml"
    for call in (resgen.compile_source, resgen.summarize, resgen.build_model):
        with pytest.raises(resgen.ResgenError) as exc:
            call(spec)
        assert _codes(exc) == ["shortcut-shape", "shortcut-shape"]
        assert exc.value.diagnostics[0].source_line == "  - {depth: 3, width: 64}"


def test_summarize_equals_info_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run_resgen("info", "specs/resnet50.yaml", "-f", "json")
    assert result.returncode == 0, result.stderr
    summary = resgen.summarize("specs/resnet50.yaml")
    assert summary == json.loads(result.stdout)
    assert summary["params"] == 25_557_032 and summary["macs"] == 4_089_184_256
    assert [row["name"] for row in summary["stages"]][::5] == ["stem", "head"]


def test_build_model_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from tests.conftest import generated_module

    monkeypatch.chdir(tmp_path)
    model = resgen.build_model("resnet18", num_classes=10, in_channels=1)
    assert isinstance(model, torch.nn.Module)
    assert type(model).__name__ == "ResNet18"
    assert list(tmp_path.iterdir()) == []  # nothing written
    reference = generated_module("resnet18").ResNet18(num_classes=10, in_channels=1)
    assert model.state_dict().keys() == reference.state_dict().keys()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference.eval()(x), rtol=0, atol=0)
    # Each spec gets its own module, registered under a name from its source's hash (issue 14,
    # section 6: models pickle); generated modules hold only class definitions, no state.
    other = resgen.build_model(SMALL)
    assert type(other).__module__.startswith("resgen_generated_small_")
    assert sys.modules[type(other).__module__].Small is type(other)
    assert type(other).__module__ != type(model).__module__
    assert other(torch.randn(1, 3, 64, 64)).shape == (1, 10)


def test_build_model_source_is_inspectable() -> None:
    import inspect

    model = resgen.build_model(SMALL)
    source = inspect.getsource(type(model).forward)
    assert source.lstrip().startswith("def forward(self, x: torch.Tensor) -> torch.Tensor:")


def test_public_names_are_documented() -> None:
    for name in resgen.__all__:
        value = getattr(resgen, name)
        if callable(value) and name != "SpecSource":
            assert value.__doc__, name
    assert (ROOT / "resgen" / "py.typed").is_file()
