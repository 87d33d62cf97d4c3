"""Static counts: parameters and multiply-adds (MACs) of every node.

Convention (torchvision's "GFLOPS", the ResNet paper's "FLOPs"): MACs of convolutions and
linear layers only, per input sample; norms, activations, pools and adds count 0, and biases
are ignored. This equals torch.utils.flop_counter.FlopCounterMode's total / 2.
"""

from __future__ import annotations

from resgen.graph import ir


def count_params(op: ir.Op) -> int:
    """Trainable parameters of one op (buffers such as running stats excluded)."""
    match op:
        case ir.Conv(in_channels=cin, out_channels=cout, kernel=k, groups=g, bias=bias):
            return cout * (cin // g) * k * k + (cout if bias else 0)
        case ir.Norm(norm=norm, channels=c):
            # Frozen batch norm keeps its affine and statistics as buffers, not parameters.
            return 0 if norm == "frozen_batch" else 2 * c
        case ir.ChannelConv(kernel=k):
            return k
        case ir.Linear(in_features=fin, out_features=fout, bias=bias):
            return fin * fout + (fout if bias else 0)
    return 0  # an Affine's scale and shift are buffers


def count_macs(op: ir.Op, out_shape: ir.Shape | None) -> int:
    """Multiply-adds of one op for one sample, given its output shape."""
    if out_shape is None:
        return 0
    match op:
        case ir.Conv(in_channels=cin, kernel=k, groups=g):
            cout, h, w = out_shape
            return cout * h * w * (cin // g) * k * k
        case ir.Linear(in_features=fin, out_features=fout):
            return fin * fout
        case ir.ChannelConv(kernel=k):
            return out_shape[0] * k
    return 0


def node_counts(
    graph: ir.Graph, shapes: dict[str, ir.Shape | None]
) -> tuple[dict[str, int], dict[str, int]]:
    params = {n: count_params(data.op) for n, data in ir.nodes(graph)}
    macs = {n: count_macs(data.op, shapes[n]) for n, data in ir.nodes(graph)}
    return params, macs
