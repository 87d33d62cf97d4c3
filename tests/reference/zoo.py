"""The library ResNets every built-in spec is measured against, enumerated when the tests run.

timm: every entrypoint of its `resnet` module (`timm.list_models(module="resnet")`). torchvision:
every registered builder defined in `torchvision.models.resnet`. The RegNets likewise: timm's
`regnet` module and `torchvision.models.regnet`. Asking the libraries, rather than
copying their lists, is what makes an upgrade that adds an entrypoint show up as a failing test.
"""

from __future__ import annotations

from typing import Literal

import timm
import torchvision.models
from torch import nn

Source = Literal["timm", "torchvision"]


def timm_entrypoints(module: str = "resnet") -> list[str]:
    return sorted(timm.list_models(module=module))


def torchvision_builders(module: str = "resnet") -> list[str]:
    models = torchvision.models
    name = getattr(models, module).__name__
    return sorted(
        n
        for n in models.list_models(module=models)
        if models.get_model_builder(n).__module__ == name
    )


def entrypoints() -> list[tuple[Source, str]]:
    """Every (library, name) pair, torchvision's first."""
    return [*(("torchvision", n) for n in torchvision_builders()),
            *(("timm", n) for n in timm_entrypoints())]  # fmt: skip


def regnet_entrypoints() -> list[tuple[Source, str]]:
    """Both libraries' RegNets (tests/test_zoo_regnet.py), torchvision's first."""
    return [*(("torchvision", n) for n in torchvision_builders("regnet")),
            *(("timm", n) for n in timm_entrypoints("regnet"))]  # fmt: skip


def build(source: Source, name: str) -> nn.Module:
    """Build a reference with random weights (never downloaded) on the current default device."""
    if source == "timm":
        return timm.create_model(name, pretrained=False)
    return torchvision.models.get_model(name, weights=None)
