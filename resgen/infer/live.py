"""What a live ResNet module shows beyond its weights: strides, which conv strides, dilation,
activation, anti-aliasing, pools, epsilon, dropout and drop-path rates.

It reads torchvision's, timm's and resgen's generated ResNets by the same module names their
state_dict keys come from (`layerN.I.conv2`, `maxpool`, `aa`, `downsample`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from resgen.graph.regnet import LAYOUTS
from resgen.infer.regnet import PROJECTIONS

if TYPE_CHECKING:
    from torch import nn

ACTS = {"ReLU": "relu", "SiLU": "silu", "GELU": "gelu", "LeakyReLU": "leaky_relu", "ELU": "elu",
        "Mish": "mish", "Hardswish": "hardswish", "Tanh": "tanh"}  # fmt: skip
BLOCK = re.compile(r"^layer(\d+)\.(\d+)$")
# A block's convs that may stride, and its 3x3 that dilates: plain, Res2Net's first split,
# SKNet's first path (timm's ConvNormAct keeps the conv as `.conv`).
STRIDED = ("conv1", "conv2", "convs.0", "conv1.paths.0.conv", "conv2.paths.0.conv",
           "conv2.conv", "avd_first", "avd_last")  # fmt: skip
DILATED = ("conv2.paths.0.conv", "conv2.conv", "conv2", "convs.0")
# Norms with their own nonlinearity (timm's and resgen's names): no activation module follows.
NORM_ACTS = ("EvoNorm2dS0", "FilterResponseNormTlu2d")
V2_BLOCK = re.compile(r"^stages\.(\d+)\.blocks\.(\d+)$")
V2_STEM = {"conv1": "stem.conv", "conv1.0": "stem.conv1", "maxpool": "stem.pool"}
REGNET_BLOCK = {"torchvision": re.compile(r"^trunk_output\.block(\d+)\.block\1-(\d+)$"),
                "timm": re.compile(r"^s(\d+)\.b(\d+)$")}  # fmt: skip


def read_live(model: nn.Module) -> dict[str, Any]:
    """The values resgen.infer.assume would otherwise assume, as the module shows them."""
    modules = dict(model.named_modules())
    for layout, pattern in REGNET_BLOCK.items():
        if any(pattern.match(name) for name in modules):
            return _read_regnet(modules, layout, _blocks(modules, pattern))
    v2 = any(V2_BLOCK.match(name) for name in modules)  # timm's ResNetV2 names
    if v2:  # its stem and pool under ResNet names (resgen.infer.resnetv2 renames its keys)
        modules |= {n: modules[o] for n, o in V2_STEM.items() if o in modules}
    blocks = _blocks(modules, V2_BLOCK if v2 else BLOCK)
    found: dict[str, Any] = _strides(modules, blocks)
    found["block.stride_on"] = "3x3"
    for first in (stage[0] for stage in blocks):
        conv1 = modules[f"{first}.conv1"]
        if f"{first}.conv3" in modules and _stride(conv1) > 1:
            found["block.stride_on"] = "1x1"
    found |= _kinds(modules)
    found["stem.pool"] = "max" if _present(modules.get("maxpool")) else "none"
    found["shortcut"] = _parameter_free_shortcut(modules, blocks)
    if v2:
        found |= _resnetv2(modules, blocks)
    preact = "bn_final" in modules or v2
    order = ("conv3", "conv2") if preact else ("bn3", "bn2", "conv3", "conv2")
    last = [next((modules[n] for n in (f"{b}.{o}" for o in order) if n in modules), None)
            for stage in blocks for b in stage]  # fmt: skip
    return found | _zero_init(last)


def _read_regnet(modules: dict[str, nn.Module], layout: str,
                 blocks: list[list[str]]) -> dict[str, Any]:  # fmt: skip
    """A RegNet's strides (its 3x3 or projection's), dilation and kinds, by the layout's names
    (a pre-activation block's bare convs too); its ends: the activation after each add (none:
    linear_out) and an activation alone before the pool (timm's `final_conv`, resgen's `act`)."""
    names = LAYOUTS[layout]
    stages = []
    for stage in blocks:
        conv2 = [_first(modules, b, (names.convs[1], "conv2")) for b in stage]
        projs = (names.proj[0], *PROJECTIONS)
        strided = [m for m in (conv2[0], _first(modules, stage[0], projs)) if m is not None]
        stages.append((max(map(_stride, strided)), max(map(_dilation, filter(None, conv2)))))
    stem = modules.get(names.stem[0], modules.get("stem"))
    found = _stage_strides(_stride(stem) if stem is not None else 2, stages)
    found |= _kinds(modules) | {"stem.pool": "none", "shortcut": "none"}
    last = [_first(modules, b, (names.norms[2], "conv3")) for s in blocks for b in s]
    found["block.linear_out"] = not _present(modules.get(f"{blocks[0][0]}.{names.act}"))
    final = next((modules[n] for n in ("final_conv", "act") if n in modules), None)
    found["head.final"] = "norm_act" if "bn_final" in modules else (
        "act" if type(final).__name__ in ACTS else "none")  # fmt: skip
    return found | _zero_init(last)


def _first(modules: dict[str, nn.Module], block: str, names: Iterable[str]) -> nn.Module | None:
    """The first of a block's modules by these names that it has."""
    return next((modules[f"{block}.{n}"] for n in names if f"{block}.{n}" in modules), None)


