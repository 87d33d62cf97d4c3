"""The IR: a networkx DiGraph of typed op nodes whose ids are state_dict / module paths.

A small closed set of node kinds (like torch.fx's opcodes), one frozen dataclass each. Every node
stores one `Node` under the key "node": the op, the stage and block it belongs to, and where in
the spec it comes from. Edges carry `port`, the input's place: into an `add` or a `mul`, 0 for the
residual branch (or the features), 1 for the shortcut (or the gate); into a `concat`, its order.
The graph-level attribute "stages" holds the stage and block structure.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar, NamedTuple, TypeAlias

import networkx as nx

from resgen.diagnostics import Location

INPUT = "input"
CONV = "conv"
NORM = "norm"
ACT = "act"
POOL = "pool"
GLOBAL_POOL = "global_pool"
ADD = "add"
FLATTEN = "flatten"
LINEAR = "linear"
PAD = "pad"
MUL = "mul"
DROP = "drop"
CHANNEL_CONV = "channel_conv"
AFFINE = "affine"
BLUR_POOL = "blur_pool"
SLICE = "slice"
CONCAT = "concat"
SOFTMAX = "softmax"
LAYER_NORM = "layer_norm"
SCALE = "scale"
REGROUP = "regroup"

# Norm kinds that apply their own activation (EvoNorm-S0's x * sigmoid(v x), FRN's TLU).
ACTIVATING_NORMS = frozenset({"evonorm_s0", "frn"})

RESIDUAL_PORT = 0
SHORTCUT_PORT = 1

Shape = tuple[int, ...]

if TYPE_CHECKING:
    Graph: TypeAlias = nx.DiGraph[str]
else:
    Graph = nx.DiGraph


class Arg(int):
    """An int that remembers the block constructor argument it came from (`mid_channels`).

    Lowering builds a block's ops from its plan's Args, so codegen can print `mid_channels`
    where a checker sees 64. Arithmetic on an Arg gives a plain int: only values passed through
    unchanged keep their name. `field` is the `Block` field it holds (`attention_size` for the
    `attention` argument; a bottleneck passes its `first_dilation` as its `dilation`).
    """

    name: str
    field: str

    def __new__(cls, value: int, name: str, field: str | None = None) -> Arg:
        arg = super().__new__(cls, value)
        arg.name = name
        arg.field = field or name
        return arg

    def named(self, name: str) -> Arg:
        """The same value and Block field, passed as another constructor argument."""
        return Arg(int(self), name, self.field)

    def __repr__(self) -> str:
        return int.__repr__(self)

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        return (Arg, (int(self), self.name, self.field))


# --- ops: one frozen dataclass per node kind --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Input:
    kind: ClassVar[str] = INPUT
    channels: int


@dataclass(frozen=True, slots=True)
class Conv:
    kind: ClassVar[str] = CONV
    in_channels: int
    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    bias: bool = False
    # Deploy builds: the ReLU (`"relu"`) or add + ReLU (`"add_relu"`) that runs in this conv's
    # cuDNN kernel on a GPU; "" for none.
    fused: str = ""
    standardize: float = 0.0  # weight standardisation's eps (BiT's StdConv2d); 0.0: plain


@dataclass(frozen=True, slots=True)
class Norm:
    kind: ClassVar[str] = NORM
    norm: str  # "batch" | "group" | "frozen_batch" | "evonorm_s0" | "frn" (the last two activate)
    channels: int
    groups: int = 32
    eps: float = 1e-5
    group_size: int = 0  # group norm by channels per group (groups = channels // group_size)


@dataclass(frozen=True, slots=True)
class Affine:
    """x * scale + shift per channel: a norm that deploy could not fold into a conv."""

    kind: ClassVar[str] = AFFINE
    channels: int


@dataclass(frozen=True, slots=True)
class Act:
    kind: ClassVar[str] = ACT
    act: str


@dataclass(frozen=True, slots=True)
class Pool:
    kind: ClassVar[str] = POOL
    pool: str  # "max" | "avg"
    kernel: int
    stride: int
    padding: int
    ceil_mode: bool
    count_include_pad: bool = True
    # Zeros added after the last row and column before pooling, and counted in the average:
    # timm's "same" pool at stride 1 (AvgPool2dSame), which keeps H and W.
    pad_end: int = 0
    zero_pad: bool = False  # a max-pool's `padding` is zeros, not -inf (BiT's stem.pad)


@dataclass(frozen=True, slots=True)
class GlobalPool:
    kind: ClassVar[str] = GLOBAL_POOL
    pool: str


@dataclass(frozen=True, slots=True)
class Add:
    kind: ClassVar[str] = ADD


@dataclass(frozen=True, slots=True)
class Flatten:
    kind: ClassVar[str] = FLATTEN


@dataclass(frozen=True, slots=True)
class Linear:
    kind: ClassVar[str] = LINEAR
    in_features: int
    out_features: int
    bias: bool = True


@dataclass(frozen=True, slots=True)
class Pad:
    """Shortcut option A: subsample by `stride`, then zero-pad to `out_channels`."""

    kind: ClassVar[str] = PAD
    stride: int
    out_channels: int


@dataclass(frozen=True, slots=True)
class Mul:
    """Port 0 (features) times port 1 (a gate broadcast over H, W): SE, ECA."""

    kind: ClassVar[str] = MUL


@dataclass(frozen=True, slots=True)
class Drop:
    """A regulariser that is the identity at inference (drop-path, dropout)."""

    kind: ClassVar[str] = DROP
    drop: str  # "path" | "dropout"
    rate: float


@dataclass(frozen=True, slots=True)
class ChannelConv:
    """A 1-D conv across the channels of a (C, 1, 1) tensor: ECA's attention."""

    kind: ClassVar[str] = CHANNEL_CONV
    kernel: int
    padding: int


