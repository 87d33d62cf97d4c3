"""Lower a Spec into the IR graph.

Node ids are the generated module's state_dict paths (`layer2.0.conv1`, `layer2.0.downsample.1`).
A parameter-free module applied more than once gets `#n` after its path (`layer2.0.relu#3` is the
third use of `layer2.0.relu`), so every id still names the module that runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import networkx as nx

from resgen.graph import ir
from resgen.spec.load import LoadedSpec
from resgen.spec.model import Spec


@dataclass(frozen=True)
class BlockPlan:
    """The arithmetic of one block, decided before any node exists."""

    type: str
    in_channels: int
    mid_channels: int
    out_channels: int
    stride: int
    groups: int
    dilation: int
    first_dilation: int
    shortcut: str
    drop_path: float
    attention_size: int

    @property
    def projection_like(self) -> bool:
        return self.shortcut in ("projection", "avgpool_projection")


def plan_blocks(spec: Spec) -> list[list[BlockPlan]]:
    """Decide every block's channels, stride, dilation and shortcut, stage by stage."""
    total = sum(stage.depth for stage in spec.stages)
    channels = spec.stem.out_width
    dilation = 1
    net_stride = spec.stem.reduction
    index = 0
    plans: list[list[BlockPlan]] = []
    for stage in spec.stages:
        kind = stage.block or spec.block.type
        groups = stage.groups or spec.block.groups
        stage_stride, stage_dilation = stage.stride, dilation * stage.dilation
        if spec.output_stride and net_stride * stage_stride > spec.output_stride:
            # torchvision/timm: a stage past the output stride dilates instead of striding.
            stage_dilation *= stage_stride
            stage_stride = 1
        net_stride *= stage_stride
        blocks = []
        for i in range(stage.depth):
            stride = stage_stride if i == 0 else 1
            cout = stage.width * spec.block.out_factor(kind)
            mid = int(stage.width * spec.block.base_width / 64) * groups
            blocks.append(
                BlockPlan(
                    type=kind,
                    in_channels=channels,
                    mid_channels=mid if kind == "bottleneck" else stage.width,
                    out_channels=cout,
                    stride=stride,
                    groups=groups,
                    dilation=stage_dilation,
                    first_dilation=dilation if i == 0 else stage_dilation,
                    shortcut=_shortcut(
                        stage.shortcut or spec.shortcut, stride != 1 or channels != cout
                    ),
                    drop_path=spec.drop_path * index / max(total - 1, 1),
                    attention_size=_attention_size(spec, cout),
                )
            )
            channels = cout
            index += 1
        dilation = stage_dilation
        plans.append(blocks)
    return plans


def _shortcut(kind: str, shape_changes: bool) -> str:
    if kind == "projection_all":
        return "projection"
    if kind in ("pad", "projection", "avgpool_projection") and not shape_changes:
        return "identity"
    return kind


