"""Graph + analysis -> render model: every string and flag the templates print, nothing else.

Arithmetic, naming and choices happen here; templates only loop and test these precomputed
values.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from resgen.checks import Analysis
from resgen.codegen import resnetv2
from resgen.codegen.blocks import BlockClass, block_call, block_classes, class_of
from resgen.codegen.calls import Call, Decl, act_call
from resgen.codegen.checkpoint import checkpointed
from resgen.codegen.children import keyed_children
from resgen.codegen.regnet import RegNetClass, regnet_class, stage_lines, trunk_line
from resgen.codegen.stem import Outside, Sequential, build_outside
from resgen.codegen.user_blocks import (
    UserBlockClass,
    class_name,
    unkeyed_projection,
    user_block_call,
    user_block_classes,
)
from resgen.diagnostics import ResgenError, error
from resgen.graph import ir
from resgen.spec.load import LoadedSpec
from resgen.spec.model import Spec
from resgen.spec.regnet import regnet_named

if TYPE_CHECKING:
    from resgen.codegen.deploy import DeployExtras


class StageEntry(NamedTuple):
    """`call` once, or repeated `for var in range` (a list comprehension)."""

    call: str
    repeats: int
    var: str  # "i" when the call reads the drop-path rate `rates[i]`, else "_"
    range: str

    @property
    def lines(self) -> tuple[str, ...]:
        """The entry as ruff formats it inside the stage's Sequential (12 spaces in)."""
        if self.repeats == 1:
            return _fitted(self.call, 12, ",")
        one = f"*[{self.call} for {self.var} in {self.range}],"
        if 12 + len(one) <= LINE_LIMIT:
            return (one,)
        inner = _fitted(self.call, 16, "")
        return (
            "*[",
            *(f"    {line}" for line in inner),
            f"    for {self.var} in {self.range}",
            "],",
        )


LINE_LIMIT = 100  # ruff's line length, which generated files keep


def _fitted(call: str, indent: int, end: str) -> tuple[str, ...]:
    """A call of plain arguments on one line, else its arguments on the next (indented), else
    one argument per line with a trailing comma: the three layouts of ruff format."""
    if indent + len(call) + len(end) <= LINE_LIMIT:
        return (call + end,)
    head, _, rest = call.partition("(")
    args = rest[:-1]
    if indent + 4 + len(args) <= LINE_LIMIT:
        return (f"{head}(", f"    {args}", f"){end}")
    return (f"{head}(", *(f"    {arg}," for arg in args.split(", ")), f"){end}")


class StageRender(NamedTuple):
    name: str
    comment: str
    entries: tuple[StageEntry, ...]
    shape: str
    lines: tuple[str, ...] = ()  # a RegNet stage: built with add_module (resgen.codegen.regnet)
    ref: str = ""  # how forward calls a stage that is no attribute: `trunk_output[0]`
    checkpoint: bool = False  # forward runs it through run_stage (resgen.codegen.checkpoint)


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
    classes, stages, trunk = _blocks_and_stages(analysis, spec, deploy=deploy)
    stages, checkpoint_comment = checkpointed(spec, stages, deploy=deploy)
    last = ir.stages_of(graph)[-1]
    outside = build_outside(graph, spec)
    # The deploy build's module also defines `fold_state_dict` (templates/deploy/).
    class_name, functions = (f"{spec.model_class}Deploy", ["fold_state_dict"]) if deploy else (
        spec.model_class, [])  # fmt: skip
    head = _head_class(spec, blocks)
    helpers = _helpers(classes, outside, head)
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
        stem_shape=_batch_shape(analysis.shapes[ir.stages_of(graph)[0].blocks[0].input]),
        stages=stages,
        head_pool=_head_pool(spec),
        dropout=spec.head.dropout,
        features=spec.head.features or last.blocks[-1].out_channels,
        pooled_shape=_batch_shape(analysis.shapes["flatten"]),
        logits_shape=_batch_shape(analysis.output_shape),
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


# Helper classes, in the order they are written.
HELPERS = (
    "Affine",
    "FusedConv2d",
    "ConvReLU",
    "ConvAddReLU",
    "FrozenBatchNorm2d",
    "PadShortcut",
    "AvgPool2dSame",
    "BlurPool2d",
    "SqueezeExcite",
    "SqueezeExcitation",
    "SelectiveKernel",
    "SplitAttn",
    "ClassifierHead",
    "StdConv2d",
    "EvoNorm2dS0",
    "FilterResponseNormTlu2d",
    "ResNetStage",
    "ConvClassifierHead",
    "EfficientChannelAttention",
    "DropPath",
    "KeepBuffers",
    "LayerNorm2d",
    "make_divisible",
    "log2",
)


def _head_class(spec: Spec, blocks: tuple[ir.Block, ...]) -> str:
    """timm's head module, when the names are timm's: a linear classifier, or (ResNetV2) a 1x1
    conv; "" for torchvision's `avgpool` and `fc`."""
    if spec.layout == "resnetv2":
        return "ConvClassifierHead"
    return "ClassifierHead" if regnet_named(spec) and spec.layout == "timm" else ""


