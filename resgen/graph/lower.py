"""Lower a Spec into the IR graph.

Node ids are the generated module's state_dict paths (`layer2.0.conv1`, `layer2.0.downsample.1`).
A parameter-free module applied more than once gets `#n` after its path (`layer2.0.relu#3` is the
third use of `layer2.0.relu`), so every id still names the module that runs it.

Each block kind is one function from a planned `ir.Block` to its nodes, registered in
`BLOCK_KINDS` with the class codegen names it after; the plan's constructor-argument fields are
`ir.Arg`s, so the ops remember which argument gave each value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import networkx as nx

from resgen.diagnostics import Location
from resgen.graph import ir
from resgen.graph.ir import Arg, ShortcutKind
from resgen.spec.load import LoadedSpec
from resgen.spec.model import Spec, StageSpec


def plan_blocks(loaded: LoadedSpec) -> list[list[ir.Block]]:
    """Decide every block's channels, stride, dilation and shortcut, stage by stage."""
    spec = loaded.spec
    total = sum(stage.depth for stage in spec.stages)
    channels = spec.stem.out_width
    dilation = 1
    net_stride = spec.stem.reduction
    index = 0
    plans: list[list[ir.Block]] = []
    # Blocks share their arguments' values: one Arg per (value, name) is 5x cheaper than many.
    arg = cache(Arg)
    # The argument's name says what it is: SE's hidden width or ECA's kernel size.
    eca = spec.block.attention is not None and spec.block.attention.type == "eca"
    attention = "eca_kernel" if eca else "se_channels"
    for number, stage in enumerate(spec.stages, start=1):
        kind, groups, shortcut_kind = stage_settings(spec, stage)
        stage_stride, stage_dilation = stage.stride, dilation * stage.dilation
        if spec.output_stride and net_stride * stage_stride > spec.output_stride:
            # torchvision/timm: a stage past the output stride dilates instead of striding.
            stage_dilation *= stage_stride
            stage_stride = 1
        net_stride *= stage_stride
        loc = loaded.source.locate(("stages", number - 1))
        blocks = []
        for i in range(stage.depth):
            stride = stage_stride if i == 0 else 1
            cout = stage.width * spec.block.out_factor(kind)
            mid = int(stage.width * spec.block.base_width / 64) * groups
            shortcut = _shortcut(shortcut_kind, stride != 1 or channels != cout)
            blocks.append(
                ir.Block(
                    path=f"layer{number}.{i}", stage=f"layer{number}", stage_number=number,
                    index=i, type=kind, preact=spec.block.preact,
                    in_channels=arg(channels, "in_channels"),
                    mid_channels=arg(mid if kind == "bottleneck" else stage.width,
                                     "mid_channels"),
                    out_channels=arg(cout, "out_channels"), stride=arg(stride, "stride"),
                    groups=arg(groups, "groups"), dilation=arg(stage_dilation, "dilation"),
                    first_dilation=arg(dilation if i == 0 else stage_dilation,
                                       "first_dilation"),
                    shortcut=shortcut, drop_path=spec.drop_path * index / max(total - 1, 1),
                    attention_size=arg(_attention_size(spec, cout), attention, "attention_size"),
                    loc=loc,
                )
            )  # fmt: skip
            channels = cout
            index += 1
        dilation = stage_dilation
        plans.append(blocks)
    return plans


def stage_settings(spec: Spec, stage: StageSpec) -> tuple[str, int, str]:
    """The block type, conv groups and shortcut a stage uses: its own, else the spec's."""
    return (
        stage.block or spec.block.type,
        stage.groups or spec.block.groups,
        stage.shortcut or spec.shortcut,
    )


def _shortcut(kind: str, shape_changes: bool) -> ShortcutKind:
    if kind == "projection_all":
        return ShortcutKind.PROJECTION
    shortcut = _SHORTCUTS[kind]  # ShortcutKind(kind) costs 4 us a call
    if shortcut.has_module and not shape_changes:
        return ShortcutKind.IDENTITY
    return shortcut


_SHORTCUTS = {kind.value: kind for kind in ShortcutKind}


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