def avg_down(stride: int, pad_end: int = 0) -> Pool:
    """ResNet-D's shortcut pool (timm's avg_down): 2x2 average, ceil mode, padding not counted."""
    return Pool("avg", 2, stride, 0, ceil_mode=True, count_include_pad=False, pad_end=pad_end)


@dataclass(frozen=True, slots=True)
class BlurPool:
    """A 3x3 binomial blur per channel (reflect padding 1), then subsampling by `stride`.

    Anti-aliased downsampling (Zhang 2019; timm's BlurPool2d). Reflect padding needs 2 pixels.
    """

    kind: ClassVar[str] = BLUR_POOL
    channels: int
    stride: int


@dataclass(frozen=True, slots=True)
class Slice:
    """Channels [start, start + channels) of the input: one piece of a split (Res2Net, SK)."""

    kind: ClassVar[str] = SLICE
    start: int
    channels: int


@dataclass(frozen=True, slots=True)
class Concat:
    kind: ClassVar[str] = CONCAT  # the inputs joined along channels, in port order


@dataclass(frozen=True, slots=True)
class Softmax:
    """A softmax across `paths` (SK: which kernel; ResNeSt: which radix split), channel by channel.

    The input's channels are `groups` blocks of `paths` blocks each (ResNeSt's cardinality groups,
    radix splits within); the output's are path-major, `paths` blocks of `groups` blocks each
    (timm's `x.view(B, groups, paths, -1).transpose(1, 2)`). With one group the order is kept.
    """

    kind: ClassVar[str] = SOFTMAX
    paths: int
    groups: int = 1


@dataclass(frozen=True, slots=True)
class LayerNorm:
    """A LayerNorm over the channels of each pixel (timm's LayerNorm2d): a user block's norm.

    It depends on its input's statistics, so the deploy build keeps it.
    """

    kind: ClassVar[str] = LAYER_NORM
    channels: int
    eps: float = 1e-6


@dataclass(frozen=True, slots=True)
class Scale:
    """x times a learnable per-channel parameter (layer scale; timm ConvNeXt's `gamma`)."""

    kind: ClassVar[str] = SCALE
    channels: int
    init: float = 1.0


@dataclass(frozen=True, slots=True)
class Regroup:
    """The channels viewed as blocks of sizes `dims` (their product: the channels), put in the
    block `order` given and flattened back: a permutation of channels (a user block's reshape:
    ResNeSt's radix regrouping, ShuffleNet's channel shuffle). H and W stay; no weights."""

    kind: ClassVar[str] = REGROUP
    dims: tuple[int, ...]
    order: tuple[int, ...]


Op: TypeAlias = (
    Input | Conv | Norm | Affine | Act | Pool | GlobalPool | Add | Flatten | Linear | Pad | Mul
    | Drop | ChannelConv | BlurPool | Slice | Concat | Softmax | LayerNorm | Scale | Regroup
)  # fmt: skip


def op_fields(op: Op) -> tuple[tuple[str, object], ...]:
    """An op's arguments as (name, value) pairs, in declaration order."""
    return tuple((f.name, getattr(op, f.name)) for f in fields(op))


class Node(NamedTuple):
    """What a graph node stores: its op and its place in the network and in the spec.

    A NamedTuple, not a dataclass: lowering makes one per node, and a tuple is made 4x faster.
    """

    op: Op
    stage: str  # "stem" | "layer1".. | "head"
    block: str | None  # "layer2.0"; None outside blocks
    loc: Location

    @property
    def kind(self) -> str:
        return self.op.kind


# --- blocks and stages ------------------------------------------------------------------------


