"""The spec's trunk models: the block every stage repeats, the stages and the head after them.

resgen/spec/model.py builds the Spec from them (and from the leaf models in resgen/spec/parts.py);
they live here to keep each module readable.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from resgen.spec import inert
from resgen.spec.inert import ALWAYS, when
from resgen.spec.kinds import BLOCK_TYPES, BOTTLENECK_TYPES, BlockType
from resgen.spec.parts import (
    MAX_CHANNELS,
    MAX_DEPTH,
    AttentionSpec,
    BlockWidths,
    Channels,
    SelectiveKernelSpec,
    SplitAttentionSpec,
    _Model,
)


def _user_block_or_builtin(
    value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
) -> object:
    """A block type: a built-in one, or a name the spec's `blocks:` section defines."""
    names = (info.context or {}).get("user_blocks", ())
    if isinstance(value, str) and value in names:
        return value
    try:
        return handler(value)
    except ValidationError:
        if not names or not isinstance(value, str):
            raise
        # Say the defined names too, so that a misspelt one gets its did-you-mean.
        expected = ", ".join(f"'{name}'" for name in (*BLOCK_TYPES, *names))
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": expected}
        ) from None


# At run time a user block's name passes too (resgen.spec.validate gives the names as context);
# code that asks for a built-in kind compares with its name, which a user block never has.
BlockTypeName = Annotated[
    BlockType,
    WrapValidator(_user_block_or_builtin),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": list(BLOCK_TYPES), "type": "string"},
                {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            ]
        }
    ),
]


Ratio = Annotated[float, Field(ge=0.0, lt=1.0)]

# A block's number in its stage, from 1; a JSON object's keys are strings, so "3" counts too.
BlockNumber = Annotated[int, Strict(False), Field(ge=1, le=MAX_DEPTH)]


Ratio1 = Annotated[float, Field(gt=0.0, le=64.0)]