@dataclass(frozen=True)
class Scope:
    """Adds nodes to one place of the network: every node it adds gets its stage, block, loc.

    `path("conv1")` is the node id within the scope (`layer2.0.conv1` in a block).
    """

    graph: ir.Graph
    spec: Spec
    stage: str
    block: str | None
    loc: Location
    added: list[str] = field(default_factory=list)  # the ids this scope added, in order

    @property
    def act_name(self) -> str:
        return "relu" if self.spec.act == "relu" else "act"

    @property
    def has_norm(self) -> bool:
        return self.spec.norm.type != "none"

    def path(self, name: str) -> str:
        return f"{self.block}.{name}" if self.block else name

    def add(self, name: str, op: ir.Op, *inputs: str) -> str:
        node = self.path(name)
        assert node not in self.graph, f"duplicate node id {node}"
        self.graph.add_node(node, node=ir.Node(op, self.stage, self.block, self.loc))
        self.added.append(node)
        for port, src in enumerate(inputs):
            self.graph.add_edge(src, node, port=port)
        return node

    def conv(
        self, name: str, src: str, cin: int, cout: int, kernel: int, stride: int = 1,
        groups: int = 1, dilation: int = 1, padding: int | None = None, bias: bool | None = None,
    ) -> str:  # fmt: skip
        if padding is None:
            # "same" for odd kernels at stride 1; a 3x3 keeps its dilation's Arg name.
            padding = dilation if kernel == 3 else dilation * (kernel - 1) // 2
        bias = not self.has_norm if bias is None else bias
        op = ir.Conv(cin, cout, kernel, stride, padding, dilation, groups, bias)
        return self.add(name, op, src)

    def norm(self, name: str, src: str, channels: int) -> str:
        """A norm node; with `norm: none` nothing (the conv before it got a bias instead)."""
        if not self.has_norm:
            return src
        norm = self.spec.norm
        return self.add(name, ir.Norm(norm.type, channels, norm.groups, norm.eps), src)

    def act(self, name: str, src: str, act: str | None = None) -> str:
        return self.add(name, ir.Act(act or self.spec.act), src)

    def conv_norm(
        self, n: int, src: str, cin: int, cout: int, kernel: int, stride: int = 1,
        groups: int = 1, dilation: int = 1,
    ) -> str:  # fmt: skip
        """`conv{n}` then `bn{n}`: the torchvision pair."""
        x = self.conv(f"conv{n}", src, cin, cout, kernel, stride, groups, dilation)
        return self.norm(f"bn{n}", x, cout)

    def relu(self, n: int, src: str) -> str:
        """The n-th use of the block's activation module (`relu#2`)."""
        return self.act(f"{self.act_name}#{n}", src)


def lower(loaded: LoadedSpec) -> ir.Graph:
    """Build the frozen IR graph for a validated spec (resgen.pipeline.check pauses the GC)."""
    spec = loaded.spec
    graph: ir.Graph = nx.DiGraph()
    stem = Scope(graph, spec, "stem", None, loaded.source.locate(("stem",)))
    x = stem.add("input", ir.Input(spec.input.channels))
    x = _lower_stem(stem, x)
    stages = []
    for plans in plan_blocks(loaded):
        blocks = []
        for block in plans:
            blocks.append(lower_block(Scope(graph, spec, block.stage, block.path, block.loc),
                                      block, x))  # fmt: skip
            x = blocks[-1].output
        first = plans[0]
        stages.append(ir.StageInfo(first.stage, first.stage_number, tuple(blocks), x, first.loc))
    head = Scope(graph, spec, "head", None, loaded.source.locate(("head",)))
    _lower_head(head, x, stages[-1].blocks[-1].out_channels)
    graph.graph.update(
        name=spec.name,
        input_shape=(spec.input.channels, *spec.input.hw),
        stages=tuple(stages),
        zero_init_residual=spec.zero_init_residual,
        input_loc=loaded.source.locate(("input",)),
    )
    frozen: ir.Graph = nx.freeze(graph)
    return frozen