def _attention_size(spec: Spec, channels: int) -> int:
    """SE: hidden channels (timm's make_divisible); ECA: the 1-D kernel size (Wang et al.)."""
    attention = spec.block.attention
    if attention is None:
        return 0
    if attention.type == "se":
        divisor = attention.divisor
        value = channels / attention.reduction
        return max(divisor, int(value + divisor / 2) // divisor * divisor)
    t = int(abs(math.log(channels, 2) + 1) / 2)
    return max(t if t % 2 else t + 1, 3)


class _Builder:
    """Adds nodes and edges with the bookkeeping (stage, block, location) every node needs."""

    def __init__(self, loaded: LoadedSpec) -> None:
        self.spec = loaded.spec
        self.source = loaded.source
        self.graph: ir.Graph = nx.DiGraph()
        self.stage = "stem"
        self.block: str | None = None
        self.loc = self.source.locate(("stem",))
        self.act_name = "relu" if self.spec.act == "relu" else "act"
        self.has_norm = self.spec.norm.type != "none"

    def add(self, node: str, kind: str, inputs: tuple[str, ...] = (), **attrs: Any) -> str:
        missing = set(ir.ATTRS[kind]) - set(attrs)
        assert not missing, f"{node}: {kind} node lacks {sorted(missing)}"
        assert node not in self.graph, f"duplicate node id {node}"
        self.graph.add_node(
            node, kind=kind, stage=self.stage, block=self.block, loc=self.loc, **attrs
        )
        for port, src in enumerate(inputs):
            self.graph.add_edge(src, node, port=port)
        return node

    def conv(
        self, node: str, src: str, cin: int, cout: int, kernel: int, stride: int = 1,
        groups: int = 1, dilation: int = 1, padding: int | None = None, bias: bool = False,
    ) -> str:  # fmt: skip
        if padding is None:
            padding = dilation * (kernel - 1) // 2  # "same" for odd kernels at stride 1
        return self.add(
            node, ir.CONV, (src,), in_channels=cin, out_channels=cout, kernel=kernel,
            stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias,
        )  # fmt: skip

    def conv_norm(self, conv: str, norm: str, src: str, cin: int, cout: int, kernel: int,
                  **kw: Any) -> str:  # fmt: skip
        """A conv then its norm; with `norm: none` the conv gets a bias instead."""
        x = self.conv(conv, src, cin, cout, kernel, bias=not self.has_norm, **kw)
        return self.norm(norm, x, cout)

    def norm(self, node: str, src: str, channels: int) -> str:
        if not self.has_norm:
            return src
        norm = self.spec.norm
        return self.add(
            node, ir.NORM, (src,), norm=norm.type, channels=channels, groups=norm.groups,
            eps=norm.eps,
        )  # fmt: skip

    def act(self, node: str, src: str, act: str | None = None) -> str:
        return self.add(node, ir.ACT, (src,), act=act or self.spec.act)


def lower(loaded: LoadedSpec) -> ir.Graph:
    """Build the frozen IR graph for a validated spec (resgen.pipeline.check pauses the GC)."""
    spec = loaded.spec
    b = _Builder(loaded)
    x = b.add("input", ir.INPUT, channels=spec.input.channels)
    x = _lower_stem(b, spec, x)
    stages = []
    for number, plans in enumerate(plan_blocks(spec), start=1):
        info = _lower_stage(b, number, plans, x)
        stages.append(info)
        x = info.output
    _lower_head(b, spec, x, stages[-1].blocks[-1].out_channels)
    b.graph.graph.update(
        name=spec.name,
        input_shape=(spec.input.channels, *spec.input.hw),
        stages=tuple(stages),
        zero_init_residual=spec.zero_init_residual,
        input_loc=loaded.source.locate(("input",)),
    )
    frozen: ir.Graph = nx.freeze(b.graph)
    return frozen


def _lower_stem(b: _Builder, spec: Spec, x: str) -> str:
    stem = spec.stem
    cin = spec.input.channels
    if stem.type == "deep":
        # timm's layout: conv1 is a Sequential of conv, norm, act, conv, norm, act, conv.
        w0, w1, w2 = stem.conv_widths
        x = b.conv_norm("conv1.0", "conv1.1", x, cin, w0, 3, stride=2)
        x = b.act("conv1.2", x)
        x = b.conv_norm("conv1.3", "conv1.4", x, w0, w1, 3)
        x = b.act("conv1.5", x)
        x = b.conv("conv1.6", x, w1, w2, 3, bias=not b.has_norm)
    elif stem.type == "cifar":
        x = b.conv("conv1", x, cin, stem.out_width, 3, bias=not b.has_norm)
    else:
        x = b.conv("conv1", x, cin, stem.out_width, 7, stride=2, padding=3, bias=not b.has_norm)
    if stem.norm:
        x = b.act(b.act_name, b.norm("bn1", x, stem.out_width))
    if stem.has_pool:
        x = b.add("maxpool", ir.POOL, (x,), pool="max", kernel=3, stride=2, padding=1,
                  ceil_mode=False)  # fmt: skip
    return x


def _lower_stage(b: _Builder, number: int, plans: list[BlockPlan], x: str) -> ir.StageInfo:
    name = f"layer{number}"
    b.stage = name
    loc = b.source.locate(("stages", number - 1))
    blocks = []
    for index, plan in enumerate(plans):
        b.block = f"{name}.{index}"
        b.loc = loc
        if b.spec.block.preact:
            y, shortcut = _lower_preact_branch(b, plan, x)
        else:
            y, shortcut = _lower_branch(b, plan, x)
        blocks.append(_finish_block(b, plan, number, index, x, y, shortcut))
        x = blocks[-1].output
    b.block = None
    return ir.StageInfo(name, number, tuple(blocks), x, loc)


def _lower_branch(b: _Builder, plan: BlockPlan, x: str) -> tuple[str, str]:
    """The post-activation residual branch (He et al. 2015) and the shortcut's input."""
    p = b.block
    c = plan
    if plan.type == "bottleneck":
        s1, s2 = (c.stride, 1) if b.spec.block.stride_on == "1x1" else (1, c.stride)
        y = b.act(f"{p}.{b.act_name}#1", b.conv_norm(f"{p}.conv1", f"{p}.bn1", x,
                  c.in_channels, c.mid_channels, 1, stride=s1))  # fmt: skip
        y = b.conv_norm(f"{p}.conv2", f"{p}.bn2", y, c.mid_channels, c.mid_channels, 3,
                        stride=s2, groups=c.groups, dilation=c.first_dilation)  # fmt: skip
        y = b.act(f"{p}.{b.act_name}#2", y)
        y = b.conv_norm(f"{p}.conv3", f"{p}.bn3", y, c.mid_channels, c.out_channels, 1)
    else:
        y = b.conv_norm(f"{p}.conv1", f"{p}.bn1", x, c.in_channels, c.mid_channels, 3,
                        stride=c.stride, groups=c.groups, dilation=c.first_dilation)  # fmt: skip
        y = b.act(f"{p}.{b.act_name}#1", y)
        y = b.conv_norm(f"{p}.conv2", f"{p}.bn2", y, c.mid_channels, c.out_channels, 3,
                        dilation=c.dilation)  # fmt: skip
    return y, x


def _lower_preact_branch(b: _Builder, plan: BlockPlan, x: str) -> tuple[str, str]:
    """The pre-activation branch (He et al. 2016); projections see the pre-activated input."""
    p = b.block
    c = plan
    bias = not b.has_norm
    pre = b.act(f"{p}.{b.act_name}#1", b.norm(f"{p}.bn1", x, c.in_channels))
    if plan.type == "bottleneck":
        s1, s2 = (c.stride, 1) if b.spec.block.stride_on == "1x1" else (1, c.stride)
        y = b.conv(f"{p}.conv1", pre, c.in_channels, c.mid_channels, 1, stride=s1, bias=bias)
        y = b.act(f"{p}.{b.act_name}#2", b.norm(f"{p}.bn2", y, c.mid_channels))
        y = b.conv(f"{p}.conv2", y, c.mid_channels, c.mid_channels, 3, stride=s2,
                   groups=c.groups, dilation=c.first_dilation, bias=bias)  # fmt: skip
        y = b.act(f"{p}.{b.act_name}#3", b.norm(f"{p}.bn3", y, c.mid_channels))
        y = b.conv(f"{p}.conv3", y, c.mid_channels, c.out_channels, 1, bias=bias)
    else:
        y = b.conv(f"{p}.conv1", pre, c.in_channels, c.mid_channels, 3, stride=c.stride,
                   groups=c.groups, dilation=c.first_dilation, bias=bias)  # fmt: skip
        y = b.act(f"{p}.{b.act_name}#2", b.norm(f"{p}.bn2", y, c.mid_channels))
        y = b.conv(f"{p}.conv2", y, c.mid_channels, c.out_channels, 3, dilation=c.dilation,
                   bias=bias)  # fmt: skip
    return y, (pre if plan.projection_like else x)


def _finish_block(
    b: _Builder, plan: BlockPlan, number: int, index: int, x: str, y: str, shortcut_in: str
) -> ir.BlockInfo:
    """Attention, drop-path, the shortcut, the add and the closing activation."""
    p = b.block
    assert p is not None
    y = _lower_attention(b, plan, y)
    if plan.drop_path > 0:
        y = b.add(f"{p}.drop_path", ir.DROP, (y,), drop="path", rate=plan.drop_path)
    add: str | None = None
    out = y
    if plan.shortcut != "none":
        shortcut = _lower_shortcut(b, plan, shortcut_in)
        add = out = b.add(f"{p}.add", ir.ADD, (y, shortcut))
    if not b.spec.block.preact:
        n = 3 if plan.type == "bottleneck" else 2
        out = b.act(f"{p}.{b.act_name}#{n}", out)
    return ir.BlockInfo(
        path=p, stage=f"layer{number}", stage_number=number, index=index, type=plan.type,
        in_channels=plan.in_channels, mid_channels=plan.mid_channels,
        out_channels=plan.out_channels, stride=plan.stride, groups=plan.groups,
        dilation=plan.dilation, first_dilation=plan.first_dilation, shortcut=plan.shortcut,
        drop_path=plan.drop_path, attention_size=plan.attention_size,
        input=x, output=out, add=add, loc=b.loc,
    )  # fmt: skip


def _lower_shortcut(b: _Builder, plan: BlockPlan, x: str) -> str:
    p = f"{b.block}.downsample"
    cin, cout, stride = plan.in_channels, plan.out_channels, plan.stride
    if plan.shortcut == "pad":
        return b.add(p, ir.PAD, (x,), stride=stride, out_channels=cout)
    if plan.shortcut == "identity":
        return x
    with_norm = not b.spec.block.preact  # pre-activation projections are a bare conv
    if plan.shortcut == "avgpool_projection":
        if stride > 1:
            x = b.add(f"{p}.0", ir.POOL, (x,), pool="avg", kernel=2, stride=stride, padding=0,
                      ceil_mode=True, count_include_pad=False)  # fmt: skip
        x = b.conv(f"{p}.1", x, cin, cout, 1, bias=not b.has_norm)
        return b.norm(f"{p}.2", x, cout) if with_norm else x
    x = b.conv(f"{p}.0", x, cin, cout, 1, stride, bias=not b.has_norm)
    return b.norm(f"{p}.1", x, cout) if with_norm else x


def _lower_attention(b: _Builder, plan: BlockPlan, y: str) -> str:
    attention = b.spec.block.attention
    if attention is None:
        return y
    p = f"{b.block}.se"  # timm names both SE and ECA modules `se`
    c = plan.out_channels
    pooled = b.add(f"{p}.mean", ir.GLOBAL_POOL, (y,), pool="avg")
    if attention.type == "se":
        hidden = plan.attention_size
        g = b.conv(f"{p}.fc1", pooled, c, hidden, 1, bias=True)
        g = b.act(f"{p}.act", g, "relu")
        g = b.conv(f"{p}.fc2", g, hidden, c, 1, bias=True)
    else:
        k = plan.attention_size
        g = b.add(f"{p}.conv", ir.CHANNEL_CONV, (pooled,), kernel=k, padding=(k - 1) // 2)
    gate = b.act(f"{p}.gate", g, "sigmoid")
    return b.add(p, ir.MUL, (y, gate))


def _lower_head(b: _Builder, spec: Spec, x: str, channels: int) -> None:
    b.stage = "head"
    b.loc = b.source.locate(("head",))
    if spec.block.preact:
        # The last pre-activation block ends in a conv: normalise and activate before pooling.
        x = b.act(f"{b.act_name}#final", b.norm("bn_final", x, channels))
    pool = "avgpool" if spec.head.pool == "avg" else "global_maxpool"
    x = b.add(pool, ir.GLOBAL_POOL, (x,), pool=spec.head.pool)
    x = b.add("flatten", ir.FLATTEN, (x,))
    if spec.head.dropout > 0:
        x = b.add("dropout", ir.DROP, (x,), drop="dropout", rate=spec.head.dropout)
    if spec.head.classes:
        b.add("fc", ir.LINEAR, (x,), in_features=channels, out_features=spec.head.classes,
              bias=True)  # fmt: skip
