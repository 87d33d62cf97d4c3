"""Keys that change nothing: every spec field declares when it counts, and `inert-key` says so.

Each case is a key written where it is inert (one warning, at the key) and the same key written
where it counts (no warning).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from resgen.diagnostics import Diagnostic
from resgen.pipeline import check, load_file
from resgen.spec.inert import effect_of, models_of
from resgen.spec.model import Spec
from tests.conftest import SPECS, run_resgen

SHIPPED = sorted(p for p in SPECS.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
_STAGES = "stages:\n  - {depth: 2, width: 64}\n  - {depth: 2, width: 128, stride: 2}\n"


def _spec(*lines: str, block: str = "{type: basic}", stages: str = _STAGES) -> str:
    return "\n".join(["name: net", *lines, f"block: {block}", stages])


def _bottleneck_stages(last: str) -> str:
    return f"stages:\n  - {{depth: 2, width: 64}}\n  - {last}\n"


# id -> (the spec where the key is inert, the key as written, the spec where it counts)
CASES: dict[str, tuple[str, str, str]] = {
    "stem.width on a deep stem": (
        _spec("stem: {type: deep, width: 48}"),
        "width",
        _spec("stem: {type: conv7, width: 48}"),
    ),
    "stem.widths on a conv7 stem": (
        _spec("stem: {widths: [16, 16, 32]}"),
        "widths",
        _spec("stem: {type: deep, widths: [16, 16, 32]}"),
    ),
    "block.base_width on basic blocks": (
        _spec(block="{type: basic, base_width: 128}"),
        "base_width",
        _spec(
            block="{type: basic, base_width: 128}",
            stages="stages:\n  - {depth: 2, width: 64, block: bottleneck}\n",
        ),
    ),
    "block.scale on bottleneck blocks": (
        _spec(block="{type: bottleneck, scale: 6}"),
        "scale",
        _spec(block="{type: res2net, base_width: 26, scale: 6}"),
    ),
    "block.selective_kernel on basic blocks": (
        _spec(block="{type: basic, selective_kernel: {reduction: 8}}"),
        "selective_kernel",
        _spec(block="{type: sk_basic, selective_kernel: {reduction: 8}}"),
    ),
    "block.split_attention on bottleneck blocks": (
        _spec(block="{type: bottleneck, split_attention: {radix: 4}}"),
        "split_attention",
        _spec(block="{type: resnest, split_attention: {radix: 4}}"),
    ),
    "block.stride_on on basic blocks": (
        _spec(block="{type: basic, stride_on: 1x1}"),
        "stride_on",
        _spec(block="{type: bottleneck, stride_on: 1x1}"),
    ),
    "block.stride_on with no strided bottleneck": (
        _spec(
            block="{type: bottleneck, stride_on: 1x1}",
            stages="stages:\n  - {depth: 2, width: 64}\n",
        ),
        "stride_on",
        _spec(block="{type: bottleneck, stride_on: 1x1}"),
    ),
    "block.expansion when every stage overrides the type": (
        _spec(
            block="{type: basic, expansion: 2}",
            stages="stages:\n  - {depth: 2, width: 64, block: bottleneck}\n",
        ),
        "expansion",
        _spec(block="{type: basic, expansion: 2}"),
    ),
    "block.groups when every stage sets groups": (
        _spec(
            block="{type: basic, groups: 2}",
            stages="stages:\n  - {depth: 2, width: 64, groups: 4}\n",
        ),
        "groups",
        _spec(block="{type: basic, groups: 2}"),
    ),
    "attention.reduction on eca": (
        _spec(block="{type: basic, attention: {type: eca, reduction: 8}}"),
        "reduction",
        _spec(block="{type: basic, attention: {type: se, reduction: 8}}"),
    ),
    "attention.divisor on eca": (
        _spec(block="{type: basic, attention: {type: eca, divisor: 4}}"),
        "divisor",
        _spec(block="{type: basic, attention: {type: se, divisor: 4}}"),
    ),
    "norm.groups with batch norm": (
        _spec("norm: {type: batch, groups: 16}"),
        "groups",
        _spec("norm: {type: group, groups: 16}"),
    ),
    "norm.groups with the default norm": (
        _spec("norm: {groups: 16}"),
        "groups",
        _spec("norm: {type: group, groups: 16}"),
    ),
    "block.linear_out on pre-activation blocks": (
        _spec(block="{type: basic, preact: true, linear_out: true}"),
        "linear_out",
        _spec(block="{type: basic, linear_out: true}"),
    ),
    "conv.eps without standardised convs": (
        _spec("conv: {eps: 1.0e-8}"),
        "eps",
        _spec("conv: {standardize: true, eps: 1.0e-8}"),
    ),
    "norm.eps without a norm": (
        _spec("norm: {type: none, eps: 0.001}"),
        "eps",
        _spec("norm: {eps: 0.001}"),
    ),
    "dilation of a last one-bottleneck stage": (
        _spec(
            block="{type: bottleneck}",
            stages=_bottleneck_stages("{depth: 1, width: 128, dilation: 2}"),
        ),
        "dilation",
        _spec(
            block="{type: bottleneck}",
            stages=_bottleneck_stages("{depth: 2, width: 128, dilation: 2}"),
        ),
    ),
    "dilation of a one-basic-block stage reaches its conv2": (
        _spec(
            block="{type: bottleneck}",
            stages=_bottleneck_stages("{depth: 1, width: 128, dilation: 2}"),
        ),
        "dilation",
        _spec(stages=_bottleneck_stages("{depth: 1, width: 128, dilation: 2}")),
    ),
    "dilation of a one-block stage that a later stage inherits": (
        _spec(
            block="{type: bottleneck}",
            stages=_bottleneck_stages("{depth: 1, width: 128, dilation: 2}"),
        ),
        "dilation",
        _spec(
            block="{type: bottleneck}",
            stages=_bottleneck_stages("{depth: 1, width: 128, dilation: 2}")
            + "  - {depth: 1, width: 256}\n",
        ),
    ),
    "shortcut when every stage sets its own": (
        _spec("shortcut: pad", stages="stages:\n  - {depth: 2, width: 64, shortcut: identity}\n"),
        "shortcut",
        _spec("shortcut: pad"),
    ),
    "checkpoint when every stage sets its own": (
        _spec(
            "checkpoint: blocks", stages="stages:\n  - {depth: 2, width: 64, checkpoint: true}\n"
        ),
        "checkpoint",
        _spec("checkpoint: blocks"),
    ),
    "anti_alias where nothing downsamples": (
        _spec(
            "anti_alias: blur",
            "stem: {pool: none}",
            stages=_bottleneck_stages("{depth: 1, width: 64}"),
        ),
        "anti_alias",
        _spec("anti_alias: blur", "stem: {pool: none}"),
    ),
    "shortcut_kernel with ResNet-D shortcuts": (
        _spec("shortcut_kernel: 3", "shortcut: avgpool_projection"),
        "shortcut_kernel",
        _spec("shortcut_kernel: 3"),
    ),
    "conv3 of a basic block": (
        _spec(stages="stages:\n  - {depth: 2, width: 64, blocks: {2: {conv3: 64}}}\n"),
        "conv3",
        _spec(
            block="{type: bottleneck}",
            stages="stages:\n  - {depth: 2, width: 64, blocks: {2: {conv3: 256}}}\n",
        ),
    ),
    "norm.group_size with batch norm": (
        _spec("norm: {type: batch, group_size: 16}"),
        "group_size",
        _spec("norm: {type: group, group_size: 16}"),
    ),
    "layout without regnet blocks": (
        _spec("layout: timm"),
        "layout",
        _spec("layout: timm", block="{type: regnet}"),
    ),
    "block.group_width on basic blocks": (
        _spec(block="{type: basic, group_width: 8}"),
        "group_width",
        _spec(block="{type: regnet, group_width: 8}"),
    ),
    "block.bottleneck_ratio on basic blocks": (
        _spec(block="{type: basic, bottleneck_ratio: 0.5}"),
        "bottleneck_ratio",
        _spec(block="{type: regnet, bottleneck_ratio: 0.5}"),
    ),
    "a stage's group_width on basic blocks": (
        _spec(stages="stages:\n  - {depth: 2, width: 64, group_width: 8}\n"),
        "group_width",
        _spec(
            block="{type: regnet}", stages="stages:\n  - {depth: 2, width: 64, group_width: 8}\n"
        ),
    ),
    "a stage's groups on regnet blocks": (
        _spec(block="{type: regnet}", stages="stages:\n  - {depth: 2, width: 64, groups: 2}\n"),
        "groups",
        _spec(stages="stages:\n  - {depth: 2, width: 64, groups: 2}\n"),
    ),
    "attention.ratio on eca": (
        _spec(block="{type: basic, attention: {type: eca, ratio: 0.25}}"),
        "ratio",
        _spec(block="{type: basic, attention: {type: se, ratio: 0.25}}"),
    ),
    "output_stride at or above the network's stride": (
        _spec("output_stride: 32"),
        "output_stride",
        _spec("output_stride: 8", stages=_STAGES + "  - {depth: 2, width: 256, stride: 2}\n"),
    ),
}


def _inert(path: Path) -> list[Diagnostic]:
    return [d for d in check(load_file(path)).diagnostics if d.code == "inert-key"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_field_of_every_model_declares_its_effect() -> None:
    models = models_of(Spec)
    assert {m.__name__ for m in models} >= {"Spec", "StemSpec", "BlockSpec", "StageSpec"}
    missing = [
        f"{m.__name__}.{name}"
        for m in models
        for name in m.model_fields
        if effect_of(m, name) is None
    ]
    assert not missing, f"declare json_schema_extra=ALWAYS or when(...) for: {missing}"


@pytest.mark.parametrize("model", models_of(Spec), ids=lambda m: m.__name__)
def test_every_condition_says_when_and_what_to_do(model: type[BaseModel]) -> None:
    for name in model.model_fields:
        effect = effect_of(model, name)
        assert effect is not None
        if effect.counts is not None:
            assert effect.said and effect.hint, f"{model.__name__}.{name}"
        if effect.sibling is not None:
            key, values = effect.sibling
            assert key in model.model_fields and values, f"{model.__name__}.{name}"


def test_the_cases_cover_every_conditional_field() -> None:
    conditional = {
        name
        for m in models_of(Spec)
        for name in m.model_fields
        if (effect := effect_of(m, name)) is not None and effect.counts is not None
    }
    assert conditional <= {key for _, key, _ in CASES.values()}


@pytest.mark.parametrize(("inert", "key", "counts"), CASES.values(), ids=CASES.keys())
def test_a_key_warns_where_it_is_inert(tmp_path: Path, inert: str, key: str, counts: str) -> None:
    path = _write(tmp_path, inert)
    found = _inert(path)
    assert len(found) == 1, found
    (diagnostic,) = found
    assert f"`{key}`" in diagnostic.message and diagnostic.hint
    # At the key itself: file, line and column (both 1-based).
    line_no, line = next((i, t) for i, t in enumerate(inert.splitlines(), 1) if f"{key}:" in t)
    assert diagnostic.location is not None
    assert (diagnostic.location.file, diagnostic.location.line) == (str(path), line_no)
    assert diagnostic.location.column == line.index(f"{key}:") + 1


@pytest.mark.parametrize(("inert", "key", "counts"), CASES.values(), ids=CASES.keys())
def test_a_key_is_silent_where_it_counts(tmp_path: Path, inert: str, key: str, counts: str) -> None:
    assert _inert(_write(tmp_path, counts)) == []


def test_defaults_never_warn(tmp_path: Path) -> None:
    # `norm: none` makes `eps` inert, but the user did not write it.
    assert _inert(_write(tmp_path, _spec("norm: {type: none}", "stem: {type: deep}"))) == []


def test_a_patch_answers_for_its_own_keys(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(_spec("norm: {groups: 16}"), encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nname: child\nstem: {type: deep, width: 48}\n")
    found = _inert(child)
    assert [(d.location and d.location.file, d.message) for d in found] == [
        (
            str(child),
            "`stem.width` changes nothing: `width` is used by conv7, cifar and simple stems",
        )
    ]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_specs_have_no_inert_key(path: Path) -> None:
    assert _inert(path) == []


def test_check_reports_the_key_and_exits_0(tmp_path: Path) -> None:
    path = _write(tmp_path, _spec("stem: {type: deep, width: 48}"))
    result = run_resgen("check", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert f"{path}:2:20: warning[inert-key]: `stem.width` changes nothing" in out
    assert "hint: a deep stem takes `widths: [32, 32, 64]`" in out


def test_check_strict_turns_warnings_into_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, _spec("stem: {type: deep, width: 48}"))
    result = run_resgen("check", "--strict", str(path))
    assert result.returncode == 1
    assert f"{path}:2:20: error[inert-key]" in result.stdout + result.stderr
    clean = run_resgen("check", "--strict", str(SPECS / "resnet18.yaml"))
    assert clean.returncode == 0, clean.stderr
