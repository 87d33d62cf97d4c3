"""The spec's leaf models (input, attention, norm) and the limits every model shares.

resgen/spec/model.py builds the spec from them; they live here to keep each module readable.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from resgen.spec import inert
from resgen.spec.inert import ALWAYS, when, when_sibling

# Limits that keep a typo from asking for a model that cannot exist: they are far above any
# published ResNet, and low enough that resgen never allocates or loops absurdly.
MAX_CHANNELS = 1 << 16
MAX_DEPTH = 20_000
MAX_SIZE = 1 << 14


Channels = Annotated[int, Field(ge=1, le=MAX_CHANNELS)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class InputSpec(_Model):
    """The input tensor the shapes are checked for."""

    channels: Channels = Field(
        3, description="Input channels (3 for RGB images).", json_schema_extra=ALWAYS
    )
    size: (
        Annotated[int, Field(ge=1, le=MAX_SIZE)]
        | Annotated[
            list[Annotated[int, Field(ge=1, le=MAX_SIZE)]], Field(min_length=2, max_length=2)
        ]
    ) = Field(
        224,
        description="Input height and width in pixels: one number, or [height, width].",
        json_schema_extra=ALWAYS,
    )

    @property
    def hw(self) -> tuple[int, int]:
        if isinstance(self.size, int):
            return self.size, self.size
        return self.size[0], self.size[1]


class AttentionSpec(_Model):
    """Channel attention inside every block, after the last norm (timm's placement)."""

    type: Literal["se", "eca"] = Field(
        description="se: squeeze-and-excitation (Hu et al. 2018; timm `se.fc1/fc2`); "
        "eca: efficient channel attention (Wang et al. 2020; timm `se.conv`).",
        json_schema_extra=ALWAYS,
    )
    reduction: Annotated[int, Field(ge=1, le=1024)] = Field(
        16,
        description="se: hidden channels = block channels / reduction, rounded to `divisor`.",
        json_schema_extra=when_sibling(
            "type",
            ("se",),
            "`reduction` is used by SE attention only",
            "ECA sizes its 1-D kernel from the channels; use `type: se` for a reduction",
        ),
    )
    ratio: Annotated[float, Field(gt=0.0, le=1.0)] | None = Field(
        None,
        description="se: hidden channels = round(ratio x the block's input channels), in place "
        "of `reduction` and `divisor` (RegNet's se_ratio: 0.25).",
        json_schema_extra=when_sibling(
            "type",
            ("se",),
            "`ratio` is used by SE attention only",
            "ECA has no hidden layer; use `type: se` for a ratio",
        ),
    )
    divisor: Annotated[int, Field(ge=1, le=1024)] = Field(
        8,
        description="se: round the hidden channels to a multiple of this (timm: 8).",
        json_schema_extra=when_sibling(
            "type",
            ("se",),
            "`divisor` is used by SE attention only",
            "ECA has no hidden layer to round; use `type: se` for a divisor",
        ),
    )


class NormSpec(_Model):
    """The normalisation layer used everywhere."""

    type: Literal["batch", "group", "frozen_batch", "none"] = Field(
        "batch",
        description="batch: BatchNorm2d; group: GroupNorm; frozen_batch: BatchNorm with fixed "
        "statistics and affine (detection backbones); none: no norm (convs then get a bias).",
        json_schema_extra=ALWAYS,
    )
    groups: Annotated[int, Field(ge=1, le=MAX_CHANNELS)] = Field(
        32,
        description="group norm only: the number of groups.",
        json_schema_extra=when_sibling(
            "type",
            ("group",),
            "`groups` is used by group norm only",
            "set `norm.type: group` for GroupNorm with these groups, or remove `groups`",
        ),
    )
    eps: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        1e-5,
        description="Epsilon.",
        json_schema_extra=when_sibling(
            "type",
            ("batch", "group", "frozen_batch"),
            "`eps` is used by a norm layer and `norm.type: none` has none",
            "remove `eps`, or choose a norm type",
        ),
    )


class BlockWidths(_Model):
    """One block's own widths: the output channels of its convs, in place of the stage's."""

    conv1: Channels | None = Field(
        None,
        description="Output channels of the first conv (a bottleneck's 1x1, a basic block's "
        "first 3x3).",
        json_schema_extra=ALWAYS,
    )
    conv2: Channels | None = Field(
        None,
        description="Output channels of the second conv (a bottleneck's 3x3; a basic block's "
        "output).",
        json_schema_extra=ALWAYS,
    )
    conv3: Channels | None = Field(
        None,
        description="Output channels of a bottleneck's last 1x1: the block's output.",
        json_schema_extra=when(
            inert.bottleneck_stage,
            "`conv3` is a bottleneck's last conv, and this stage has basic blocks",
            "a basic block's output is its `conv2`",
        ),
    )
