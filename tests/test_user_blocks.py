"""Blocks as data (issue 23): blocks a spec defines under `blocks:`, checked against torch.

- examples/blocks/convnext.yaml, a ConvNeXt-style block resgen has no kind for, goes through the
  real CLI (check, draw with Graphviz, build, build --deploy); the generated model runs with the
  shapes, parameters and MACs (FlopCounterMode / 2) the analysis states, trains, and its deploy
  build gives its eval outputs.
- examples/blocks/basic.yaml and bottleneck.yaml, the built-in blocks as data: the networks have
  ResNet-18's and ResNet-50's state_dict keys and shapes, the same outputs from the same weights,
  and the same generated file but for the spec it names.
- A block of every other op (concat, mul, pool, group and frozen norms, sigmoid, dotted and
  indexed names, a branch that is not the last op, a shortcut from an op) runs as analysed too.
- Mistakes in a block are diagnostics at the op's line: a wrong width with both shapes, a
  division by zero, an empty conv, unknown names.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

import resgen
from resgen.api import check_spec, load_module
from resgen.codegen.deploy import render_deploy_source
from resgen.diagnostics import ResgenError
from resgen.draw import draw_dot
from resgen.graph import ir
from resgen.pipeline import check
from resgen.spec.expr import ExprError, evaluate, make_divisible, parse_expr, to_python
from tests.conftest import ROOT, randomise_norms, run_resgen

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EXAMPLES = ROOT / "examples" / "blocks"


def _lint(source: str, folder: Path) -> None:
    """ruff check and ruff format --check pass on generated code, with the project's config
    (and, as in generated/, published model names such as SKResNeXt50_32x4d)."""
    path = folder / "linted.py"
    path.write_text(source, encoding="utf-8")
    config = str(ROOT / "pyproject.toml")
    for args in (["check", "-q", "--extend-ignore", "N801"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--no-cache", "--config", config, str(path)],
            capture_output=True, text=True, check=False, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr


def _counted(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(x)
    return out, counter.get_total_flops()


def test_convnext_block_through_the_cli(tmp_path: Path) -> None:
    spec = EXAMPLES / "convnext.yaml"
    checked = run_resgen("check", str(spec))
    assert checked.returncode == 0, checked.stderr
    assert "convnext.yaml: ok (86,954 params, 37,282,432 MACs" in checked.stdout
    if shutil.which("dot"):
        drawn = run_resgen("draw", str(spec), "-o", str(tmp_path / "convnext.svg"))
        assert drawn.returncode == 0, drawn.stderr
        svg = (tmp_path / "convnext.svg").read_text(encoding="utf-8")
        assert "<svg" in svg and "layer1" in svg
        drawn = run_resgen("draw", str(spec), "--detail", "op", "-o", str(tmp_path / "op.dot"))
        assert drawn.returncode == 0, drawn.stderr
        dot = (tmp_path / "op.dot").read_text(encoding="utf-8")
        assert "mlp.fc1" in dot and "layer norm" in dot and "layer scale" in dot
    built = run_resgen("build", str(spec), "--deploy", "-o", str(tmp_path))
    assert built.returncode == 0, built.stderr
    source = (tmp_path / "convnext_cifar.py").read_text(encoding="utf-8")
    assert "import resgen" not in source and "from resgen" not in source
    # The block reads as written: the user's names, forward op by op.
    fc1 = (
        'self.mlp["fc1"] = nn.Conv2d(\n            in_channels,\n            ratio * out_channels,'
    )
    assert fc1 in source
    assert "self.gamma = nn.Parameter(torch.full((out_channels,), 1e-06))" in source
    assert "out = out * self.gamma.view(1, -1, 1, 1)" in source
    _lint(source, tmp_path)

    sys.path.insert(0, str(tmp_path))
    try:
        import convnext_cifar  # type: ignore[import-not-found]
        import convnext_cifar_deploy  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    _, analysis = check_spec(spec)
    torch.manual_seed(0)
    model = convnext_cifar.ConvnextCifar()
    keys = list(model.state_dict())
    assert "layer1.0.gamma" in keys and "layer1.0.mlp.fc2.weight" in keys
    assert "layer2.0.downsample.0.weight" in keys
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params == 86_954
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    model.eval()
    out, flops = _counted(model, x)
    assert tuple(out.shape[1:]) == analysis.output_shape == (10,)
    assert flops == 2 * len(x) * analysis.total_macs

    # It trains: a few steps on a fixed synthetic batch lower the loss.
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    images = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    labels = torch.arange(16) % 10
    losses = []
    for _ in range(10):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses

    model.eval()
    deploy = convnext_cifar_deploy.ConvnextCifarDeploy.from_trained(model).eval()
    _assert_deploy_gives(model, deploy, x)


def test_generated_bytes_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    texts = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        done = run_resgen("build", str(EXAMPLES / "convnext.yaml"), "-o", str(out),
                          env={"PYTHONHASHSEED": seed})  # fmt: skip
        assert done.returncode == 0, done.stderr
        texts.append((out / "convnext_cifar.py").read_bytes())
    assert texts[0] == texts[1]


# The built-in pre-activation basic block: no shipped spec uses it outside timm's ResNetV2 layout.
PREACT_RESNET18 = {"extends": "resnet18", "name": "preact_resnet18",
                   "block": {"type": "basic", "preact": True}}  # fmt: skip

# (example, built-in spec, input size, the lines of the built-in's generated file that differ
# besides the two that name the spec and its sha256; None: the files differ, as said).
TWINS: list[tuple[str, str | dict[str, Any], int, list[str] | None]] = [
    ("preact_basic", PREACT_RESNET18, 32, [
        "        # A projection shortcut sees the pre-activated input; an identity one sees x "
        "itself."
    ]),
    ("basic", "resnet18", 64, []),
    ("bottleneck", "resnet50", 64, []),
    # The same ops under the spec's `shortcut: pad` (option A, CIFAR ResNet-20) and with the
    # stride on the first 1x1 (ResNet v1).
    ("basic_pad", "resnet20", 32, []),
    ("bottleneck_v1", "resnet50_v1", 64, []),
    # The built-in class says what `pre` is; a user block's names the variable.
    ("preact_bottleneck", "preact_resnet164", 32, [
        "        # A projection shortcut sees the pre-activated input; an identity one sees x "
        "itself."
    ]),
    # Both call timm's SqueezeExcite helper class (the twin's `attention` op); the built-in
    # passes each block its hidden width (an `se_channels` argument), the twin computes it in
    # `__init__` from out_channels by timm's rule (`max(8, (out_channels // 16 + 4) // 8 * 8)`),
    # and its docstring is its description.
    ("se_basic", "seresnet18", 64, None),
    # SENet-154: the built-in takes the first 1x1's width as an argument (`first_channels`,
    # from `reduce_first: 2`) and calls SqueezeExcite; the twin computes `mid_channels // 2` and
    # writes the SE out. Both write the strided blocks' 3x3 projection (`shortcut_kernel: 3`)
    # beside the 1x1 one, as the shortcut template has it.
    ("senet_bottleneck", "senet154", 32, None),
    # The same for ECA: both call timm's EfficientChannelAttention helper class; the built-in
    # passes each block its kernel (`eca_kernel`, with a comment on the name `se`), the twin
    # computes it from out_channels in `__init__` (a `log2` helper function).
    ("eca_bottleneck", "ecaresnet26t", 64, None),
    # The same gate written out op by op: the squeeze, the channel conv and the gate in its
    # forward, the conv in an nn.ModuleDict `se` (the same key, `se.conv.weight`).
    ("eca_bottleneck_ops", "ecaresnet26t", 64, None),
    # The built-in block calls timm's SelectiveKernel helper class (`self.conv1 =
    # SelectiveKernel(...)`: its paths in an nn.ModuleList of nn.Sequentials, the paths stacked
    # and summed with torch.stack and torch.sum) and nn.Sequential(OrderedDict(conv=, bn=)) for
    # conv2; the twin declares the same modules in nested nn.ModuleDicts (`self.conv1["paths"]
    # ["0"]["conv"]`) and writes the split, the paths, the attention and the weighted sum out
    # in its forward.
    ("sk_basic", "skresnet18", 64, None),
    # The same for the bottleneck, whose paths read the whole input (split_input: false).
    ("sk_bottleneck", "skresnext50_32x4d", 32, None),
    # The built-in block calls timm's SplitAttn helper class (`self.conv2 = SplitAttn(...)`: the
    # splits reshaped to (N, radix, C, H, W), summed and weighed with .sum(dim=1)); the twin
    # declares the same modules in an nn.ModuleDict `conv2` and writes the splits, the
    # attention, the softmax and the weighted sum out in its forward. Both write the avd pool as
    # `nn.AvgPool2d(...) if stride > 1 else nn.Identity()`.
    ("resnest_bottleneck", "resnest14d", 64, None),
    # The same at radix 4 and cardinality 2: the logits regrouped split-major (a `reshape` op:
    # unflatten, transpose, flatten), then the softmax across splits.
    ("resnest_4s2x40d", "resnest50d_4s2x40d", 32, None),
    # The built-in Bottle2neck loops over nn.ModuleLists `convs` and `bns` (torch.split, a list of
    # outputs); the twin declares them as nn.ModuleDicts (the same keys) and writes each split,
    # add and 3x3 out, the adds as `split1 if self.projecting else split1 + out0` (the built-in's
    # `self.first`).
    ("res2net_bottleneck", "res2net50_26w_4s", 64, None),
    # The built-in RegNet block declares its convs as nn.Sequential(OrderedDict(conv=, bn=, act=))
    # and calls timm's SqueezeExcite helper class (an `se_channels` argument); the twin declares
    # the same modules in nn.ModuleDicts and writes the SE out in its forward. Both build their
    # stages with add_module under timm's names (`b1`) and share the stem, the projection
    # (`downsample.conv`, `downsample.bn`) and the ClassifierHead.
    ("regnety_bottleneck", "regnety_002", 64, None),
    # The same for RegNetZ: an inverted bottleneck (mid_channels 4x the width), no activation
    # after the add, no shortcut where the shape changes (both take `residual=False` there).
    ("regnetz_bottleneck", "regnetz_005", 64, None),
    # The built-in PreActBottleneck (timm's ResNetV2) writes its forward with `shortcut`, fits
    # conv1 on one line and zeroes conv3 with get_parameter; the twin names `identity`, explodes
    # the call and says why its stride comment. Both register the projection first, under timm's
    # name (`downsample.conv`), and build the stages as ResNetStages (`stages.1.blocks.0`).
    ("resnetv2_bottleneck", "resnetv2_50", 64, None),
    # The same for timm's PreActBasic.
    ("resnetv2_basic", "resnetv2_18", 64, None),
    # torchvision's ResBottleneckBlock declares `f` as nn.Sequential(OrderedDict(a=, b=, se=, c=))
    # of nn.Sequentials and calls its SqueezeExcitation helper class; the twin declares the same
    # modules in nested nn.ModuleDicts (`self.f["a"]["0"]`) and writes the SE out. Both register
    # `proj` (nn.Sequential: `proj.0`, `proj.1`) first and build `trunk_output.block2.block2-0`
    # with add_module.
    ("regnety_torchvision", "regnet_y_400mf", 64, None),
    # timm's PreBottleneck (RegNetV) calls the SqueezeExcite helper class (an `se_channels`
    # argument) and writes forward with `shortcut`, the pre-activated input rebound to `x`; the
    # twin declares the SE in an nn.ModuleDict `se`, writes it out, names the value `pre` and
    # says why its stride comment. Both declare the bare projection conv `downsample` last.
    ("regnetv_bottleneck", "regnetv_040", 64, None),
    # BiT: resnetv2_bottleneck's ops in resnetv2_50x1_bit's spec, whose `conv.standardize` makes
    # every conv a StdConv2d (eps=1e-08) and `norm` every norm a GroupNorm, in both. The file
    # differs from the built-in's as resnetv2_bottleneck's does.
    ("resnetv2_bit_bottleneck", "resnetv2_50x1_bit", 64, None),
    # Average-pool projections: the same ops in specs with `shortcut: avgpool_projection`. timm's
    # ResNetV2-D keys its pool and conv (`downsample.pool`, `downsample.conv`), the RegNetV
    # numbers them (`downsample.0`, `downsample.1`); both twins write the pool as
    # `pool if stride > 1 else nn.Identity()`, as the built-ins do, and differ otherwise as the
    # twins above (the twin's comments say why the pool, and what downsamples).
    ("resnetv2_d_bottleneck", "resnetv2_50d", 64, None),
    ("regnetv_avgpool", "regnetv_064", 64, None),
    # The same ResNetV2-D ops without act ops, each norm an EvoNorm2dS0 (or a
    # FilterResponseNormTlu2d): a norm and an activation in one. The files differ as
    # resnetv2_d_bottleneck's do, and the twin names the pre-activated input `norm1` (the op
    # the projection reads), where the built-in names it `pre`.
    ("resnetv2_evos_bottleneck", "resnetv2_50d_evos", 64, None),
    ("resnetv2_frn_bottleneck", "resnetv2_50d_frn", 64, None),
    # Anti-aliased downsampling as a pool op `when: strided` (`anti_alias` then reaches the stem
    # only): the twin writes the blur as the built-in does, `BlurPool2d(mid_channels, stride)`
    # with its comment; the 2x2 average as every user pool, with `kernel_size=`.
    ("resnetblur_bottleneck", "resnetblur50", 64, []),
    ("resnetaa_bottleneck", "resnetaa50d", 64, [
        "        self.aa = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()"
    ]),
]  # fmt: skip


@pytest.mark.parametrize(("example", "builtin", "size", "differ"), TWINS)
def test_twin_equals_the_builtin_block(
    tmp_path: Path,
    example: str,
    builtin: str | dict[str, Any],
    size: int,
    differ: list[str] | None,
) -> None:
    """The block as data gives the built-in network: keys, shapes, outputs and file."""
    name, reference_spec = (builtin, builtin) if isinstance(builtin, str) else (
        builtin["name"], tmp_path / "spec" / f"{builtin['name']}.yaml")  # fmt: skip
    if isinstance(builtin, dict):  # a spec file of its own, named as the twin's
        (tmp_path / "spec").mkdir()
        Path(reference_spec).write_text(yaml.safe_dump(builtin), encoding="utf-8")
    data = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text(encoding="utf-8"))
    twin_path = tmp_path / f"{name}.yaml"
    twin_path.write_text(yaml.safe_dump({**data, "name": name}), encoding="utf-8")
    twin_source = resgen.compile_source(twin_path, out_dir=tmp_path)
    _lint(twin_source, tmp_path)
    builtin_source = resgen.compile_source(reference_spec, out_dir=tmp_path)
    # Byte-identical but for the docstring lines that name the spec and its sha256.
    twin_lines, builtin_lines = twin_source.splitlines(), builtin_source.splitlines()
    if differ is not None:
        pairs = zip(twin_lines, builtin_lines, strict=True)
        lines = [i for i, (a, b) in enumerate(pairs) if a != b]
        assert [twin_lines[i].split(" ")[0] for i in lines[:2]] == ["Generated", "(sha256"]
        assert [builtin_lines[i] for i in lines[2:]] == differ

    model_class = resgen.load_spec(reference_spec).spec.model_class
    twin = getattr(load_module(twin_source, f"{name}_twin"), model_class)()
    reference = resgen.build_model(reference_spec)
    randomise_norms(reference, seed=3)
    state = reference.state_dict()
    assert [(k, v.shape) for k, v in twin.state_dict().items()] == [
        (k, v.shape) for k, v in state.items()
    ]
    twin.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(4))
    twin.eval()
    reference.eval()
    with torch.no_grad():
        assert torch.equal(twin(x), reference(x))


@pytest.mark.parametrize(("example", "builtin"), [
    ("basic", "resnet18"), ("bottleneck", "resnet50"), ("basic_pad", "resnet20"),
    ("bottleneck_v1", "resnet50_v1"),
])  # fmt: skip
def test_twin_deploy_files_equal_the_builtins(example: str, builtin: str) -> None:
    """The deploy build of a user block folds its norms and fuses its convs with the ReLU (and
    the last with the add) as the built-in's does: the same deploy file but for the lines that
    name the spec and the block's docstring (its description; the built-in's says "folded")."""
    data = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text(encoding="utf-8"))
    loaded, analysis = check_spec({**data, "name": builtin})
    twin = render_deploy_source(loaded, analysis).splitlines()
    reference = render_deploy_source(*check_spec(builtin)).splitlines()
    differ = [i for i, (a, b) in enumerate(zip(twin, reference, strict=True)) if a != b]
    assert [twin[i].split(" ")[0] for i in differ[:2]] == ["Generated", "(sha256"]
    assert len(differ) == 3 and twin[differ[2]].startswith('    """'), [twin[i] for i in differ]
    assert "ConvAddReLU(" in "\n".join(twin) and "ConvReLU(" in "\n".join(twin)
    model = resgen.build_model(loaded)
    randomise_norms(model, seed=5)
    model.eval()
    deploy_module = load_module("\n".join(twin) + "\n", f"{example}_deploy")
    deploy = getattr(deploy_module, f"{loaded.spec.model_class}Deploy").from_trained(model)
    _assert_deploy_gives(model, deploy, _image(64, seed=6))


