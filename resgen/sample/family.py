"""What the closed-form counter needs to know of a space's fixed settings, and whether it can.

`resgen.sample.count` counts RegNet-block networks (AnyNetX/Y, RegNetX/Y: simple stem, regnet
blocks with or without SE, projection shortcuts, a linear head) without lowering them. A space
with other settings is refused here, at the key that asks for them, rather than counted wrongly;
`resgen.sample.space` also checks the counter against the full graph analysis on the space's
smallest and largest networks before any sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

from resgen.diagnostics import Diagnostic, error
from resgen.spec.model import Spec
from resgen.spec.source import Source

_HINT = (
    "`resgen sample` counts RegNet-style networks in closed form: block.type regnet, a simple "
    "stem, batch or frozen_batch norm, SE by `ratio`, projection shortcuts, a linear head"
)


@dataclass(frozen=True)
class Family:
    """The fixed settings of a sampled network that its counts depend on."""

    in_channels: int
    height: int
    width: int
    stem_width: int
    stem_norm: bool
    norm_params: int  # parameters per channel of a norm: 2 (batch) or 0 (frozen_batch)
    se_ratio: float  # 0.0 without SE
    classes: int


def family_of(spec: Spec, source: Source) -> tuple[Family, list[Diagnostic]]:
    """The counter's settings for a (validated) spec, and an error per setting it cannot count."""
    found: list[Diagnostic] = []

    def refuse(path: tuple[str | int, ...], what: str) -> None:
        where = source.locate(path, key=True)
        found.append(
            error("sample-unsupported", f"sampling does not count {what} yet", where, hint=_HINT)
        )

    if spec.block.type != "regnet" or any(s.block not in (None, "regnet") for s in spec.stages):
        refuse(("block", "type"), f"`{spec.block.type}` blocks")
    if spec.stem.type != "simple" or spec.stem.has_pool:
        refuse(("stem",), f"a `{spec.stem.type}` stem" + (" with a pool" * spec.stem.has_pool))
    if spec.block.preact:
        refuse(("block", "preact"), "pre-activation blocks")
    if spec.norm.type not in ("batch", "frozen_batch"):
        refuse(("norm", "type"), f"`norm: {spec.norm.type}`")
    attention = spec.block.attention
    if attention is not None and (attention.type != "se" or attention.ratio is None):
        refuse(("block", "attention"), "attention other than `{type: se, ratio: ...}`")
    if spec.shortcut != "projection" or any(
        s.shortcut not in (None, "projection") for s in spec.stages
    ):
        refuse(("shortcut",), f"`shortcut: {spec.shortcut}`")
    if spec.output_stride is not None:
        refuse(("output_stride",), "`output_stride`")
    if any(s.dilation != 1 for s in spec.stages):
        refuse(("stages",), "dilated stages")
    head = spec.head
    if head.classes == 0 or head.final not in (None, "none") or head.features is not None:
        refuse(("head",), "a head other than pool and linear")
    size = spec.input.size
    height, width = (size, size) if isinstance(size, int) else size
    family = Family(
        in_channels=spec.input.channels,
        height=height,
        width=width,
        stem_width=spec.stem.out_width,
        stem_norm=spec.stem.norm,
        norm_params=2 if spec.norm.type == "batch" else 0,
        se_ratio=attention.ratio or 0.0 if attention is not None else 0.0,
        classes=head.classes,
    )
    return family, found
