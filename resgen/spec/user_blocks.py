"""The `blocks:` section: residual blocks a spec defines as data, over a closed set of ops.

A block is a list of ops (resgen.spec.user_ops), each named by the user (the name is its module
path, so its state_dict keys), reading the previous op or the ops it names (`in`), with integer
values or expressions over the block's variables (resgen.spec.expr); its params; and its residual
wiring. Nothing here names Python code. resgen.spec.user_checks checks names and expressions;
resgen.graph.user_blocks lowers a block into the graph.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field

from resgen.spec.inert import ALWAYS
from resgen.spec.parts import _Model
from resgen.spec.user_ops import ActOp, OpSpec, UserActivation


class ParamSpec(_Model):
    """A parameter of a user block: its values may read it by name."""

    type: Literal["int"] = Field("int", description="int.", json_schema_extra=ALWAYS)
    default: int = Field(
        description="Its value unless `block.params` sets one.", json_schema_extra=ALWAYS
    )
    description: str = Field(
        "", max_length=200, description="What it means.", json_schema_extra=ALWAYS
    )


class UserBlockSpec(_Model):
    """A residual block defined as data: its ops, its params and its residual wiring."""

    class_name: str | None = Field(
        None,
        max_length=64,
        description="The generated block class. Default: from the block's name, the way a "
        "spec's `name` gives its model class (conv_next -> ConvNext).",
        json_schema_extra=ALWAYS,
    )
    description: str = Field(
        "", max_length=200, description="The class's docstring.", json_schema_extra=ALWAYS
    )
    params: dict[str, ParamSpec] = Field(
        default_factory=dict,
        description="Integer parameters with defaults, read by name in the ops' values.",
        json_schema_extra=ALWAYS,
    )
    expansion: Annotated[int, Field(ge=1, le=64)] = Field(
        1,
        description="out_channels = stage width x expansion (unless `block.expansion` says).",
        json_schema_extra=ALWAYS,
    )
    ops: list[OpSpec] = Field(
        min_length=1, max_length=256, description="The ops, in order.", json_schema_extra=ALWAYS
    )
    branch: str | None = Field(
        None,
        description="The op whose output is the residual branch. Default: the last.",
        json_schema_extra=ALWAYS,
    )
    shortcut_from: str = Field(
        "x",
        description="What the shortcut carries to the add: `x`, or an op's output (a "
        "pre-activation block's projection reads its first activation).",
        json_schema_extra=ALWAYS,
    )
    projection_from: str | None = Field(
        None,
        description="What the shortcut reads where the shape changes (a projection, a pad): `x` "
        "or an op's output; a pre-activation block's projection reads its first activation. "
        "Default: `shortcut_from`.",
        json_schema_extra=ALWAYS,
    )
    shortcut_norm: bool = Field(
        True,
        description="A norm after the projection's conv; a pre-activation block's projection "
        "is a bare conv (false).",
        json_schema_extra=ALWAYS,
    )
    output_act: str | None = Field(
        None,
        max_length=64,
        description="The activation after the add: an activation (module `out_act`), `none`, or "
        "the name of an act op, whose module runs again (torchvision's one `relu`). Default: the "
        "spec's `act`.",
        json_schema_extra=ALWAYS,
    )


ACTIVATIONS: tuple[str, ...] = get_args(UserActivation)


def op_nodes(block: UserBlockSpec) -> tuple[list[str], str]:
    """Each op's node id within the block, and the closing activation's ("" for none).

    An act module that runs more than once (act ops of one name, or one the closing activation
    names) gets `#n` after its name for its n-th use, as the built-in blocks' `relu#2`.
    """
    acts = [op.name for op in block.ops if isinstance(op, ActOp)]
    reused = block.output_act if block.output_act in acts else None
    uses = {name: acts.count(name) + (name == reused) for name in acts}
    seen: dict[str, int] = {}
    ids = []
    for op in block.ops:
        if uses.get(op.name, 1) > 1:
            seen[op.name] = seen.get(op.name, 0) + 1
            ids.append(f"{op.name}#{seen[op.name]}")
        else:
            ids.append(op.name)
    if reused is not None:
        return ids, f"{reused}#{uses[reused]}" if uses[reused] > 1 else reused
    return ids, "" if block.output_act == "none" else "out_act"
