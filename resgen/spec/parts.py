"""The spec's leaf models (stem, input, attention, norm) and the limits every model shares.

resgen/spec/model.py builds the spec from them; they live here to keep each module readable.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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


_STEM_WIDTHS = {"conv7": 64, "cifar": 16, "simple": 32}


class StemSpec(_Model):
    """The layers before the first stage."""

    type: Literal["conv7", "deep", "cifar", "simple"] = Field(
        "conv7",
        description="conv7: one 7x7 stride-2 conv (torchvision); deep: three 3x3 convs, the "
        "first with stride 2 (ResNet-C/D, timm `conv1.0/1/3/4/6`); cifar: one 3x3 stride-1 conv; "
        "simple: one 3x3 stride-2 conv and no pool (RegNet: torchvision's SimpleStemIN, timm's "
        "`stem`).",
        json_schema_extra=ALWAYS,
    )
    width: Channels | None = Field(
        None,
        description="Output channels of the stem. Default 64 (conv7), 16 (cifar), 32 (simple), "
        "the last of `widths` (deep).",
        json_schema_extra=when_sibling(
            "type",
            ("conv7", "cifar", "simple"),
            "`width` is used by conv7, cifar and simple stems",
            "a deep stem takes `widths: [32, 32, 64]` (its output width is the last)",
        ),
    )
    widths: list[Channels] | None = Field(
        None,
        min_length=3,
        max_length=3,
        description="deep stem only: the widths of its three convs, e.g. [32, 32, 64] (ResNet-C/D) "
        "or timm's tiered [24, 32, 64]. Default [32, 32, 64].",
        json_schema_extra=when_sibling(
            "type",
            ("deep",),
            "`widths` is used by deep stems only",
            "set `stem.type: deep`, or give a conv7 or cifar stem one `width`",
        ),
    )
    pool: Literal["max", "conv", "none", "max_zero_pad"] | None = Field(
        None,
        description="max: 3x3 stride-2 max-pool after the stem; conv: a 3x3 stride-2 conv, norm "
        "and activation in its place (ResNet-RS; timm's replace_stem_pool, keys `maxpool.0/.1`); "
        "max_zero_pad: zero padding of 1, then a 3x3 stride-2 max-pool without padding (BiT's "
        "'fixed' stem, timm's `stem.pad` and `stem.pool`: a negative border reads 0, not "
        "itself); none. Default max, none for cifar and simple.",
        json_schema_extra=ALWAYS,
    )
    norm: bool = Field(
        True,
        description="Norm and activation after the stem's last conv. Pre-activation nets, whose "
        "first block normalises its input, use false.",
        json_schema_extra=ALWAYS,
    )

    @property
    def out_width(self) -> int:
        if self.type == "deep":
            return (self.widths or [32, 32, 64])[-1]
        return self.width or _STEM_WIDTHS[self.type]

    @property
    def conv_widths(self) -> tuple[int, ...]:
        if self.type == "deep":
            return tuple(self.widths or (32, 32, 64))
        return (self.out_width,)

    @property
    def reduction(self) -> int:
        """How much the stem shrinks H and W."""
        conv = 1 if self.type == "cifar" else 2
        return conv * (2 if self.has_pool else 1)

    @property
    def pool_kind(self) -> str:
        """The pool after the stem, its default resolved: max, conv or none."""
        return self.pool or ("none" if self.type in ("cifar", "simple") else "max")

    @property
    def has_pool(self) -> bool:
        return self.pool_kind != "none"


class ConvSpec(_Model):
    """How every conv of the stem, the blocks and the shortcuts computes."""

    standardize: bool = Field(
        False,
        description="Weight standardisation (Qiao et al. 2019; BiT's StdConv2d): each output "
        "channel's weights are normalised to zero mean and unit variance before the conv. The "
        "deploy build freezes them into a plain conv.",
        json_schema_extra=ALWAYS,
    )
    eps: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        1e-6,
        description="Epsilon of the standardisation's variance (timm's StdConv2d: 1e-6; BiT: "
        "1e-8).",
        json_schema_extra=when_sibling(
            "standardize",
            (True,),
            "`eps` is used by standardised convs only",
            "set `conv.standardize: true`, or remove `eps`",
        ),
    )


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

    type: Literal["batch", "group", "frozen_batch", "none", "evonorm_s0", "frn"] = Field(
        "batch",
        description="batch: BatchNorm2d; group: GroupNorm; frozen_batch: BatchNorm with fixed "
        "statistics and affine (detection backbones); none: no norm (convs then get a bias); "
        "evonorm_s0: EvoNorm-S0 (Liu et al. 2020; timm's EvoNorm2dS0, `weight`, `bias`, `v`), "
        "a norm and activation in one, grouped like group norm; frn: Filter Response "
        "Normalization with its TLU (Singh and Krishnan 2020; timm's FilterResponseNormTlu2d, "
        "`weight`, `bias`, `tau`), also a norm and activation in one. The last two replace the "
        "activation after every norm, whatever `act` says.",
        json_schema_extra=ALWAYS,
    )
    groups: Annotated[int, Field(ge=1, le=MAX_CHANNELS)] = Field(
        32,
        description="group norm and evonorm_s0: the number of groups.",
        json_schema_extra=when_sibling(
            "type",
            ("group", "evonorm_s0"),
            "`groups` is used by group norm and evonorm_s0 only",
            "set `norm.type: group` for GroupNorm with these groups, or remove `groups`",
        ),
    )
    group_size: Annotated[int, Field(ge=1, le=MAX_CHANNELS)] | None = Field(
        None,
        description="group norm only: channels per group, so each norm has its width / "
        "group_size groups (timm's group_size), in place of `groups`.",
        json_schema_extra=when_sibling(
            "type",
            ("group",),
            "`group_size` is used by group norm only",
            "set `norm.type: group`, or remove `group_size`",
        ),
    )
    eps: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        1e-5,
        description="Epsilon.",
        json_schema_extra=when_sibling(
            "type",
            ("batch", "group", "frozen_batch", "evonorm_s0", "frn"),
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


def _multiple_of_8(value: int) -> int:
    if value % 8:
        raise ValueError("must be a multiple of 8 (RegNet quantises widths to multiples of 8)")
    return value


class RegNetSpec(_Model):
    """RegNet's design space (Radosavovic et al. 2020): the stages from six numbers.

    Block j's width w_0 + w_a * j is snapped in log space to w_0 * w_m^k and rounded to a multiple
    of 8; runs of equal widths are the stages, each with stride 2 (resgen.spec.regnet).
    """

    w_0: Annotated[int, Field(ge=8, le=MAX_CHANNELS), AfterValidator(_multiple_of_8)] = Field(
        description="Initial width (a multiple of 8).", json_schema_extra=ALWAYS
    )
    w_a: Annotated[float, Field(ge=0.0, le=float(MAX_CHANNELS))] = Field(
        description="Width slope: block j's continuous width is w_0 + w_a * j.",
        json_schema_extra=ALWAYS,
    )
    w_m: Annotated[float, Field(gt=1.0, le=64.0)] = Field(
        description="Width multiplier: widths are snapped to w_0 * w_m^k.",
        json_schema_extra=ALWAYS,
    )
    depth: Annotated[int, Field(ge=1, le=1000)] = Field(
        description="Blocks in all stages together.", json_schema_extra=ALWAYS
    )
    group_width: Annotated[int, Field(ge=1, le=MAX_CHANNELS)] = Field(
        description="Channels per 3x3 group; a stage narrower than it gets its width as groups.",
        json_schema_extra=ALWAYS,
    )
    bottleneck_ratio: Annotated[float, Field(gt=0.0, le=64.0)] = Field(
        1.0, description="Inner width / stage width.", json_schema_extra=ALWAYS
    )
    group_rounding: Literal["torchvision", "timm"] = Field(
        "torchvision",
        description="How an inner width is made a multiple of the group width: torchvision "
        "(and timm's *_tv models) rounds to the nearest but never more than 10% down; timm "
        "rounds to the nearest.",
        json_schema_extra=ALWAYS,
    )


class SelectiveKernelSpec(_Model):
    """A selective kernel conv (timm's SelectiveKernel): a 3x3 and a dilation-2 3x3 path, mixed
    per channel by a softmax attention over both."""

    reduction: Annotated[int, Field(ge=1, le=1024)] = Field(
        16,
        description="Attention hidden channels = the conv's output channels / reduction, "
        "rounded to `divisor` (timm's rd_ratio is 1 / reduction).",
        json_schema_extra=ALWAYS,
    )
    divisor: Annotated[int, Field(ge=1, le=1024)] = Field(
        8,
        description="Round the attention's hidden channels to a multiple of this "
        "(timm's rd_divisor).",
        json_schema_extra=ALWAYS,
    )
    split_input: bool = Field(
        True,
        description="Each path sees its own half of the input channels (timm's split_input); "
        "false: both see all of them.",
        json_schema_extra=ALWAYS,
    )


class SplitAttentionSpec(_Model):
    """ResNeSt's split-attention 3x3 (timm's SplitAttn) and its average downsampling ("avd")."""

    radix: Annotated[int, Field(ge=1, le=64)] = Field(
        2,
        description="Splits the 3x3 conv makes of each group (its groups = groups x radix), "
        "weighed per channel by a softmax across the splits; 1: one split gated by a sigmoid.",
        json_schema_extra=ALWAYS,
    )
    reduction: Annotated[int, Field(ge=1, le=1024)] = Field(
        4,
        description="Attention hidden channels = inner width x radix / reduction, rounded to "
        "`divisor` and at least `min_channels` (timm's rd_ratio is 1 / reduction).",
        json_schema_extra=ALWAYS,
    )
    divisor: Annotated[int, Field(ge=1, le=1024)] = Field(
        8,
        description="Round the attention's hidden channels to a multiple of this "
        "(timm's rd_divisor).",
        json_schema_extra=ALWAYS,
    )
    min_channels: Annotated[int, Field(ge=1, le=MAX_CHANNELS)] = Field(
        32,
        description="The attention's hidden channels are at least this many (timm's min_value).",
        json_schema_extra=ALWAYS,
    )
    avd: Literal["last", "first", "none"] = Field(
        "last",
        description="Average downsampling: a strided block's 3x3 conv keeps the resolution and a "
        "3x3 average pool (padding 1, counted) strides instead, after the split attention (last; "
        "timm's avd) or before it (first; timm's avd_first); none: the 3x3 conv strides.",
        json_schema_extra=ALWAYS,
    )