def _helpers(
    all_classes: tuple[BlockClass | RegNetClass | UserBlockClass, ...],
    outside: Outside,
    head: str = "",
) -> tuple[str, ...]:
    """The helper classes the module uses: those its calls name, and the templates' own."""
    classes = [c for c in all_classes if isinstance(c, BlockClass)]
    calls = [d.call for c in classes for d in (*c.modules, c.act, c.attention) if d is not None]
    calls += [item for c in classes for item in c.shortcut_items]
    regnets = [c for c in all_classes if isinstance(c, RegNetClass)]
    extra = {h for c in regnets for h in c.helpers}  # a RegNet's class names its own
    for c in regnets:  # and the modules it calls (FrozenBatchNorm2d, StdConv2d, EvoNorm2dS0)
        calls += [item.call for g in c.groups for item in g.items] + [i.call for i in c.proj]
        calls += [d.call for d in c.decls]
    extra |= {"DropPath"} if any(c.drop_path for c in regnets) else set()
    users = [c for c in all_classes if isinstance(c, UserBlockClass)]
    extra |= {h for c in users for h in c.helpers}
    extra |= {"DropPath"} if any(c.drop_path for c in users) else set()
    calls += [item for c in users for item in c.shortcut_items]
    if any(c.shortcut == ir.ShortcutKind.PAD for c in users):
        extra.add("PadShortcut")
    if any(c.opens_dilated and c.shortcut == ir.ShortcutKind.AVGPOOL_PROJECTION for c in users):
        extra.add("AvgPool2dSame")
    for d in outside.stem:
        calls += [item.call for item in d.items] if isinstance(d, Sequential) else [d.call]
    if outside.final_norm is not None:
        calls.append(outside.final_norm)
    calls += [item.call for d in outside.final_modules for item in d.items]
    used = {call.callee for call in calls} | extra
    if used & {"ConvReLU", "ConvAddReLU"}:
        used.add("FusedConv2d")  # their base class
    if any(c.shortcut == ir.ShortcutKind.PAD for c in classes):
        used.add("PadShortcut")  # templates/shortcuts/pad.py.jinja
    if any(c.opens_dilated and c.shortcut == ir.ShortcutKind.AVGPOOL_PROJECTION for c in classes):
        used.add("AvgPool2dSame")  # templates/shortcuts/avgpool_projection.py.jinja
    if any(c.drop_path for c in classes):
        used.add("DropPath")
    used.add(head)
    return tuple(h for h in HELPERS if h in used)


def _render_stage(
    stage: ir.StageInfo,
    analysis: Analysis,
    classes: dict[str, BlockClass | UserBlockClass],
    spec: Spec,
) -> StageRender:
    """A stage's blocks as calls; consecutive equal calls become one list comprehension."""
    graph = analysis.graph
    runs: list[tuple[str, list[ir.Block]]] = []

    def class_for(block: ir.Block) -> BlockClass | UserBlockClass:
        return classes[class_name(spec, block.type) if block.user else class_of(block)]

    def call_of(block: ir.Block, rate: str = "rates[i]") -> str:
        cls = class_for(block)
        if isinstance(cls, UserBlockClass):
            return user_block_call(graph, spec, block, cls, rate=rate)
        return block_call(graph, block, cls, rate=rate)

    for block in stage.blocks:
        call = call_of(block)
        if runs and runs[-1][0] == call:
            runs[-1][1].append(block)
        else:
            runs.append((call, [block]))
    offset = sum(len(s.blocks) for s in ir.stages_of(graph)[: stage.number - 1])
    entries = []
    for call, run in runs:
        first, last = offset + run[0].index, offset + run[-1].index + 1
        drop_path = class_for(run[0]).drop_path
        if len(run) == 1:  # a single call reads its own rate
            one = call_of(run[0], rate=f"rates[{first}]")
            entries.append(StageEntry(one, 1, "", ""))
        elif drop_path:
            entries.append(StageEntry(call, len(run), "i", f"range({first}, {last})"))
        else:
            entries.append(StageEntry(call, len(run), "_", f"range({last - first})"))
    shape = _batch_shape(analysis.shapes[stage.output])
    n = len(stage.blocks)
    comment = f"{stage.name}: {n} block{'s' if n != 1 else ''} -> {shape}"
    return StageRender(stage.name, comment, tuple(entries), shape)