class BlockSpec(_Model):
    """The residual block every stage repeats."""

    type: BlockTypeName = Field(
        description="basic: two 3x3 convs (ResNet-18/34); "
        "bottleneck: 1x1 reduce, 3x3, 1x1 expand (ResNet-50 and deeper); "
        "regnet: 1x1, 3x3 in groups of `group_width` channels, SE after the 3x3, 1x1, with no "
        "expansion (RegNet, Radosavovic et al. 2020); "
        "res2net: a bottleneck whose 3x3 is `scale` splits of 3x3 convs, each adding the one "
        "before (Res2Net, Gao et al. 2019; timm's Bottle2neck); "
        "sk_basic, sk_bottleneck: a basic block's first 3x3 or a bottleneck's 3x3 is a selective "
        "kernel conv (SKNet, Li et al. 2019; timm's names, `conv1.conv`, `conv2.paths.0.conv`); "
        "resnest: a bottleneck whose 3x3 is a split-attention conv, `radix` splits per group "
        "weighed by a softmax across them (ResNeSt, Zhang et al. 2020; timm's ResNestBottleneck); "
        "or the name of a block the spec defines under `blocks`.",
        json_schema_extra=ALWAYS,
    )
    expansion: Annotated[int, Field(ge=1, le=64)] | None = Field(
        None,
        description="Block output channels = stage width x expansion. "
        "Default 1 for basic, 4 for bottleneck.",
        json_schema_extra=when(
            inert.any_stage_of_block_type,
            "`expansion` applies to stages of `block.type`; every stage overrides `block`",
            "remove `expansion`, or let a stage use `block.type`",
        ),
    )
    groups: Annotated[int, Field(ge=1, le=MAX_CHANNELS)] = Field(
        1,
        description="Groups of the 3x3 conv (ResNeXt cardinality).",
        json_schema_extra=when(
            inert.resnet_stage_without("groups"),
            "`block.groups` applies to stages of basic or bottleneck blocks without their own "
            "`groups`; every such stage sets one (regnet blocks take `group_width`)",
            "remove `block.groups`, or a stage's `groups` so that it takes `block.groups`",
        ),
    )
    base_width: Annotated[int, Field(ge=1, le=MAX_CHANNELS)] = Field(
        64,
        description="Bottleneck inner width per group at stage width 64 "
        "(torchvision's width_per_group): inner = int(width * base_width / 64) * groups. "
        "128 gives Wide ResNet-50-2.",
        json_schema_extra=when(
            inert.any_bottleneck,
            "`base_width` sizes bottleneck blocks and no stage uses them",
            "set `block.type: bottleneck` (or a stage's `block: bottleneck`), or remove it",
        ),
    )
    stride_on: Literal["3x3", "1x1"] = Field(
        "3x3",
        description="Which bottleneck conv carries the stride: 3x3 (v1.5, torchvision, "
        "ResNet-B) or 1x1 (v1, the paper and Caffe).",
        json_schema_extra=when(
            inert.any_strided_bottleneck,
            "`stride_on` picks the bottleneck conv that strides; no bottleneck stage has a stride",
            "it counts with `block.type: bottleneck` and a stage with `stride: 2`; else remove it",
        ),
    )
    reduce_first: Annotated[int, Field(ge=1, le=64)] = Field(
        1,
        description="The block's first conv outputs 1/reduce_first of the inner width (SENet-154: "
        "2; timm's block_reduce_first): a bottleneck's first 1x1, a basic block's first 3x3.",
        json_schema_extra=ALWAYS,
    )
    group_width: Annotated[int, Field(ge=1, le=MAX_CHANNELS)] = Field(
        1,
        description="regnet: channels per group of the 3x3 conv (its groups = inner width / "
        "group width); stages may set their own.",
        json_schema_extra=when(
            inert.regnet_stage_without("group_width"),
            "`group_width` sizes regnet blocks' groups, and no stage of regnet blocks takes it",
            "set `block.type: regnet`, or remove it",
        ),
    )
    bottleneck_ratio: Ratio1 = Field(
        1.0,
        description="regnet: inner width = round(stage width x ratio); stages may set their own.",
        json_schema_extra=when(
            inert.regnet_stage_without("bottleneck_ratio"),
            "`bottleneck_ratio` sizes regnet blocks, and no stage of regnet blocks takes it",
            "set `block.type: regnet`, or remove it",
        ),
    )
    scale: Annotated[int, Field(ge=1, le=64)] = Field(
        4,
        description="res2net: splits of the inner width (`scale` x int(width x base_width / 64) "
        "x groups); every split but the last gets its own 3x3 conv.",
        json_schema_extra=when(
            inert.any_kind("res2net"),
            "`scale` splits res2net blocks and no stage uses them",
            "set `block.type: res2net`, or remove it",
        ),
    )
    selective_kernel: SelectiveKernelSpec = Field(
        default_factory=SelectiveKernelSpec,
        description="sk_basic, sk_bottleneck: the selective kernel conv's attention and split.",
        json_schema_extra=when(
            inert.any_kind("sk_basic", "sk_bottleneck"),
            "`selective_kernel` sizes sk_basic and sk_bottleneck blocks and no stage uses them",
            "set `block.type: sk_basic` or `sk_bottleneck`, or remove it",
        ),
    )
    split_attention: SplitAttentionSpec = Field(
        default_factory=SplitAttentionSpec,
        description="resnest: the split-attention conv's radix and attention width, and where a "
        "strided block downsamples.",
        json_schema_extra=when(
            inert.any_kind("resnest"),
            "`split_attention` sizes resnest blocks and no stage uses them",
            "set `block.type: resnest`, or remove it",
        ),
    )
    preact: bool = Field(
        False,
        description="Pre-activation blocks (He et al. 2016): norm-act-conv, no activation after "
        "the add, projections take the pre-activated input, a final norm-act before the pool.",
        json_schema_extra=ALWAYS,
    )
    attention: AttentionSpec | None = Field(
        None, description="Channel attention: se or eca.", json_schema_extra=ALWAYS
    )
    linear_out: bool = Field(
        False,
        description="No activation at the block's output, after the add (timm's linear_out: "
        "RegNetZ's inverted bottlenecks). Pre-activation blocks have none anyway.",
        json_schema_extra=when(
            inert.post_activation,
            "`linear_out` drops the activation after a post-activation block's add; "
            "pre-activation blocks end in a conv and never activate after the add",
            "remove `linear_out`",
        ),
    )
    params: dict[str, int] = Field(
        default_factory=dict,
        description="A user block's params (its `params:` names them), in place of their defaults.",
        json_schema_extra=ALWAYS,
    )

    def out_factor(self, block_type: str) -> int:
        if block_type == "regnet":
            return 1  # a regnet block's output is its stage's width
        if self.expansion is not None and block_type == self.type:
            return self.expansion
        return 4 if block_type in BOTTLENECK_TYPES else 1


Shortcut = Literal[
    "identity",
    "pad",
    "projection",
    "projection_all",
    "avgpool_projection",
    "none",
    "identity_or_none",
]


