"""Per-block widths (`stages.<i>.blocks.<n>.conv1/2/3`, a pruned net) and `block.reduce_first`.

A block's own widths change its convs only: shortcuts, SE and ECA stay as the stage's widths
make them (as in timm's pruned nets). So every width that no longer fits is a diagnostic: an
identity shortcut whose sides now differ, a group count that no longer divides, a block number
the stage lacks, a first conv left without channels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import resgen
from resgen.diagnostics import Diagnostic, ResgenError
from resgen.pipeline import check, load_file


def _errors(spec: dict[str, Any]) -> list[Diagnostic]:
    try:
        analysis = check(resgen.load_spec(spec))
    except ResgenError as exc:  # a spec pass refused it before lowering
        return [d for d in exc.diagnostics if d.is_error]
    return [d for d in analysis.diagnostics if d.is_error]


def _pruned(stage: int, blocks: dict[int, dict[str, int]], base: str = "resnet50") -> Any:
    return {"extends": base, "name": "pruned", "stages": {stage: {"blocks": blocks}}}


def test_widths_change_the_convs_and_the_class_takes_first_channels() -> None:
    spec = _pruned(2, {1: {"conv1": 40, "conv2": 24, "conv3": 500}, 2: {"conv3": 500},
                       3: {"conv3": 500}, 4: {"conv3": 500, "conv2": 100}})  # fmt: skip
    analysis = check(resgen.load_spec(spec))
    assert not [d for d in analysis.diagnostics if d.is_error]
    shapes = analysis.shapes
    assert shapes["layer2.0.conv1"] == (40, 56, 56) and shapes["layer2.0.conv2"] == (24, 28, 28)
    assert shapes["layer2.3.conv2"] == (100, 28, 28) and shapes["layer2.3.conv1"][0] == 128
    assert shapes["layer3.0.conv1"][0] == 256  # the next stage reads 500 channels
    source = resgen.compile_source(resgen.load_spec(spec))
    assert "Bottleneck(256, 40, 24, 500, stride=2, downsample=True)" in source
    model = resgen.build_model(spec)
    assert model.layer3[0].conv1.in_channels == 500


def test_an_output_width_that_breaks_an_identity_shortcut_is_an_error_at_the_block() -> None:
    spec = _pruned(1, {2: {"conv3": 200}})
    found = _errors(spec)
    assert [d.code for d in found] == ["shortcut-shape", "shortcut-shape"]  # blocks 2 and 3
    assert "give every block of the stage the same output width" in (found[0].hint or "")


def test_widths_that_groups_or_group_norms_cannot_split_are_errors() -> None:
    grouped = _pruned(1, {1: {"conv2": 100}}, base="resnext50_32x4d")
    assert [d.code for d in _errors(grouped)] == ["conv-groups"]
    group_norm = _pruned(1, {1: {"conv1": 40}}, base="resnet50_gn")
    assert [d.code for d in _errors(group_norm)] == ["norm-groups"]


def test_a_block_the_stage_lacks_is_an_error_at_its_number(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(
        "extends: resnet18\nname: net\nstages:\n  1:\n    blocks:\n      3: {conv1: 8}\n",
        encoding="utf-8",
    )
    with pytest.raises(ResgenError) as caught:
        load_file(path)
    (found,) = caught.value.diagnostics
    assert found.code == "no-such-block" and found.location.line == 6
    assert "stage 1 has 2 blocks, so it has no block 3" in found.message


def test_reduce_first_that_leaves_no_channels_is_an_error() -> None:
    spec: dict[str, Any] = {"extends": "resnet18", "name": "net", "block": {"reduce_first": 64}}
    assert _errors(spec) == []  # 64 // 64 leaves stage 1's first 3x3 one channel
    cifar = {"extends": "resnet20", "name": "net", "block": {"reduce_first": 32}}
    found = _errors(cifar)  # stage widths 16, 32, 64
    assert [d.code for d in found] == ["zero-width"]
    assert found[0].message.startswith("stage 1: block.reduce_first = 32 leaves the first conv")


def test_a_json_spec_numbers_its_blocks_in_text(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    data = {"extends": "resnet18", "name": "net", "stages": {"1": {"blocks": {"2": {"conv1": 8}}}}}
    path.write_text(json.dumps(data), encoding="utf-8")
    assert check(load_file(path)).shapes["layer1.1.conv1"][0] == 8