class ShortcutKind(str, enum.Enum):
    """What carries a block's input to its add."""

    IDENTITY = "identity"
    PAD = "pad"  # option A: subsample and zero-pad
    PROJECTION = "projection"  # option B/C: 1x1 conv + norm
    AVGPOOL_PROJECTION = "avgpool_projection"  # ResNet-D: average-pool, then 1x1 conv + norm
    NONE = "none"  # a plain block: no shortcut, no add

    def __str__(self) -> str:
        return self.value

    @property
    def has_conv(self) -> bool:
        """Whether the shortcut has parameters (a 1x1 conv)."""
        return self.value in _WITH_CONV

    @property
    def has_module(self) -> bool:
        """Whether the block has a `downsample` module on its shortcut."""
        return self.value in _WITH_MODULE


_WITH_CONV = frozenset({"projection", "avgpool_projection"})
_WITH_MODULE = _WITH_CONV | {"pad"}


@dataclass(frozen=True)
class Block:
    """One residual block: its arithmetic (decided before any node exists) and its wiring.

    The int fields that become constructor arguments of the generated block class are `Arg`s.
    """

    path: str  # "layer2.0"
    stage: str  # "layer2"
    stage_number: int  # 1-based, as people count stages
    index: int  # 0-based position in the stage, as in the state_dict
    type: str  # "basic" | "bottleneck"
    preact: bool
    in_channels: int
    mid_channels: int
    out_channels: int
    stride: int
    groups: int
    dilation: int  # of the block's later 3x3 conv(s)
    first_dilation: int  # of its first 3x3 conv (the previous stage's, in a stage's first block)
    shortcut: ShortcutKind
    drop_path: float  # stochastic depth rate of this block
    attention_size: int  # SE hidden channels or ECA kernel size; 0 without attention
    loc: Location
    # Filled in by lowering:
    input: str = ""  # node id feeding the block
    output: str = ""  # node id the block ends with
    add: str | None = None  # the residual add node; None in a plain (shortcut: none) block
    nodes: tuple[str, ...] = ()  # the block's own nodes, in graph order
    # A bottleneck's first 1x1 output when it differs from mid_channels (SENet's reduce_first, a
    # pruned net); else 0, or mid_channels itself.
    first_channels: int = 0
    # A helper's attention width: a selective kernel conv's (resgen.graph.sknet), a split
    # attention's (resgen.graph.resnest); else 0.
    sk_channels: int = 0
    user: bool = False  # a block the spec defines under `blocks:` (resgen.graph.user_blocks)

    def wired(self, input: str, output: str, add: str | None, nodes: tuple[str, ...]) -> Block:
        """This block with its wiring filled in (dataclasses.replace costs 10x: 6 ms a 1,000)."""
        block = object.__new__(Block)
        block.__dict__.update(self.__dict__, input=input, output=output, add=add, nodes=nodes)
        return block

    @property
    def first_width(self) -> int:
        """A bottleneck's first 1x1 output (an Arg, as `first_channels` or `mid_channels`)."""
        return self.first_channels or self.mid_channels

    @property
    def projection(self) -> bool:
        return self.shortcut.has_conv

    @property
    def downsample(self) -> bool:
        return self.shortcut.has_module


@dataclass(frozen=True)
class StageInfo:
    """A stage: its module name, its blocks and the node it ends with."""

    name: str  # "layer1"
    number: int  # 1-based
    blocks: tuple[Block, ...]
    output: str
    loc: Location


# --- reading a graph --------------------------------------------------------------------------


def node(graph: Graph, node_id: str) -> Node:
    found: Node = graph.nodes[node_id]["node"]
    return found


def op(graph: Graph, node_id: str) -> Op:
    return node(graph, node_id).op


def nodes(graph: Graph) -> Iterator[tuple[str, Node]]:
    """Every node with its data, in insertion order (a deterministic topological order)."""
    view: Iterable[tuple[str, Node]] = graph.nodes(data="node")  # type: ignore[assignment]
    return iter(view)


def stages_of(graph: Graph) -> tuple[StageInfo, ...]:
    stages: tuple[StageInfo, ...] = graph.graph["stages"]
    return stages


def blocks_of(graph: Graph) -> tuple[Block, ...]:
    return tuple(block for stage in stages_of(graph) for block in stage.blocks)


def inputs_of(graph: Graph, node_id: str) -> list[str]:
    """The nodes feeding `node_id`, in port order (an add's residual branch first)."""
    preds = graph.pred[node_id]
    if len(preds) < 2:  # most nodes; an edge view per node would cost 5x more
        return list(preds)
    return sorted(preds, key=lambda src: int(preds[src]["port"]))


def describe_node(graph: Graph, node_id: str) -> str:
    """Name a node the way a user thinks of it: `stage 2 block 1 (layer2.0.conv2)`."""
    where = node(graph, node_id)
    if where.block is None:
        return f"{where.stage} ({node_id})"
    # Every layout names blocks its own way (`layer2.0`, `s2.b1`, `trunk_output.block2.block2-0`,
    # `stages.1.blocks.0`): the plan knows the stage number and index.
    block = next(b for b in blocks_of(graph) if b.path == where.block)
    return f"stage {block.stage_number} block {block.index + 1} ({node_id})"
