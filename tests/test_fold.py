"""The deploy build is a graph pass: the folded graph is the deploy module, counted statically.

The deploy module's parameters, buffers-as-Affine, MACs (torch's FlopCounterMode) and stage
shapes must equal what the graph passes find on `fold(graph)`, and the pass itself must keep its
promises: no training-only node left, every batch norm folded or made affine, node ids kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import resgen
from resgen.api import load_module
from resgen.codegen.deploy import folded_analysis, render_deploy_source
from resgen.graph import ir
from resgen.graph.fold import fold, plan_norms
from resgen.pipeline import check
from resgen.spec.load import LoadedSpec
from tests.conftest import SPECS

SHIPPED = sorted(p.stem for p in SPECS.glob("*.yaml"))
# Language features the shipped specs do not use, each folded a different way.
EXTRA = {
    "x_drop_frozen": {
        "name": "x_drop_frozen", "input": {"size": 32}, "stem": {"width": 8},
        "norm": {"type": "frozen_batch"}, "drop_path": 0.2, "head": {"dropout": 0.3},
        "block": {"type": "basic"}, "stages": [{"depth": 2, "width": 8}, {"depth": 1, "width": 16,
                                                                          "stride": 2}],
    },
    "x_preact_eca_plain": {
        "name": "x_preact_eca_plain", "input": {"size": 32}, "stem": {"type": "cifar", "width": 8},
        "block": {"type": "bottleneck", "preact": True, "attention": {"type": "eca"}},
        "stages": [{"depth": 2, "width": 4}, {"depth": 2, "width": 8, "stride": 2,
                                               "shortcut": "none"}],
    },
    "x_silu_deep_gn": {
        "name": "x_silu_deep_gn", "input": {"size": 32}, "act": "silu",
        "norm": {"type": "group", "groups": 4}, "stem": {"type": "deep", "widths": [8, 8, 16]},
        "block": {"type": "bottleneck"}, "stages": [{"depth": 2, "width": 8}],
    },
}  # fmt: skip


def _loaded(name: str, size: int | None = None) -> LoadedSpec:
    """A spec; big shipped nets at `size` x `size` so that torch measures them quickly."""
    if name in EXTRA:
        return resgen.load_spec(EXTRA[name])
    if size is None:
        return resgen.load_spec(SPECS / f"{name}.yaml")
    return resgen.load_spec({"extends": name, "input": {"size": size}})


def _deploy(loaded: LoadedSpec) -> torch.nn.Module:
    """The deploy module on `meta`: its structure and its counts, with no memory or init to pay."""
    source = render_deploy_source(loaded, check(loaded))
    module = load_module(source, f"{loaded.spec.name}_deploy")
    with torch.device("meta"):
        model: torch.nn.Module = getattr(module, f"{loaded.spec.model_class}Deploy")(
            channels_last=False
        )
    return model.eval()


@pytest.mark.parametrize("name", SHIPPED + sorted(EXTRA))
def test_deploy_module_is_the_folded_graph(name: str) -> None:
    """Parameters, buffers and state_dict keys of the deploy module, from the folded graph."""
    loaded = _loaded(name)
    folded = folded_analysis(check(loaded))
    model = _deploy(loaded)
    assert sum(p.numel() for p in model.parameters()) == folded.total_params
    affines = [n for n, d in ir.nodes(folded.graph) if isinstance(d.op, ir.Affine)]
    assert {f"{n}.scale" for n in affines} | {f"{n}.shift" for n in affines} == {
        key for key, _ in model.named_buffers() if key.endswith((".scale", ".shift"))
    }
    # Every parameter is a node's: node ids are the deploy module's paths too.
    owners = {key.rsplit(".", 1)[0] for key, _ in model.named_parameters()}
    nodes = {n.split("#")[0] for n in folded.graph}
    assert owners <= nodes, owners - nodes
    # The docstring's table is the folded graph's.
    source = render_deploy_source(loaded, check(loaded))
    assert f"{folded.total_params:,} parameters, {folded.total_macs:,} multiply-adds" in source


@pytest.mark.parametrize("name", SHIPPED + sorted(EXTRA))
def test_folded_macs_and_shapes_equal_torch(name: str) -> None:
    loaded = _loaded(name, size=64)
    folded = folded_analysis(check(loaded))
    model = _deploy(loaded)
    c, h, w = folded.graph.graph["input_shape"]
    x = torch.empty(1, c, h, w, device="meta")  # shapes and FLOPs need no values
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        stages = model.forward_stages(x)
    # forward_stages stops at the last stage: the head's nodes (a 1x1 conv before the pool, the
    # classifier, linear or a 1x1 conv) do not run.
    head = sum(m for n, m in folded.macs.items() if ir.node(folded.graph, n).stage == "head")
    assert counter.get_total_flops() // 2 == folded.total_macs - head
    for stage, out in zip(ir.stages_of(folded.graph), stages, strict=True):
        assert tuple(out.shape[1:]) == folded.shapes[stage.output], stage.name


@pytest.mark.parametrize("name", SHIPPED + sorted(EXTRA))
def test_fold_keeps_its_promises(name: str) -> None:
    graph = check(_loaded(name)).graph
    folded = fold(graph)
    plans = plan_norms(graph)
    kinds = {d.kind for _, d in ir.nodes(folded)}
    assert ir.DROP not in kinds
    assert set(folded) <= set(graph)  # ids kept: nodes are only removed or rewritten
    for node, data in ir.nodes(folded):
        if isinstance(data.op, ir.Norm):
            # Norms that depend on their input's statistics stay: group norm, EvoNorm, FRN.
            assert data.op.norm in {"group", *ir.ACTIVATING_NORMS}
            assert plans[node].action == "keep"
        if isinstance(data.op, ir.Affine):
            assert plans[node].action == "affine"
    for norm, conv in folded.graph["folds"].items():
        assert norm not in folded and plans[norm].into == conv
        op = ir.op(folded, conv)
        assert isinstance(op, ir.Conv) and op.bias
    for stage in ir.stages_of(folded):
        for block in stage.blocks:
            assert block.input in folded and block.output in folded and block.drop_path == 0


@pytest.mark.parametrize("name", SHIPPED + sorted(EXTRA))
def test_fused_convs_are_followed_by_what_they_fuse(name: str) -> None:
    """A conv marked `relu` feeds only a ReLU; `add_relu` feeds an add that only a ReLU reads."""
    folded = fold(check(_loaded(name)).graph)
    fused = 0
    for node, data in ir.nodes(folded):
        if not (isinstance(data.op, ir.Conv) and data.op.fused):
            continue
        fused += 1
        (after,) = folded.successors(node)
        if data.op.fused == "relu":
            assert ir.op(folded, after) == ir.Act("relu")
        else:
            assert isinstance(ir.op(folded, after), ir.Add)
            (final,) = folded.successors(after)
            assert ir.op(folded, final) == ir.Act("relu")
    spec = _loaded(name).spec
    if spec.act != "relu" or spec.norm.type == "group":
        assert fused == 0  # only a ReLU fuses, and a kept group norm sits in between
    elif spec.block.type == "regnet":
        assert fused == 0  # every conv sits in a Sequential, which keeps its ReLU module
    elif spec.block.type in ("sk_basic", "sk_bottleneck"):
        # Their convs sit in child modules too; only a conv7 stem's conv fuses with its ReLU.
        assert fused == (0 if spec.stem.type == "deep" else 1)
    elif not spec.block.preact:
        assert fused > 0


def test_generated_deploy_files_name_their_fused_classes() -> None:
    """Every ConvReLU/ConvAddReLU in a shipped deploy file is one the folded graph marked."""
    for name in SHIPPED:
        text = Path(SPECS.parent / "generated" / f"{name}_deploy.py").read_text()
        used = set(re.findall(r"= (ConvReLU|ConvAddReLU)\(", text))
        marks = {d.op.fused for _, d in ir.nodes(fold(check(_loaded(name)).graph))
                 if isinstance(d.op, ir.Conv)}  # fmt: skip
        assert ("ConvReLU" in used) <= ("relu" in marks), name
        assert ("ConvAddReLU" in used) <= ("add_relu" in marks), name
