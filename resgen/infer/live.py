"""What a live ResNet module shows beyond its weights: strides, which conv strides, dilation,
activation, anti-aliasing, pools, epsilon, dropout and drop-path rates.

It reads torchvision's, timm's and resgen's generated ResNets by the same module names their
state_dict keys come from (`layerN.I.conv2`, `maxpool`, `aa`, `downsample`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

ACTS = {"ReLU": "relu", "SiLU": "silu", "GELU": "gelu", "LeakyReLU": "leaky_relu", "ELU": "elu",
        "Mish": "mish", "Hardswish": "hardswish", "Tanh": "tanh"}  # fmt: skip
BLOCK = re.compile(r"^layer(\d+)\.(\d+)$")


def read_live(model: nn.Module) -> dict[str, Any]:
    """The values resgen.infer.assume would otherwise assume, as the module shows them."""
    modules = dict(model.named_modules())
    blocks = _blocks(modules)
    found: dict[str, Any] = _strides(modules, blocks)
    found["block.stride_on"] = "3x3"
    for first in (stage[0] for stage in blocks):
        conv1 = modules[f"{first}.conv1"]
        if f"{first}.conv3" in modules and _stride(conv1) > 1:
            found["block.stride_on"] = "1x1"
    found |= _kinds(modules)
    found["stem.pool"] = "max" if _present(modules.get("maxpool")) else "none"
    found["shortcut"] = _parameter_free_shortcut(modules, blocks)
    zero = _zero_init(modules, [b for stage in blocks for b in stage])
    if zero is not None:
        found["zero_init_residual"] = zero
    return found


def _zero_init(modules: dict[str, nn.Module], blocks: list[str]) -> bool | None:
    """A model fresh from its constructor shows zero_init_residual as all-zero last norms (the
    last convs of pre-activation blocks); None on `meta`, where no value can be read."""
    last = []
    order = ("conv3", "conv2") if "bn_final" in modules else ("bn3", "bn2", "conv3", "conv2")
    for block in blocks:
        names = [f"{block}.{n}" for n in order]
        found = next((modules[n] for n in names if n in modules), None)
        weight = getattr(found, "weight", None)
        if weight is None or weight.is_meta:
            return None
        last.append(weight)
    return bool(last) and all(not bool(w.any()) for w in last)


def _blocks(modules: dict[str, nn.Module]) -> list[list[str]]:
    stages: dict[int, list[str]] = {}
    for name in modules:
        match = BLOCK.match(name)
        if match:
            stages.setdefault(int(match[1]), []).append(name)
    return [sorted(stages[n], key=lambda b: int(b.rsplit(".", 1)[1])) for n in sorted(stages)]


def _stride(module: nn.Module) -> int:
    stride = getattr(module, "stride", 1)
    return int(stride[0] if isinstance(stride, tuple) else stride)


def _present(module: nn.Module | None) -> bool:
    return module is not None and type(module).__name__ != "Identity"


def _strides(modules: dict[str, nn.Module], blocks: list[list[str]]) -> dict[str, Any]:
    """Each stage's stride, and the output stride where a stage dilates instead."""
    stem = modules.get("conv1.0", modules.get("conv1"))
    net = _stride(stem) * (2 if _present(modules.get("maxpool")) else 1) if stem else 1
    strides, output_stride, dilation = [], None, 1
    for stage in blocks:
        first = stage[0]
        aa = _present(modules.get(f"{first}.aa"))
        ds = modules.get(f"{first}.downsample")
        stride = max(_stride(modules[f"{first}.{c}"]) for c in ("conv1", "conv2"))
        stride = max(stride, 2 if aa else 1, _first_stride(ds))
        dilated = max(_dilation(modules[f"{b}.conv2"]) for b in stage)
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
        elif kind in ("BatchNorm2d", "GroupNorm", "FrozenBatchNorm2d") and "norm.eps" not in found:
            found["norm.eps"] = float(getattr(module, "eps", 1e-5))
            if kind == "GroupNorm":
                found["norm.groups"] = int(getattr(module, "num_groups", 32))
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
    return found


def _parameter_free_shortcut(modules: dict[str, nn.Module], blocks: list[list[str]]) -> str:
    """pad where a block's shortcut is a padding module, else none (no shortcut at all)."""
    for stage in blocks:
        for block in stage:
            if "Pad" in type(modules.get(f"{block}.downsample")).__name__:
                return "pad"
    return "none"