def _image(size: int, seed: int) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _assert_deploy_gives(model: torch.nn.Module, deploy: torch.nn.Module, x: torch.Tensor) -> None:
    """The deploy build gives the eval model's outputs, to float32 rounding of the folds."""
    with torch.no_grad():
        expected = model(x)
    with torch.inference_mode():
        got = deploy(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


@pytest.mark.parametrize("example", [e for e, *_ in TWINS])
def test_every_twin_deploy_build_gives_the_trained_outputs(example: str) -> None:
    """Each twin's deploy build (norms folded into the convs before them, the ECA, selective
    kernel, split-attention and Res2Net ops kept) gives its eval outputs."""
    path = EXAMPLES / f"{example}.yaml"
    loaded, analysis = check_spec(path)
    model = resgen.build_model(path)
    randomise_norms(model, seed=9)
    model.eval()
    deploy_class = f"{loaded.spec.model_class}Deploy"
    source = render_deploy_source(loaded, analysis)
    # Every norm follows a conv (as in the built-in), so none is left; a pre-activation block's
    # batch norms before their convs become an Affine each, as the built-in's do (BiT's group
    # norms stay); standardised convs are plain ones given standardised weights.
    assert "BatchNorm2d(" not in source and "StdConv2d(" not in source
    preact = example.startswith(("preact", "resnetv2", "regnetv"))
    assert ("Affine(" in source) == (preact and loaded.spec.norm.type == "batch")
    deploy_module = load_module(source, f"{example}_deploy")
    deploy = getattr(deploy_module, deploy_class).from_trained(model)
    # FRN divides each channel by the root mean square of its H x W pixels: at 1 x 1 (the last
    # stage of a 32-pixel input) that is about x / |x|, which turns float rounding into sign
    # flips, in the built-in network as in the twin; at 64 pixels the last stage is 2 x 2.
    size = 64 if loaded.spec.norm.type == "frn" else 32
    _assert_deploy_gives(model, deploy, _image(size, seed=10))


# Every op and wiring the ConvNeXt example does not use.
KITCHEN: dict[str, Any] = {
    "name": "kitchen",
    "input": {"size": 19},
    "stem": {"type": "cifar", "width": 8},
    "norm": {"type": "group", "groups": 2},
    "blocks": {
        "mixer": {
            "params": {"split": {"default": 2}, "divisor": {"default": 4}},
            "expansion": 2,
            "ops": [
                {"op": "norm", "name": "pre", "kind": "frozen_batch"},
                {"op": "act", "name": "pre_act", "act": "silu"},
                {"op": "conv", "name": "paths.0", "out": "mid_channels // split", "kernel": 3,
                 "stride": "stride"},
                {"op": "conv", "name": "paths.1", "in": "pre_act", "kernel": 5,
                 "out": "mid_channels - mid_channels // split", "stride": "stride",
                 "dilation": 1, "groups": "max(1, min(2, mid_channels // 8))"},
                {"op": "concat", "name": "cat", "in": ["paths.0", "paths.1"]},
                {"op": "norm", "name": "cat_norm", "eps": 1e-3},
                {"op": "pool", "name": "smooth", "pool": "avg", "kernel": 3, "stride": 1,
                 "padding": 1},
                {"op": "conv", "name": "gate_conv", "kernel": 1,
                 "out": "make_divisible(mid_channels * 3 // 4, divisor)", "bias": True},
                {"op": "act", "name": "gate", "act": "sigmoid"},
                {"op": "conv", "name": "value", "in": "smooth", "kernel": 1,
                 "out": "make_divisible(mid_channels * 3 // 4, divisor)"},
                {"op": "mul", "name": "gated", "in": ["value", "gate"]},
                {"op": "identity", "name": "same"},
                {"op": "add", "name": "mixed", "in": ["same", "value"]},
                {"op": "pool", "name": "peak", "pool": "max", "kernel": 3, "stride": 1,
                 "padding": 1, "ceil": True},
                {"op": "conv", "name": "proj", "out": "out_channels", "kernel": 1},
                {"op": "norm", "name": "proj_norm", "kind": "batch"},
                {"op": "identity", "name": "skip", "in": "pre_act"},
                {"op": "global_pool", "name": "eca_pool", "in": "proj_norm"},
                {"op": "channel_conv", "name": "eca.conv",
                 "kernel": "log2(out_channels) // 2 * 2 + 1"},
                {"op": "act", "name": "eca_gate", "act": "sigmoid"},
                {"op": "mul", "name": "eca_out", "in": ["proj_norm", "eca_gate"]},
                {"op": "split", "name": "lo", "channels": "out_channels // 2"},
                {"op": "split", "name": "hi", "in": "eca_out", "start": "out_channels // 2",
                 "channels": "out_channels // 2"},
                {"op": "global_pool", "name": "logits_pool", "in": "eca_out", "pool": "max"},
                {"op": "conv", "name": "logits", "out": "out_channels", "bias": True},
                {"op": "softmax", "name": "attn", "paths": 2, "groups": 2},
                {"op": "split", "name": "w.0", "channels": "out_channels // 2"},
                {"op": "split", "name": "w.1", "in": "attn", "start": "out_channels // 2",
                 "channels": "out_channels // 2"},
                {"op": "mul", "name": "m0", "in": ["lo", "w.0"]},
                {"op": "mul", "name": "m1", "in": ["hi", "w.1"]},
                {"op": "concat", "name": "selected", "in": ["m0", "m1"]},
                {"op": "pool", "name": "avd", "pool": "avg", "kernel": 3, "stride": 1,
                 "padding": 1, "when": "strided"},
                {"op": "pool", "name": "first_pool", "in": "avd", "pool": "max", "kernel": 3,
                 "stride": 1, "padding": 1, "when": "projecting"},
                {"op": "add", "name": "maybe", "in": ["first_pool", "eca_out"],
                 "when": "not_projecting"},
            ],
            "branch": "maybe",
            "shortcut_from": "skip",
            "output_act": "none",
        },
    },
    "block": {"type": "mixer", "params": {"split": 4}},
    "shortcut": "avgpool_projection",
    "drop_path": 0.1,
    "stages": [
        {"depth": 2, "width": 8},
        {"depth": 2, "width": 16, "stride": 2},
        {"depth": 1, "width": 16, "stride": 2, "block": "basic", "shortcut": "projection"},
    ],
    "head": {"classes": 3},
}  # fmt: skip


def test_every_op_runs_as_analysed(tmp_path: Path) -> None:
    loaded = resgen.load_spec(KITCHEN)
    analysis = check(loaded)
    _lint(resgen.compile_source(loaded), tmp_path)
    assert not [d for d in analysis.diagnostics if d.is_error], analysis.diagnostics
    for detail in ("stage", "block", "op"):
        assert draw_dot(loaded, analysis, detail).startswith("digraph")
    dot = draw_dot(loaded, analysis, "op")
    for label in (
        "<b>eca.conv</b><br/>channel conv, k=5",
        "<b>lo</b><br/>channels 0..7",
        "<b>hi</b><br/>channels 8..15",
        "softmax over 2 paths in 2 groups",
    ):
        assert label in dot, label  # fmt: skip
    # The ops a block skips are not drawn there: layer1.1 neither strides nor projects.
    assert '"layer1.1.maybe"' in dot and '"layer1.1.avd"' not in dot
    source = resgen.compile_source(loaded)
    assert 'self.paths["0"] = nn.Conv2d(' in source and "torch.cat([paths_0, out], dim=1)" in source
    assert "def make_divisible(" in source
    assert "out = self.drop_path(out)" in source and "drop_path=rates[1])" in source
    # The pool `when: strided` runs in layer2.0 only: an nn.Identity in the other blocks; the
    # add `when: not_projecting` in layer1.1 and layer2.1 only (the class is written from
    # layer1.0, which runs neither).
    assert "self.avd = nn.AvgPool2d(kernel_size=3, stride=1, padding=1) if stride > 1 else nn." in (
        source
    )
    assert "self.projecting = stride > 1 or downsample" in source
    assert "maybe = first_pool if self.projecting else first_pool + eca_out" in source
    model = load_module(source, "kitchen").Kitchen()
    randomise_norms(model, seed=7)
    model.eval()
    x = torch.randn(2, 3, 19, 19, generator=torch.Generator().manual_seed(8))
    expected, flops = _counted(model, x)
    assert tuple(expected.shape[1:]) == analysis.output_shape
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    assert flops == 2 * len(x) * analysis.total_macs
    # Its training step runs (in-place activations only where nothing else reads their input).
    model.train()
    model(x).sum().backward()
    model.eval()  # the training step moved the batch norms' statistics
    deploy_module = load_module(render_deploy_source(loaded, analysis), "kitchen_deploy")
    _assert_deploy_gives(model, deploy_module.KitchenDeploy.from_trained(model), x)


def _errors(spec: dict[str, Any]) -> list[str]:
    """The diagnostics of a spec, as `line:col: code: message`."""
    with pytest.raises(ResgenError) as caught:
        check_spec(spec)
    return [f"{d.location.line}:{d.location.column}: {d.code}: {d.message}"
            for d in caught.value.diagnostics if d.location]  # fmt: skip


def _one_block(ops: list[dict[str, Any]], **block: Any) -> dict[str, Any]:
    return {
        "name": "m", "input": {"size": 16}, "stem": {"type": "cifar", "width": 8},
        "blocks": {"b": {"ops": ops, **block}}, "block": {"type": "b"},
        "stages": [{"depth": 1, "width": 8}, {"depth": 1, "width": 16, "stride": 2}],
    }  # fmt: skip


def _line_of(spec: dict[str, Any], needle: str) -> int:
    """The line of `<dict>`'s json.dumps(indent=2) text that holds `needle`."""
    import json

    lines = json.dumps(spec, indent=2).splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def test_a_wrong_width_is_reported_at_the_op_with_both_shapes() -> None:
    spec = _one_block([
        {"op": "conv", "name": "a", "out": "mid_channels", "kernel": 3, "stride": "stride"},
        {"op": "conv", "name": "c", "out": "out_channels * 2", "kernel": 3},
        {"op": "add", "name": "sum", "in": ["a", "c"]},
        {"op": "conv", "name": "last", "out": "out_channels", "kernel": 1},
    ])  # fmt: skip
    errors = _errors(spec)
    line = _line_of(spec, '"sum"') - 2  # the op's mapping opens two lines above its name
    assert f"{line}:" in errors[0] and "op-shape" in errors[0]
    assert "adds 8x16x16 and 16x16x16" in errors[0]


def test_a_branch_of_the_wrong_width_is_reported_at_its_last_op() -> None:
    spec = _one_block([{"op": "conv", "name": "only", "out": "mid_channels * 2"}],
                      output_act="none")  # fmt: skip
    errors = _errors({**spec, "shortcut": "identity"})
    assert any("shortcut-shape" in e and "16x16x16" in e and "8x16x16" in e for e in errors)
    line = _line_of(spec, '"only"') - 2
    assert any(e.startswith(f"{line}:") for e in errors), errors


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("out_channels // (stride - 1)", "division by zero in stage 1 block 1"),
        ("mid_channels - 8", "out gives 0 in stage 1 block 1; it must be at least 1"),
        ("width", "unknown name 'width'"),
        ("2 ** 3", "the operator Pow is not allowed"),
        ("1.5", "only integers are allowed, not a float"),
        ("round(in_channels)", "calling round is not allowed"),
    ],
)
def test_a_bad_value_is_reported_at_it(value: str, message: str) -> None:
    spec = _one_block([{"op": "conv", "name": "c", "out": value}])
    errors = _errors(spec)
    line = _line_of(spec, f'"out": "{value}"')
    assert any(e.startswith(f"{line}:") and message in e for e in errors), errors