def _lower_stem(s: Scope, x: str) -> str:
    spec = s.spec
    stem = spec.stem
    cin = Arg(spec.input.channels, "in_channels")  # the model's constructor argument
    if stem.type == "deep":
        # timm's layout: conv1 is a Sequential of conv, norm, act, conv, norm, act, conv.
        w0, w1, w2 = stem.conv_widths
        x = s.norm("conv1.1", s.conv("conv1.0", x, cin, w0, 3, stride=2), w0)
        x = s.act("conv1.2", x)
        x = s.norm("conv1.4", s.conv("conv1.3", x, w0, w1, 3), w1)
        x = s.act("conv1.5", x)
        x = s.conv("conv1.6", x, w1, w2, 3)
    elif stem.type == "cifar":
        x = s.conv("conv1", x, cin, stem.out_width, 3)
    else:
        x = s.conv("conv1", x, cin, stem.out_width, 7, stride=2, padding=3)
    if stem.norm:
        x = s.act(s.act_name, s.norm("bn1", x, stem.out_width))
    if stem.has_pool:
        x = s.add("maxpool", ir.Pool("max", 3, 2, 1, ceil_mode=False), x)
    return x


# --- blocks: a branch function per block kind, then what every block shares -------------------

Branch = Callable[[Scope, ir.Block, str], tuple[str, str]]


def lower_block(s: Scope, block: ir.Block, x: str) -> ir.Block:
    """A block's branch, attention, drop-path, shortcut, add and closing activation."""
    y, shortcut_in = BLOCK_KINDS[(block.type, block.preact)].branch(s, block, x)
    y = _lower_attention(s, block, y)
    if block.drop_path > 0:
        y = s.add("drop_path", ir.Drop("path", block.drop_path), y)
    add: str | None = None
    out = y
    if block.shortcut is not ShortcutKind.NONE:
        add = out = s.add("add", ir.Add(), y, _lower_shortcut(s, block, shortcut_in))
    if not block.preact:
        out = s.relu(3 if block.type == "bottleneck" else 2, out)
    return block.wired(x, out, add, tuple(s.added))


def _named(value: int, name: str) -> int:
    """A block argument passed under another name (a bottleneck's one 3x3 takes `dilation`)."""
    return value.named(name) if isinstance(value, Arg) else value


def _strides(s: Scope, b: ir.Block) -> tuple[int, int]:
    """A bottleneck's (1x1, 3x3) strides: v1 strides its first 1x1, v1.5 its 3x3."""
    return (b.stride, 1) if s.spec.block.stride_on == "1x1" else (1, b.stride)


