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
from resgen.spec.model import Spec

BLOCK_CLASSES = {
    ("basic", False): "BasicBlock",
    ("bottleneck", False): "Bottleneck",
    ("basic", True): "PreActBasicBlock",
    ("bottleneck", True): "PreActBottleneck",
}

# Activation constructors; in-place where torch allows it, as torchvision does.
ACTIVATIONS = {
    "relu": "nn.ReLU(inplace=True)",
    "silu": "nn.SiLU(inplace=True)",
    "gelu": "nn.GELU()",
    "leaky_relu": "nn.LeakyReLU(0.01, inplace=True)",
    "elu": "nn.ELU(inplace=True)",
    "mish": "nn.Mish(inplace=True)",
    "hardswish": "nn.Hardswish(inplace=True)",
    "tanh": "nn.Tanh()",
}


@dataclass(frozen=True)
class Layers:
    """How the spec's norm and activation are spelt in Python; shared by every class."""

    norm: str  # a format string with {c} for the channels; "" for no norm
    act_attr: str  # "relu" (torchvision's name) or "act"
    act: str  # constructor expression
    conv_bias: str  # "False" after a norm, "True" without norms


@dataclass(frozen=True)
class BlockClass:
    """One block class to emit, with the features its instances need."""

    name: str
    type: str  # "basic" | "bottleneck"
    preact: bool
    stride_on_1x1: bool
    grouped: bool  # takes `groups`
    dilated: bool  # takes `dilation` (and, basic, `first_dilation`)
    downsample: str  # "" | "pad" | "projection" | "avgpool_projection": the shortcut kind
    residual: str  # "always", "never" (plain blocks, shortcut: none) or "param" (per stage)
    attention: str  # "" | "se" | "eca"
    drop_path: bool
    zero_init: str  # attribute whose weight zero_init_residual zeroes


@dataclass(frozen=True)
class StageEntry:
    """`call` once, or repeated for `indices` (a list comprehension)."""

    call: str
    indices: tuple[int, ...]  # global block indices; they feed `rates[i]` with drop-path

    @property
    def range(self) -> str:
        first, last = self.indices[0], self.indices[-1] + 1
        return (
            f"range({last - first})" if "rates[i]" not in self.call else f"range({first}, {last})"
        )


@dataclass(frozen=True)
class StageRender:
    name: str
    comment: str
    entries: tuple[StageEntry, ...]
    shape: str


@dataclass(frozen=True)
class FeatureInfo:
    module: str
    channels: int
    reduction: int


@dataclass(frozen=True)
class RenderModel:
    docstring: tuple[str, ...]
    class_name: str
    class_doc: tuple[str, ...]  # wrapped lines
    exports: tuple[str, ...]
    layers: Layers
    helpers: tuple[str, ...]  # helper classes to emit: "FrozenBatchNorm2d", "DropPath", ...
    block_classes: tuple[BlockClass, ...]
    in_channels: int
    num_classes: int
    zero_init_residual: bool
    drop_path_rate: float  # 0.0: no drop-path code at all
    num_blocks: int
    rates_denominator: int  # drop-path: block i gets rate * i / (n - 1)
    stem_type: str
    stem_widths: tuple[int, ...]
    stem_norm: bool
    stem_pool: bool
    stem_shape: str
    stages: tuple[StageRender, ...]
    final_norm: int  # channels of the pre-activation nets' closing norm; 0 for none
    head_pool: str  # "avg" | "max"
    dropout: float
    features: int
    pooled_shape: str
    logits_shape: str
    feature_info: tuple[FeatureInfo, ...]


