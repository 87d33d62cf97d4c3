"""The ops of a user block (the `blocks:` section's vocabulary), as pydantic models.

Each op is a word from a closed set (conv, norm, act, pool, global_pool, channel_conv, attention,
split, reshape, softmax, scale, add, mul, concat, identity), a name (its module path), an input
(`in`) and integer values or expressions over the block's variables (resgen.spec.expr); nothing
here names Python code. resgen.spec.user_blocks assembles them into a block.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from resgen.spec.inert import ALWAYS, when_sibling
from resgen.spec.parts import _Model

# An integer, or an expression over the block's variables and params: `4 * out_channels`.
Value = int | Annotated[str, Field(min_length=1, max_length=200)]

# The variables every user block's values may read: the plan of each block (resgen.graph.ir.Block).
VARIABLES = (
    "in_channels",
    "mid_channels",
    "out_channels",
    "stride",
    "groups",
    "dilation",
    "first_dilation",
)

UserActivation = Literal[
    "relu", "silu", "gelu", "leaky_relu", "elu", "mish", "hardswish", "tanh", "sigmoid"
]

_NAME = (
    "The op's name, its module path in the block: an identifier, or up to four joined by dots "
    "(`mlp.fc1`, `conv1.paths.0.conv`), so its weights are `mlp.fc1.weight`."
)
# Which blocks of the class run the op: those that stride, those that stride or project their
# shortcut (timm's Res2Net `is_first`), or the others.
When = Literal["strided", "projecting", "not_projecting"]
_WHEN = (
    "Only in some blocks: strided (stride over 1: ResNeSt's avd pool), projecting (strided or "
    "with a projection shortcut: a Res2Net stage's first block), not_projecting (the others). "
    "Default: in every block."
)
_IN = "The op's input: an earlier op's name, or `x` (the block's input). Default: the op before."
_INS = "The ops it combines, by name (`x` is the block's input), in order."


class _Op(_Model):
    # `in` is a Python keyword, so the field is `input`; dumped specs (`resgen resolve`) say `in`.
    model_config = ConfigDict(**_Model.model_config, serialize_by_alias=True)

    name: str = Field(description=_NAME, max_length=64, json_schema_extra=ALWAYS)


class ConvOp(_Op):
    """A 2-D convolution; its input channels are its input's."""

    op: Literal["conv"] = Field(description="A convolution.", json_schema_extra=ALWAYS)
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)
    out: Value = Field(description="Output channels.", json_schema_extra=ALWAYS)
    kernel: Value = Field(1, description="Kernel size.", json_schema_extra=ALWAYS)
    stride: Value = Field(1, description="Stride.", json_schema_extra=ALWAYS)
    dilation: Value = Field(1, description="Dilation.", json_schema_extra=ALWAYS)
    groups: Value = Field(
        1, description="Groups (its input channels: depthwise).", json_schema_extra=ALWAYS
    )
    padding: Value | None = Field(
        None,
        description="Zero padding. Default: dilation x (kernel - 1) // 2, which keeps H and W at "
        "stride 1 for an odd kernel.",
        json_schema_extra=ALWAYS,
    )
    bias: bool | None = Field(
        None,
        description="A bias per output channel. Default: only when the spec's norm is none.",
        json_schema_extra=ALWAYS,
    )


class NormOp(_Op):
    """A norm over its input's channels."""

    op: Literal["norm"] = Field(description="A norm.", json_schema_extra=ALWAYS)
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)
    kind: Literal["batch", "group", "frozen_batch", "layer", "evonorm_s0", "frn"] | None = Field(
        None,
        description="batch, group (`groups`), frozen_batch, layer: a LayerNorm over the "
        "channels of each pixel (timm's LayerNorm2d), evonorm_s0 (timm's EvoNorm2dS0, grouped "
        "by `groups`) or frn (timm's FilterResponseNormTlu2d). The last two are a norm and an "
        "activation in one: write no act op after them (timm's ResNetV2 with EvoNorm has none; "
        "one written runs as a second activation). Default: the spec's `norm.type`.",
        json_schema_extra=ALWAYS,
    )
    groups: Value | None = Field(
        None, description="group norm and evonorm_s0: groups. Default: the spec's `norm.groups`.",
        json_schema_extra=ALWAYS,
    )  # fmt: skip
    eps: Annotated[float, Field(gt=0.0, lt=1.0)] | None = Field(
        None,
        description="Added to the variance. Default: the spec's `norm.eps`; 1e-6 for layer.",
        json_schema_extra=ALWAYS,
    )


