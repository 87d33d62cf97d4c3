"""Check the hand-written paper models against the papers' numbers and against torchvision."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .paper_models import (
    BasicBlock,
    PreActBottleneck,
    ResNet,
    ZeroPadShortcut,
    cifar_resnet,
    preact_resnet,
    resnet34_a,
    resnet34_c,
    resnet50_v1,
    wrn28_10,
)

Builder = Callable[..., nn.Module]


def _cifar(depth: int) -> Builder:
    return lambda **kw: cifar_resnet(depth, **kw)


def _preact(depth: int) -> Builder:
    return lambda **kw: preact_resnet(depth, **kw)


# name, builder, input size, default classes, params (papers / REFERENCE.md), MACs (measured)
MODELS: list[tuple[str, Builder, int, int, int, int]] = [
    ("resnet50_v1", resnet50_v1, 224, 1000, 25_557_032, 3_857_973_248),
    ("resnet34_a", resnet34_a, 224, 1000, 21_623_848, 3_644_493_824),
    ("resnet34_c", resnet34_c, 224, 1000, 22_716_840, 3_830_747_136),
    ("cifar_resnet20", _cifar(20), 32, 10, 269_722, 40_551_040),
    ("cifar_resnet32", _cifar(32), 32, 10, 464_154, 68_862_592),
    ("cifar_resnet44", _cifar(44), 32, 10, 658_586, 97_174_144),
    ("cifar_resnet56", _cifar(56), 32, 10, 853_018, 125_485_696),
    ("cifar_resnet110", _cifar(110), 32, 10, 1_727_962, 252_887_680),
    ("cifar_resnet1202", _cifar(1202), 32, 10, 19_421_274, 2_829_238_912),
    ("preact_resnet164", _preact(164), 32, 10, 1_703_258, 247_646_720),
    ("preact_resnet1001", _preact(1001), 32, 10, 10_327_706, 1_490_995_712),
    ("wrn28_10", wrn28_10, 32, 10, 36_479_194, 5_243_328_768),
]
IDS = [m[0] for m in MODELS]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, size: int) -> int:
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 3, size, size))
    return int(counter.get_total_flops()) // 2


@pytest.mark.parametrize(("name", "build", "size", "classes", "params", "macs"), MODELS, ids=IDS)
def test_param_count(
    name: str, build: Builder, size: int, classes: int, params: int, macs: int
) -> None:
    assert count_params(build()) == params


@pytest.mark.parametrize(("name", "build", "size", "classes", "params", "macs"), MODELS, ids=IDS)
def test_forward_shape(
    name: str, build: Builder, size: int, classes: int, params: int, macs: int
) -> None:
    torch.manual_seed(0)
    small = 32 if size == 32 else 64
    x = torch.randn(2, 3, small, small)
    for num_classes in (classes, 7):
        model = build(num_classes=num_classes).eval()
        with torch.no_grad():
            assert model(x).shape == (2, num_classes)
    # Finiteness is checked in train mode: at init the running stats are 0/1, so eval-mode BN is
    # the identity and activations grow about 1.5x per block, so the 600-block nets overflow
    # float32 (measured); batch statistics keep every block normalised.
    with torch.no_grad():
        assert torch.isfinite(model.train()(x)).all()


@pytest.mark.parametrize(("name", "build", "size", "classes", "params", "macs"), MODELS, ids=IDS)
def test_macs(name: str, build: Builder, size: int, classes: int, params: int, macs: int) -> None:
    assert count_macs(build(), size) == macs


def test_resnet50_v1_macs_match_paper() -> None:
    # The paper's "3.8 x 10^9 FLOPs" are multiply-adds; REFERENCE.md gives 3,858 M for v1.
    assert round(count_macs(resnet50_v1(), 224) / 1e6) == 3858


# --- against torchvision ------------------------------------------------------------------------


def test_resnet50_v1_is_torchvision_resnet50_with_stride_on_conv1() -> None:
    tv_models = pytest.importorskip("torchvision.models")
    torch.manual_seed(0)
    tv = tv_models.resnet50()
    ours = resnet50_v1()
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in tv.state_dict().items()
    ]
    ours.load_state_dict(tv.state_dict(), strict=True)

    # Moving torchvision's stride from the 3x3 to the first 1x1 must give our v1 exactly.
    for layer in (tv.layer2, tv.layer3, tv.layer4):
        layer[0].conv1.stride = (2, 2)
        layer[0].conv2.stride = (1, 1)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), tv.eval()(x), rtol=0, atol=0)


def test_option_b_resnet34_is_torchvision_resnet34() -> None:
    tv_models = pytest.importorskip("torchvision.models")
    torch.manual_seed(0)
    tv = tv_models.resnet34()
    ours = ResNet(BasicBlock, [3, 4, 6, 3], shortcut="B")
    ours.load_state_dict(tv.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), tv.eval()(x), rtol=0, atol=0)


def test_resnet34_a_and_c_keys_relative_to_torchvision() -> None:
    tv_models = pytest.importorskip("torchvision.models")
    tv_keys = set(tv_models.resnet34().state_dict())
    a_keys = set(resnet34_a().state_dict())
    c_keys = set(resnet34_c().state_dict())
    assert a_keys == {k for k in tv_keys if ".downsample." not in k}
    assert tv_keys < c_keys
    for s, blocks in enumerate((3, 4, 6, 3), start=1):
        for i in range(blocks):
            assert f"layer{s}.{i}.downsample.0.weight" in c_keys
            assert f"layer{s}.{i}.downsample.1.running_var" in c_keys


# --- semantics ----------------------------------------------------------------------------------


def test_zero_pad_shortcut_subsamples_and_pads_at_the_end() -> None:
    x = torch.randn(2, 16, 7, 7)
    out = ZeroPadShortcut(16, 32, stride=2)(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, :16], x[:, :, ::2, ::2])
    assert torch.equal(out[:, 16:], torch.zeros(2, 16, 4, 4))


def test_option_a_has_no_shortcut_parameters() -> None:
    keys = list(cifar_resnet(20).state_dict())
    assert not [k for k in keys if "downsample" in k]
    assert isinstance(cifar_resnet(20).layer2[0].downsample, ZeroPadShortcut)


def _randomize_bn(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.normal_(m.bias)
            nn.init.normal_(m.running_mean)
            nn.init.uniform_(m.running_var, 0.5, 1.5)


def _bn_relu(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    return torch.relu(bn(x))


def test_preact_bottleneck_projection_takes_preactivated_input_and_no_relu_after_add() -> None:
    torch.manual_seed(0)
    first = PreActBottleneck(16, 16, stride=1)  # 16 -> 64: projection
    later = PreActBottleneck(64, 16, stride=1)  # 64 -> 64: identity
    for block in (first, later):
        _randomize_bn(block)
        block.eval()
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        pre = _bn_relu(first.bn1, x)
        assert first.downsample is not None
        residual = first.conv3(
            _bn_relu(first.bn3, first.conv2(_bn_relu(first.bn2, first.conv1(pre))))
        )
        expected = residual + first.downsample[0](pre)
        y = first(x)
        torch.testing.assert_close(y, expected)
        assert (y < 0).any()  # no ReLU after the add

        assert later.downsample is None
        pre = _bn_relu(later.bn1, y)
        residual = later.conv3(
            _bn_relu(later.bn3, later.conv2(_bn_relu(later.bn2, later.conv1(pre))))
        )
        torch.testing.assert_close(later(y), residual + y)


def _key_patterns(model: nn.Module) -> set[str]:
    """Collapse block indices > 0 to `i` so the naming scheme can be compared as a set."""
    return {re.sub(r"^(layer\d)\.[1-9]\d*\.", r"\1.i.", k) for k in model.state_dict()}


BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(prefix: str) -> set[str]:
    return {f"{prefix}.{p}" for p in BN}


def test_preact_and_wrn_state_dict_naming() -> None:
    bottleneck: set[str] = {"conv1.weight", "fc.weight", "fc.bias"} | _bn("bn_final")
    basic: set[str] = set(bottleneck)
    for s in (1, 2, 3):
        for i in ("0", "i"):
            b = f"layer{s}.{i}"
            bottleneck |= _bn(f"{b}.bn1") | _bn(f"{b}.bn2") | _bn(f"{b}.bn3")
            bottleneck |= {f"{b}.conv{c}.weight" for c in (1, 2, 3)}
            basic |= _bn(f"{b}.bn1") | _bn(f"{b}.bn2")
            basic |= {f"{b}.conv{c}.weight" for c in (1, 2)}
        bottleneck.add(f"layer{s}.0.downsample.0.weight")
        basic.add(f"layer{s}.0.downsample.0.weight")
    assert _key_patterns(preact_resnet(164)) == bottleneck
    assert _key_patterns(wrn28_10()) == basic


def test_cifar_resnet_state_dict_naming() -> None:
    expected: set[str] = {"conv1.weight", "fc.weight", "fc.bias"} | _bn("bn1")
    for s in (1, 2, 3):
        for i in ("0", "i"):
            b = f"layer{s}.{i}"
            expected |= _bn(f"{b}.bn1") | _bn(f"{b}.bn2")
            expected |= {f"{b}.conv1.weight", f"{b}.conv2.weight"}
    assert _key_patterns(cifar_resnet(20)) == expected


@pytest.mark.parametrize("depth", [0, 21, 165])
def test_invalid_depth_is_rejected(depth: int) -> None:
    build = cifar_resnet if depth != 165 else preact_resnet
    with pytest.raises(ValueError, match="depth must be"):
        build(depth)
