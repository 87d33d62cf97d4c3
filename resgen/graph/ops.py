"""The IR's ops: a small closed set of node kinds (like torch.fx's opcodes), a dataclass each.

Each op class names its kind (`Conv.kind == CONV`) and holds the arguments of what it computes;
`Op` is their union. The graph that holds them, its nodes, blocks and stages are in
resgen.graph.ir, which re-exports every name here (`ir.Conv`, `ir.CONV`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar, TypeAlias

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