@pytest.mark.parametrize(
    ("ops", "block", "message"),
    [
        ([{"op": "conv", "name": "c", "out": 8, "in": "d"}], {}, "reads 'd', which is no earlier"),
        ([{"op": "conv", "name": "c", "out": 8}, {"op": "conv", "name": "c", "out": 8}], {},
         "is already the name of op 1"),
        ([{"op": "conv", "name": "mlp", "out": 8}, {"op": "conv", "name": "mlp.fc", "out": 8}], {},
         "is both an op and the container"),
        ([{"op": "scale", "name": "ls.gamma"}], {}, "it takes no dot"),
        ([{"op": "conv", "name": "c", "out": 8}], {"branch": "z"}, "branch 'z' names no op"),
        ([{"op": "conv", "name": "c", "out": 8}], {"output_act": "swish"},
         "output_act 'swish' is no activation"),
        ([{"op": "conv", "name": "c", "out": 8}, {"op": "conv", "name": "d", "out": 8}],
         {"branch": "c"}, "op 'd' feeds nothing"),
        ([{"op": "conv", "name": "c", "out": 8, "groups": 3}], {},
         "groups 3 must divide the conv's 8 input and 8 output channels"),
        ([{"op": "conv", "name": "c", "out": 8}], {"class_name": "M"},
         "class M (block 'b') is already the model class in the generated file"),
        ([{"op": "conv", "name": "c", "out": 8}, {"op": "conv", "name": "d", "in": "x", "out": 8},
          {"op": "concat", "name": "cd", "in": ["c", "d"], "when": "strided"}], {},
         "concat 'cd' cannot be skipped (`when`): its channels would differ between blocks"),
    ],
)  # fmt: skip
def test_a_bad_wiring_is_a_diagnostic(
    ops: list[dict[str, Any]], block: dict[str, Any], message: str
) -> None:
    assert any(message in e for e in _errors(_one_block(ops, **block)))


