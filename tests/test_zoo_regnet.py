"""Every RegNet of torchvision's builders and timm's regnet module, against resgen's graph.

The references are enumerated when the tests run, as tests/test_zoo.py does for the ResNets. Each
one's RegNet parameters (torchvision's `BlockParams.from_init_params` arguments, recorded as the
builder runs; timm's `model_cfgs`) become a spec through resgen.spec.regnet's quantisation, and
resgen's graph must have the reference's state_dict keys and shapes (its node ids are the keys),
its parameter count and its MACs (FlopCounterMode / 2) at 64 px and an odd size, all on the `meta`
device, where even regnet_y_128gf (644 M parameters) costs nothing.

torchvision's 15 and timm's 36 RegNets are built-in specs: the generated models load
the reference's weights strictly (random, with random norm statistics, filled as tests/test_zoo.py
does) and give bit-identical logits in eval and train mode at both sizes, with the static counts
equal to torch's. timm's extras (RegNetV: pre-activation blocks, a bare-conv stem, an average-pool
shortcut; RegNetZ: inverted bottlenecks, no shortcut where the shape changes, linear block outputs,
a 1x1 conv head) are spec keys too, mapped from timm's config in `_timm_extras`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
import torchvision.models
from timm.models import regnet as timm_regnet
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import regnet as tv_regnet

import resgen
from resgen.api import load_module
from resgen.checks import Analysis
from resgen.graph import ir
from resgen.pipeline import check, compile_spec
from resgen.resources import builtin_spec_path
from resgen.spec.load import load_spec_file
from tests import test_zoo
from tests.conftest import generated_module, run_resgen
from tests.reference import zoo

# timm's extras that wait for more than the code: (entrypoint, what the spec language lacks).
EXTRAS: dict[str, str] = {}


ENTRIES: list[tuple[str, str]] = list(zoo.regnet_entrypoints())
NOT_YET = {f"timm:{n}": why for n, why in EXTRAS.items()}
STANDARD = [e for e in ENTRIES if e[1] not in EXTRAS]
SHIPPED = [e for e in ENTRIES if f"{e[0]}:{e[1]}" not in NOT_YET]
# Logits of these take seconds each on a 2-core CPU; their keys and counts are checked on meta.
GIANTS = {"regnet_y_128gf", "regnet_y_32gf", "regnet_x_32gf", "regnet_y_16gf", "regnet_x_16gf",
          "regnety_2560", "regnety_1280", "regnety_640", "regnety_320", "regnetx_320",
          "regnety_160", "regnetx_160", "regnety_120", "regnetx_120"}  # fmt: skip
SIZES = (64, 33)


def test_every_regnet_is_enumerated_with_a_reason() -> None:
    """15 torchvision builders and timm's 36; each has a spec or waits for what NOT_YET says."""
    torchvision_names, timm_names = (
        zoo.torchvision_builders("regnet"),
        zoo.timm_entrypoints("regnet"),
    )
    assert len(torchvision_names) == 15 and len(timm_names) >= 36
    assert {"regnet_y_128gf", "regnet_x_400mf"} <= set(torchvision_names)
    assert set(EXTRAS) <= set(timm_names)
    names = {f"{s}:{n}" for s, n in ENTRIES}
    assert len(STANDARD) == len(ENTRIES) - len(EXTRAS)
    # Each entrypoint has a built-in spec or a reason, never both.
    assert {f"{s}:{n}" for s, n in SHIPPED} | set(NOT_YET) == names
    assert [
        n for s, n in ENTRIES if (builtin_spec_path(n) is not None) != ((s, n) in SHIPPED)
    ] == []


