"""`extends`: merge rules, positions that point into the right file, cycles and missing bases."""

from __future__ import annotations

from pathlib import Path

import pytest

from resgen.diagnostics import ResgenError
from resgen.pipeline import check
from resgen.spec.load import load_spec_file
from tests.conftest import SPECS, run_resgen


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_stage_patch_turns_resnet50_into_resnet101(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "r101.yaml", "extends: resnet50\nname: r101\nstages: {3: {depth: 23}}\n"
    )
    loaded = load_spec_file(path)
    assert [s.depth for s in loaded.spec.stages] == [3, 4, 23, 3]
    assert check(loaded).total_params == 44_549_160  # torchvision resnet101


def test_mappings_merge_lists_replace_null_removes(tmp_path: Path) -> None:
    _write(tmp_path, "base.yaml", (SPECS / "seresnet50.yaml").read_text())
    path = _write(
        tmp_path,
        "child.yaml",
        "extends: base.yaml\nname: child\nblock: {groups: 32, base_width: 4, attention: null}\n"
        "stages:\n  - {depth: 1, width: 64}\n  - {depth: 1, width: 128, stride: 2}\n",
    )
    spec = load_spec_file(path).spec
    assert spec.block.type == "bottleneck" and spec.block.groups == 32  # merged
    assert spec.block.attention is None  # removed by null
    assert [s.depth for s in spec.stages] == [1, 1]  # replaced wholesale
    assert spec.zero_init_residual is True  # inherited


def test_chains_of_bases_and_builtin_bases() -> None:
    spec = load_spec_file(SPECS / "resnet101d.yaml").spec  # extends resnet50d
    assert spec.stem.type == "deep" and spec.shortcut == "avgpool_projection"
    assert [s.depth for s in spec.stages] == [3, 4, 23, 3]


def test_errors_in_inherited_values_point_into_the_base(tmp_path: Path) -> None:
    _write(tmp_path, "base.yaml", "name: base\nblock: {type: basic}\nshortcut: identity\n"
           "stages:\n  - {depth: 1, width: 64}\n")  # fmt: skip
    path = _write(tmp_path, "child.yaml", "extends: base.yaml\nname: child\n"
                  "stages: {1: {width: 128}}\n")  # fmt: skip
    result = run_resgen("check", str(path), cwd=tmp_path)
    assert result.returncode == 1
    # The width that breaks the identity shortcut was set in child.yaml, line 3.
    assert "child.yaml:3:" in result.stderr and "error[shortcut-shape]" in result.stderr
    path = _write(tmp_path, "child2.yaml", "extends: base.yaml\nname: child\nblock: {groups: 0}\n")
    with pytest.raises(ResgenError) as exc:
        load_spec_file(path)
    # Outside the current folder, a file is named as given (issue 13: a path one can open).
    assert str(exc.value.diagnostics[0].location).startswith(f"{path}:3:")
    path = _write(tmp_path, "child3.yaml", "extends: base.yaml\nname: child3\n")
    _write(
        tmp_path, "base.yaml", "name: base\nblock: {type: basix}\nstages: [{depth: 1, width: 8}]\n"
    )
    with pytest.raises(ResgenError) as exc:
        load_spec_file(path, "child3.yaml")
    assert exc.value.diagnostics[0].location.file.endswith("base.yaml")
    assert exc.value.diagnostics[0].location.line == 2


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ({"a.yaml": "extends: b.yaml\nname: a\n", "b.yaml": "extends: a.yaml\nname: b\n"},
         "extends-cycle"),
        ({"a.yaml": "extends: a.yaml\nname: a\n"}, "extends-cycle"),
        ({"a.yaml": "extends: nothere.yaml\nname: a\n"}, "extends-missing"),
        ({"a.yaml": "extends: resnet5\nname: a\n"}, "extends-missing"),
        ({"a.yaml": "extends: [resnet50]\nname: a\n"}, "wrong-type"),
        ({"a.yaml": "extends: resnet50\nname: a\nstages: {9: {depth: 1}}\n"},
         "extends-stage"),
    ],
)  # fmt: skip
def test_bad_extends(tmp_path: Path, files: dict[str, str], code: str) -> None:
    for name, text in files.items():
        _write(tmp_path, name, text)
    result = run_resgen("check", "a.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert f"a.yaml:1:10: error[{code}]" in result.stderr or f"error[{code}]" in result.stderr
    assert "Traceback" not in result.stderr


def test_resolve_prints_the_merged_spec(tmp_path: Path) -> None:
    result = run_resgen("resolve", "specs/resnet101d.yaml")
    assert result.returncode == 0, result.stderr
    assert "extends" not in result.stdout
    assert "- {depth: 23, width: 256, stride: 2}" in result.stdout
    assert "stem: {type: deep, widths: [32, 32, 64]}" in result.stdout
    # The resolved text is itself a valid spec that compiles to the same model.
    resolved = _write(tmp_path, "resolved.yaml", result.stdout)
    assert (
        check(load_spec_file(resolved)).total_params
        == check(load_spec_file(SPECS / "resnet101d.yaml")).total_params
    )
