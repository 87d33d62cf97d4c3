"""Hand-written reference ResNets from the papers that torchvision and timm do not ship.

These are the independent references that generated models are compared against (strict
``load_state_dict`` plus identical eval outputs), so they are written out by hand in plain PyTorch,
in torchvision's style, and import nothing but torch.

Counting conventions (see ``/work/shared/REFERENCE.md``): params = ``sum(p.numel())``; MACs =
``FlopCounterMode`` total / 2 (only convs and matmuls count). The numbers in the comments below
were measured with torch 2.14.1 on CPU.

| builder             | params     | MACs                   | source of the param count       |
|---------------------|------------|------------------------|---------------------------------|
| resnet50_v1()       | 25,557,032 | 3,857,973,248 @224     | = torchvision resnet50          |
| resnet34_a()        | 21,623,848 | 3,644,493,824 @224     | He et al. 2015, option A        |
| resnet34_c()        | 22,716,840 | 3,830,747,136 @224     | He et al. 2015, option C        |
| cifar_resnet(20)    |    269,722 |    40,551,040 @32      | He et al. 2015, sec. 4.2        |
| cifar_resnet(32)    |    464,154 |    68,862,592 @32      |                                 |
| cifar_resnet(44)    |    658,586 |    97,174,144 @32      |                                 |
| cifar_resnet(56)    |    853,018 |   125,485,696 @32      |                                 |
| cifar_resnet(110)   |  1,727,962 |   252,887,680 @32      |                                 |
| cifar_resnet(1202)  | 19,421,274 | 2,829,238,912 @32      |                                 |
| preact_resnet(164)  |  1,703,258 |   247,646,720 @32      | He et al. 2016, Identity Mapp.  |
| preact_resnet(1001) | 10,327,706 | 1,490,995,712 @32      | REFERENCE.md: about 10.3 M      |
| wrn28_10()          | 36,479,194 | 5,243,328,768 @32      | Zagoruyko & Komodakis 2016      |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# He et al. 2015, sec. 3.3: A = zero-padded identity where the shape changes (no params),
# B = projection only where the shape changes (torchvision), C = projection in every block.
ShortcutOption = Literal["A", "B", "C"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """Return a 3x3 convolution with padding 1 and no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """Return a 1x1 convolution with no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: subsample by the stride, zero-pad the new channels at the end."""

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.in_planes = in_planes
        self.out_planes = out_planes
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        # Taking every stride-th pixel from index 0 gives ceil(H / stride) rows, the same as a
        # 3x3 conv with padding 1, so the shapes agree for odd sizes too.
        x = x[:, :, :: self.stride, :: self.stride]
        # F.pad lists the last dim first: (W left, W right, H top, H bottom, C front, C end).
        return F.pad(x, (0, 0, 0, 0, 0, self.out_planes - self.in_planes))

    def extra_repr(self) -> str:
        return f"{self.in_planes}, {self.out_planes}, stride={self.stride}"


def make_shortcut(
    in_planes: int, out_planes: int, stride: int, option: ShortcutOption
) -> nn.Module | None:
    """Return the shortcut branch of a post-activation block, or None for a plain identity."""
    shape_changes = stride != 1 or in_planes != out_planes
    if option == "C" or (option == "B" and shape_changes):
        return nn.Sequential(
            conv1x1(in_planes, out_planes, stride),
            nn.BatchNorm2d(out_planes),
        )
    if option == "A" and shape_changes:
        return ZeroPadShortcut(in_planes, out_planes, stride)
    return None


def init_weights(model: nn.Module) -> None:
    """Initialise like torchvision: He-normal (fan_out) convs, BN weight 1 and bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


# --------------------------------------------------------------------------------------------
# Post-activation ResNets (He et al. 2015)
# --------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """Two 3x3 convs, each followed by BN, ReLU after the add (torchvision's BasicBlock)."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, shortcut: ShortcutOption = "B"
    ) -> None:
        super().__init__()
        # Both self.conv1 and self.downsample downsample the input when stride != 1.
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = make_shortcut(inplanes, planes, stride, shortcut)

    def forward(self, x: Tensor) -> Tensor:
        identity = x

        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))

        if self.downsample is not None:
            identity = self.downsample(x)

        out += identity
        return self.relu(out)


