"""Graph + analysis -> render model: every string and flag the templates print, nothing else.

Arithmetic, naming and choices happen here; templates only loop and test these precomputed
values.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from resgen.checks import Analysis
from resgen.graph import ir
from resgen.spec.load import LoadedSpec

BLOCK_CLASSES = {"basic": "BasicBlock", "bottleneck": "Bottleneck"}


@dataclass(frozen=True)
class BlockClass:
    """One block class to emit, with the features its instances need."""

    name: str  # "Bottleneck"
    type: str  # "basic" | "bottleneck"
    stride_on_1x1: bool
    grouped: bool  # takes a `groups` argument
    projection: bool  # some instance has a projection shortcut
    last_norm: str  # attribute zeroed by zero_init_residual


@dataclass(frozen=True)
class StageEntry:
    """`call` repeated `count` times (count > 1 becomes a list comprehension)."""

    call: str
    count: int


@dataclass(frozen=True)
class StageRender:
    name: str
    comment: str
    entries: tuple[StageEntry, ...]
    shape: str


@dataclass(frozen=True)
class RenderModel:
    docstring: tuple[str, ...]
    class_name: str
    class_doc: str
    exports: tuple[str, ...]
    block_classes: tuple[BlockClass, ...]
    in_channels: int
    num_classes: int
    zero_init_residual: bool
    stem_width: int
    stem_pool: bool
    stem_shape: str
    stages: tuple[StageRender, ...]
    head_pool: str  # "avg" | "max"
    features: int
    pooled_shape: str
    logits_shape: str


def build_render_model(loaded: LoadedSpec, analysis: Analysis) -> RenderModel:
    """Collect what the templates print for one spec."""
    spec = loaded.spec
    graph = analysis.graph
    blocks = ir.blocks_of(graph)
    classes = []
    for kind, name in BLOCK_CLASSES.items():
        mine = [b for b in blocks if b.type == kind]
        if mine:
            classes.append(
                BlockClass(
                    name=name,
                    type=kind,
                    stride_on_1x1=spec.block.stride_on == "1x1",
                    grouped=any(b.groups != 1 for b in mine),
                    projection=any(b.projection for b in mine),
                    last_norm="bn3" if kind == "bottleneck" else "bn2",
                )
            )
    stages = tuple(_render_stage(stage, analysis) for stage in ir.stages_of(graph))
    last = ir.stages_of(graph)[-1]
    kinds = sorted({b.type for b in blocks})
    depths = ", ".join(str(len(s.blocks)) for s in ir.stages_of(graph))
    class_doc = (
        f"{len(stages)} stages of {' and '.join(BLOCK_CLASSES[k] for k in kinds)} blocks "
        f"({depths}); built from {docstring_safe(loaded.source.name)}."
    )
    return RenderModel(
        docstring=_module_docstring(loaded, analysis),
        class_name=spec.model_class,
        class_doc=class_doc,
        exports=tuple(sorted([c.name for c in classes] + [spec.model_class])),
        block_classes=tuple(classes),
        in_channels=spec.input.channels,
        num_classes=spec.head.classes,
        zero_init_residual=spec.zero_init_residual,
        stem_width=spec.stem.width,
        stem_pool=spec.stem.pool == "max",
        stem_shape=_batch_shape(analysis.shapes[_stem_output(graph)]),
        stages=stages,
        head_pool=spec.head.pool,
        features=last.blocks[-1].out_channels,
        pooled_shape=_batch_shape(analysis.shapes["flatten"]),
        logits_shape=_batch_shape(analysis.output_shape),
    )


def _stem_output(graph: object) -> str:
    first = ir.stages_of(graph)[0].blocks[0]  # type: ignore[arg-type]
    return first.input


def _render_stage(stage: ir.StageInfo, analysis: Analysis) -> StageRender:
    entries: list[StageEntry] = []
    for block in stage.blocks:
        call = _block_call(block)
        if entries and entries[-1].call == call:
            entries[-1] = StageEntry(call, entries[-1].count + 1)
        else:
            entries.append(StageEntry(call, 1))
    shape = _batch_shape(analysis.shapes[stage.output])
    n = len(stage.blocks)
    comment = f"{stage.name}: {n} block{'s' if n != 1 else ''} -> {shape}"
    return StageRender(stage.name, comment, tuple(entries), shape)


def _block_call(block: ir.BlockInfo) -> str:
    args = [str(block.in_channels), str(block.mid_channels), str(block.out_channels)]
    if block.stride != 1:
        args.append(f"stride={block.stride}")
    if block.groups != 1:
        args.append(f"groups={block.groups}")
    if block.projection:
        args.append("downsample=True")
    return f"{BLOCK_CLASSES[block.type]}({', '.join(args)})"


def _batch_shape(shape: ir.Shape | None) -> str:
    if shape is None:
        return "(N, ?)"
    return "(N, " + ", ".join(str(d) for d in shape) + ")"


def _module_docstring(loaded: LoadedSpec, analysis: Analysis) -> tuple[str, ...]:
    spec = loaded.spec
    c, h, w = analysis.graph.graph["input_shape"]
    title = spec.description.strip() or f"{spec.model_class}, generated by resgen."
    lines = textwrap.wrap(docstring_safe(title), 96) or [""]
    lines += [
        "",
        f"Generated by resgen from {docstring_safe(loaded.source.name)}",
        f"(sha256 {loaded.sha256}).",
        "Edit the spec, not this file, and rebuild with `resgen build`.",
        "",
        f"Input (N, {c}, {h}, {w}): {analysis.total_params:,} parameters, "
        f"{analysis.total_macs:,} multiply-adds (MACs).",
        "",
    ]
    rows = analysis.rows()
    table = [("stage", "blocks", "output", "params", "MACs")]
    table += [
        (
            r.name,
            str(r.blocks) if r.blocks else "-",
            _batch_shape(r.shape),
            f"{r.params:,}",
            f"{r.macs:,}",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        cells = [
            row[0].ljust(widths[0]),
            *(cell.rjust(wd) for cell, wd in zip(row[1:], widths[1:], strict=True)),
        ]
        lines.append(("    " + "  ".join(cells)).rstrip())
    return tuple(lines)


def docstring_safe(text: str) -> str:
    """Escape user text so that inside a triple-quoted docstring it stays data, never code."""
    out = []
    for ch in text.replace("\\", "\\\\").replace('"', '\\"'):
        out.append(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1])
    return "".join(out)
