"""What `layout: resnetv2` (timm's ResNetV2 and BiT) takes, and what it does not yet.

timm's ResNetV2 is pre-activation throughout: basic or bottleneck blocks with `block.preact`, a
bare-conv stem (`stem.norm: false`), a final norm-act and a 1x1-conv classifier. The ResNet
switches it has no counterpart for are errors at the key that asks for them, never ignored.
"""

from __future__ import annotations

from resgen.diagnostics import Diagnostic, error
from resgen.spec.model import Spec
from resgen.spec.source import Source


def check_resnetv2(spec: Spec, source: Source) -> list[Diagnostic]:
    """An error at each key that timm's ResNetV2 layout cannot express."""
    if spec.layout != "resnetv2":
        return []
    found = []
    refused: set[tuple[str | int, ...]] = set()

    def refuse(path: tuple[str | int, ...], what: str, hint: str) -> None:
        if path in refused:  # a spec-wide key that every stage inherits: one error, not one each
            return
        refused.add(path)
        message = f"`layout: resnetv2` does not take {what}"
        found.append(error("resnetv2-unsupported", message, source.locate(path, key=True), hint))

    # A user block writes its ops in pre-activation order itself (`block.preact` is refused).
    users = any((stage.block or spec.block.type) in spec.blocks for stage in spec.stages)
    if not spec.block.preact and not users:
        refuse(("block", "preact"), "post-activation blocks (timm's ResNetV2 is pre-activation)",
               "set `block.preact: true`")  # fmt: skip
    if spec.stem.norm:
        refuse(("stem", "norm"), "a norm after the stem (its first block normalises its input)",
               "set `stem.norm: false`")  # fmt: skip
    if spec.stem.type not in ("conv7", "deep"):
        refuse(("stem", "type"), f"a `{spec.stem.type}` stem", "use `conv7` or `deep`")
    if spec.stem.pool_kind == "conv":
        refuse(("stem", "pool"), "a conv stem pool", "use `max` or `max_zero_pad`")
    if spec.block.reduce_first != 1:
        refuse(("block", "reduce_first"), "`reduce_first`", "remove `block.reduce_first`")
    asked = (
        (spec.block.attention is not None, ("block", "attention"), "channel attention"),
        (spec.anti_alias is not None, ("anti_alias",), "anti-aliased downsampling"),
        (spec.drop_path > 0, ("drop_path",), "drop-path (timm's ResNetV2 rates are stage-wise)"),
        (spec.checkpoint != "none", ("checkpoint",), "activation checkpointing"),
        (spec.head.final is not None, ("head", "final"), "another closing norm (it has `norm`)"),
        (spec.head.features is not None, ("head", "features"), "a head conv"),
    )
    for wanted, path, what in asked:
        if wanted:
            refuse(path, what, f"remove `{'.'.join(path)}`")
    for i, stage in enumerate(spec.stages):
        kind = stage.block or spec.block.type
        if kind not in ("basic", "bottleneck") and kind not in spec.blocks:
            where = ("stages", i, "block") if stage.block else ("block", "type")
            refuse(where, f"{kind} blocks", "use `basic` or `bottleneck` blocks")
        shortcut = stage.shortcut or spec.shortcut
        if shortcut == "pad" or (shortcut == "avgpool_projection" and spec.output_stride):
            at: tuple[str | int, ...] = ("stages", i, "shortcut") if stage.shortcut else (
                "shortcut",)  # fmt: skip
            extra = "" if shortcut == "pad" else " with `output_stride`"
            refuse(at, f"`shortcut: {shortcut}`{extra}", "use `projection`")
        if stage.blocks:
            refuse(("stages", i, "blocks"), "per-block widths", "remove the stage's `blocks`")
    return found