def _blocks_and_stages(
    analysis: Analysis, spec: Spec, *, deploy: bool
) -> tuple[
    tuple[BlockClass | RegNetClass | UserBlockClass, ...], tuple[StageRender, ...], tuple[str, ...]
]:
    """The block classes, the stages and (torchvision's RegNet) the trunk's line."""
    graph = analysis.graph
    if spec.layout == "resnetv2" and ir.blocks_of(graph)[0].user:
        return _user_resnetv2_stages(analysis, spec, deploy=deploy)
    if spec.layout == "resnetv2":
        return _resnetv2_blocks_and_stages(analysis, spec)
    if ir.blocks_of(graph)[0].type == "regnet":
        regnet = regnet_class(graph, spec, list(ir.blocks_of(graph)))
        offsets = _offsets(ir.stages_of(graph))
        stages = tuple(_regnet_stage(s, analysis, regnet, spec.layout, offsets[s.number - 1])
                       for s in ir.stages_of(graph))  # fmt: skip
        trunk = trunk_line(ir.stages_of(graph)) if spec.layout == "torchvision" else ()
        return (regnet,), stages, trunk
    resnet = block_classes(graph, spec, deploy=deploy)
    user = user_block_classes(graph, spec, deploy=deploy)
    if regnet_named(spec):  # user blocks in a RegNet: its stages' names (`s2.b1`)
        trunk = trunk_line(ir.stages_of(graph)) if spec.layout == "torchvision" else ()
        return user, _user_regnet_stages(analysis, spec, user), trunk
    by_name: dict[str, BlockClass | UserBlockClass] = {c.name: c for c in resnet}
    by_name.update((c.name, c) for c in user)
    stages = tuple(_render_stage(s, analysis, by_name, spec) for s in ir.stages_of(graph))
    return (*resnet, *user), stages, ()


def _user_regnet_stages(
    analysis: Analysis, spec: Spec, classes: tuple[UserBlockClass, ...]
) -> tuple[StageRender, ...]:
    """User blocks' stages built as a RegNet's are, with add_module under the layout's names."""
    graph = analysis.graph
    by_name = {c.name: c for c in classes}

    def call_of(block: ir.Block, rate: str) -> str:
        cls = by_name[class_name(spec, block.type)]
        return user_block_call(graph, spec, block, cls, rate=rate or "rates[i]")

    offsets = _offsets(ir.stages_of(graph))
    return tuple(_regnet_stage(s, analysis, None, spec.layout, offsets[s.number - 1], call_of)
                 for s in ir.stages_of(graph))  # fmt: skip


def _user_resnetv2_stages(
    analysis: Analysis, spec: Spec, *, deploy: bool
) -> tuple[tuple[UserBlockClass, ...], tuple[StageRender, ...], tuple[str, ...]]:
    """User blocks in timm's ResNetV2 names: stages as lists of blocks, `self.stages` after."""
    graph = analysis.graph
    # Each stage wraps its blocks in a ResNetStage (`stages.N.blocks.M`).
    classes = tuple(c._replace(helpers=tuple(sorted({*c.helpers, "ResNetStage"})))
                    for c in user_block_classes(graph, spec, deploy=deploy))  # fmt: skip
    by_name = {c.name: c for c in classes}

    def call_of(block: ir.Block) -> str:
        return user_block_call(graph, spec, block, by_name[class_name(spec, block.type)])

    stages = []
    for stage in ir.stages_of(graph):
        shape = _batch_shape(analysis.shapes[stage.output])
        n = len(stage.blocks)
        comment = f"{stage.name}: {n} block{'s' if n != 1 else ''} -> {shape}"
        lines = resnetv2.stage_lines(stage, None, call_of)
        stages.append(StageRender(stage.name, comment, (), shape, lines,
                                  f"stages[{stage.number - 1}]"))  # fmt: skip
    return classes, tuple(stages), resnetv2.trunk_line(ir.stages_of(graph))


def _resnetv2_blocks_and_stages(
    analysis: Analysis, spec: Spec
) -> tuple[tuple[RegNetClass, ...], tuple[StageRender, ...], tuple[str, ...]]:
    """timm's ResNetV2: one block class, stages as lists of blocks, `self.stages` after them."""
    graph = analysis.graph
    cls = resnetv2.resnetv2_class(spec, list(ir.blocks_of(graph)), graph)
    stages = []
    for stage in ir.stages_of(graph):
        shape = _batch_shape(analysis.shapes[stage.output])
        n = len(stage.blocks)
        comment = f"{stage.name}: {n} block{'s' if n != 1 else ''} -> {shape}"
        lines = resnetv2.stage_lines(stage, cls)
        stages.append(StageRender(stage.name, comment, (), shape, lines,
                                  f"stages[{stage.number - 1}]"))  # fmt: skip
    return (cls,), tuple(stages), resnetv2.trunk_line(ir.stages_of(graph))


def _offsets(stages: tuple[ir.StageInfo, ...]) -> list[int]:
    """How many blocks come before each stage (a block's drop-path rate is `rates[k]`)."""
    return [sum(len(s.blocks) for s in stages[:i]) for i in range(len(stages))]


def _regnet_stage(
    stage: ir.StageInfo,
    analysis: Analysis,
    cls: RegNetClass | None,
    layout: str,
    offset: int,
    call_of: Callable[[ir.Block, str], str] | None = None,
) -> StageRender:
    shape = _batch_shape(analysis.shapes[stage.output])
    n = len(stage.blocks)
    comment = f"{stage.name}: {n} block{'s' if n != 1 else ''} -> {shape}"
    # Indexed, since a Sequential's attribute access is typed as a Tensor or a Module.
    ref = f"trunk_output[{stage.number - 1}]" if layout == "torchvision" else ""
    lines = stage_lines(stage, cls, layout, offset, call_of)
    return StageRender(stage.name, comment, (), shape, lines, ref)


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
