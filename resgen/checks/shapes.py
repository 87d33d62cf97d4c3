"""Static shape inference: the exact (C, H, W) at every node, with PyTorch's floor/ceil rules."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from resgen.diagnostics import Diagnostic, Location, error
from resgen.graph import ir

if TYPE_CHECKING:
    from resgen.checks.sizes import SizeReport


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution along one axis (torch.nn.Conv2d's formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_out(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """Output length of a max/avg pool along one axis (torch.nn.MaxPool2d's formula)."""
    if not ceil_mode:
        return (size + 2 * padding - kernel) // stride + 1
    out = math.ceil((size + 2 * padding - kernel) / stride) + 1
    # PyTorch drops a last window that would start inside the right padding.
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def blur_out(size: int, stride: int) -> int:
    """Output length of a 3x3 blur-pool (reflect padding 1); 0 where reflect padding fails."""
    return (size - 1) // stride + 1 if size >= 2 else 0


def fmt_shape(shape: ir.Shape | None) -> str:
    return "?" if shape is None else "x".join(str(d) for d in shape)


def infer_shapes(
    graph: ir.Graph, sizes: SizeReport | None = None
) -> tuple[dict[str, ir.Shape | None], list[Diagnostic]]:
    """Return the shape (no batch dim) of every node and a diagnostic for every mismatch.

    A node whose input is already broken gets None, so one mistake gives one diagnostic. With
    the input sizes the network accepts (`sizes`), a mismatch that another input size would not
    have is the input's fault: one `input-size` error at the input, naming the first failing add.
    """
    shapes: dict[str, ir.Shape | None] = {}
    diagnostics: list[Diagnostic] = []
    blocks_by_add = {block.add: block for block in ir.blocks_of(graph) if block.add}
    # Lowering inserts nodes in a topological order and is deterministic, so plain node order
    # is a deterministic topological order too (and linear time for 10,000-block specs).
    for node, data in ir.nodes(graph):
        op = data.op
        kind = op.kind
        if kind == ir.INPUT:
            shapes[node] = graph.graph["input_shape"]
            continue
        in_shapes = [shapes[src] for src in ir.inputs_of(graph, node)]
        known = [s for s in in_shapes if s is not None]
        shape: ir.Shape | None = None
        if len(known) < len(in_shapes):
            pass  # an earlier node is already broken and reported
        elif kind == ir.ADD and _input_at_fault(node, known, sizes):
            assert sizes is not None
            if not any(d.code == "input-size" for d in diagnostics):
                diagnostics.append(_input_size(graph, node, known, sizes))
            shape = known[0]  # as a projection would give, so later blocks are still checked
        elif kind == ir.ADD and node in blocks_by_add:
            own_widths = bool(graph.graph.get("block_widths"))
            # At the add's place: a built-in block's line, or a user block's last branch op.
            shape = _check_add(
                blocks_by_add[node], known, diagnostics, own_widths=own_widths, loc=data.loc
            )
        elif kind in (ir.ADD, ir.CONCAT, ir.MUL):
            # Within a branch (Res2Net's scales, SE's gate, a user block's ops): built-in blocks
            # always agree; a user block's may not.
            shape = _merge(graph, node, kind, known, diagnostics)
        elif kind in (ir.CHANNEL_CONV, ir.SOFTMAX) and known[0][1:] != (1, 1):
            # Their forward views the input as (N, ..., C): a user block may feed them H x W > 1.
            what = "channel conv" if kind == ir.CHANNEL_CONV else "softmax across paths"
            message = (f"{ir.describe_node(graph, node)} reads {fmt_shape(known[0])}; a {what} "
                       f"reads {known[0][0]}x1x1")  # fmt: skip
            hint = "give it a global_pool's output"
            diagnostics.append(error("op-shape", message, data.loc, hint=hint))
        else:
            shape = apply_op(op, known[0])
            if min(shape) <= 0:
                diagnostics.append(_empty_shape(graph, node, known[0], shape, sizes))
                shape = None
        shapes[node] = shape
    return shapes, diagnostics


def _merge(
    graph: ir.Graph, node: str, kind: str, known: list[ir.Shape], diagnostics: list[Diagnostic]
) -> ir.Shape | None:
    """The shape of an add, concat or mul within a block; a diagnostic when its inputs disagree."""
    first = known[0]
    if kind == ir.ADD and len(set(known)) == 1:
        return first
    if kind == ir.CONCAT and len({s[1:] for s in known}) == 1:
        return (sum(s[0] for s in known), *first[1:])
    if kind == ir.MUL and known[1] in (first, (first[0], 1, 1)):
        return first  # elementwise, or a (C, 1, 1) gate broadcast over H and W
    what = {ir.ADD: "adds", ir.CONCAT: "concatenates", ir.MUL: "multiplies"}[kind]
    hint = {
        ir.ADD: "the inputs of an add must agree in channels, height and width",
        ir.CONCAT: "the inputs of a concat must agree in height and width",
        ir.MUL: "a mul's inputs must agree, or its second be a (C, 1, 1) gate of the first's C",
    }[kind]
    shapes = " and ".join(fmt_shape(s) for s in known)
    message = f"{ir.describe_node(graph, node)} {what} {shapes}"
    diagnostics.append(error("op-shape", message, ir.node(graph, node).loc, hint=hint))
    return None


def apply_op(op: ir.Op, shape: ir.Shape) -> ir.Shape:
    """The output shape of a one-input op."""
    apply = _APPLY.get(type(op))
    return apply(op, shape) if apply else shape  # norm, affine, act, drop, softmax keep it


def _conv(op: ir.Conv, shape: ir.Shape) -> ir.Shape:
    _, h, w = shape
    k, s, p, d = op.kernel, op.stride, op.padding, op.dilation
    return (op.out_channels, conv_out(h, k, s, p, d), conv_out(w, k, s, p, d))


def _pool(op: ir.Pool, shape: ir.Shape) -> ir.Shape:
    c, h, w = shape
    k, s, p, ceil, end = op.kernel, op.stride, op.padding, op.ceil_mode, op.pad_end
    return (c, pool_out(h + end, k, s, p, ceil), pool_out(w + end, k, s, p, ceil))


def _pad(op: ir.Pad, shape: ir.Shape) -> ir.Shape:
    _, h, w = shape
    s = op.stride
    return (op.out_channels, -(-h // s), -(-w // s))  # x[:, :, ::s, ::s]


def _blur_pool(op: ir.BlurPool, shape: ir.Shape) -> ir.Shape:
    c, h, w = shape
    return (c, blur_out(h, op.stride), blur_out(w, op.stride))


def _slice(op: ir.Slice, shape: ir.Shape) -> ir.Shape:
    return (op.channels, *shape[1:])


def _channel_conv(op: ir.ChannelConv, shape: ir.Shape) -> ir.Shape:
    return (conv_out(shape[0], op.kernel, 1, op.padding), *shape[1:])


# Dispatch on the op's class: this runs once per node, and a dict lookup beats trying class
# patterns one by one.
_APPLY: dict[type, Callable[[Any, ir.Shape], ir.Shape]] = {
    ir.Conv: _conv,
    ir.Pool: _pool,
    ir.GlobalPool: lambda op, shape: (shape[0], 1, 1),
    ir.Flatten: lambda op, shape: (math.prod(shape),),
    ir.Linear: lambda op, shape: (op.out_features,),
    ir.Pad: _pad,
    ir.ChannelConv: _channel_conv,
    ir.BlurPool: _blur_pool,
    ir.Slice: _slice,
}


def _check_add(
    block: ir.Block,
    in_shapes: list[ir.Shape],
    diagnostics: list[Diagnostic],
    *,
    own_widths: bool,
    loc: Location,
) -> ir.Shape:
    residual, shortcut = in_shapes
    if residual == shortcut:
        return residual
    # Carry on with the residual branch's shape (what a projection would give), so that later
    # blocks are still checked and every broken add of the file is reported in one run.
    if residual[0] != shortcut[0] and residual[1:] != shortcut[1:]:
        what = "channels and resolution change"
    elif residual[0] != shortcut[0]:
        what = "channels change"
    else:
        what = "resolution changes"
    hint = (
        f"the {what} here, which an identity shortcut cannot follow; use "
        "`shortcut: projection` (a 1x1 conv + norm where the shape changes)"
    )
    if own_widths and residual[0] != shortcut[0]:
        hint = (
            "a block's last conv (`conv3`; a basic block's `conv2`) sets its output width, and "
            "an identity shortcut adds the block's input to it: give every block of the stage "
            "the same output width"
        )
    diagnostics.append(
        error(
            "shortcut-shape",
            f"stage {block.stage_number} block {block.index + 1}: residual branch gives "
            f"{fmt_shape(residual)}, shortcut gives {fmt_shape(shortcut)}",
            loc,
            hint=hint,
        )
    )
    return residual


def _input_at_fault(node: str, sides: list[ir.Shape], sizes: SizeReport | None) -> bool:
    """Whether an add's sides differ in H or W alone, where another input size makes them agree."""
    if len(sides) != 2:
        return False  # a sum of more splits (ResNeSt's radix 4), which lowering makes agree
    residual, shortcut = sides
    return (
        sizes is not None
        and residual != shortcut
        and residual[0] == shortcut[0]
        and node in sizes.size_dependent
    )


def _input_size(graph: ir.Graph, node: str, sides: list[ir.Shape], sizes: SizeReport) -> Diagnostic:
    c, h, w = graph.graph["input_shape"]
    residual, shortcut = sides
    return error(
        "input-size",
        f"the input {c}x{h}x{w} does not fit this network: {ir.describe_node(graph, node)} adds "
        f"{fmt_shape(residual)} (residual branch) to {fmt_shape(shortcut)} (shortcut)",
        _input_size_loc(graph),
        hint=_size_hint(h, w, sizes),
    )


def _input_size_loc(graph: ir.Graph) -> Location:
    """Where the spec sets `input.size` (a graph from before lowering recorded it: the input)."""
    found: Location = graph.graph.get("input_size_loc") or graph.graph["input_loc"]
    return found


def _size_hint(h: int, w: int, sizes: SizeReport) -> str:
    """The accepted sizes nearest to each failing side of the input, and which sizes work."""
    near = [
        f"{n}" for side in sorted({h, w}) if not sizes.accepts(side) for n in sizes.nearest(side)
    ]
    closest = {0: "", 1: "the nearest that works is {}; "}.get(
        len(near), "the nearest that work are {}; "
    )
    closest = closest.format(" and ".join(near))
    return f"use an `input.size` the network accepts: {closest}{sizes.accepted}"


def _empty_shape(
    graph: ir.Graph, node: str, before: ir.Shape, after: ir.Shape, sizes: SizeReport | None
) -> Diagnostic:
    c, h, w = graph.graph["input_shape"]
    message = (
        f"{ir.describe_node(graph, node)} turns {fmt_shape(before)} into {fmt_shape(after)}: "
        f"the input {c}x{h}x{w} is too small for this network"
    )
    if sizes is not None and sizes.ranges:  # the input's fault: say so where it is set
        return error("empty-shape", message, _input_size_loc(graph), _size_hint(h, w, sizes))
    return error(
        "empty-shape",
        message,
        ir.node(graph, node).loc,
        hint="use a larger `input.size`, or fewer stride-2 stages",
    )