def test_params_are_typed_and_checked() -> None:
    spec = _one_block([{"op": "conv", "name": "c", "out": "k * out_channels", "stride": "stride"}],
                      params={"k": {"default": 1}})  # fmt: skip
    assert check_spec(spec)[1].total_params > 0
    wrong = {**spec, "block": {"type": "b", "params": {"kk": 2}}}
    assert any("'kk' is no param of block 'b'" in e for e in _errors(wrong))
    with pytest.raises(ResgenError, match="must be an integer"):
        resgen.load_spec({**spec, "block": {"type": "b", "params": {"k": "2"}}})


def test_check_build_and_draw_never_import_torch(tmp_path: Path) -> None:
    spec = str(EXAMPLES / "convnext.yaml")
    runs = [["check", spec], ["build", spec, "--deploy", "-o", str(tmp_path)],
            ["draw", spec, "-o", str(tmp_path / "convnext.dot")]]  # fmt: skip
    code = (
        "import sys\n"
        "from resgen.cli import main\n"
        f"codes = [main(argv) for argv in {runs!r}]\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(codes)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, cwd=ROOT, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[0, 0, 0]"
    assert (tmp_path / "convnext_cifar_deploy.py").exists() and (tmp_path / "convnext.dot").exists()


def test_the_arithmetic_language() -> None:
    names = frozenset({"in_channels", "out_channels"})
    tree = parse_expr("max(8, (in_channels - 2 * out_channels) // 3) + -out_channels", names)
    assert evaluate(tree, {"in_channels": 64, "out_channels": 4}) == 14
    assert to_python(tree) == "max(8, (in_channels - 2 * out_channels) // 3) + -out_channels"
    assert to_python(parse_expr("in_channels - (out_channels - 1)", names)) == (
        "in_channels - (out_channels - 1)"
    )
    assert evaluate(parse_expr(7, names), {}) == 7
    with pytest.raises(ExprError, match="division by zero"):
        evaluate(
            parse_expr("in_channels // (out_channels - 4)", names),
            {"in_channels": 1, "out_channels": 4},
        )
    # log2 is exact where a float log is not (2**49 - 1 rounds up to 49.0).
    for value in (*range(1, 3000, 3), 2**49 - 1, 2**49):
        assert evaluate(parse_expr("log2(in_channels)", names), {"in_channels": value}) == (
            len(bin(value)) - 3
        )
    assert to_python(parse_expr("max(3, (log2(in_channels) + 1) // 4 * 2 + 1)", names)) == (
        "max(3, (log2(in_channels) + 1) // 4 * 2 + 1)"
    )
    timm_layers = pytest.importorskip("timm.layers")
    for value in range(1, 600, 7):
        for divisor in (1, 4, 8, 32):
            assert make_divisible(value, divisor) == timm_layers.make_divisible(value, divisor)


def test_the_readme_shows_the_example_as_shipped() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Define your own block") :]
    example = (EXAMPLES / "convnext.yaml").read_text(encoding="utf-8").split("\n", 1)[1]
    assert f"```yaml\n{example}```" in section
    done = run_resgen("check", "examples/blocks/convnext.yaml")
    assert done.stdout.splitlines()[0] in section


def test_resolve_writes_a_spec_that_loads_again(tmp_path: Path) -> None:
    """`resgen resolve` dumps user blocks as written (`in:`, not the field's Python name)."""
    path = tmp_path / "kitchen.yaml"
    path.write_text(yaml.safe_dump(KITCHEN), encoding="utf-8")
    done = run_resgen("resolve", str(path), "-o", str(tmp_path / "resolved.yaml"))
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load((tmp_path / "resolved.yaml").read_text(encoding="utf-8"))
    assert resolved["blocks"]["mixer"]["ops"][3]["in"] == "pre_act"
    assert check_spec(resolved)[1].total_params == check_spec(KITCHEN)[1].total_params


def test_a_misspelt_user_block_gets_its_did_you_mean() -> None:
    spec = _one_block([{"op": "conv", "name": "c", "out": "out_channels", "stride": "stride"}])
    with pytest.raises(ResgenError) as caught:
        resgen.load_spec({**spec, "block": {"type": "bb"}, "blocks": {"bbb": spec["blocks"]["b"]}})
    (diagnostic,) = caught.value.diagnostics
    assert "'resnest', 'bbb'" in diagnostic.message and diagnostic.hint == "did you mean 'bbb'?"


def test_a_channel_conv_reads_a_pooled_tensor_with_an_odd_kernel() -> None:
    """ECA's op: an input with H x W > 1 is an op-shape error at the op with both shapes; an even
    kernel (whose padding would drop a channel) and a log2 of no positive number are errors at
    the kernel's value."""
    spec = _one_block([
        {"op": "conv", "name": "c", "out": "out_channels", "stride": "stride"},
        {"op": "channel_conv", "name": "eca.conv", "kernel": 3},
    ])  # fmt: skip
    errors = _errors(spec)
    line = _line_of(spec, '"eca.conv"') - 2
    wrong = "reads 8x16x16; a channel conv reads 8x1x1"
    assert any(e.startswith(f"{line}:") and "op-shape" in e and wrong in e for e in errors), errors
    odd = "kernel gives 4 in stage 2 block 1; a channel conv's kernel is odd"
    for kernel, message in (("out_channels // 4", odd), ("log2(stride - 2)", "log2 of 0")):
        spec = _one_block([
            {"op": "conv", "name": "c", "out": "out_channels", "stride": "stride"},
            {"op": "global_pool", "name": "squeeze"},
            {"op": "channel_conv", "name": "eca.conv", "kernel": kernel},
            {"op": "act", "name": "gate", "act": "sigmoid"},
            {"op": "mul", "name": "gated", "in": ["c", "gate"]},
        ])  # fmt: skip
        line = _line_of(spec, f'"kernel": "{kernel}"')
        errors = _errors(spec)
        assert any(e.startswith(f"{line}:") and message in e for e in errors), errors


def test_split_and_softmax_values_are_checked_at_their_lines() -> None:
    """A piece past the input's channels, paths that do not divide the logits, and a softmax of
    an H x W > 1 tensor: each an error at the op's value (or the op) with the numbers."""
    ops: list[dict[str, Any]] = [
        {"op": "conv", "name": "c", "out": "out_channels", "stride": "stride"},
        {"op": "split", "name": "piece", "start": "out_channels // 2", "channels": "out_channels"},
        {"op": "global_pool", "name": "pooled", "in": "c"},
        {"op": "softmax", "name": "attn", "paths": 3},
        {"op": "mul", "name": "gated", "in": ["c", "attn"]},
        {"op": "conv", "name": "d", "in": "piece", "out": "out_channels"},
        {"op": "add", "name": "both", "in": ["gated", "d"]},
    ]
    spec = _one_block(ops)
    errors = _errors(spec)
    line = _line_of(spec, '"channels": "out_channels"')
    assert any(e.startswith(f"{line}:") and "split: channels 8..23 of a 16-channel input in "
               "stage 2 block 1" in e for e in errors), errors  # fmt: skip
    line = _line_of(spec, '"paths": 3')
    assert any(e.startswith(f"{line}:") and "softmax: 3 paths x 1 groups do not divide 16 "
               "channels" in e for e in errors), errors  # fmt: skip
    ops[3] = {"op": "softmax", "name": "attn", "in": "c", "paths": 2}
    ops[1]["channels"] = "out_channels // 2"
    del ops[2]  # nothing reads the pool now
    spec = _one_block(ops)
    line = _line_of(spec, '"attn"') - 2
    wrong = "reads 8x16x16; a softmax across paths reads 8x1x1"
    errors = _errors(spec)
    assert any(e.startswith(f"{line}:") and wrong in e for e in errors), errors


def test_a_merge_of_one_value_twice_is_a_diagnostic() -> None:
    """Named twice, or twice through an op that this block skips: a located error, no crash."""
    twice = _one_block([
        {"op": "conv", "name": "c", "out": "out_channels", "stride": "stride"},
        {"op": "add", "name": "twice", "in": ["c", "c"]},
    ])  # fmt: skip
    skipped = _one_block([
        {"op": "conv", "name": "c", "out": "out_channels", "stride": "stride"},
        {"op": "pool", "name": "p", "pool": "max", "kernel": 3, "stride": 1, "padding": 1,
         "when": "strided"},
        {"op": "add", "name": "sum", "in": ["c", "p"]},
    ])  # fmt: skip
    for spec, name in ((twice, "twice"), (skipped, "sum")):
        line = _line_of(spec, f'"{name}"') + 1  # its `in`
        errors = _errors(spec)
        assert any(e.startswith(f"{line}:") and f"op {name!r} reads one value twice" in e
                   for e in errors), errors  # fmt: skip


# The twins under a layout's names (timm's and torchvision's RegNet, timm's ResNetV2).
LAYOUT_TWINS = ["regnety_bottleneck", "regnety_torchvision", "resnetv2_bottleneck",
                "regnetv_bottleneck", "resnetv2_bit_bottleneck", "resnetv2_d_bottleneck",
                "regnetv_avgpool", "resnetv2_basic", "regnetz_bottleneck"]  # fmt: skip


@pytest.mark.parametrize(
    "example", [*LAYOUT_TWINS, "basic_pad", "bottleneck_v1", "senet_bottleneck"]
)
def test_layout_twins_count_what_torch_measures(example: str) -> None:
    """A user block under a layout's names (timm's RegNet, ResNetV2), or with a pad shortcut, a
    strided 1x1 or SENet's 3x3 projection: its parameters and MACs are what torch counts."""
    path = EXAMPLES / f"{example}.yaml"
    _, analysis = check_spec(path)
    model = resgen.build_model(path)
    model.eval()
    x = torch.randn(1, *analysis.graph.graph["input_shape"],
                    generator=torch.Generator().manual_seed(11))  # fmt: skip
    _, flops = _counted(model, x)
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    assert flops == 2 * analysis.total_macs


def test_regnet_twin_takes_groups_and_rates_from_the_stages() -> None:
    """In stages from `regnet`, a user block's `groups` is the inner width over the group width,
    and each block of the add_module loops reads its own network-wide drop-path rate."""
    path = EXAMPLES / "regnety_bottleneck.yaml"
    _, analysis = check_spec(path)
    assert [b.groups for b in ir.blocks_of(analysis.graph)][:3] == [3, 7, 19]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    source = resgen.compile_source(resgen.load_spec({**data, "drop_path": 0.1}))
    # s3's b2 is the network's fourth block (rates[3]): s1 and s2 have one each.
    assert 'f"b{i}", Bottleneck(152, 152, 152, groups=19, drop_path=rates[i + 1])' in source


def test_standardised_convs_leave_a_conv_with_its_own_bias_plain() -> None:
    """`conv.standardize` makes a user block's convs StdConv2d, as it does the built-in blocks',
    but for those given their own bias (an SE's fc1 and fc2), which stay plain as theirs do."""
    data = yaml.safe_load((EXAMPLES / "se_basic.yaml").read_text(encoding="utf-8"))
    loaded = resgen.load_spec({**data, "conv": {"standardize": True, "eps": 1e-8}})
    _, analysis = check_spec(loaded)
    graph = analysis.graph
    block = ir.blocks_of(graph)[0].path
    std = {name: ir.op(graph, f"{block}.{name}").standardize
           for name in ("conv1", "conv2", "se.fc1", "se.fc2")}  # fmt: skip
    assert std == {"conv1": 1e-8, "conv2": 1e-8, "se.fc1": 0.0, "se.fc2": 0.0}
    source = resgen.compile_source(loaded)
    assert "self.se = SqueezeExcite(out_channels, " in source
    assert "self.conv2 = StdConv2d(" in source and "class StdConv2d(" in source
    model = getattr(load_module(source, "se_basic_std"), loaded.spec.model_class)()
    model.eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(12))
    with torch.no_grad():
        assert model(x).shape == (1, 1000)


