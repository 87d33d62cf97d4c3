"""What res2net, selective kernel and resnest blocks do not combine with: errors at the key.

All are timm's post-activation blocks. A switch their lowering has no counterpart for (a
pre-activation variant, anti-aliased downsampling, per-block widths; for the selective kernel and
split-attention convs, whose helper modules build batch norms and ReLUs as timm's do, another
norm or activation; for resnest, whose 1x1 timm asserts is not reduced, `reduce_first`) is an
error at that key, never a key silently ignored (`stride_on` is inert there, and says so).
"""

from __future__ import annotations

from resgen.diagnostics import Diagnostic, error
from resgen.spec.model import Spec
from resgen.spec.source import Source

_KINDS = ("res2net", "sk_basic", "sk_bottleneck", "resnest")
_HELPERS = ("sk_basic", "sk_bottleneck", "resnest")  # a helper module with batch norms and ReLUs


def check_block_kinds(spec: Spec, source: Source) -> list[Diagnostic]:
    """An error at each switch a res2net, selective kernel or resnest block cannot take."""
    kinds = [stage.block or spec.block.type for stage in spec.stages]
    used: list[str] = [k for k in _KINDS if k in kinds]
    if not used:
        return []
    found = []

    def refuse(path: tuple[str | int, ...], what: str, hint: str, who: list[str] = used) -> None:
        message = f"{' and '.join(who)} blocks do not take {what}"
        found.append(error("block-unsupported", message, source.locate(path, key=True), hint))

    if spec.block.preact:
        refuse(("block", "preact"), "pre-activation", "remove `block.preact`")
    if spec.anti_alias is not None:
        refuse(("anti_alias",), "anti-aliased downsampling", "remove `anti_alias`")
    sk: list[str] = [k for k in used if k in _HELPERS]
    if sk and spec.norm.type != "batch":
        refuse(("norm", "type"), f"`norm: {spec.norm.type}`", "use `norm: {type: batch}`", sk)
    if sk and spec.act != "relu":
        refuse(("act",), f"`act: {spec.act}`", "use `act: relu`", sk)
    if "resnest" in used and spec.block.reduce_first != 1:
        hint = "remove `block.reduce_first` (timm's ResNestBottleneck asserts it is 1)"
        refuse(("block", "reduce_first"), "`reduce_first`", hint, ["resnest"])
    for i, (kind, stage) in enumerate(zip(kinds, spec.stages, strict=True)):
        if kind in _KINDS and stage.blocks:
            hint = "remove the stage's `blocks`"
            refuse(("stages", i, "blocks"), "per-block widths", hint, [kind])
    return found