@contextlib.contextmanager
def _timm_stages_on_cpu() -> Iterator[None]:
    """timm computes its stages with torch ops that `meta` lacks (unique): run them on the CPU."""
    original = timm_regnet.RegNet._get_stage_args

    def on_cpu(*args: Any, **kwargs: Any) -> Any:
        with torch.device("cpu"):
            return original(*args, **kwargs)

    timm_regnet.RegNet._get_stage_args = on_cpu  # type: ignore[method-assign]
    try:
        yield
    finally:
        timm_regnet.RegNet._get_stage_args = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _recorded_params() -> Iterator[dict[str, Any]]:
    """Record the RegNet parameters a torchvision builder passes to BlockParams; its widths are
    computed on the CPU, so the model itself can be built on `meta`."""
    seen: dict[str, Any] = {}
    original = tv_regnet.BlockParams.from_init_params.__func__  # type: ignore[attr-defined]

    def recording(cls: type, **kwargs: Any) -> Any:
        seen.update(kwargs)
        with torch.device("cpu"):
            return original(cls, **kwargs)

    tv_regnet.BlockParams.from_init_params = classmethod(recording)  # type: ignore[assignment]
    try:
        yield seen
    finally:
        tv_regnet.BlockParams.from_init_params = classmethod(original)  # type: ignore[assignment]


def _reference(source: str, name: str) -> tuple[nn.Module, dict[str, Any]]:
    """The reference on `meta`, and its RegNet parameters as spec keys."""
    if source == "timm":
        cfg = timm_regnet.model_cfgs[name]
        with _timm_stages_on_cpu(), torch.device("meta"):
            model = timm.create_model(name, pretrained=False)
        rounding = "torchvision" if cfg.group_min_ratio else "timm"
        params = dict(w_0=cfg.w0, w_a=cfg.wa, w_m=cfg.wm, depth=cfg.depth,
                      group_width=cfg.group_size, bottleneck_ratio=cfg.bottle_ratio)  # fmt: skip
        spec = _spec(name, "timm", params, cfg.se_ratio, rounding, cfg.stem_width)
        if cfg.act_layer != "relu":
            spec["act"] = cfg.act_layer
        if cfg.norm_layer != "batchnorm":  # regnety_040_sgn: GroupNormAct by group size
            spec["norm"] = {"type": "group", "group_size": cfg.norm_layer.keywords["group_size"]}
        return model, {**spec, **_timm_extras(cfg, spec)}
    with _recorded_params() as seen, torch.device("meta"):
        model = torchvision.models.get_model(name, weights=None)
    params = dict(w_0=seen["w_0"], w_a=seen["w_a"], w_m=seen["w_m"], depth=seen["depth"],
                  group_width=seen["group_width"],
                  bottleneck_ratio=seen.get("bottleneck_multiplier", 1.0))  # fmt: skip
    return model, _spec(name, "torchvision", params, seen.get("se_ratio"), "torchvision", 32)


