"""The trunk as the generated __init__ builds it: the block classes and each stage's lines.

Every layout's stages (torchvision's and timm's ResNets, RegNets, timm's ResNetV2, user blocks in
each) become `StageRender`s: calls of block classes, runs of equal calls as list comprehensions,
laid out as ruff formats them. resgen/codegen/render.py puts them in the render model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from resgen.checks import Analysis
from resgen.codegen import resnetv2
from resgen.codegen.blocks import BlockClass, block_call, block_classes, class_of
from resgen.codegen.regnet import RegNetClass, regnet_class, stage_lines, trunk_line
from resgen.codegen.user_blocks import (
    UserBlockClass,
    class_name,
    user_block_call,
    user_block_classes,
)
from resgen.graph import ir
from resgen.spec.model import Spec
from resgen.spec.regnet import regnet_named


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
    shape = batch_shape(analysis.shapes[stage.output])
    n = len(stage.blocks)
    comment = f"{stage.name}: {n} block{'s' if n != 1 else ''} -> {shape}"
    return StageRender(stage.name, comment, tuple(entries), shape)


def blocks_and_stages(
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
        shape = batch_shape(analysis.shapes[stage.output])
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
        shape = batch_shape(analysis.shapes[stage.output])
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
    shape = batch_shape(analysis.shapes[stage.output])
    n = len(stage.blocks)
    comment = f"{stage.name}: {n} block{'s' if n != 1 else ''} -> {shape}"
    # Indexed, since a Sequential's attribute access is typed as a Tensor or a Module.
    ref = f"trunk_output[{stage.number - 1}]" if layout == "torchvision" else ""
    lines = stage_lines(stage, cls, layout, offset, call_of)
    return StageRender(stage.name, comment, (), shape, lines, ref)


def batch_shape(shape: ir.Shape | None) -> str:
    if shape is None:
        return "(N, ?)"
    return "(N, " + ", ".join(str(d) for d in shape) + ")"
