"""Messages a newcomer can act on (issue 14, section 2), through the real CLI.

Every broken spec below is a slip a new user made; each test pins the message and the hint that
say where the mistake is and what to write instead. One `resgen check` run checks them all.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from resgen.resources import builtin_spec_names
from resgen.spec.model import Spec
from resgen.spec.suggest import closest_names, describe_path, key_paths, misplaced_key
from tests.conftest import run_resgen

SLIPS = {
    "wrong_level": """\
name: net
classes: 10
attention: {type: se}
block: {type: basic}
stages:
  - {depth: 2, width: 64}
depth: 3
""",
    "stage_number": """\
name: net
block: {type: basic}
stages:
  - {depth: 2, width: 64}
  - {depth: 0, width: 128, stride: 2, widht: 3}
""",
    "close_builtin": "extends: resnet51\n",
    "lookalike_builtin": "extends: resnet5O\n",
    "family_builtin": "extends: resnext50\n",
    "comma": "name: net\nblock: {type: basic}\nstages:\n  - {depth: 1 width: 64}\n",
    "group_norm": """\
name: net
block: {type: basic}
norm: {type: group, groups: 7}
stages:
  - {depth: 1, width: 64}
  - {depth: 1, width: 100, stride: 2}
  - {depth: 1, width: 30, stride: 2}
""",
    "patches": "extends: resnet50\nstages:\n  7: {depth: 4}\n  9: {width: 3}\n",
    "slips": """\
name: net
block: basic
input: {size: [224]}
stem: deep
stages:
  3: {depth: 4}
""",
    "no_size": """\
name: net
block: {type: basic}
shortcut: identity
input: {size: 4}
stages:
  - {depth: 1, width: 64}
  - {depth: 1, width: 64, stride: 2}
""",
}


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each slip's diagnostics, from one `resgen check` of the whole folder."""
    folder = tmp_path_factory.mktemp("slips")
    for name, text in SLIPS.items():
        (folder / f"{name}.yaml").write_text(text)
    result = run_resgen("check", str(folder), cwd=folder)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    out: dict[str, str] = {}
    for line in (result.stderr + result.stdout).splitlines():
        match = re.match(r"(?:.*/)?(\w+)\.yaml[:\s]", line)
        if match and match[1] in SLIPS:
            current = match[1]
        out[current] = out.get(current, "") + line + "\n"
    return out


def _errors(text: str) -> list[str]:
    """`LINE:COL: error[code]: message` of every diagnostic, in printed order."""
    return re.findall(r"\.yaml:(\d+:\d+: (?:error|warning)\[[\w-]+\]: .*)", text)


def test_key_at_the_wrong_level_says_where_it_belongs(messages: dict[str, str]) -> None:
    text = messages["wrong_level"]
    assert "hint: `classes` belongs under `head`: `head: {classes: 10}`" in text
    assert "hint: `attention` belongs under `block`: `block: {attention: {type: se}}`" in text
    assert "hint: `depth` is a key of each item of `stages`: `stages: [{depth: 3, ...}]`" in text
    assert "class_name" not in text  # the old, wrong did-you-mean


def test_every_field_of_the_model_has_a_key_path() -> None:
    paths = key_paths()
    assert ("head", "classes") in paths and ("stages", "[]", "depth") in paths
    assert ("block", "attention", "reduction") in paths
    for name in Spec.model_fields:
        assert (name,) in paths
    # A key with a single home elsewhere is placed; `type`, a key of many sections, is not.
    assert misplaced_key("classes", (), 10) is not None
    assert misplaced_key("type", (), "se") is None


def test_stages_are_numbered_from_one(messages: dict[str, str]) -> None:
    errors = _errors(messages["stage_number"])
    assert errors == [
        "5:13: error[invalid-value]: stage 2 depth: must be at least 1 (got 0)",
        "5:39: error[unknown-key]: unknown key 'widht' in stage 2",
    ]
    assert describe_path(("stages", 0, "attention", "type")) == "stage 1 attention.type"
    assert describe_path(("stem", "widths", 0)) == "stem.widths[0]"  # other lists: Python's