class StageSpec(_Model):
    """A run of blocks at one resolution; channels come from the previous stage."""

    depth: Annotated[int, Field(ge=1, le=MAX_DEPTH)] = Field(
        description="Number of blocks.", json_schema_extra=ALWAYS
    )
    width: Channels = Field(
        description="Stage width (torchvision's planes): block output = width x expansion.",
        json_schema_extra=ALWAYS,
    )
    stride: Annotated[int, Field(ge=1, le=64)] = Field(
        1,
        description="Stride of the stage's first block (2 halves the resolution).",
        json_schema_extra=ALWAYS,
    )
    dilation: Annotated[int, Field(ge=1, le=64)] = Field(
        1,
        description="Dilation of the stage's 3x3 convs; the first block keeps the previous "
        "stage's dilation (torchvision's replace_stride_with_dilation rule).",
        json_schema_extra=when(
            inert.dilation_reaches_a_conv,
            "a stage's first block keeps the previous stage's dilation, so in a last stage of "
            "one bottleneck block it reaches no conv",
            "give the stage `depth: 2` or more (its later blocks take the dilation), or remove it",
        ),
    )
    block: BlockTypeName | None = Field(
        None,
        description="Override the block type for this stage (a built-in one, or one the spec "
        "defines under `blocks`).",
        json_schema_extra=ALWAYS,
    )
    groups: Annotated[int, Field(ge=1, le=MAX_CHANNELS)] | None = Field(
        None,
        description="Override the 3x3 conv groups for this stage.",
        json_schema_extra=when(
            inert.not_regnet_here,
            "regnet blocks size their groups by `group_width`",
            "give the stage `group_width`, or remove `groups`",
        ),
    )
    shortcut: Shortcut | None = Field(
        None,
        description="Override the shortcut for this stage (none: a plain stage).",
        json_schema_extra=ALWAYS,
    )
    group_width: Annotated[int, Field(ge=1, le=MAX_CHANNELS)] | None = Field(
        None,
        description="regnet: this stage's channels per 3x3 group, in place of `block.group_width`.",
        json_schema_extra=when(
            inert.regnet_here,
            "`group_width` sizes regnet blocks' groups, and this stage's blocks are not regnet",
            "give the stage `block: regnet`, or remove it",
        ),
    )
    bottleneck_ratio: Ratio1 | None = Field(
        None,
        description="regnet: this stage's inner width / width, in place of "
        "`block.bottleneck_ratio`.",
        json_schema_extra=when(
            inert.regnet_here,
            "`bottleneck_ratio` sizes regnet blocks, and this stage's blocks are not regnet",
            "give the stage `block: regnet`, or remove it",
        ),
    )
    blocks: dict[BlockNumber, BlockWidths] | None = Field(
        None,
        description="Per-block widths, by block number (1 is the first): the output channels of "
        "the named convs, e.g. `{3: {conv2: 18}}` (a pruned net). Shortcuts, SE and ECA stay as "
        "the stage's widths make them, so an identity shortcut needs equal widths on both sides.",
        json_schema_extra=ALWAYS,
    )
    checkpoint: bool | None = Field(
        None,
        description="Override the spec's `checkpoint` for this stage: true runs its blocks "
        "under activation checkpointing in training, false keeps their activations.",
        json_schema_extra=ALWAYS,
    )

    def block_widths(self, index: int) -> BlockWidths | None:
        """The widths block `index` (0-based) sets, if any."""
        return (self.blocks or {}).get(index + 1)


class HeadSpec(_Model):
    """The classifier after the last stage."""

    pool: Literal["avg", "max"] = Field(
        "avg", description="Global pooling: avg or max.", json_schema_extra=ALWAYS
    )
    classes: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        1000,
        description="Classifier outputs; 0 means no classifier (returns pooled features).",
        json_schema_extra=ALWAYS,
    )
    dropout: Ratio = Field(
        0.0, description="Dropout probability before the classifier.", json_schema_extra=ALWAYS
    )
    final: Literal["norm_act", "act", "none"] | None = Field(
        None,
        description="What runs on the last block's output before the pool (or before "
        "`features`): norm_act, a norm and an activation (`bn_final`); act, an activation alone "
        "(timm's RegNetV and linear-out RegNetZ, `final_conv`); none. Default norm_act for "
        "pre-activation blocks, which end in a conv, none otherwise.",
        json_schema_extra=ALWAYS,
    )
    features: Channels | None = Field(
        None,
        description="A 1x1 conv, norm and activation to this many channels before the pool "
        "(timm's num_features and `final_conv`: RegNetZ-005's 1024). Default: none, the pool "
        "takes the last stage's channels.",
        json_schema_extra=ALWAYS,
    )