def _resnetv2(modules: dict[str, nn.Module], blocks: list[list[str]]) -> dict[str, Any]:
    """What a ResNetV2's keys cannot tell: its projections' avg-pool (timm's DownsampleAvg has
    a `pool`), weight standardisation (StdConv2d) and its epsilon, BiT's zero-padded pool."""
    pooled = any(f"{stage[0]}.downsample.pool" in modules for stage in blocks)
    found: dict[str, Any] = {"shortcut": "avgpool_projection" if pooled else "projection"}
    std = [m for m in modules.values() if type(m).__name__.startswith("StdConv")]
    found["conv.standardize"] = bool(std)
    if std:
        found["conv.eps"] = float(getattr(std[0], "eps", 1e-6))
    pool = modules.get("maxpool")
    if _present(pool) and "stem.pad" in modules and getattr(pool, "padding", 1) in (0, (0, 0)):
        found["stem.pool"] = "max_zero_pad"
    return found


def _zero_init(last: list[nn.Module | None]) -> dict[str, Any]:
    """A model fresh from its constructor shows zero_init_residual as all-zero last norms (the
    last convs of pre-activation blocks); nothing on `meta`, where no value can be read."""
    weights = [getattr(module, "weight", None) for module in last]
    if not weights or any(w is None or w.is_meta for w in weights):
        return {}
    return {"zero_init_residual": not any(bool(w.any()) for w in weights if w is not None)}


def _blocks(modules: dict[str, nn.Module], pattern: re.Pattern[str] = BLOCK) -> list[list[str]]:
    """Block module names by stage, in order (stage and block numbers are the last two)."""
    stages: dict[int, list[tuple[int, str]]] = {}
    for name in modules:
        match = pattern.match(name)
        if match:
            stages.setdefault(int(match[1]), []).append((int(match[match.lastindex or 0]), name))
    return [[name for _, name in sorted(stages[n])] for n in sorted(stages)]


def _stride(module: nn.Module) -> int:
    stride = getattr(module, "stride", 1)
    return int(stride[0] if isinstance(stride, tuple) else stride)


def _present(module: nn.Module | None) -> bool:
    return module is not None and type(module).__name__ != "Identity"


def _strides(modules: dict[str, nn.Module], blocks: list[list[str]]) -> dict[str, Any]:
    """Each stage's stride, and the output stride where a stage dilates instead."""
    stem = modules.get("conv1.0", modules.get("conv1"))
    net = _stride(stem) * (2 if _present(modules.get("maxpool")) else 1) if stem else 1
    stages = []
    for stage in blocks:
        first = stage[0]
        aa = _present(modules.get(f"{first}.aa"))
        ds = modules.get(f"{first}.downsample")
        convs = [_first(modules, first, (c,)) for c in STRIDED]
        stride = max(_stride(c) for c in convs if c is not None)
        stride = max(stride, 2 if aa else 1, _first_stride(ds))
        conv2 = [_first(modules, b, DILATED) for b in stage]
        stages.append((stride, max(_dilation(c) for c in conv2 if c is not None)))
    return _stage_strides(net, stages)


