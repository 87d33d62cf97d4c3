"""The IR: a networkx DiGraph of typed op nodes whose ids are state_dict / module paths.

A small closed set of node kinds (like torch.fx's opcodes). Every node carries `kind`, `stage`,
`block` (None outside blocks) and `loc` (where in the spec it comes from) plus the attributes of
its kind, listed in `ATTRS`. Edges into an `add` carry `port`: 0 for the residual branch, 1 for
the shortcut. Graph-level attributes hold the stage and block structure codegen needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

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
# Shortcut option A: subsample by `stride`, then zero-pad to `out_channels`; no parameters.
PAD = "pad"
# Elementwise product of port 0 (features) and port 1 (a gate broadcast over H, W): SE, ECA.
MUL = "mul"
# Where codegen emits a regulariser that is the identity at inference (drop-path, dropout).
DROP = "drop"
# A 1-D conv across the channels of a (C, 1, 1) tensor: ECA's attention.
CHANNEL_CONV = "channel_conv"

KINDS = (
    INPUT,
    CONV,
    NORM,
    ACT,
    POOL,
    GLOBAL_POOL,
    ADD,
    FLATTEN,
    LINEAR,
    PAD,
    MUL,
    DROP,
    CHANNEL_CONV,
)

# The attributes each kind must carry (beyond kind, stage, block, loc).
ATTRS: dict[str, tuple[str, ...]] = {
    INPUT: ("channels",),
    CONV: (
        "in_channels",
        "out_channels",
        "kernel",
        "stride",
        "padding",
        "dilation",
        "groups",
        "bias",
    ),
    NORM: ("norm", "channels"),
    ACT: ("act",),
    POOL: ("pool", "kernel", "stride", "padding", "ceil_mode"),
    GLOBAL_POOL: ("pool",),
    ADD: (),
    FLATTEN: (),
    LINEAR: ("in_features", "out_features", "bias"),
    PAD: ("stride", "out_channels"),
    MUL: (),
    DROP: ("drop", "rate"),
    CHANNEL_CONV: ("kernel", "padding"),
}

RESIDUAL_PORT = 0
SHORTCUT_PORT = 1

Shape = tuple[int, ...]

if TYPE_CHECKING:
    Graph: TypeAlias = nx.DiGraph[str]
else:
    Graph = nx.DiGraph


@dataclass(frozen=True)
class BlockInfo:
    """One residual block: what codegen needs to instantiate it and checks need to name it."""

    path: str  # "layer2.0"
    stage: str  # "layer2"
    stage_number: int  # 1-based, as people count stages
    index: int  # 0-based position in the stage, as in the state_dict
    type: str  # "basic" | "bottleneck"
    in_channels: int
    mid_channels: int
    out_channels: int
    stride: int
    groups: int
    dilation: int  # of the block's later 3x3 conv(s)
    first_dilation: int  # of its first 3x3 conv (the previous stage's, in a stage's first block)
    shortcut: str  # "identity" | "pad" | "projection" | "avgpool_projection" | "none"
    drop_path: float  # stochastic depth rate of this block
    attention_size: int  # SE hidden channels or ECA kernel size; 0 without attention
    input: str  # node id feeding the block
    output: str  # node id the block ends with
    add: str | None  # the residual add node; None in a plain (shortcut: none) block
    loc: Location

    @property
    def projection(self) -> bool:
        """Whether the shortcut has parameters (a 1x1 conv)."""
        return self.shortcut in ("projection", "avgpool_projection")

    @property
    def downsample(self) -> bool:
        """Whether the block has a `downsample` module on its shortcut."""
        return self.shortcut in ("pad", "projection", "avgpool_projection")


@dataclass(frozen=True)
class StageInfo:
    """A stage: its module name, its blocks and the node it ends with."""

    name: str  # "layer1"
    number: int  # 1-based
    blocks: tuple[BlockInfo, ...]
    output: str
    loc: Location


def stages_of(graph: Graph) -> tuple[StageInfo, ...]:
    stages: tuple[StageInfo, ...] = graph.graph["stages"]
    return stages


def blocks_of(graph: Graph) -> tuple[BlockInfo, ...]:
    return tuple(block for stage in stages_of(graph) for block in stage.blocks)


def inputs_of(graph: Graph, node: str) -> list[str]:
    """The nodes feeding `node`, in port order (an add's residual branch first)."""
    preds = graph.pred[node]
    if len(preds) < 2:  # most nodes; an edge view per node would cost 5x more
        return list(preds)
    return sorted(preds, key=lambda src: int(preds[src]["port"]))


def describe_node(graph: Graph, node: str) -> str:
    """Name a node the way a user thinks of it: `stage 2 block 1 (layer2.0.conv2)`."""
    block = graph.nodes[node]["block"]
    if block is None:
        return f"{graph.nodes[node]['stage']} ({node})"
    stage_name, index = block.rsplit(".", 1)
    number = next(s.number for s in stages_of(graph) if s.name == stage_name)
    return f"stage {number} block {int(index) + 1} ({node})"