class ActOp(_Op):
    """An activation module."""

    op: Literal["act"] = Field(description="An activation.", json_schema_extra=ALWAYS)
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)
    act: UserActivation | None = Field(
        None, description="Which activation. Default: the spec's `act`.", json_schema_extra=ALWAYS
    )
    output_name: str | None = Field(
        None,
        alias="as",
        max_length=64,
        description="The name other ops read this op's output by, where its module runs more "
        "than once (`{op: act, name: relu, as: pre}`). Default: its name.",
        json_schema_extra=ALWAYS,
    )


# What resgen.spec.user_checks says of a pool, for editors: an avg or max pool has a kernel; a
# blur's kernel (3) and padding are fixed and it has no ceil mode.
_POOL_RULES: JsonDict = {"allOf": [{
    "if": {"properties": {"pool": {"const": "blur", "description": "A blur pool."}},
           "required": ["pool"]},
    "then": {"properties": {
        "kernel": {"enum": [3, "3"], "description": "A blur's kernel is 3."},
        "padding": {"enum": [0, "0"], "description": "A blur pads by reflection, 1 pixel."},
        "ceil": {"const": False, "description": "A blur has no ceil mode."},
    }},
    "else": {"required": ["kernel"]},
}]}  # fmt: skip


class PoolOp(_Op):
    """An average or max pool, or a blur pool: anti-aliased downsampling (Zhang 2019)."""

    model_config = ConfigDict(**_Op.model_config, json_schema_extra=_POOL_RULES)

    op: Literal["pool"] = Field(description="A pool.", json_schema_extra=ALWAYS)
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)
    pool: Literal["avg", "max", "blur"] = Field(
        description="avg, max, or blur: a 3x3 binomial blur of each channel with reflect padding, "
        "then subsampling by `stride` (timm's BlurPool2d; no weights). A blur's kernel (3) and "
        "reflect padding are fixed: leave out `kernel`, `padding` and `ceil`.",
        json_schema_extra=ALWAYS,
    )
    # Optional for blur's sake only: an avg or max pool without one is an error (user_checks).
    kernel: Value | None = Field(
        None, description="Window size (avg and max; blur's is 3).", json_schema_extra=ALWAYS
    )
    stride: Value | None = Field(
        None, description="Stride. Default: the kernel; 2 for blur.", json_schema_extra=ALWAYS
    )
    padding: Value = Field(0, description="Zero padding (avg and max).", json_schema_extra=ALWAYS)
    ceil: bool = Field(False, description="Ceil mode (avg and max).", json_schema_extra=ALWAYS)
    when: When | None = Field(None, description=_WHEN + " Elsewhere an identity.",
                              json_schema_extra=ALWAYS)  # fmt: skip


class GlobalPoolOp(_Op):
    """The mean (or max) over H and W of each channel: a (C, 1, 1) tensor, SE's squeeze."""

    op: Literal["global_pool"] = Field(description="A global pool.", json_schema_extra=ALWAYS)
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)
    pool: Literal["avg", "max"] = Field("avg", description="avg or max.", json_schema_extra=ALWAYS)


class ChannelConvOp(_Op):
    """A 1-D conv across the channels of a (C, 1, 1) tensor (ECA's gate): one weight per tap,
    zero padding (kernel - 1) // 2, so the channels stay C."""

    op: Literal["channel_conv"] = Field(
        description="A 1-D conv across channels.", json_schema_extra=ALWAYS
    )
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)
    kernel: Value = Field(
        3,
        description="Kernel size, odd (ECA: `max(3, (log2(out_channels) + 1) // 4 * 2 + 1)`).",
        json_schema_extra=ALWAYS,
    )


class AttentionOp(_Op):
    """Channel attention of a kind resgen knows, as the helper module the built-in blocks call
    (timm's names): se, squeeze-and-excitation (`SqueezeExcite`: fc1, a ReLU, fc2, a sigmoid
    gate; Hu et al. 2018), or eca, efficient channel attention (`EfficientChannelAttention`: a
    1-D conv across the pooled channels, a sigmoid gate; Wang et al. 2020). Its output is its
    input gated per channel."""

    op: Literal["attention"] = Field(
        description="Channel attention (a helper module).", json_schema_extra=ALWAYS
    )
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)
    kind: Literal["se", "eca"] = Field(description="se or eca.", json_schema_extra=ALWAYS)
    hidden: Value | None = Field(
        None,
        description="se: the hidden channels. Default: timm's, `max(8, (C // 16 + 4) // 8 * 8)` "
        "for C input channels.",
        json_schema_extra=when_sibling(
            "kind", ("se",), "`hidden` is SE's", "ECA has no hidden layer; use `kind: se`"
        ),
    )
    kernel: Value | None = Field(
        None,
        description="eca: the 1-D kernel, odd. Default: `max(3, (log2(C) + 1) // 4 * 2 + 1)` for "
        "C input channels (Wang et al.'s t = |log2(C) + 1| / 2, made odd, as timm).",
        json_schema_extra=when_sibling(
            "kind", ("eca",), "`kernel` is ECA's", "SE has no kernel; use `kind: eca`"
        ),
    )


