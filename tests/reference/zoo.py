"""The library ResNets every built-in spec is measured against, enumerated when the tests run.

timm: every entrypoint of its `resnet` module (`timm.list_models(module="resnet")`). torchvision:
every registered builder defined in `torchvision.models.resnet`. Asking the libraries, rather than
copying their lists, is what makes an upgrade that adds an entrypoint show up as a failing test.
"""

from __future__ import annotations

from typing import Literal

import timm
import torchvision.models
from torch import nn

Source = Literal["timm", "torchvision"]


def timm_entrypoints() -> list[str]:
    return sorted(timm.list_models(module="resnet"))


def torchvision_builders() -> list[str]:
    models = torchvision.models
    resnet = models.resnet.__name__
    return sorted(
        n
        for n in models.list_models(module=models)
        if models.get_model_builder(n).__module__ == resnet
    )


def entrypoints() -> list[tuple[Source, str]]:
    """Every (library, name) pair, torchvision's first."""
    return [*(("torchvision", n) for n in torchvision_builders()),
            *(("timm", n) for n in timm_entrypoints())]  # fmt: skip


def build(source: Source, name: str) -> nn.Module:
    """Build a reference with random weights (never downloaded) on the current default device."""
    if source == "timm":
        return timm.create_model(name, pretrained=False)
    return torchvision.models.get_model(name, weights=None)
