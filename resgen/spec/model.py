"""The spec language: pydantic models of what a user writes in YAML or JSON.

Every field has a description (it becomes the JSON Schema editors show). Models are strict (a
string is not an int), forbid unknown keys and are frozen: the Spec is the user's vocabulary,
read once and never mutated.
"""

from __future__ import annotations

import keyword
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from resgen.spec import inert
from resgen.spec.inert import ALWAYS, when
from resgen.spec.parts import ConvSpec, InputSpec, NormSpec, RegNetSpec, StemSpec, _Model
from resgen.spec.stages import BlockSpec, HeadSpec, Ratio, Shortcut, StageSpec
from resgen.spec.user_blocks import UserBlockSpec

# The trunk's models (resgen.spec.stages) are re-exported: `from resgen.spec.model import
# StageSpec` reads as it always has.
__all__ = [
    "Activation", "BlockSpec", "HeadSpec", "Identifier", "Ratio", "Shortcut", "Spec", "StageSpec",
]  # fmt: skip


def _check_identifier(value: str) -> str:
    if not value.isidentifier() or not value.isascii() or keyword.iskeyword(value):
        raise ValueError(
            "must be a Python identifier: ASCII letters, digits and underscores, "
            "not starting with a digit and not a Python keyword"
        )
    return value


Identifier = Annotated[str, AfterValidator(_check_identifier), Field(max_length=64)]


Activation = Literal["relu", "silu", "gelu", "leaky_relu", "elu", "mish", "hardswish", "tanh"]


