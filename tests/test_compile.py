"""Generated models are compile-clean: `torch.compile(fullgraph=True)` traces them in one graph.

A graph break silently splits a compiled model into pieces run by Python in between, which costs
speed and defeats whole-graph passes; `fullgraph=True` makes one an error. The sample covers every
block family (ResNet, RegNet X/Y/Z/V, Res2Net, SKNet, ResNeSt, ResNetV2/BiT with each norm), every
shortcut kind and the modules only training runs (drop-path, dropout, activation checkpointing),
in eval and training mode, plus deploy builds. Tracing only: dynamo's
`explain` and the `aot_eager` backend need no C++ compiler and take seconds, where inductor's
code generation would take minutes on two cores.

    RESGEN_COMPILE_ALL=1 .venv/bin/python -m pytest tests/test_compile.py -k every_spec

traces every shipped spec instead (hours on two cores; the deepest nets take the longest), and
`RESGEN_COMPILE_ALL=short` the same at two blocks a stage where a spec's stages can be cut.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch
import yaml
from torch import nn

from resgen.api import compile_source, load_module, load_spec
from resgen.codegen.deploy import render_deploy_source
from resgen.pipeline import check
from tests.conftest import ROOT, SPECS, generated_module

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# One of each block family, shortcut kind and stem; small inputs, since tracing cost is per op.
SAMPLE = {
    "resnet18": 64,  # basic blocks, projection shortcuts, torchvision's stem
    "resnet50d": 64,  # bottlenecks, deep stem, avg-pool projections (ResNet-D)
    "preact_resnet164": 32,  # pre-activation bottlenecks, a final norm (at depth 2 per stage)
    "resnet20": 32,  # CIFAR stem, zero-padding shortcuts (option A)
    "plain20": 32,  # no shortcuts: the residual flag
    "ecaresnet26t": 64,  # efficient channel attention
    "resnetblur18": 64,  # blur-pool anti-aliasing
    "regnety_002": 64,  # RegNet, timm layout, grouped convs, squeeze-excitation
    "regnet_x_400mf": 64,  # RegNet, torchvision layout
    "regnetz_005": 64,  # RegNetZ: identity-or-none shortcuts, no closing activation, final conv
    "regnetv_040": 64,  # RegNetV: pre-activation RegNet blocks, bare-conv stem
    "res2net50_26w_4s": 64,  # Res2Net: split, per-scale 3x3s, concat
    "skresnet18": 64,  # SKNet: selective kernel (two paths, softmax attention)
    "resnest14d": 64,  # ResNeSt: split attention over radix groups
    "resnetv2_50x1_bit": 64,  # BiT: weight-standardised convs, group norm, zero-padded max pool
    "resnetv2_50d_evos": 64,  # EvoNorm-S0: a norm that activates
    "resnetv2_50d_frn": 64,  # filter response norm with TLU
}
# Tracing time grows with depth and adds nothing once every kind of block is in: these run at
# two blocks a stage (two_per_stage).
SHORTENED = {
    "preact_resnet164", "res2net50_26w_4s", "resnetv2_50x1_bit", "resnetv2_50d_evos",
    "resnetv2_50d_frn",
}  # fmt: skip

# Everything that runs only in training: stochastic depth, dropout before the classifier.
TRAINING_SPEC: dict[str, Any] = {
    "name": "train_only_modules",
    "input": {"channels": 3, "size": 32},
    "stem": {"type": "cifar", "width": 8},
    "block": {"type": "bottleneck"},
    "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}],
    "head": {"classes": 10, "dropout": 0.2},
    "drop_path": 0.1,
}


def assert_one_graph(model: nn.Module, x: torch.Tensor, what: str) -> None:
    """Dynamo traces one forward of `model` as a single graph, with no break."""
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(model)(x)
    reasons = [str(b.reason) for b in explanation.break_reasons]
    assert explanation.graph_break_count == 0, f"{what}: graph breaks: {reasons}"
    assert explanation.graph_count == 1, f"{what}: {explanation.graph_count} graphs"


def generated_model(name: str) -> nn.Module:
    return getattr(generated_module(name), load_spec(name).spec.model_class)()  # type: ignore[no-any-return]


def deploy_of(name: str, trained: nn.Module) -> nn.Module:
    """The checked-in deploy build of a shipped spec, from the trained model's weights."""
    deploy_class = getattr(generated_module(f"{name}_deploy"), f"{type(trained).__name__}Deploy")
    return deploy_class.from_trained(trained.eval())  # type: ignore[no-any-return]