def build_render_model(loaded: LoadedSpec, analysis: Analysis) -> RenderModel:
    """Collect what the templates print for one spec."""
    spec = loaded.spec
    graph = analysis.graph
    blocks = ir.blocks_of(graph)
    classes = _block_classes(spec, blocks)
    by_name = {c.name: c for c in classes}
    stages = tuple(_render_stage(s, analysis, spec, by_name) for s in ir.stages_of(graph))
    last = ir.stages_of(graph)[-1]
    helpers = _helpers(spec, blocks)
    depths = ", ".join(str(len(s.blocks)) for s in ir.stages_of(graph))
    class_doc = tuple(
        textwrap.wrap(
            f"{spec.model_class}: {len(stages)} stages of "
            f"{' and '.join(c.name for c in classes)} blocks ({depths}).",
            88,
        )
    )
    return RenderModel(
        docstring=_module_docstring(loaded, analysis),
        class_name=spec.model_class,
        class_doc=class_doc,
        exports=_sorted_exports([*helpers, *(c.name for c in classes), spec.model_class]),
        layers=_layers(spec),
        helpers=helpers,
        block_classes=classes,
        in_channels=spec.input.channels,
        num_classes=spec.head.classes,
        zero_init_residual=spec.zero_init_residual,
        drop_path_rate=spec.drop_path,
        num_blocks=len(blocks),
        rates_denominator=max(len(blocks) - 1, 1),
        stem_type=spec.stem.type,
        stem_widths=spec.stem.conv_widths,
        stem_norm=spec.stem.norm,
        stem_pool=spec.stem.has_pool,
        stem_shape=_batch_shape(analysis.shapes[ir.stages_of(graph)[0].blocks[0].input]),
        stages=stages,
        final_norm=last.blocks[-1].out_channels if spec.block.preact else 0,
        head_pool=spec.head.pool,
        dropout=spec.head.dropout,
        features=last.blocks[-1].out_channels,
        pooled_shape=_batch_shape(analysis.shapes["flatten"]),
        logits_shape=_batch_shape(analysis.output_shape),
        feature_info=_feature_info(spec, graph),
    )


def _sorted_exports(names: list[str]) -> tuple[str, ...]:
    """Sort as ruff's RUF022 does: CONSTANTS, then Classes, then functions."""
    return tuple(sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n)))


def _layers(spec: Spec) -> Layers:
    norm = spec.norm
    eps = "" if norm.eps == 1e-5 else f", eps={norm.eps!r}"
    pattern = {
        "batch": f"nn.BatchNorm2d({{c}}{eps})",
        "group": f"nn.GroupNorm({norm.groups}, {{c}}{eps})",
        "frozen_batch": f"FrozenBatchNorm2d({{c}}{eps})",
        "none": "",
    }[norm.type]
    act = ACTIVATIONS[spec.act]
    if spec.block.preact and not pattern:
        # Without a norm, a pre-activation block activates its input itself: in place, that
        # would overwrite the input the shortcut adds back (and break autograd).
        act = act.replace("(inplace=True)", "()").replace(", inplace=True", "")
    return Layers(
        norm=pattern,
        act_attr="relu" if spec.act == "relu" else "act",
        act=act,
        conv_bias="False" if pattern else "True",
    )


def _helpers(spec: Spec, blocks: tuple[ir.BlockInfo, ...]) -> tuple[str, ...]:
    helpers = []
    if spec.norm.type == "frozen_batch":
        helpers.append("FrozenBatchNorm2d")
    if any(b.shortcut == "pad" for b in blocks):
        helpers.append("PadShortcut")
    if spec.block.attention is not None:
        helpers.append(
            "SqueezeExcite" if spec.block.attention.type == "se" else "EfficientChannelAttention"
        )
    if spec.drop_path > 0:
        helpers.append("DropPath")
    return tuple(helpers)


def _block_classes(spec: Spec, blocks: tuple[ir.BlockInfo, ...]) -> tuple[BlockClass, ...]:
    classes = []
    preact = spec.block.preact
    has_norm = spec.norm.type != "none"
    for (kind, is_preact), name in BLOCK_CLASSES.items():
        mine = [b for b in blocks if b.type == kind and is_preact == preact]
        if not mine:
            continue
        last = "3" if kind == "bottleneck" else "2"
        kinds = {b.shortcut for b in mine if b.downsample}
        classes.append(
            BlockClass(
                name=name,
                type=kind,
                preact=preact,
                stride_on_1x1=spec.block.stride_on == "1x1",
                grouped=any(b.groups != 1 for b in mine),
                dilated=any(b.dilation != 1 or b.first_dilation != 1 for b in mine),
                downsample=kinds.pop() if kinds else "",
                residual=_residual(mine),
                attention=spec.block.attention.type if spec.block.attention else "",
                drop_path=spec.drop_path > 0,
                zero_init=f"bn{last}" if has_norm and not preact else f"conv{last}",
            )
        )
    return tuple(classes)


