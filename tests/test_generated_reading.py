"""Generated code a reviewer accepts without comment (issue 14, section 7, in part).

Init gains follow the activation, docstrings say what the blocks do (a 1x1 that widens is not a
"reduce"; "1 stage"), the deploy docstring mentions fused kernels only when there are some, and
layouts kept for state_dict compatibility say so.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

import resgen
from resgen.codegen.deploy import render_deploy_source
from resgen.pipeline import check
from tests.conftest import GENERATED, SPECS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _spec(**extra: Any) -> dict[str, Any]:
    return {
        "name": "net", "input": {"size": 32}, "stem": {"type": "cifar", "width": 8},
        "block": {"type": "basic"}, "stages": [{"depth": 1, "width": 64}], **extra,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("act", "gain_of"),
    [("relu", "relu"), ("tanh", "tanh"), ("leaky_relu", "leaky_relu"), ("gelu", "relu")],
)
def test_conv_init_uses_the_activations_gain(act: str, gain_of: str) -> None:
    source = resgen.compile_source(_spec(act=act))
    assert f'nonlinearity="{gain_of}"' in source
    if act not in ("relu", "tanh", "leaky_relu"):
        assert f"# {act} has no gain in torch.nn.init" in source
    model = resgen.build_model(_spec(act=act))
    conv = model.get_submodule("layer1.0.conv2")
    assert isinstance(conv, nn.Conv2d)
    fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
    param = 0.01 if gain_of == "leaky_relu" else None
    expected = nn.init.calculate_gain(gain_of, param) / math.sqrt(fan_out)
    # 36,864 weights: the sample std is within 2% of the init's std.
    assert float(conv.weight.detach().std()) == pytest.approx(expected, rel=0.02)


def test_tanh_and_relu_inits_differ_by_their_gains() -> None:
    stds = {}
    for act in ("relu", "tanh"):
        torch.manual_seed(0)
        model = resgen.build_model(_spec(act=act))
        stds[act] = float(model.get_submodule("layer1.0.conv2").weight.detach().std())
    expected = nn.init.calculate_gain("tanh") / nn.init.calculate_gain("relu")
    assert stds["tanh"] / stds["relu"] == pytest.approx(expected, rel=0.03)


def test_one_stage_says_stage() -> None:
    source = resgen.compile_source(_spec())
    assert ": 1 stage of BasicBlock blocks (1)." in source


def test_a_1x1_that_widens_is_not_called_reduce() -> None:
    wide = (GENERATED / "wide_resnet50_2.py").read_text()
    assert "1x1 reduce" not in wide  # layer1.0 goes 64 -> 128 channels in its first 1x1
    assert '"""1x1, 3x3, 1x1 expand;' in wide
    assert '"""1x1 reduce, 3x3, 1x1 expand;' in (GENERATED / "resnet50.py").read_text()


@pytest.mark.parametrize(
    ("name", "fused"),
    [("resnet50", True), ("resnet50_gn", False), ("preact_resnet164", False), ("resnet18", True)],
)
def test_deploy_docstring_mentions_fused_kernels_only_when_there_are_some(
    name: str, fused: bool
) -> None:
    loaded = resgen.load_spec(SPECS / f"{name}.yaml")
    source = render_deploy_source(loaded, check(loaded))
    docstring = source.split('"""')[1]
    assert ("cuDNN kernel" in " ".join(docstring.split())) is fused
    assert ("class ConvReLU" in source) is fused


def test_layouts_kept_for_state_dict_keys_say_so() -> None:
    eca = (GENERATED / "ecaresnet50d.py").read_text()
    assert "# timm calls the ECA module `se` too" in eca
    preact = (GENERATED / "wrn28_10.py").read_text()
    assert "# A Sequential of one module: its weights keep the usual `downsample.0.*` keys." in (
        preact
    )
    # A projection with its norm is a Sequential of two: no such comment there.
    assert "A Sequential of one module" not in (GENERATED / "resnet50.py").read_text()


def test_attention_arguments_are_named_for_what_they_are() -> None:
    se = (GENERATED / "seresnet50.py").read_text()
    eca = (GENERATED / "ecaresnet50d.py").read_text()
    assert "se_channels: int = 16," in se and "SqueezeExcite(out_channels, se_channels)" in se
    assert "eca_kernel: int = 3," in eca and "EfficientChannelAttention(eca_kernel)" in eca
    assert "attention" not in se.split("class SEResNet50")[0].split("class Bottleneck")[1]


@pytest.mark.parametrize(
    ("name", "class_name"),
    [
        ("resnet50d", "ResNet50d"), ("resnet18d", "ResNet18d"), ("ecaresnet50d", "ECAResNet50d"),
        ("seresnet50", "SEResNet50"), ("resnet50_gn", "ResNet50GN"), ("resnet50c", "ResNet50c"),
        ("resnext50_32x4d", "ResNeXt50_32x4d"), ("wide_resnet50_2", "WideResNet50_2"),
        ("preact_resnet164", "PreActResNet164"), ("my_first_net", "MyFirstNet"),
    ],
)  # fmt: skip
def test_class_names_follow_the_references_spelling(name: str, class_name: str) -> None:
    assert resgen.load_spec(_spec(name=name)).spec.model_class == class_name
    shipped = GENERATED / f"{name}.py"
    if shipped.exists():
        assert f"class {class_name}(nn.Module):" in shipped.read_text()
