"""`resgen new NAME --from BASE`: a starting spec that checks and builds like its base."""

from __future__ import annotations

from pathlib import Path

import pytest

import resgen
from tests.conftest import run_resgen


@pytest.mark.parametrize("base", ["resnet50d", "resnet20", "preact_resnet164", "seresnet50"])
def test_new_spec_is_its_base_under_a_new_name(tmp_path: Path, base: str) -> None:
    result = run_resgen("new", "mynet", "--from", base, "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    path = tmp_path / "mynet.yaml"
    text = path.read_text()
    assert text.startswith(f"# mynet.yaml: started from `{base}` by `resgen new`.")
    # Every top-level key comes after a comment that explains it.
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith(("#", " ")):
            assert lines[i - 1].startswith("# "), line
    mine, theirs = resgen.summarize(path), resgen.summarize(base)
    assert (mine["params"], mine["macs"]) == (theirs["params"], theirs["macs"])
    assert resgen.load_spec(path).spec.model_class == "Mynet"
    assert run_resgen("check", str(path)).returncode == 0


def test_new_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("# my work\n")
    result = run_resgen("new", "mine", "-o", str(tmp_path))
    assert result.returncode == 1 and "error[exists]" in result.stderr
    assert path.read_text() == "# my work\n"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["new", "class"], "invalid-value"),  # a keyword
        (["new", "torch"], "reserved-name"),  # would shadow torch
        (["new", "x", "--from", "resnet5O"], "no-such-spec"),
    ],
)
def test_bad_names_and_bases_write_nothing(tmp_path: Path, args: list[str], code: str) -> None:
    result = run_resgen(*args, "-o", str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert f"error[{code}]" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