def image(size: int, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


def built(spec: dict[str, Any], **kwargs: Any) -> tuple[nn.Module, type[nn.Module]]:
    """A spec's model, built in memory with constructor `kwargs`, and its deploy class."""
    loaded = load_spec(spec)
    name, class_name = loaded.spec.name, loaded.spec.model_class
    model = getattr(load_module(compile_source(loaded), name), class_name)(**kwargs)
    deploy = load_module(render_deploy_source(loaded, check(loaded)), f"{name}_deploy")
    return model, getattr(deploy, f"{class_name}Deploy")


@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_sample_traces_in_one_graph(name: str) -> None:
    x = image(SAMPLE[name])
    short = two_per_stage(name) if name in SHORTENED else None
    if short is not None:
        model, deploy_class = built(short)
        deploy = deploy_class.from_trained(model.eval())  # type: ignore[attr-defined]
    else:
        model = generated_model(name)
        deploy = deploy_of(name, model)
    assert_one_graph(model.train(), x, f"{name} (train)")
    assert_one_graph(model.eval(), x, f"{name} (eval)")
    assert_one_graph(deploy, x, f"{name}_deploy")


@pytest.mark.parametrize("example", ["convnext", "sk_basic"])
def test_user_blocks_trace_in_one_graph(example: str) -> None:
    """A block defined in the spec (examples/blocks/) writes its forward op by op: one graph too."""
    spec = yaml.safe_load((ROOT / "examples" / "blocks" / f"{example}.yaml").read_text("utf-8"))
    model, deploy_class = built(spec)
    deploy = deploy_class.from_trained(model.eval())  # type: ignore[attr-defined]
    x = image(32)
    assert_one_graph(model.train(), x, f"{example} (train)")
    assert_one_graph(model.eval(), x, f"{example} (eval)")
    assert_one_graph(deploy, x, f"{example}_deploy")


def training_model(**spec: Any) -> nn.Module:
    return built({**TRAINING_SPEC, **spec})[0]


@pytest.mark.parametrize("checkpoint", ["none", "blocks"])
def test_training_only_modules_trace_in_one_graph(checkpoint: str) -> None:
    model = training_model(checkpoint=checkpoint)
    x = image(32, batch=4)
    assert_one_graph(model.train(), x, f"drop-path, dropout, checkpoint {checkpoint} (train)")
    assert_one_graph(model.eval(), x, f"drop-path, dropout, checkpoint {checkpoint} (eval)")


def test_fullgraph_training_step_matches_eager() -> None:
    """Forward and backward through AOT autograd in one graph give eager's loss and gradients."""
    torch.manual_seed(0)
    eager = generated_model("resnet18").train()
    compiled_copy = generated_model("resnet18").train()
    compiled_copy.load_state_dict(eager.state_dict())
    torch._dynamo.reset()
    compiled = torch.compile(compiled_copy, backend="aot_eager", fullgraph=True)
    x = image(64)
    loss = eager(x).square().mean()
    loss.backward()
    compiled_loss = compiled(x).square().mean()
    compiled_loss.backward()
    torch.testing.assert_close(compiled_loss, loss)
    for (key, p), q in zip(eager.named_parameters(), compiled_copy.parameters(), strict=True):
        assert q.grad is not None, key
        torch.testing.assert_close(q.grad, p.grad, msg=lambda m, key=key: f"{key}: {m}")


@pytest.mark.parametrize("checkpoint", ["none", "blocks"])
def test_fullgraph_training_step_with_random_modules_runs(checkpoint: str) -> None:
    """Drop-path's and dropout's random masks compile into the one graph too."""
    model = training_model(checkpoint=checkpoint).train()
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    compiled(image(32, batch=4)).logsumexp(1).mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)


def test_fullgraph_checkpointed_step_matches_eager() -> None:
    """Compiled, checkpointed blocks give the plain eager model's gradients and statistics."""
    deterministic = {"drop_path": 0.0, "head": {"classes": 10}, "checkpoint": "blocks"}
    torch.manual_seed(0)
    eager = training_model(**deterministic, name="deterministic").train()
    eager.checkpoint = False  # type: ignore[assignment]
    compiled_copy = training_model(**deterministic, name="deterministic").train()
    compiled_copy.load_state_dict(eager.state_dict())
    torch._dynamo.reset()
    compiled = torch.compile(compiled_copy, backend="aot_eager", fullgraph=True)
    x = image(32, batch=4)
    eager(x).square().mean().backward()
    compiled(x).square().mean().backward()
    for (key, p), q in zip(eager.named_parameters(), compiled_copy.parameters(), strict=True):
        assert q.grad is not None, key
        torch.testing.assert_close(q.grad, p.grad, msg=lambda m, key=key: f"{key}: {m}")
    # The compiled rerun updates no running statistics: each batch counted once.
    for key, value in eager.state_dict().items():
        torch.testing.assert_close(compiled_copy.state_dict()[key], value, msg=key)


def shipped_specs() -> list[str]:
    return sorted(path.stem for path in SPECS.glob("*.yaml"))


def two_per_stage(name: str) -> dict[str, Any] | None:
    """The spec at two blocks a stage (its block classes and model code unchanged); None where
    its stages cannot be cut so: a RegNet's come from its parameters, a pruned net's per-block
    widths name every block."""
    spec = load_spec(name).spec
    if spec.regnet is not None or any(s.blocks for s in spec.stages):
        return None
    if all(s.depth <= 2 for s in spec.stages):
        return None
    stages = {i: {"depth": min(2, s.depth)} for i, s in enumerate(spec.stages, start=1)}
    return {"extends": name, "name": f"{name}_short", "stages": stages}


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("RESGEN_COMPILE_ALL"),
    reason="set RESGEN_COMPILE_ALL=1 (hours at full depth) or =short (about 15 minutes)",
)
@pytest.mark.parametrize("name", shipped_specs())
def test_every_spec_traces_in_one_graph(name: str) -> None:
    """Every shipped spec; with RESGEN_COMPILE_ALL=short at two blocks a stage where it can be cut
    (tracing costs per op, and a stage's later blocks repeat its second's code)."""
    short = two_per_stage(name) if os.environ.get("RESGEN_COMPILE_ALL") == "short" else None
    if short is not None:
        model, deploy_class = built(short)
        deploy = deploy_class.from_trained(model.eval())  # type: ignore[attr-defined]
    else:
        model = generated_model(name)
        deploy = deploy_of(name, model)
    x = image(64)
    assert_one_graph(model.train(), x, f"{name} (train)")
    assert_one_graph(model.eval(), x, f"{name} (eval)")
    assert_one_graph(deploy, x, f"{name}_deploy")