class BottleneckV1(nn.Module):
    """1x1-3x3-1x1 bottleneck with the stride on the first 1x1 conv (original paper, "v1").

    torchvision puts the stride on the 3x3 ("v1.5"); the parameters are the same, but v1 runs
    the 3x3 at the reduced resolution, so ResNet-50 costs 3.86 G MACs instead of 4.09 G.
    """

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, shortcut: ShortcutOption = "B"
    ) -> None:
        super().__init__()
        # Both self.conv1 and self.downsample downsample the input when stride != 1.
        self.conv1 = conv1x1(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = make_shortcut(inplanes, planes * self.expansion, stride, shortcut)

    def forward(self, x: Tensor) -> Tensor:
        identity = x

        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))

        if self.downsample is not None:
            identity = self.downsample(x)

        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """ImageNet ResNet with torchvision's module names (and so its state_dict keys)."""

    def __init__(
        self,
        block: type[BasicBlock | BottleneckV1],
        layers: Sequence[int],
        shortcut: ShortcutOption = "B",
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0], 1, shortcut)
        self.layer2 = self._make_layer(block, 128, layers[1], 2, shortcut)
        self.layer3 = self._make_layer(block, 256, layers[2], 2, shortcut)
        self.layer4 = self._make_layer(block, 512, layers[3], 2, shortcut)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        init_weights(self)

    def _make_layer(
        self,
        block: type[BasicBlock | BottleneckV1],
        planes: int,
        blocks: int,
        stride: int,
        shortcut: ShortcutOption,
    ) -> nn.Sequential:
        layers: list[nn.Module] = [block(self.inplanes, planes, stride, shortcut)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, 1, shortcut))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, 56, 56) at 224

        x = self.layer1(x)  # (N, 64 * e, 56, 56)
        x = self.layer2(x)  # (N, 128 * e, 28, 28)
        x = self.layer3(x)  # (N, 256 * e, 14, 14)
        x = self.layer4(x)  # (N, 512 * e, 7, 7)

        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


class CifarResNet(nn.Module):
    """CIFAR ResNet of depth 6n+2 (He et al. 2015, sec. 4.2): 3x3 stem, widths 16/32/64."""

    def __init__(self, depth: int, shortcut: ShortcutOption = "A", num_classes: int = 10) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1, got {depth}")
        n = (depth - 2) // 6
        self.inplanes = 16
        self.conv1 = conv3x3(3, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(16, n, 1, shortcut)
        self.layer2 = self._make_layer(32, n, 2, shortcut)
        self.layer3 = self._make_layer(64, n, 2, shortcut)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        init_weights(self)

    def _make_layer(
        self, planes: int, blocks: int, stride: int, shortcut: ShortcutOption
    ) -> nn.Sequential:
        layers: list[nn.Module] = [BasicBlock(self.inplanes, planes, stride, shortcut)]
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(BasicBlock(planes, planes, 1, shortcut))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))  # (N, 16, 32, 32)

        x = self.layer1(x)  # (N, 16, 32, 32)
        x = self.layer2(x)  # (N, 32, 16, 16)
        x = self.layer3(x)  # (N, 64, 8, 8)

        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


# --------------------------------------------------------------------------------------------
# Pre-activation ResNets (He et al. 2016, "Identity Mappings") and Wide ResNets
# --------------------------------------------------------------------------------------------


def make_projection(in_planes: int, out_planes: int, stride: int) -> nn.Sequential | None:
    """Return the 1x1 projection (no BN) of a pre-activation block, or None where shapes match."""
    if stride == 1 and in_planes == out_planes:
        return None
    return nn.Sequential(conv1x1(in_planes, out_planes, stride))


class PreActBottleneck(nn.Module):
    """BN-ReLU-conv 1x1, BN-ReLU-conv 3x3 (stride), BN-ReLU-conv 1x1; no ReLU after the add."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv1x1(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = make_projection(inplanes, planes * self.expansion, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(x))
        # Where the shape changes the projection sees the pre-activated input (the paper's
        # choice, so the first block of a stage is BN-ReLU followed by two branches); an
        # identity shortcut carries the raw x, keeping the clean identity path.
        identity = x if self.downsample is None else self.downsample(out)

        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))

        return out + identity


class PreActBasicBlock(nn.Module):
    """BN-ReLU-conv 3x3 (stride), BN-ReLU-conv 3x3; the Wide ResNet block without dropout."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = make_projection(inplanes, planes, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(x))
        # As in PreActBottleneck: the projection takes the pre-activated input.
        identity = x if self.downsample is None else self.downsample(out)

        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))

        return out + identity


