"""The IR: a networkx DiGraph of typed op nodes whose ids are state_dict / module paths.

A small closed set of node kinds (like torch.fx's opcodes), one frozen dataclass each (in
resgen.graph.ops, re-exported here). Every node stores one `Node` under the key "node": the op,
the stage and block it belongs to, and where in the spec it comes from. Edges carry `port`, the
input's place: into an `add` or a `mul`, 0 for the residual branch (or the features), 1 for the
shortcut (or the gate); into a `concat`, its order. The graph-level attribute "stages" holds the
stage and block structure.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

import networkx as nx

from resgen.diagnostics import Location
from resgen.graph.ops import (
    ACT,
    ACTIVATING_NORMS,
    ADD,
    AFFINE,
    BLUR_POOL,
    CHANNEL_CONV,
    CONCAT,
    CONV,
    DROP,
    FLATTEN,
    GLOBAL_POOL,
    INPUT,
    LAYER_NORM,
    LINEAR,
    MUL,
    NORM,
    PAD,
    POOL,
    REGROUP,
    SCALE,
    SLICE,
    SOFTMAX,
    Act,
    Add,
    Affine,
    BlurPool,
    ChannelConv,
    Concat,
    Conv,
    Drop,
    Flatten,
    GlobalPool,
    Input,
    LayerNorm,
    Linear,
    Mul,
    Norm,
    Op,
    Pad,
    Pool,
    Regroup,
    Scale,
    Slice,
    Softmax,
    avg_down,
    op_fields,
)

# The ops (resgen.graph.ops) are re-exported: `ir.Conv`, `ir.CONV` read as they always have.
__all__ = [
    "ACT", "ACTIVATING_NORMS", "ADD", "AFFINE", "BLUR_POOL", "CHANNEL_CONV", "CONCAT", "CONV",
    "DROP", "FLATTEN", "GLOBAL_POOL", "INPUT", "LAYER_NORM", "LINEAR", "MUL", "NORM", "PAD", "POOL",
    "REGROUP", "RESIDUAL_PORT", "SCALE", "SHORTCUT_PORT", "SLICE", "SOFTMAX", "Act", "Add",
    "Affine", "Arg", "Block", "BlurPool", "ChannelConv", "Concat", "Conv", "Drop", "Flatten",
    "GlobalPool", "Graph", "Input", "LayerNorm", "Linear", "Mul", "Node", "Norm", "Op", "Pad",
    "Pool", "Regroup", "Scale", "Shape", "ShortcutKind", "Slice", "Softmax", "StageInfo",
    "avg_down", "blocks_of", "describe_node", "inputs_of", "node", "nodes", "op", "op_fields",
    "stages_of",
]  # fmt: skip

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