def _residual(blocks: list[ir.BlockInfo]) -> str:
    plain = {b.shortcut == "none" for b in blocks}
    if len(plain) == 2:
        return "param"
    return "never" if plain == {True} else "always"


def _render_stage(
    stage: ir.StageInfo, analysis: Analysis, spec: Spec, classes: dict[str, BlockClass]
) -> StageRender:
    entries: list[StageEntry] = []
    offset = sum(len(s.blocks) for s in ir.stages_of(analysis.graph)[: stage.number - 1])
    for block in stage.blocks:
        call = _block_call(block, spec, classes)
        index = offset + block.index
        if entries and entries[-1].call == call:
            entries[-1] = StageEntry(call, (*entries[-1].indices, index))
        else:
            entries.append(StageEntry(call, (index,)))
    # A single call fills in its own rate index.
    entries = [
        StageEntry(e.call.replace("rates[i]", f"rates[{e.indices[0]}]"), e.indices)
        if len(e.indices) == 1
        else e
        for e in entries
    ]
    shape = _batch_shape(analysis.shapes[stage.output])
    n = len(stage.blocks)
    comment = f"{stage.name}: {n} block{'s' if n != 1 else ''} -> {shape}"
    return StageRender(stage.name, comment, tuple(entries), shape)


def _block_call(block: ir.BlockInfo, spec: Spec, classes: dict[str, BlockClass]) -> str:
    name = BLOCK_CLASSES[(block.type, spec.block.preact)]
    args = [str(block.in_channels), str(block.mid_channels), str(block.out_channels)]
    if block.stride != 1:
        args.append(f"stride={block.stride}")
    if block.groups != 1:
        args.append(f"groups={block.groups}")
    if block.type == "bottleneck":
        if block.first_dilation != 1:
            args.append(f"dilation={block.first_dilation}")
    else:
        if block.dilation != 1:
            args.append(f"dilation={block.dilation}")
        if block.first_dilation != block.dilation:
            args.append(f"first_dilation={block.first_dilation}")
    if block.downsample:
        args.append("downsample=True")
    if block.attention_size:
        args.append(f"attention={block.attention_size}")
    if block.shortcut == "none" and classes[name].residual == "param":
        args.append("residual=False")
    if spec.drop_path > 0:
        args.append("drop_path=rates[i]")
    return f"{name}({', '.join(args)})"


def _feature_info(spec: Spec, graph: ir.Graph) -> tuple[FeatureInfo, ...]:
    """Channels and cumulative stride (dilated stages keep theirs) of every stage's output."""
    reduction = spec.stem.reduction
    out = []
    for info in ir.stages_of(graph):
        reduction *= info.blocks[0].stride
        out.append(FeatureInfo(info.name, info.blocks[-1].out_channels, reduction))
    return tuple(out)


def _batch_shape(shape: ir.Shape | None) -> str:
    if shape is None:
        return "(N, ?)"
    return "(N, " + ", ".join(str(d) for d in shape) + ")"


def _module_docstring(loaded: LoadedSpec, analysis: Analysis) -> tuple[str, ...]:
    spec = loaded.spec
    c, h, w = analysis.graph.graph["input_shape"]
    title = spec.description.strip() or f"{spec.model_class}, generated by resgen."
    # Wrap first, then escape each line: wrapping escaped text could split an escape such as
    # `\\N` across lines, leaving `\N` (a syntax error) or a bare quote behind.
    lines = [docstring_safe(line) for line in textwrap.wrap(title, 96)] or [""]
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
    table = [("stage", "blocks", "output", "params", "MACs")]
    table += [
        (r.name, str(r.blocks or "-"), _batch_shape(r.shape), f"{r.params:,}", f"{r.macs:,}")
        for r in analysis.rows()
    ]
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append(("    " + "  ".join(cells)).rstrip())
    return tuple(lines)


def docstring_safe(text: str) -> str:
    """Escape user text so that inside a triple-quoted docstring it stays data, never code."""
    out = []
    for ch in text.replace("\\", "\\\\").replace('"', '\\"'):
        out.append(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1])
    return "".join(out)
