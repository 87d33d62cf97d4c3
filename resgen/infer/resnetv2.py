"""timm's ResNetV2 and BiT names, read as the ResNet names they stand for.

ResNetV2 names a block `stages.0.blocks.0` (torchvision's `layer1.0`), its projection
`downsample.conv`, the stem `stem.conv` or a deep stem's `stem.conv1..3` with `stem.norm1..2`,
the final norm `norm` (a pre-activation net's `bn_final`) and a classifier that may be a 1x1 conv
(BiT's 4-D `head.fc`). Renamed, the keys go through the ResNet reader (resgen.infer.structure);
the spec then says `layout: resnetv2`. A plain and an avg-pool projection share their names
here, and weight standardisation leaves no tensor: both are assumptions (resgen.infer.assume).
"""

from __future__ import annotations

import re

from resgen.infer.weights import Shapes

BLOCK = re.compile(r"^stages\.(\d+)\.blocks\.(\d+)\.(.*)$")
STEM = {"stem.conv.": "conv1.", "stem.conv1.": "conv1.0.", "stem.norm1.": "conv1.1.",
        "stem.conv2.": "conv1.3.", "stem.norm2.": "conv1.4.", "stem.conv3.": "conv1.6.",
        "stem.norm3.": "bn1.", "stem.norm.": "bn1.", "norm.": "bn_final."}  # fmt: skip


def is_resnetv2(shapes: Shapes) -> bool:
    return any(BLOCK.match(k) for k in shapes)


def as_resnet(shapes: Shapes) -> Shapes:
    """The shapes under the ResNet names they stand for."""
    renamed: Shapes = {}
    for key, shape in shapes.items():
        new = _rename(key)
        # BiT's classifier is a 1x1 conv: its classes are its outputs all the same
        renamed[new] = shape[:2] if new == "fc.weight" else shape
    return renamed


def _rename(key: str) -> str:
    match = BLOCK.match(key)
    if match:
        rest = match[3].replace("downsample.conv.", "downsample.0.")
        rest = rest.replace("downsample.norm.", "downsample.1.")
        return f"layer{int(match[1]) + 1}.{match[2]}.{rest}"
    if key.startswith("head.fc."):
        return key.removeprefix("head.")
    for old, new in STEM.items():
        if key.startswith(old):
            return new + key.removeprefix(old)
    return key