def test_a_long_description_wraps_to_fit_the_line_length(tmp_path: Path) -> None:
    """A block's docstring wraps at 100 columns (a 200-character description once broke E501)."""
    data = yaml.safe_load((EXAMPLES / "convnext.yaml").read_text(encoding="utf-8"))
    text = " ".join(f'word{i} with a "quote" and a \\ backslash,' for i in range(5))[:200]
    data["blocks"]["convnext"]["description"] = text
    source = resgen.compile_source(data)
    _lint(source, tmp_path)
    (block,) = [c for c in ast.walk(ast.parse(source)) if isinstance(c, ast.ClassDef)
                and c.name == "ConvNeXtBlock"]  # fmt: skip
    assert " ".join((ast.get_docstring(block, clean=False) or "").split()) == " ".join(text.split())


def test_activating_norms_write_the_builtin_modules() -> None:
    """`kind: evonorm_s0` and `frn` write the built-in's constructors and helper classes, with no
    act op after them (they activate); an EvoNorm's groups that do not divide its channels are
    an error at the value."""
    ops: list[dict[str, Any]] = [
        {"op": "conv", "name": "conv1", "out": "out_channels", "kernel": 3, "stride": "stride"},
        {"op": "norm", "name": "evo", "kind": "evonorm_s0", "groups": 4, "eps": 1e-3},
        {"op": "conv", "name": "conv2", "out": "out_channels", "kernel": 3},
        {"op": "norm", "name": "frn", "kind": "frn"},
    ]
    spec = _one_block(ops, output_act="none")
    source = resgen.compile_source(spec)
    assert "self.evo = EvoNorm2dS0(out_channels, groups=4, eps=0.001)" in source
    assert "self.frn = FilterResponseNormTlu2d(out_channels)" in source
    assert "class EvoNorm2dS0(" in source and "class FilterResponseNormTlu2d(" in source
    model = load_module(source, "activating_norms").M()
    keys = [k for k in model.state_dict() if k.startswith("layer1.0.")]
    assert keys == [f"layer1.0.{k}" for k in ("conv1.weight", "evo.weight", "evo.bias", "evo.v",
                    "conv2.weight", "frn.weight", "frn.bias", "frn.tau")]  # fmt: skip
    ops[1] = {**ops[1], "groups": 3}
    spec = _one_block(ops, output_act="none")
    line = _line_of(spec, '"groups": 3')
    errors = _errors(spec)
    message = "evonorm_s0 norm: 3 groups do not divide 16 channels in stage 2 block 1"
    assert any(e.startswith(f"{line}:") and message in e for e in errors), errors