# The attention op's defaults, in the value language, of its input's channels `C`: timm's SE
# (make_divisible(C / 16, 8) without its 10% floor, so `make_divisible` would not do) and ECA's
# kernel (Wang et al.: t = |log2(C) + 1| / 2, made odd, at least 3).
ATTENTION_DEFAULTS = {
    "se": "max(8, (C // 16 + 4) // 8 * 8)",
    "eca": "max(3, (log2(C) + 1) // 4 * 2 + 1)",
}


class ReshapeOp(_Op):
    """A regrouping of channels: its input's channels viewed as the blocks `dims` (one may be
    -1: what remains), the blocks put in the `order` given, flattened back. ResNeSt's radix
    softmax turns group-major logits path-major (`dims: [groups, paths, -1], order: [1, 0, 2]`),
    ShuffleNet's channel shuffle is `dims: [groups, -1], order: [1, 0]`. The channels, H and W
    stay; no weights."""

    op: Literal["reshape"] = Field(description="A channel regrouping.", json_schema_extra=ALWAYS)
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)
    dims: list[Value] = Field(
        min_length=2,
        max_length=4,
        description="The channels as blocks: sizes whose product is the input's channels; one "
        "may be -1.",
        json_schema_extra=ALWAYS,
    )
    order: list[Annotated[int, Field(ge=0, le=3)]] = Field(
        min_length=2,
        max_length=4,
        description="The blocks' new order: a permutation of 0 .. len(dims) - 1.",
        json_schema_extra=ALWAYS,
    )


class SplitOp(_Op):
    """One piece of a split along channels: channels [start, start + channels) of its input
    (Res2Net's scales, a selective kernel's halves, one path's attention weights)."""

    op: Literal["split"] = Field(description="A channel slice.", json_schema_extra=ALWAYS)
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)
    start: Value = Field(0, description="Its first channel.", json_schema_extra=ALWAYS)
    channels: Value = Field(description="How many channels.", json_schema_extra=ALWAYS)


class SoftmaxOp(_Op):
    """A softmax across `paths`, channel by channel, of a (C, 1, 1) tensor of attention logits
    (SK: which kernel; ResNeSt: which radix split): its channels are `groups` blocks of `paths`
    blocks each; the output's are path-major (timm's RadixSoftmax)."""

    op: Literal["softmax"] = Field(description="A softmax across paths.", json_schema_extra=ALWAYS)
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)
    paths: Value = Field(description="Paths (at least 2).", json_schema_extra=ALWAYS)
    groups: Value = Field(
        1, description="Groups (ResNeSt's cardinality).", json_schema_extra=ALWAYS
    )


class ScaleOp(_Op):
    """A learnable scale per channel (layer scale): a bare parameter named `name`."""

    op: Literal["scale"] = Field(description="A per-channel scale.", json_schema_extra=ALWAYS)
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)
    init: Annotated[float, Field(ge=-1e6, le=1e6)] = Field(
        1.0, description="Its initial value (ConvNeXt: 1e-6).", json_schema_extra=ALWAYS
    )


class MergeOp(_Op):
    """add and mul (elementwise; a mul's second input may be a (C, 1, 1) gate), concat."""

    op: Literal["add", "mul", "concat"] = Field(
        description="add, mul (elementwise) or concat (along channels).", json_schema_extra=ALWAYS
    )
    input: list[str] = Field(
        alias="in", min_length=2, max_length=16, description=_INS, json_schema_extra=ALWAYS
    )
    when: When | None = Field(None, description=_WHEN + " Elsewhere its first input, as it is "
                              "(add and mul only).", json_schema_extra=ALWAYS)  # fmt: skip


class IdentityOp(_Op):
    """Its input, under another name."""

    op: Literal["identity"] = Field(description="The input as it is.", json_schema_extra=ALWAYS)
    input: str | None = Field(None, alias="in", description=_IN, json_schema_extra=ALWAYS)


OpSpec = Annotated[
    ConvOp
    | NormOp
    | ActOp
    | PoolOp
    | GlobalPoolOp
    | ChannelConvOp
    | AttentionOp
    | SplitOp
    | ReshapeOp
    | SoftmaxOp
    | ScaleOp
    | MergeOp
    | IdentityOp,
    Field(discriminator="op"),
]
