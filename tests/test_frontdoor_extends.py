"""`extends` has one rule: a base path is relative to the file holding the `extends`.

A spec with no file (a mapping given to the API) resolves it against the working folder; a name
with no slash and no suffix is a built-in spec, for files and mappings alike.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import resgen
from resgen.diagnostics import ResgenError
from tests.conftest import SPECS, run_resgen

BASE = "name: base\nblock: {type: basic}\nstages:\n  - {depth: 1, width: 16}\n"


def _tree(root: Path) -> Path:
    """root/base.yaml <- root/mid/mid.yaml <- root/mid/leaf/child.yaml, each relative."""
    (root / "mid" / "leaf").mkdir(parents=True)
    (root / "base.yaml").write_text(BASE)
    (root / "mid" / "mid.yaml").write_text("extends: ../base.yaml\nname: mid\nhead: {classes: 7}\n")
    child = root / "mid" / "leaf" / "child.yaml"
    child.write_text("extends: ../mid.yaml\nname: child\n")
    return child


@pytest.mark.parametrize("where", [".", "mid", "mid/leaf", ".."])
def test_file_bases_are_relative_to_their_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    child = _tree(tmp_path / "t")
    monkeypatch.chdir(tmp_path / "t" / where)
    # From mid/ or mid/leaf/, base.yaml is outside the default root (issue 13): allow it.
    root = tmp_path / "t" if where in ("mid", "mid/leaf") else None
    spec = resgen.load_spec(os.path.relpath(child), extends_root=root).spec
    assert (spec.name, spec.head.classes, spec.stages[0].width) == ("child", 7, 16)
    if root is not None:
        with pytest.raises(ResgenError) as exc:
            resgen.load_spec(os.path.relpath(child))
        assert [d.code for d in exc.value.diagnostics] == ["extends-refused"]


def test_mapping_bases_are_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    # The mapping's own base is found from the working folder; that base's base from its file.
    spec = resgen.load_spec({"extends": "mid/leaf/child.yaml", "name": "m"}).spec
    assert (spec.name, spec.head.classes) == ("m", 7)
    monkeypatch.chdir(tmp_path / "mid")
    parent = {"extends": "../base.yaml", "name": "m"}  # outside the working folder: allowed only
    assert resgen.load_spec(parent, extends_root=tmp_path).spec.stages[0].width == 16
    with pytest.raises(ResgenError) as refused:
        resgen.load_spec(parent)
    assert [d.code for d in refused.value.diagnostics] == ["extends-refused"]
    with pytest.raises(ResgenError) as exc:
        resgen.load_spec({"extends": "base.yaml", "name": "m"})  # not in mid/
    (d,) = exc.value.diagnostics
    assert d.code == "no-such-spec" and str(d.location) == "<dict>:2:14"
    assert "(looked for base.yaml)" in d.message
    assert d.hint is not None and d.hint.endswith("relative to the working folder")


def test_a_bare_name_is_a_builtin_spec_for_files_and_mappings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet18").write_text(BASE)  # a file that looks like the name: not taken
    (tmp_path / "a.yaml").write_text("extends: resnet18\nname: a\n")
    from_file = resgen.load_spec("a.yaml").spec
    from_mapping = resgen.load_spec({"extends": "resnet18", "name": "a"}).spec
    assert from_file == from_mapping
    assert from_file.stages == resgen.load_spec(SPECS / "resnet18.yaml").spec.stages


def test_mapping_errors_from_bases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    cases = {"list.yaml": "extends-base", "a.yaml": "extends-cycle"}
    for reference, code in cases.items():
        with pytest.raises(ResgenError) as exc:
            resgen.load_spec({"extends": reference, "name": "m"})
        assert [d.code for d in exc.value.diagnostics] == [code]


def test_cli_and_api_load_the_same_spec(tmp_path: Path) -> None:
    child = _tree(tmp_path)
    resolved = run_resgen(
        "resolve", str(child), "--extends-root", str(tmp_path), cwd=tmp_path / "mid"
    )
    assert resolved.returncode == 0, resolved.stderr
    again = tmp_path / "resolved.yaml"
    again.write_text(resolved.stdout)
    assert resgen.load_spec(again).spec == resgen.load_spec(child, extends_root=tmp_path).spec


def test_builtin_specs_extend_builtin_specs_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = resgen.load_spec("resnet101d")
    assert loaded.source.name == "<builtin>/resnet101d.yaml"
    assert loaded.spec == resgen.load_spec(SPECS / "resnet101d.yaml").spec
