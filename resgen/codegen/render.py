"""Graph + analysis -> render model: every string and flag the templates print, nothing else.

Arithmetic, naming and choices happen here; templates only loop and test these precomputed
values. The stages' lines come from resgen/codegen/trunk.py, the helper classes' list from
resgen/codegen/helpers.py.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, NamedTuple

from resgen.checks import Analysis
from resgen.codegen.blocks import BlockClass
from resgen.codegen.calls import Call, Decl, act_call
from resgen.codegen.checkpoint import checkpointed
from resgen.codegen.children import keyed_children
from resgen.codegen.helpers import HELPERS, head_class, used_helpers
from resgen.codegen.regnet import RegNetClass
from resgen.codegen.stem import Outside, Sequential, build_outside
from resgen.codegen.trunk import StageRender, batch_shape, blocks_and_stages
from resgen.codegen.user_blocks import UserBlockClass, unkeyed_projection
from resgen.diagnostics import ResgenError, error
from resgen.graph import ir
from resgen.spec.load import LoadedSpec
from resgen.spec.model import Spec
from resgen.spec.regnet import regnet_named

if TYPE_CHECKING:
    from resgen.codegen.deploy import DeployExtras

# Re-exported where they are read: HELPERS (the spec's user-block name checks), StageRender.
__all__ = [
    "HELPERS", "FeatureInfo", "RenderModel", "StageRender", "build_render_model", "docstring_safe",
    "refuse_regnet",
]  # fmt: skip


class FeatureInfo(NamedTuple):
    module: str
    channels: int
    reduction: int


class RenderModel(NamedTuple):
    docstring: tuple[str, ...]
    class_name: str
    class_doc: tuple[str, ...]  # wrapped lines
    exports: tuple[str, ...]
    conv_bias: bool  # convs have biases (a spec without norms)
    conv_init: Call  # He init with the gain of the spec's activation
    init_comment: str  # why the gain is ReLU's for an activation torch has no gain for; or ""
    helpers: tuple[str, ...]  # helper classes to emit: "FrozenBatchNorm2d", "DropPath", ...
    block_classes: tuple[BlockClass | RegNetClass | UserBlockClass, ...]
    in_channels: int
    num_classes: int
    zero_init_residual: bool
    drop_path_rate: float  # 0.0: no drop-path code at all
    num_blocks: int
    rates_denominator: int  # drop-path: block i gets rate * i / (n - 1)
    outside: Outside  # the stem and the closing norm
    stem_shape: str
    stages: tuple[StageRender, ...]
    head_pool: Decl  # the global pool: `avgpool` (torchvision's name) or `global_maxpool`
    dropout: float
    features: int
    pooled_shape: str
    logits_shape: str
    feature_info: tuple[FeatureInfo, ...]
    deploy: DeployExtras | None = None  # the deploy build's norm tables
    trunk: tuple[str, ...] = ()  # RegNet: `self.trunk_output = ...` after its stages' lines
    ordered_dict: bool = False  # a RegNet's Sequentials are built from OrderedDicts
    classifier_head: str = ""  # timm's head: `self.head = ClassifierHead(...)`, or ""
    fc: str = "fc"  # the classifier's path
    se_act: str = "nn.ReLU(inplace=True)"  # a RegNet's SE uses the block's activation
    checkpoint: bool = False  # some stage is checkpointed: the `checkpoint` argument, run_stage
    checkpoint_comment: str = ""


def build_render_model(
    loaded: LoadedSpec, analysis: Analysis, *, deploy: bool = False
) -> RenderModel:
    """Collect what the templates print for one spec, from the (trained or folded) graph."""
    spec = loaded.spec
    graph = analysis.graph
    blocks = ir.blocks_of(graph)
    refuse_regnet(loaded, blocks, deploy=deploy)
    classes, stages, trunk = blocks_and_stages(analysis, spec, deploy=deploy)
    stages, checkpoint_comment = checkpointed(spec, stages, deploy=deploy)
    last = ir.stages_of(graph)[-1]
    outside = build_outside(graph, spec)
    # The deploy build's module also defines `fold_state_dict` (templates/deploy/).
    class_name, functions = (f"{spec.model_class}Deploy", ["fold_state_dict"]) if deploy else (
        spec.model_class, [])  # fmt: skip
    head = head_class(spec, blocks)
    helpers = used_helpers(classes, outside, head)
    helpers += ("KeepBuffers",) if checkpoint_comment else ()
    depths = ", ".join(str(len(s.blocks)) for s in ir.stages_of(graph))
    class_doc = tuple(
        textwrap.wrap(
            f"{spec.model_class}: {len(stages)} stage{'s' if len(stages) != 1 else ''} of "
            f"{' and '.join(c.name for c in classes)} blocks ({depths}).",
            88,
        )
    )
    return RenderModel(
        docstring=_module_docstring(loaded, analysis, deploy=deploy),
        class_name=class_name,
        class_doc=class_doc,
        exports=_sorted_exports([*helpers, *(c.name for c in classes), class_name, *functions]),
        conv_bias=spec.norm.type == "none",
        conv_init=_conv_init(spec),
        init_comment=""
        if spec.act in _GAINS
        else f"{spec.act} has no gain in torch.nn.init; ReLU's suits a ReLU-like activation",
        helpers=helpers,
        block_classes=classes,
        in_channels=spec.input.channels,
        num_classes=spec.head.classes,
        zero_init_residual=spec.zero_init_residual,
        drop_path_rate=spec.drop_path,
        num_blocks=len(blocks),
        rates_denominator=max(len(blocks) - 1, 1),
        outside=outside,
        stem_shape=batch_shape(analysis.shapes[ir.stages_of(graph)[0].blocks[0].input]),
        stages=stages,
        head_pool=_head_pool(spec),
        dropout=spec.head.dropout,
        features=spec.head.features or last.blocks[-1].out_channels,
        pooled_shape=batch_shape(analysis.shapes["flatten"]),
        logits_shape=batch_shape(analysis.output_shape),
        feature_info=_feature_info(spec, graph),
        trunk=trunk,
        ordered_dict=_ordered_dict(spec, blocks, outside) or keyed_children(classes),
        classifier_head=head,
        fc="head.fc" if head else "fc",
        se_act=_se_act(spec) if blocks[0].type == "regnet" else "nn.ReLU(inplace=True)",
        checkpoint=bool(checkpoint_comment),
        checkpoint_comment=checkpoint_comment,
    )


def _ordered_dict(spec: Spec, blocks: tuple[ir.Block, ...], outside: Outside) -> bool:
    """Whether some Sequential is built from an OrderedDict: a RegNet's, but for timm's
    pre-activation blocks (built-in, or as ops with its unkeyed projection) only its keyed stem or
    head (`stem.conv`, `final_conv.conv`) are."""
    if spec.layout == "resnetv2":
        return True  # its stem (`stem.conv`) and projections (`downsample.conv`) are keyed
    if blocks[0].type != "regnet" and not (blocks[0].user and regnet_named(spec)):
        return False
    if spec.layout == "torchvision" or not (blocks[0].preact or unkeyed_projection(blocks)):
        return True  # the stem's and the projections' keys (`stem.conv`, `downsample.conv`)
    return any(
        isinstance(d, Sequential) and d.keys for d in (*outside.stem, *outside.final_modules)
    )


def _se_act(spec: Spec) -> str:
    call = act_call(spec)
    return f"{call.callee}({', '.join(call.args)})"


def refuse_regnet(loaded: LoadedSpec, blocks: tuple[ir.Block, ...], *, deploy: bool) -> None:
    """RegNet blocks have Python code, but not yet in a net that mixes them with ResNet blocks
    (issue 16)."""
    kinds = {b.type for b in blocks}
    regnet = next((b for b in blocks if b.type == "regnet"), None)
    if regnet is not None and len(kinds) > 1:
        raise ResgenError([error(
            "not-generated",
            "regnet blocks are checked, counted and drawn, but resgen cannot write their Python "
            "code yet",
            regnet.loc,
            hint="`resgen check`, `info` and `draw` take this spec; `build` does not yet",
        )])  # fmt: skip


# torch.nn.init's gains: (nonlinearity, negative slope). Others get ReLU's, said in a comment.
_GAINS = {"relu": ("relu", ""), "leaky_relu": ("leaky_relu", "0.01"), "tanh": ("tanh", "")}


def _conv_init(spec: Spec) -> Call:
    """He-normal (fan_out) init, with the gain of the spec's activation, as torch spells it."""
    nonlinearity, slope = _GAINS.get(spec.act, ("relu", ""))
    args = ("module.weight", *([f"a={slope}"] if slope else []), 'mode="fan_out"',
            f'nonlinearity="{nonlinearity}"')  # fmt: skip
    one_line = f"nn.init.kaiming_normal_({', '.join(args)})"
    return Call("nn.init.kaiming_normal_", args, 16 + len(one_line) > 100)  # ruff's limit


