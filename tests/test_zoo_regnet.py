"""Every RegNet of torchvision's builders and timm's regnet module, against resgen's graph.

The references are enumerated when the tests run, as tests/test_zoo.py does for the ResNets. Each
one's RegNet parameters (torchvision's `BlockParams.from_init_params` arguments, recorded as the
builder runs; timm's `model_cfgs`) become a spec through resgen.spec.regnet's quantisation, and
resgen's graph must have the reference's state_dict keys and shapes (its node ids are the keys),
its parameter count and its MACs (FlopCounterMode / 2) at 64 px and an odd size, all on the `meta`
device, where even regnet_y_128gf (644 M parameters) costs nothing.

No RegNet is a built-in spec yet: resgen checks, counts and draws regnet blocks but cannot write
their code (`build` says `not-generated`), so NOT_YET gives every entrypoint its reason. The
logits test of tests/test_zoo.py joins when the code generation does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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
from resgen.graph import ir
from resgen.pipeline import check, compile_spec
from resgen.spec.regnet import regnet_stages

GENERATION = "regnet blocks have no code generation yet (resgen build: not-generated)"
# timm's extras wait for more than the code: (entrypoint, what the spec language lacks).
EXTRAS = {
    "regnety_040_sgn": "GroupNorm by group size 16 (norm.groups is a count) and SiLU in SE",
    "regnetv_040": "pre-activation regnet blocks (regnetv: bare-conv stem, final act)",
    "regnetv_064": "pre-activation regnet blocks and an avg-pool downsample",
    "regnetz_005": "inverted bottleneck x4, no shortcut on first blocks, linear out, 1x1 head",
    "regnetz_040": "inverted bottleneck x4, no shortcut on first blocks, linear out",
    "regnetz_040_h": "inverted bottleneck x4, no shortcut on first blocks, linear out, 1x1 head",
}


def torchvision_regnets() -> list[str]:
    models = torchvision.models
    return sorted(
        n
        for n in models.list_models(module=models)
        if models.get_model_builder(n).__module__ == tv_regnet.__name__
    )


def timm_regnets() -> list[str]:
    return sorted(timm.list_models(module="regnet"))


ENTRIES = [("torchvision", n) for n in torchvision_regnets()] + [
    ("timm", n) for n in timm_regnets()
]
NOT_YET = {f"{s}:{n}": EXTRAS.get(n, GENERATION) for s, n in ENTRIES}
STANDARD = [e for e in ENTRIES if e[1] not in EXTRAS]
SIZES = (64, 33)


def test_every_regnet_is_enumerated_with_a_reason() -> None:
    """15 torchvision builders and timm's 36; each waits for what NOT_YET says."""
    assert len(torchvision_regnets()) == 15 and len(timm_regnets()) >= 36
    assert {"regnet_y_128gf", "regnet_x_400mf"} <= set(torchvision_regnets())
    assert set(EXTRAS) <= set(timm_regnets())
    names = {f"{s}:{n}" for s, n in ENTRIES}
    assert set(NOT_YET) == names and len(STANDARD) == len(ENTRIES) - len(EXTRAS)


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
        return model, _spec(name, "timm", params, cfg.se_ratio, rounding, cfg.stem_width)
    with _recorded_params() as seen, torch.device("meta"):
        model = torchvision.models.get_model(name, weights=None)
    params = dict(w_0=seen["w_0"], w_a=seen["w_a"], w_m=seen["w_m"], depth=seen["depth"],
                  group_width=seen["group_width"],
                  bottleneck_ratio=seen.get("bottleneck_multiplier", 1.0))  # fmt: skip
    return model, _spec(name, "torchvision", params, seen.get("se_ratio"), "torchvision", 32)


def _spec(
    name: str, layout: str, params: dict[str, Any], se_ratio: float | None, rounding: str,
    stem_width: int,
) -> dict[str, Any]:  # fmt: skip
    stages = regnet_stages(**params, group_rounding=rounding)  # type: ignore[arg-type]
    block: dict[str, Any] = {"type": "regnet", "bottleneck_ratio": params["bottleneck_ratio"]}
    if se_ratio:
        block["attention"] = {"type": "se", "ratio": se_ratio}
    return {
        "name": name,
        "layout": layout,
        "stem": {"type": "simple", "width": stem_width},
        "block": block,
        "stages": [
            {"depth": s.depth, "width": s.width, "stride": 2, "group_width": s.group_width}
            for s in stages
        ],
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


def test_build_refuses_regnet_blocks_with_a_diagnostic() -> None:
    """Until the code generation exists, `build` says so at the first regnet stage."""
    _, spec = _reference("torchvision", "regnet_x_400mf")
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