def _stage_strides(net: int, stages: list[tuple[int, int]]) -> dict[str, Any]:
    """Strides and the output stride from each stage's (stride, dilation), after a stem of
    stride `net`: a stage that dilates in place of striding counts as stride 2."""
    strides, output_stride, dilation = [], None, 1
    for stride, dilated in stages:
        if stride == 1 and dilated > dilation:
            stride, output_stride = 2, output_stride or net
        else:
            net *= stride
        strides.append(stride)
        dilation = max(dilation, dilated)
    return {"strides": strides, "output_stride": output_stride}


def _first_stride(module: nn.Module | None) -> int:
    """A projection's stride (its first module; timm's avg-pool projection pools first)."""
    children = list(module.children()) if module is not None else []
    return _stride(children[0]) if children else 1


def _dilation(module: nn.Module) -> int:
    dilation = getattr(module, "dilation", 1)
    return int(dilation[0] if isinstance(dilation, tuple) else dilation)


def _kinds(modules: dict[str, nn.Module]) -> dict[str, Any]:
    """Activation, anti-aliasing, norm epsilon and groups, head pool, dropout, drop path."""
    found: dict[str, Any] = {"anti_alias": None, "head.pool": "avg", "head.dropout": 0.0}
    rates = [0.0]
    for name, module in modules.items():
        kind = type(module).__name__
        if kind in ACTS and "act" not in found:
            found["act"] = ACTS[kind]
        elif name.endswith(".aa") and _present(module):
            found["anti_alias"] = "avg" if kind == "AvgPool2d" else "blur"
        elif _is_norm(module) and "norm.eps" not in found:
            found["norm.eps"] = float(getattr(module, "eps", 1e-5))
        elif kind == "AdaptiveMaxPool2d" or getattr(module, "pool_type", "") == "max":
            found["head.pool"] = "max"
        elif kind == "Dropout":
            found["head.dropout"] = float(getattr(module, "p", 0.0))
        elif kind == "DropPath":
            rates.append(float(getattr(module, "drop_prob", getattr(module, "rate", 0.0))))
    root = modules[""]
    if isinstance(getattr(root, "drop_rate", None), float):
        found["head.dropout"] = root.drop_rate
    found["drop_path"] = round(max(rates), 10)
    split = [
        m.split_input for m in modules.values() if isinstance(getattr(m, "split_input", 0), bool)
    ]
    if split:  # a selective kernel conv's (timm's and resgen's keep the argument)
        found["block.selective_kernel.split_input"] = split[0]
    avd = [n.rsplit("_", 1)[1] for n, m in modules.items()
           if n.endswith((".avd_first", ".avd_last")) and _present(m)]  # fmt: skip
    found["block.split_attention.avd"] = avd[0] if avd else "none"
    return found | _group_norm(modules)


def _is_norm(module: nn.Module) -> bool:
    from torch import nn

    # timm's BatchNormAct2d and GroupNormAct subclass torch's; torchvision's frozen norm does not
    return isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)) or (
        type(module).__name__ in ("FrozenBatchNorm2d", *NORM_ACTS))  # fmt: skip


def _group_norm(modules: dict[str, nn.Module]) -> dict[str, int]:
    """GroupNorm's groups where every layer has as many, else its group size where every group
    is as wide (timm's group_size): what its weights cannot show."""
    from torch import nn

    evo = [m for m in modules.values() if type(m).__name__ == "EvoNorm2dS0"]
    if evo:  # grouped like group norm, by its `groups`
        return {"norm.groups": int(getattr(evo[0], "groups", 32))}
    norms = [
        (m.num_groups, m.num_channels) for m in modules.values() if isinstance(m, nn.GroupNorm)
    ]
    if not norms:
        return {}
    if len({groups for groups, _ in norms}) == 1:
        return {"norm.groups": norms[0][0]}
    if len(sizes := {channels // groups for groups, channels in norms}) == 1:
        return {"norm.group_size": sizes.pop()}
    return {}


def _parameter_free_shortcut(modules: dict[str, nn.Module], blocks: list[list[str]]) -> str:
    """pad where a block's shortcut is a padding module, else none (no shortcut at all)."""
    for stage in blocks:
        for block in stage:
            if "Pad" in type(modules.get(f"{block}.downsample")).__name__:
                return "pad"
    return "none"
