"""Static counts: parameters and multiply-adds (MACs) of every node.

Convention (torchvision's "GFLOPS", the ResNet paper's "FLOPs"): MACs of convolutions and
linear layers only, per input sample; norms, activations, pools and adds count 0, and biases
are ignored. This equals torch.utils.flop_counter.FlopCounterMode's total / 2.
"""

from __future__ import annotations

from typing import Any

from resgen.graph import ir


def count_params(attrs: dict[str, Any]) -> int:
    """Trainable parameters of one node (buffers such as running stats excluded)."""
    kind = attrs["kind"]
    if kind == ir.CONV:
        cin, cout, k, g = (
            int(attrs[a]) for a in ("in_channels", "out_channels", "kernel", "groups")
        )
        return cout * (cin // g) * k * k + (cout if attrs["bias"] else 0)
    if kind == ir.NORM:
        # Frozen batch norm keeps its affine and statistics as buffers, not parameters.
        return 0 if attrs["norm"] == "frozen_batch" else 2 * int(attrs["channels"])
    if kind == ir.CHANNEL_CONV:
        return int(attrs["kernel"])
    if kind == ir.LINEAR:
        fin, fout = int(attrs["in_features"]), int(attrs["out_features"])
        return fin * fout + (fout if attrs["bias"] else 0)
    return 0


def count_macs(attrs: dict[str, Any], out_shape: ir.Shape | None) -> int:
    """Multiply-adds of one node for one sample, given its output shape."""
    if out_shape is None:
        return 0
    kind = attrs["kind"]
    if kind == ir.CONV:
        cin, k, g = (int(attrs[a]) for a in ("in_channels", "kernel", "groups"))
        cout, h, w = out_shape
        return cout * h * w * (cin // g) * k * k
    if kind == ir.LINEAR:
        return int(attrs["in_features"]) * int(attrs["out_features"])
    if kind == ir.CHANNEL_CONV:
        return out_shape[0] * int(attrs["kernel"])
    return 0


def node_counts(
    graph: ir.Graph, shapes: dict[str, ir.Shape | None]
) -> tuple[dict[str, int], dict[str, int]]:
    params = {n: count_params(a) for n, a in graph.nodes(data=True)}
    macs = {n: count_macs(a, shapes[n]) for n, a in graph.nodes(data=True)}
    return params, macs