def _basic(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """Two 3x3 convs (He et al. 2015); the first carries the stride."""
    y = s.conv_norm(1, x, b.in_channels, b.mid_channels, 3, stride=b.stride, groups=b.groups,
                    dilation=b.first_dilation)  # fmt: skip
    y = s.conv_norm(2, s.relu(1, y), b.mid_channels, b.out_channels, 3, dilation=b.dilation)
    return y, x


def _bottleneck(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """1x1 reduce, 3x3, 1x1 expand (He et al. 2015)."""
    s1, s2 = _strides(s, b)
    y = s.relu(1, s.conv_norm(1, x, b.in_channels, b.mid_channels, 1, stride=s1))
    # A bottleneck has one 3x3: the class's `dilation` is the block's first dilation.
    y = s.conv_norm(2, y, b.mid_channels, b.mid_channels, 3, stride=s2, groups=b.groups,
                    dilation=_named(b.first_dilation, "dilation"))  # fmt: skip
    y = s.conv_norm(3, s.relu(2, y), b.mid_channels, b.out_channels, 1)
    return y, x


def _preact_basic(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """Norm and activation before each 3x3 conv (He et al. 2016)."""
    pre = s.relu(1, s.norm("bn1", x, b.in_channels))
    y = s.conv("conv1", pre, b.in_channels, b.mid_channels, 3, stride=b.stride, groups=b.groups,
               dilation=b.first_dilation)  # fmt: skip
    y = s.relu(2, s.norm("bn2", y, b.mid_channels))
    y = s.conv("conv2", y, b.mid_channels, b.out_channels, 3, dilation=b.dilation)
    # A projection shortcut sees the pre-activated input; an identity one sees x itself.
    return y, (pre if b.projection else x)


def _preact_bottleneck(s: Scope, b: ir.Block, x: str) -> tuple[str, str]:
    """Norm and activation before each conv of a bottleneck (He et al. 2016)."""
    s1, s2 = _strides(s, b)
    pre = s.relu(1, s.norm("bn1", x, b.in_channels))
    y = s.conv("conv1", pre, b.in_channels, b.mid_channels, 1, stride=s1)
    y = s.relu(2, s.norm("bn2", y, b.mid_channels))
    y = s.conv("conv2", y, b.mid_channels, b.mid_channels, 3, stride=s2, groups=b.groups,
               dilation=_named(b.first_dilation, "dilation"))  # fmt: skip
    y = s.relu(3, s.norm("bn3", y, b.mid_channels))
    y = s.conv("conv3", y, b.mid_channels, b.out_channels, 1)
    return y, (pre if b.projection else x)


@dataclass(frozen=True)
class BlockKind:
    """One kind of residual block: its residual branch, and the class that code calls it."""

    class_name: str  # the generated block class
    template: str  # templates/blocks/<template>.py.jinja, which writes its docstring
    branch: Branch


# (block type, pre-activation) -> its kind. A new block kind is one function, one entry here and
# one template; the order is the order block classes are written in.
BLOCK_KINDS: dict[tuple[str, bool], BlockKind] = {
    ("basic", False): BlockKind("BasicBlock", "basic", _basic),
    ("bottleneck", False): BlockKind("Bottleneck", "bottleneck", _bottleneck),
    ("basic", True): BlockKind("PreActBasicBlock", "preact_basic", _preact_basic),
    ("bottleneck", True): BlockKind("PreActBottleneck", "preact_bottleneck", _preact_bottleneck),
}


def _lower_shortcut(s: Scope, b: ir.Block, x: str) -> str:
    cin, cout, stride = b.in_channels, b.out_channels, b.stride
    if b.shortcut is ShortcutKind.PAD:
        return s.add("downsample", ir.Pad(stride, cout), x)
    if b.shortcut is ShortcutKind.IDENTITY:
        return x
    with_norm = not b.preact  # pre-activation projections are a bare conv
    first = 0
    if b.shortcut is ShortcutKind.AVGPOOL_PROJECTION:
        first = 1
        if stride > 1:
            pool = ir.Pool("avg", 2, stride, 0, ceil_mode=True, count_include_pad=False)
            x = s.add("downsample.0", pool, x)
        elif b.dilation > 1:
            # timm: a dilated stage's first block still pools, at stride 1 ("same" padding).
            pool = ir.Pool("avg", 2, 1, 0, ceil_mode=True, count_include_pad=False, pad_end=1)
            x = s.add("downsample.0", pool, x)
        stride = 1
    x = s.conv(f"downsample.{first}", x, cin, cout, 1, stride)
    return s.norm(f"downsample.{first + 1}", x, cout) if with_norm else x


def _lower_attention(s: Scope, b: ir.Block, y: str) -> str:
    attention = s.spec.block.attention
    if attention is None:
        return y
    c = b.out_channels
    pooled = s.add("se.mean", ir.GlobalPool("avg"), y)  # timm names both SE and ECA `se`
    if attention.type == "se":
        hidden = b.attention_size
        g = s.conv("se.fc1", pooled, c, hidden, 1, bias=True)
        g = s.act("se.act", g, "relu")
        g = s.conv("se.fc2", g, hidden, c, 1, bias=True)
    else:
        k = b.attention_size
        g = s.add("se.conv", ir.ChannelConv(k, (k - 1) // 2), pooled)
    gate = s.act("se.gate", g, "sigmoid")
    return s.add("se", ir.Mul(), y, gate)


def _lower_head(s: Scope, x: str, channels: int) -> None:
    spec = s.spec
    if spec.block.preact:
        # The last pre-activation block ends in a conv: normalise and activate before pooling.
        x = s.act(f"{s.act_name}#final", s.norm("bn_final", x, channels))
    pool = "avgpool" if spec.head.pool == "avg" else "global_maxpool"
    x = s.add(pool, ir.GlobalPool(spec.head.pool), x)
    x = s.add("flatten", ir.Flatten(), x)
    if spec.head.dropout > 0:
        x = s.add("dropout", ir.Drop("dropout", spec.head.dropout), x)
    if spec.head.classes:
        s.add("fc", ir.Linear(channels, spec.head.classes), x)