def test_a_blur_pool_is_the_builtin_anti_aliasing_pool() -> None:
    """`pool: blur` `when: strided` writes the built-in's `aa` (an nn.Identity where the block does
    not stride) and gives its outputs; below 2 pixels its reflect padding fails with the
    built-in's empty-shape error, at the same node."""
    ops = [
        {"op": "conv", "name": "conv1", "out": "out_channels", "kernel": 3},
        {"op": "norm", "name": "bn1"},
        {"op": "act", "name": "relu"},
        {"op": "pool", "name": "aa", "pool": "blur", "stride": "stride", "when": "strided"},
        {"op": "conv", "name": "conv2", "out": "out_channels", "kernel": 3},
        {"op": "norm", "name": "bn2"},
    ]
    spec = {**_one_block(ops, output_act="relu"), "anti_alias": "blur"}
    builtin = {**spec, "block": {"type": "basic"}}
    del builtin["blocks"]
    source = resgen.compile_source(spec)
    assert "self.aa = BlurPool2d(out_channels, stride) if stride > 1 else nn.Identity()" in source
    assert "class BlurPool2d(" in source
    twin, reference = load_module(source, "blur_twin").M(), resgen.build_model(builtin)
    randomise_norms(reference, seed=13)
    twin.load_state_dict(reference.state_dict(), strict=True)
    twin.eval()
    reference.eval()
    x = _image(16, seed=14)
    with torch.no_grad():
        assert torch.equal(twin(x), reference(x))
    small = [{**s, "input": {"size": 1}} for s in (spec, builtin)]
    reports = [[e.split(": ", 1)[1] for e in _errors(s) if "empty-shape" in e] for s in small]
    assert reports[0] == reports[1] and "(layer2.0.aa) turns 16x1x1 into 16x0x0" in reports[0][0]
