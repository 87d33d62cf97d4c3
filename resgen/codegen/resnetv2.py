"""Graph -> timm's ResNetV2 block class and stages (`layout: resnetv2`).

The block is flat (`norm1`, `conv1`, ..., `downsample.conv`), so its modules and forward come
from the representative block's nodes one by one, as timm's pre-activation RegNet's do
(resgen.codegen.regnet_timm): a norm the deploy build folded is not declared and the forward skips
it; an EvoNorm or FRN, which activates itself, has no activation after it. Stages are lists of
blocks, each wrapped in a ResNetStage (`stages.0.blocks.0`).
"""

from __future__ import annotations

from collections.abc import Callable

from resgen.codegen.calls import act_call, module_call
from resgen.codegen.regnet import AVG_DOWN, RegNetClass, flat_decls
from resgen.codegen.stem import Item
from resgen.graph import ir
from resgen.spec.model import Spec

_WIDTHS = {"in_channels", "mid_channels", "out_channels"}


def resnetv2_class(spec: Spec, blocks: list[ir.Block], graph: ir.Graph) -> RegNetClass:
    """PreActBottleneck or PreActBasic: modules from the first block that has a projection."""
    rep = next((b for b in blocks if b.downsample), blocks[0])
    cut = len(rep.path) + 1
    ops = {node[cut:]: ir.op(graph, node) for node in rep.nodes}
    params = _params(blocks)
    names = _WIDTHS | {p[0] for p in params}
    decls = flat_decls(ops.items(), names)
    proj: tuple[Item, ...] = ()
    keys: tuple[str, ...] = ()
    if "downsample.conv" in ops:
        conv = Item(module_call(ops["downsample.conv"], names, first=False, indent=20), "")
        proj, keys = (
            ((Item(AVG_DOWN, ""), conv), ("pool", "conv"))
            if any(b.shortcut is ir.ShortcutKind.AVGPOOL_PROJECTION for b in blocks)
            else ((conv,), ("conv",))
        )
    bottleneck = rep.type == "bottleneck"
    return RegNetClass(
        name="PreActBottleneck" if bottleneck else "PreActBasic",
        template="resnetv2",
        params=params,
        groups=(),
        proj=proj,
        act=act_call(spec),
        zero_init="",
        zero_param=f"{'conv3' if bottleneck else 'conv2'}.weight",  # the branch's last conv
        helpers=("ResNetStage",),  # its stages wrap their blocks in one (`stages.N.blocks.M`)
        proj_keys=keys,
        decls=tuple(decls),
        statements=_forward(ops, bottleneck, bool(proj)),
    )


def _params(blocks: list[ir.Block]) -> tuple[tuple[str, str, str], ...]:
    wanted = (
        ("stride", "int", "1", True),
        ("groups", "int", "1", any(b.groups != 1 for b in blocks)),
        ("downsample", "bool", "False", any(b.downsample for b in blocks)),
    )
    return tuple((name, annotation, default) for name, annotation, default, on in wanted if on)


def _forward(ops: dict[str, ir.Op], bottleneck: bool, proj: bool) -> tuple[str, ...]:
    """The forward's lines, from which modules the block has."""

    def pre(n: int, x: str) -> str:
        y = f"self.norm{n}({x})" if f"norm{n}" in ops else x
        return f"self.act({y})" if f"act#{n}" in ops else y

    shortcut = "x if self.downsample is None else self.downsample(pre)" if proj else "x"
    lines = [f"pre = {pre(1, 'x')}", f"shortcut = {shortcut}", "out = self.conv1(pre)",
             f"out = self.conv2({pre(2, 'out')})"]  # fmt: skip
    if bottleneck:
        lines.append(f"out = self.conv3({pre(3, 'out')})")
    lines.append("return out + shortcut")
    return tuple(lines)


def block_call(block: ir.Block, cls: RegNetClass) -> str:
    """`PreActBottleneck(64, 64, 256, downsample=True)`."""
    args = [str(int(block.in_channels)), str(int(block.mid_channels)),
            str(int(block.out_channels))]  # fmt: skip
    names = {p[0] for p in cls.params}
    if block.stride != 1:
        args.append(f"stride={block.stride}")
    if "groups" in names and block.groups != 1:
        args.append(f"groups={block.groups}")
    if block.downsample:
        args.append("downsample=True")
    return f"{cls.name}({', '.join(args)})"


def stage_lines(
    stage: ir.StageInfo, cls: RegNetClass | None, call_of: Callable[[ir.Block], str] | None = None
) -> tuple[str, ...]:
    """`stage0 = [PreActBottleneck(...)]`, `stage0 += [... for _ in range(2)]`; `call_of` writes
    a block's call (a user block's), else `cls` does."""
    var = f"stage{stage.number - 1}"
    calls: list[str] = []
    counts: list[int] = []
    for block in stage.blocks:
        if call_of is not None:
            call = call_of(block)
        else:
            assert cls is not None
            call = block_call(block, cls)
        if calls and calls[-1] == call:
            counts[-1] += 1
        else:
            calls.append(call)
            counts.append(1)
    lines = []
    for i, (text, count) in enumerate(zip(calls, counts, strict=True)):
        op = ": list[nn.Module] =" if i == 0 else " +="
        items = text if count == 1 else f"{text} for _ in range({count})"
        lines.append(f"{var}{op} [{items}]")
    return tuple(lines)


def trunk_line(stages: tuple[ir.StageInfo, ...]) -> tuple[str, ...]:
    """`self.stages = nn.Sequential(*(ResNetStage(b) for b in (stage0, ...)))`."""
    names = ", ".join(f"stage{s.number - 1}" for s in stages)
    names += "," if len(stages) == 1 else ""
    one = f"self.stages = nn.Sequential(*(ResNetStage(b) for b in ({names})))"
    if 8 + len(one) <= 100:
        return ("# timm's names: stages.N.blocks.M", one)
    return ("# timm's names: stages.N.blocks.M", "self.stages = nn.Sequential(",
            f"    *(ResNetStage(b) for b in ({names}))", ")")  # fmt: skip