def _timm_extras(cfg: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """timm's RegNetV and RegNetZ switches as spec keys: pre-activation blocks (a bare-conv stem),
    the shortcut kind (`downsample`), linear block outputs, the head's 1x1 conv (num_features),
    and timm's final activation (`linear_out or preact` without num_features)."""
    extras: dict[str, Any] = {}
    block = spec["block"]
    if cfg.preact:
        block = {**block, "preact": True}
        extras["stem"] = {**spec["stem"], "norm": False}
    if cfg.linear_out:
        block = {**block, "linear_out": True}
    extras["block"] = block
    shortcuts = {"conv1x1": "projection", "avg": "avgpool_projection", None: "identity_or_none"}
    extras["shortcut"] = shortcuts[cfg.downsample]
    head: dict[str, Any] = {}
    if cfg.num_features:
        head["features"] = cfg.num_features
    elif cfg.linear_out or cfg.preact:
        head["final"] = "act"
    if head:
        extras["head"] = head
    return extras


def _spec(
    name: str, layout: str, params: dict[str, Any], se_ratio: float | None, rounding: str,
    stem_width: int,
) -> dict[str, Any]:  # fmt: skip
    block: dict[str, Any] = {"type": "regnet"}
    if se_ratio:
        block["attention"] = {"type": "se", "ratio": se_ratio}
    return {
        "name": name,
        "layout": layout,
        "stem": {"type": "simple", "width": stem_width},
        "block": block,
        "regnet": {**params, "group_rounding": rounding},  # the parameter form
    }


def _state_shapes(graph: ir.Graph) -> dict[str, tuple[int, ...]]:
    """The state_dict a module written from the graph holds: key -> shape."""
    out: dict[str, tuple[int, ...]] = {}
    for node in graph:
        op = ir.op(graph, node)
        if isinstance(op, ir.Conv):
            k = op.kernel
            out[f"{node}.weight"] = (op.out_channels, op.in_channels // op.groups, k, k)
            if op.bias:
                out[f"{node}.bias"] = (op.out_channels,)
        elif isinstance(op, ir.Norm) and op.norm == "group":
            out[f"{node}.weight"] = out[f"{node}.bias"] = (op.channels,)
        elif isinstance(op, ir.Norm):
            for key in ("weight", "bias", "running_mean", "running_var"):
                out[f"{node}.{key}"] = (op.channels,)
            out[f"{node}.num_batches_tracked"] = ()
        elif isinstance(op, ir.Linear):
            out[f"{node}.weight"] = (op.out_features, op.in_features)
            out[f"{node}.bias"] = (op.out_features,)
    return out


def _id(entry: tuple[str, str]) -> str:
    return f"{entry[0]}-{entry[1]}"


@pytest.mark.parametrize("entry", STANDARD, ids=_id)
def test_graph_equals_the_reference(entry: tuple[str, str]) -> None:
    """Keys and shapes, params, and MACs and output shape at 64 px and an odd size, on meta."""
    model, spec = _reference(*entry)
    reference = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for size in SIZES:
        analysis = check(resgen.load_spec({**spec, "input": {"size": size}}))
        assert not [d for d in analysis.diagnostics if d.severity.value == "error"]
        assert _state_shapes(analysis.graph) == reference
        assert sum(p.numel() for p in model.parameters()) == analysis.total_params
        x = torch.empty(1, 3, size, size, device="meta")
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            logits = model.eval()(x)
        assert counter.get_total_flops() == 2 * analysis.total_macs
        assert tuple(logits.shape[1:]) == analysis.output_shape


def _ours(name: str) -> nn.Module:
    spec = load_spec_file(builtin_spec_path(name)).spec  # type: ignore[arg-type]
    return getattr(generated_module(name), spec.model_class)()  # type: ignore[no-any-return]


def _build(source: str, name: str, device: str) -> tuple[nn.Module, nn.Module]:
    """The reference and the generated model, uninitialised: same keys, order and shapes."""
    with test_zoo._no_init(), _recorded_params(), _timm_stages_on_cpu(), torch.device(device):
        if source == "timm":
            reference = timm.create_model(name, pretrained=False)
        else:
            reference = torchvision.models.get_model(name, weights=None)
        ours = _ours(name)
    ref_sd, our_sd = reference.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd), "state_dict keys (and their order) differ"
    assert {k: v.shape for k, v in our_sd.items()} == {k: v.shape for k, v in ref_sd.items()}
    return reference, ours


def _check_counts(model: nn.Module, x: torch.Tensor, analysis: Analysis) -> torch.Tensor:
    """torch's params, MACs and stage shapes on the generated model equal the analysis'."""
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    stages = {s.name: analysis.shapes[s.output] for s in analysis.graph.graph["stages"]}
    seen: dict[str, tuple[int, ...]] = {}
    hooks = [
        model.get_submodule(stage).register_forward_hook(
            lambda _m, _i, out, stage=stage: seen.__setitem__(stage, tuple(out.shape[1:]))
        )
        for stage in stages
    ]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        logits = model(x)
    for hook in hooks:
        hook.remove()
    assert counter.get_total_flops() == 2 * len(x) * analysis.total_macs
    assert seen == stages and tuple(logits.shape[1:]) == analysis.output_shape
    return logits  # type: ignore[no-any-return]


def _analysis(name: str, size: int) -> Analysis:
    return check(resgen.load_spec({"extends": name, "input": {"size": size}}))


@pytest.mark.parametrize("entry", [e for e in SHIPPED if e[1] in GIANTS], ids=_id)
def test_giants_keys_and_counts_on_meta(entry: tuple[str, str]) -> None:
    _, ours = _build(*entry, "meta")
    x = torch.empty(1, 3, 33, 33, device="meta")
    _check_counts(ours.eval(), x, _analysis(entry[1], 33))


@pytest.mark.parametrize(
    "entry",
    [pytest.param(e, id=_id(e), marks=[pytest.mark.slow] if e[1] in GIANTS else [])
     for e in SHIPPED],
)  # fmt: skip
def test_generated_matches_reference(entry: tuple[str, str]) -> None:
    """Strict load, static counts and bit-identical logits in eval and train mode (a giant's
    at 64 px only; test_giants_keys_and_counts_on_meta counts it at the odd size)."""
    name = entry[1]
    reference, ours = _build(*entry, "cpu")
    state = reference.state_dict()
    test_zoo._fill(state)
    ours.load_state_dict(state, strict=True, assign=True)
    gen = torch.Generator().manual_seed(1)
    sizes = SIZES[:1] if name in GIANTS else SIZES
    inputs = {size: torch.randn(2, 3, size, size, generator=gen) for size in sizes}
    for train in (False, True):  # eval first, while the running statistics are the random ones
        reference.train(train)
        ours.train(train)
        for size, x in inputs.items():
            with torch.no_grad():
                expected = reference(x)
                got = ours(x) if train else _check_counts(ours, x, _analysis(name, size))
            assert torch.isfinite(expected).all() and expected.abs().max() > 0.1
            assert torch.equal(got, expected), f"train={train} {size}px"


def test_build_refuses_regnet_blocks_beside_resnet_blocks() -> None:
    """A net that mixes the two kinds has no code generation yet: `build` says so."""
    _, spec = _reference("timm", "regnetx_002")
    spec = {**spec, "stages": [{"depth": 1, "width": 64, "block": "basic"},
                               {"depth": 1, "width": 64, "stride": 2}]}  # fmt: skip
    del spec["regnet"]
    with pytest.raises(resgen.ResgenError) as raised:
        compile_spec(resgen.load_spec(spec))
    assert [d.code for d in raised.value.diagnostics] == ["not-generated"]


@pytest.mark.parametrize(
    ("change", "codes"),
    [
        ({"block": {"type": "regnet", "preact": True}}, ["regnet-unsupported"]),
        ({"anti_alias": "avg"}, ["regnet-unsupported"]),
        ({"shortcut": "avgpool_projection"}, ["regnet-unsupported"]),
        ({"block": {"type": "regnet", "attention": {"type": "eca"}}}, ["regnet-unsupported"]),
        ({"block": {"type": "regnet", "group_width": 96}}, ["conv-groups"]),
        ({"block": {"type": "regnet", "bottleneck_ratio": 0.001}}, ["zero-width"]),
    ],
)
def test_what_regnet_blocks_refuse(change: dict[str, Any], codes: list[str]) -> None:
    """A ResNet switch with no RegNet counterpart is an error at its key, never ignored."""
    spec = {"name": "net", "stem": {"type": "simple"}, "block": {"type": "regnet"},
            "stages": [{"depth": 2, "width": 64, "stride": 2}], **change}  # fmt: skip
    with pytest.raises(resgen.ResgenError) as raised:
        check(resgen.load_spec(spec))
    assert [d.code for d in raised.value.diagnostics] == codes


def test_a_spec_gives_regnet_or_stages_not_both() -> None:
    _, spec = _reference("torchvision", "regnet_x_400mf")
    with pytest.raises(resgen.ResgenError) as raised:
        resgen.load_spec({**spec, "stages": [{"depth": 1, "width": 64}]})
    assert [d.code for d in raised.value.diagnostics] == ["regnet-and-stages"]


def test_resolve_prints_the_generated_stages(tmp_path: Path) -> None:
    """`resgen resolve` turns the parameters into the stages, a spec that loads as it is."""
    result = run_resgen("resolve", "regnet_y_400mf")
    assert result.returncode == 0 and "regnet:" not in result.stdout
    assert "- {depth: 6, width: 440, stride: 2, group_width: 8}" in result.stdout
    resolved = tmp_path / "resolved.yaml"
    resolved.write_text(result.stdout, encoding="utf-8")
    again = check(resgen.load_spec(resolved))
    assert again.total_params == check(resgen.load_spec("regnet_y_400mf")).total_params


def test_draw_labels_stages_in_regnet_terms() -> None:
    """Stage boxes say depth, width and group width: `4 x regnet`, `width 40, group width 4`."""
    result = run_resgen("draw", "regnetz_005", "--detail", "stage", "-f", "dot", "-o", "-")
    assert result.returncode == 0, result.stderr
    resolved = check(resgen.load_spec("regnetz_005")).graph.graph["stages"]
    for stage in resolved:
        block = stage.blocks[-1]
        line = f"width {block.out_channels}, group width {block.mid_channels // block.groups}"
        assert f"{len(stage.blocks)} \u00d7 regnet<br/>{line}" in result.stdout


@pytest.mark.parametrize("name", ["regnetx_002", "regnetv_040", "regnetz_005"])
def test_drop_path_is_timms(name: str) -> None:
    """`drop_path` gives timm's drop_path_rate: the same linear rates, each block dropping its
    branch where it adds one (RegNetZ's blocks without a shortcut drop nothing), the same
    random draws in training."""
    reference = timm.create_model(name, pretrained=False, drop_path_rate=0.1)
    loaded = resgen.load_spec({"extends": name, "name": f"{name}_dp", "drop_path": 0.1})
    module = load_module(resgen.compile_source(loaded), f"{name}_dp")
    ours = getattr(module, loaded.spec.model_class)()
    ours.load_state_dict(reference.state_dict(), strict=True)
    theirs = [m.drop_prob for m in reference.modules() if type(m).__name__ == "DropPath"]
    mine = [m.rate for m in ours.modules() if type(m).__name__ == "DropPath"]
    assert mine[0] == 0.0 and mine[1:] == pytest.approx(theirs)  # timm skips rate 0
    x = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), reference.eval()(x))  # no dropping at inference
        torch.manual_seed(1)
        expected = reference.train()(x)
        torch.manual_seed(1)
        got = ours.train()(x)
    # The same samples dropped; timm scales by 1 / keep in another order (float rounding only).
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layout", ["torchvision", "timm"])
def test_groups_that_do_not_divide_the_inner_width_are_an_error(layout: str) -> None:
    """50 channels in groups of 16 make 3 groups, which do not divide 50: an error at the
    stage's width (it was an internal error naming the block), in both layouts."""
    spec = {"name": "net", "layout": layout, "stem": {"type": "simple"},
            "block": {"type": "regnet"},
            "stages": [{"depth": 1, "width": 50, "stride": 2, "group_width": 16}]}  # fmt: skip
    with pytest.raises(resgen.ResgenError) as raised:
        check(resgen.load_spec(spec))
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.code == "conv-groups" and "makes 3 groups" in diagnostic.message
    ok = {**spec, "stages": [{"depth": 1, "width": 48, "stride": 2, "group_width": 32}]}
    assert not [d for d in check(resgen.load_spec(ok)).diagnostics if d.is_error]  # 1 group


@pytest.mark.parametrize("name", ["regnetx_002", "regnet_x_400mf", "regnetv_040"])
def test_frozen_batch_norm_regnets_define_their_norm(name: str) -> None:
    """The generated file defines every helper its RegNet blocks call (FrozenBatchNorm2d was
    called and never defined); the model runs and counts as the graph does."""
    frozen = {"name": f"{name}_fb", "norm": {"type": "frozen_batch"}, "input": {"size": 64}}
    loaded = resgen.load_spec({"extends": name, **frozen})
    module = load_module(resgen.compile_source(loaded), f"{name}_fb")
    model = getattr(module, loaded.spec.model_class)().eval()
    analysis = check(loaded)
    with torch.no_grad():
        _check_counts(model, torch.randn(1, 3, 64, 64), analysis)
