"""Static counts: parameters and multiply-adds (MACs) of every node.

Convention (torchvision's "GFLOPS", the ResNet paper's "FLOPs"): MACs of convolutions and
linear layers only, per input sample (a blur-pool is a depthwise 3x3 conv with a fixed filter, so
it counts); norms, activations, pools and adds count 0, and biases are ignored. This equals
torch.utils.flop_counter.FlopCounterMode's total / 2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from resgen.graph import ir


def count_params(op: ir.Op) -> int:
    """Trainable parameters of one op (buffers such as running stats excluded)."""
    count = _PARAMS.get(type(op))
    return count(op) if count else 0  # an Affine's scale and shift are buffers


def _conv_params(op: ir.Conv) -> int:
    k = op.kernel
    return op.out_channels * (op.in_channels // op.groups) * k * k + (
        op.out_channels if op.bias else 0
    )


def _norm_params(op: ir.Norm) -> int:
    # Frozen batch norm keeps its affine and statistics as buffers, not parameters; EvoNorm and
    # FRN have a third per-channel parameter for their activation (`v`, `tau`).
    if op.norm == "frozen_batch":
        return 0
    return (3 if op.norm in ir.ACTIVATING_NORMS else 2) * op.channels


def _linear_params(op: ir.Linear) -> int:
    return op.in_features * op.out_features + (op.out_features if op.bias else 0)


# Dispatch on the op's class: the counts run once per node, and a dict lookup is cheaper than
# trying class patterns one by one.
_PARAMS: dict[type, Callable[[Any], int]] = {
    ir.Conv: _conv_params,
    ir.Norm: _norm_params,
    ir.ChannelConv: lambda op: op.kernel,
    ir.Linear: _linear_params,
    ir.LayerNorm: lambda op: 2 * op.channels,
    ir.Scale: lambda op: op.channels,
}


def count_macs(op: ir.Op, out_shape: ir.Shape | None) -> int:
    """Multiply-adds of one op for one sample, given its output shape."""
    if out_shape is None:
        return 0
    if isinstance(op, ir.Conv):
        k = op.kernel
        cout, h, w = out_shape
        return cout * h * w * (op.in_channels // op.groups) * k * k
    if isinstance(op, ir.Linear):
        return op.in_features * op.out_features
    if isinstance(op, ir.ChannelConv):
        return out_shape[0] * op.kernel
    if isinstance(op, ir.BlurPool):  # a depthwise 3x3 conv with a fixed filter
        c, h, w = out_shape
        return c * h * w * 9
    return 0


def node_counts(
    graph: ir.Graph, shapes: dict[str, ir.Shape | None]
) -> tuple[dict[str, int], dict[str, int]]:
    params: dict[str, int] = {}
    macs: dict[str, int] = {}
    for node, data in ir.nodes(graph):
        params[node] = count_params(data.op)
        macs[node] = count_macs(data.op, shapes[node])
    return params, macs