def _head_pool(spec: Spec) -> Decl:
    if spec.head.pool == "avg":
        return Decl("avgpool", Call("nn.AdaptiveAvgPool2d", ("(1, 1)",), False))
    return Decl("global_maxpool", Call("nn.AdaptiveMaxPool2d", ("(1, 1)",), False))


def _sorted_exports(names: list[str]) -> tuple[str, ...]:
    """Sort as ruff's RUF022 does: CONSTANTS, then Classes, then functions."""
    return tuple(sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n)))


def _feature_info(spec: Spec, graph: ir.Graph) -> tuple[FeatureInfo, ...]:
    """Channels and cumulative stride (dilated stages keep theirs) of every stage's output."""
    reduction = spec.stem.reduction
    out = []
    for info in ir.stages_of(graph):
        reduction *= info.blocks[0].stride
        out.append(FeatureInfo(info.name, info.blocks[-1].out_channels, reduction))
    return tuple(out)


def _module_docstring(loaded: LoadedSpec, analysis: Analysis, *, deploy: bool) -> tuple[str, ...]:
    spec = loaded.spec
    c, h, w = analysis.graph.graph["input_shape"]
    title = spec.description.strip() or f"{spec.model_class}, generated by resgen."
    # Wrap first, then escape each line: wrapping escaped text could split an escape such as
    # `\\N` across lines, leaving `\N` (a syntax error) or a bare quote behind.
    lines = [docstring_safe(line) for line in textwrap.wrap(title, 96)] or [""]
    lines += [
        "",
        f"Generated by resgen from {docstring_safe(loaded.reference)}",
        f"(sha256 {loaded.sha256}).",
        "Edit the spec, not this file, and rebuild with "
        + ("`resgen build --deploy`." if deploy else "`resgen build`."),
        "",
        f"Input (N, {c}, {h}, {w}): {analysis.total_params:,} parameters, "
        f"{analysis.total_macs:,} multiply-adds (MACs).",
        "",
    ]
    table = [("stage", "blocks", "output", "params", "MACs")]
    table += [
        (r.name, str(r.blocks or "-"), batch_shape(r.shape), f"{r.params:,}", f"{r.macs:,}")
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