class Spec(_Model):
    """A ResNet-family architecture."""

    extends: str | None = Field(
        None,
        description="Build on another spec: a built-in name (resnet50) or a path relative to "
        "this file. Mappings merge, lists replace, `stages: {3: {depth: 23}}` patches stage 3, "
        "null removes a key.",
        json_schema_extra=ALWAYS,
    )
    name: Identifier = Field(
        description="Model name, a Python identifier; also the generated file's name.",
        json_schema_extra=ALWAYS,
    )
    class_name: Identifier | None = Field(
        None,
        description="Name of the generated model class. Default: from name "
        "(resnet50 -> ResNet50, resnext50_32x4d -> ResNeXt50_32x4d).",
        json_schema_extra=ALWAYS,
    )
    description: str = Field(
        "", max_length=2000, description="One line for the docstring.", json_schema_extra=ALWAYS
    )
    input: InputSpec = Field(
        default_factory=lambda: InputSpec(),
        description="The input shapes are checked for.",
        json_schema_extra=ALWAYS,
    )
    stem: StemSpec = Field(
        default_factory=lambda: StemSpec(),
        description="Layers before the first stage.",
        json_schema_extra=ALWAYS,
    )
    block: BlockSpec = Field(
        description="The residual block the stages repeat.", json_schema_extra=ALWAYS
    )
    blocks: dict[str, UserBlockSpec] = Field(
        default_factory=dict,
        description="Residual blocks defined as data, by name: ops over a closed vocabulary "
        "(conv, norm, act, pool, scale, add, mul, concat, identity), their params and residual "
        "wiring. `block: {type: NAME}` or a stage's `block: NAME` uses one.",
        json_schema_extra=ALWAYS,
    )
    shortcut: Shortcut = Field(
        "projection",
        description="identity: add x as is (shapes must agree); pad: paper option A, subsample "
        "and zero-pad new channels (no params); projection: option B, 1x1 conv + norm where the "
        "shape changes (torchvision); projection_all: option C, in every block; "
        "avgpool_projection: ResNet-D, 2x2 avg-pool (ceil mode) then stride-1 1x1 conv + norm "
        "where the shape changes; none: no shortcut at all (the paper's plain nets); "
        "identity_or_none: identity where the shape stays, no shortcut (and no add) where it "
        "changes (timm's downsample=None, RegNetZ).",
        json_schema_extra=when(
            inert.any_stage_without("shortcut"),
            "`shortcut` applies to stages without their own `shortcut`; every stage sets one",
            "remove it, or a stage's `shortcut` so that it takes this one",
        ),
    )
    shortcut_kernel: Literal[1, 3, 5, 7] = Field(
        1,
        description="Kernel of a projection shortcut's conv in a block that strides or opens a "
        "dilated stage (SENet-154: 3; timm's down_kernel_size); other projections stay 1x1.",
        json_schema_extra=when(
            inert.strided_projection,
            "only a projection shortcut that strides (or opens a dilated stage) takes the kernel, "
            "and no stage has one",
            "use `shortcut: projection` in a stage with `stride: 2`, or remove it",
        ),
    )
    layout: Literal["torchvision", "timm", "resnetv2"] = Field(
        "torchvision",
        description="Module names (the state_dict keys), which differ between the libraries: "
        "a RegNet's in torchvision (`stem.0`, `trunk_output.block1.block1-0.f.a.0`, `.proj.0`, "
        "`fc`) or timm (`stem.conv`, `s1.b1.conv1.conv`, `.downsample.conv`, `head.fc`), where "
        "ResNet blocks are named alike; resnetv2: timm's ResNetV2 and BiT, pre-activation "
        "blocks named `stem.conv`, `stages.0.blocks.0.norm1`, `.conv1`, `.downsample.conv`, "
        "a final `norm` and a 1x1-conv classifier `head.fc`.",
        json_schema_extra=when(
            inert.layout_counts,
            "the torchvision and timm layouts differ only in how they name RegNet stages and "
            "blocks, and no stage has regnet blocks",
            "set `block.type: regnet`, or `layout: resnetv2`, or remove `layout`",
        ),
    )
    norm: NormSpec = Field(
        default_factory=lambda: NormSpec(), description="Normalisation.", json_schema_extra=ALWAYS
    )
    act: Activation = Field(
        "relu", description="Activation function used everywhere.", json_schema_extra=ALWAYS
    )
    conv: ConvSpec = Field(
        default_factory=lambda: ConvSpec(),
        description="How the convs compute: plain, or weight-standardised (BiT).",
        json_schema_extra=ALWAYS,
    )
    stages: list[StageSpec] = Field(
        min_length=1,
        max_length=64,
        description="The stages, in order; generated from `regnet` when that is given instead.",
        json_schema_extra=ALWAYS,
    )
    regnet: RegNetSpec | None = Field(
        None,
        description="RegNet's parameters (w_0, w_a, w_m, depth, group_width, bottleneck_ratio), "
        "in place of `stages`: they generate the stages as torchvision and timm do (`resgen "
        "resolve` prints them).",
        json_schema_extra=ALWAYS,
    )
    output_stride: Literal[8, 16, 32] | None = Field(
        None,
        description="Cap the network's total stride (8 or 16 for segmentation): later stages "
        "trade their stride for dilation (torchvision's replace_stride_with_dilation).",
        json_schema_extra=when(
            inert.stride_exceeds_output_stride,
            "the network's stride (the stem's and every stage's) is already at most "
            "`output_stride`, so no stage trades stride for dilation",
            "a smaller `output_stride` dilates the last stages; else remove it",
        ),
    )
    anti_alias: Literal["avg", "blur"] | None = Field(
        None,
        description="Anti-aliased downsampling (Zhang 2019; timm's aa_layer): a strided block "
        "runs its strided conv at stride 1 and pools after that conv's activation (module `aa`); "
        "the stem's max-pool becomes such a pool too. avg: a 2x2 average pool (timm's "
        "nn.AvgPool2d), which replaces the stem's max-pool; blur: a 3x3 binomial blur with "
        "reflect padding, then subsampling (timm's BlurPool2d), after a stride-1 max-pool in the "
        "stem. With user blocks (`blocks:`) the stem only: each block anti-aliases itself with a "
        "pool op (`pool: blur` or `avg`, `when: strided`). Default: none (strided convs and a "
        "strided max-pool).",
        json_schema_extra=when(
            inert.something_downsamples,
            "anti-aliasing changes how the network downsamples, and neither the stem nor any "
            "stage does (no stem pool, no stage with a stride)",
            "give the stem a pool or a stage `stride: 2`, or remove `anti_alias`",
        ),
    )
    head: HeadSpec = Field(
        default_factory=lambda: HeadSpec(),
        description="Pooling, classifier.",
        json_schema_extra=ALWAYS,
    )
    drop_path: Ratio = Field(
        0.0,
        description="Stochastic depth: the last block's drop-path rate; block i of n gets "
        "rate * i / (n - 1) (timm's linear decay).",
        json_schema_extra=ALWAYS,
    )
    zero_init_residual: bool = Field(
        False,
        description="Initialise each block's last norm weight (its last conv for pre-activation "
        "blocks) to zero, so every block starts as the identity (Goyal et al. 2017).",
        json_schema_extra=ALWAYS,
    )
    checkpoint: Literal["none", "blocks"] = Field(
        "none",
        description="Activation checkpointing in training: blocks runs every block under "
        "torch.utils.checkpoint, keeping only its input and rerunning it in backward (less "
        "memory, more time); none (the default) keeps every activation. A stage's "
        "`checkpoint: true/false` overrides it, the generated constructor's `checkpoint=False` "
        "turns it off; eval and the deploy build are unchanged.",
        json_schema_extra=when(
            inert.any_stage_without("checkpoint"),
            "`checkpoint` applies to stages without their own `checkpoint`; every stage sets one",
            "remove it, or a stage's `checkpoint` so that it takes this one",
        ),
    )

    @property
    def model_class(self) -> str:
        from resgen.spec.naming import class_name_for  # a spec's class is named on demand

        return self.class_name or class_name_for(self.name)