def test_diff_numbers_stages_from_one_and_json_keeps_a_pointer(tmp_path: Path) -> None:
    deeper = tmp_path / "deeper.yaml"
    deeper.write_text("extends: resnet50\nname: deeper\nstages: {3: {depth: 23}}\n")
    result = run_resgen("diff", "resnet50", str(deeper))
    assert result.returncode == 1
    assert "  stage 3 depth  6 -> 23" in result.stdout
    assert "stages[" not in result.stdout


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("resnet51", "resnet50"), ("resnet5O", "resnet50"), ("resnext50", "resnext50_32x4d"),
     ("resnet1O1", "resnet101"), ("seresnet5", "seresnet50"), ("wide_resnet50", "wide_resnet50_2"),
     ("ResNet18", "resnet18")],
)  # fmt: skip
def test_close_builtin_names_rank_by_family_and_number(typed: str, meant: str) -> None:
    assert closest_names(typed, builtin_spec_names()) == [meant]


def test_no_suggestion_for_a_name_nothing_resembles() -> None:
    assert closest_names("mobilenet_v3", builtin_spec_names()) == []


def test_builtin_suggestions_through_the_cli(messages: dict[str, str]) -> None:
    assert "did you mean the built-in spec 'resnet50'?" in messages["close_builtin"]
    assert "did you mean the built-in spec 'resnet50'?" in messages["lookalike_builtin"]
    assert "did you mean the built-in spec 'resnext50_32x4d'?" in messages["family_builtin"]


def test_missing_comma_in_a_flow_mapping(messages: dict[str, str]) -> None:
    text = messages["comma"]
    assert _errors(text) == [
        "4:15: error[yaml-syntax]: YAML syntax error: missing comma between `1` and `width:` "
        "in a `{...}` mapping"
    ]
    assert "hint: write `1, width:`" in text
    assert "closing" not in text


def test_every_group_norm_error_in_one_run(messages: dict[str, str]) -> None:
    errors = _errors(messages["group_norm"])
    assert [e.split(": ", 1)[0] for e in errors] == ["1:1", "6:5", "7:5"]
    assert all(f"{w} channels" in e for w, e in zip((64, 100, 30), errors, strict=True))
    assert "(30, 64, 100): 1, 2 do" in messages["group_norm"]


def test_every_bad_stage_patch_in_one_run(messages: dict[str, str]) -> None:
    errors = _errors(messages["patches"])
    assert errors == [
        "3:3: error[extends-stage]: stage '7' does not exist in the base spec "
        "(it has stages 1 to 4)",
        "4:3: error[extends-stage]: stage '9' does not exist in the base spec "
        "(it has stages 1 to 4)",
    ]


def test_errors_are_in_line_order(messages: dict[str, str]) -> None:
    for name, text in messages.items():
        places = [tuple(map(int, e.split(": ", 1)[0].split(":"))) for e in _errors(text)]
        assert places == sorted(places), name


def test_common_slips_show_the_spelling_that_works(messages: dict[str, str]) -> None:
    text = messages["slips"]
    assert "`block` is a mapping: write `block: {type: basic}`" in text
    assert "`stem` is a mapping: write `stem: {type: deep}`" in text
    assert "two items: [height, width]" in text
    assert "a mapping under `stages` patches the stages of a base spec (`extends: resnet50`" in text


def test_valid_sizes_when_only_a_few_work(messages: dict[str, str]) -> None:
    assert (
        "valid inputs: H, W in 1-4; at input 5: stage 2 block 1 (layer2.0.add) adds spatial "
        "size 1 (residual branch) to 2 (shortcut)" in messages["no_size"]
    )


@cache
def _broken_identity() -> str:
    return run_resgen("info", "tests/golden/specs/broken_identity.yaml").stdout


def test_valid_sizes_when_channels_disagree() -> None:
    text = " ".join(_broken_identity().split())
    assert "valid inputs: no input size works: stage 2 block 1 (layer2.0.add) adds 128 " in text
    assert "except" not in text