class PreActResNet(nn.Module):
    """CIFAR pre-activation ResNet: bare 3x3 stem, three stages, final BN-ReLU, pool, fc.

    The stem is a bare conv because the first block's bn1-ReLU pre-activates its output.
    Kaiming He's resnet-1k-layers code instead puts BN-ReLU after the stem and skips the first
    block's pre-activation; that is the same function with the same parameter count (one
    BatchNorm2d(16) either way), only its name differs.
    """

    def __init__(
        self,
        block: type[PreActBottleneck | PreActBasicBlock],
        widths: Sequence[int],
        blocks_per_stage: int,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.inplanes = 16
        self.conv1 = conv3x3(3, 16)
        self.layer1 = self._make_layer(block, widths[0], blocks_per_stage, 1)
        self.layer2 = self._make_layer(block, widths[1], blocks_per_stage, 2)
        self.layer3 = self._make_layer(block, widths[2], blocks_per_stage, 2)
        self.bn_final = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, num_classes)
        init_weights(self)

    def _make_layer(
        self,
        block: type[PreActBottleneck | PreActBasicBlock],
        planes: int,
        blocks: int,
        stride: int,
    ) -> nn.Sequential:
        layers: list[nn.Module] = [block(self.inplanes, planes, stride)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, 1))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)  # (N, 16, 32, 32)

        x = self.layer1(x)  # (N, widths[0] * e, 32, 32)
        x = self.layer2(x)  # (N, widths[1] * e, 16, 16)
        x = self.layer3(x)  # (N, widths[2] * e, 8, 8)

        x = self.relu(self.bn_final(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


# --------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------


def resnet50_v1(num_classes: int = 1000) -> ResNet:
    """Build ResNet-50 with the stride on each bottleneck's first 1x1 conv (paper, Caffe).

    Same keys and shapes as torchvision's resnet50: 25,557,032 params, 320 state_dict entries.
    MACs at 224x224: 3,857,973,248 (FlopCounterMode 7,715,946,496 / 2); torchvision's v1.5 has
    4,089,184,256.
    """
    return ResNet(BottleneckV1, [3, 4, 6, 3], shortcut="B", num_classes=num_classes)


def resnet34_a(num_classes: int = 1000) -> ResNet:
    """Build ResNet-34 with option A shortcuts (zero-padded identity, no projection).

    21,623,848 params; torchvision's resnet34 keys minus ``layer{2,3,4}.0.downsample.{0,1}.*``.
    MACs at 224x224: 3,644,493,824.
    """
    return ResNet(BasicBlock, [3, 4, 6, 3], shortcut="A", num_classes=num_classes)


def resnet34_c(num_classes: int = 1000) -> ResNet:
    """Build ResNet-34 with option C shortcuts (conv 1x1 + BN projection in every block).

    22,716,840 params; torchvision's resnet34 keys plus ``downsample.{0,1}`` in every block.
    MACs at 224x224: 3,830,747,136.
    """
    return ResNet(BasicBlock, [3, 4, 6, 3], shortcut="C", num_classes=num_classes)


def cifar_resnet(depth: int, num_classes: int = 10) -> CifarResNet:
    """Build the CIFAR ResNet of depth 6n+2 (20, 32, 44, 56, 110, 1202) with option A shortcuts.

    Params: 20 -> 269,722; 32 -> 464,154; 44 -> 658,586; 56 -> 853,018; 110 -> 1,727,962;
    1202 -> 19,421,274 (all equal to the paper's, for num_classes=10).
    """
    return CifarResNet(depth, shortcut="A", num_classes=num_classes)


def preact_resnet(depth: int, num_classes: int = 10) -> PreActResNet:
    """Build the CIFAR pre-activation bottleneck ResNet of depth 9n+2 (164, 1001).

    ResNet-164: 1,703,258 params, exactly the target, on the first try with bias-free convs and
    either stem variant (see PreActResNet). Convs with bias would give 1,715,818. ResNet-1001:
    10,327,706 params (10,402,762 with conv biases).
    """
    if depth < 11 or (depth - 2) % 9 != 0:
        raise ValueError(f"pre-activation ResNet depth must be 9n+2 with n >= 1, got {depth}")
    n = (depth - 2) // 9
    return PreActResNet(PreActBottleneck, [16, 32, 64], n, num_classes=num_classes)


def wrn28_10(num_classes: int = 10) -> PreActResNet:
    """Build Wide ResNet WRN-28-10 (widths 160/320/640, 4 blocks per stage, no dropout).

    36,479,194 params with bias-free convs (36,489,290 with conv biases). Keys follow the
    pre-activation nets: ``conv1``, ``layer{s}.{i}.{bn1,conv1,bn2,conv2}``,
    ``layer{s}.0.downsample.0``, ``bn_final``, ``fc``.
    """
    depth, k = 28, 10
    n = (depth - 4) // 6
    return PreActResNet(PreActBasicBlock, [16 * k, 32 * k, 64 * k], n, num_classes=num_classes)
