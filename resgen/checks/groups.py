"""Grouped convolutions and group norms: the groups must divide the channels.

PyTorch refuses `nn.Conv2d(64, 64, 3, groups=3)` and `nn.GroupNorm(5, 64)` only when the model
is built; this pass finds them from the graph: each stage's first bad conv, and the first norm
of each channel count the group norms cannot split.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from resgen.diagnostics import Diagnostic, error
from resgen.graph import ir

if TYPE_CHECKING:
    from resgen.checks import Facts

_CONV_HINT = (
    "make `block.groups` (or the stage's `groups`) divide the conv's input and output channels; "
    "a basic block groups its first 3x3 conv, whose input is the previous stage's output"
)
_NORM_HINT = "make `norm.groups` divide every width of the network (32 divides 64, 128, 256...)"


def check_groups(graph: ir.Graph, facts: Facts) -> list[Diagnostic]:
    """Report every stage with a conv whose groups do not divide its channels, and every
    channel count that the group norms cannot split (at its first norm)."""
    found = []
    seen: set[tuple[object, str]] = set()
    norm_hint = _norm_hint(graph)
    for node, data in ir.nodes(graph):
        problem = _problem(data.op)
        if problem is None:
            continue
        code, message, hint = problem
        # One `norm.groups` sets every group norm: one error per channel count it cannot split.
        where = data.op.channels if isinstance(data.op, ir.Norm) else data.stage
        if (where, code) in seen:
            continue
        seen.add((where, code))
        hint = norm_hint if code == "norm-groups" else hint
        found.append(error(code, f"{ir.describe_node(graph, node)}: {message}", data.loc, hint))
    return found


def check_splits(graph: ir.Graph, facts: Facts) -> list[Diagnostic]:
    """Report each stage whose equal split (a selective kernel conv's paths) leaves channels out:
    timm refuses an input the paths cannot share evenly."""
    found = []
    seen: set[str] = set()
    # A user block's split ops take what pieces they name (their ranges are checked when lowered).
    user = {b.path for b in ir.blocks_of(graph) if b.user}
    for node in graph:
        if user and ir.node(graph, node).block in user:
            continue
        pieces = {
            n: op for n in graph.successors(node) if isinstance(op := ir.op(graph, n), ir.Slice)
        }
        shape = facts.shapes.get(node)
        if not pieces or shape is None or sum(op.channels for op in pieces.values()) == shape[0]:
            continue
        first = next(iter(pieces))
        data = ir.node(graph, first)
        if data.stage not in seen:
            seen.add(data.stage)
            message = (f"{ir.describe_node(graph, first)}: {len(pieces)} equal paths cannot "
                       f"share its input's {shape[0]} channels")  # fmt: skip
            found.append(error("split-channels", message, data.loc, _SPLIT_HINT))
    return found


_SPLIT_HINT = (
    "a selective kernel conv splits its input between its 2 paths: make that width even (the "
    "stage's width over `block.reduce_first`, or the previous stage's output), or set "
    "`block.selective_kernel.split_input: false`"
)


def _norm_hint(graph: ir.Graph) -> str:
    """Name the `norm.groups` values that divide every group norm's channels."""
    ops = (data.op for _, data in ir.nodes(graph))
    widths = sorted({op.channels for op in ops if isinstance(op, ir.Norm) and op.norm == "group"})
    common = math.gcd(*widths) if widths else 0
    fits = [g for g in range(1, common + 1) if common % g == 0]
    if not fits:
        return _NORM_HINT
    shown = ", ".join(map(str, fits[-6:]))
    return (
        f"make `norm.groups` divide every group norm's channels ({', '.join(map(str, widths))}):"
        f" {shown} {'does' if len(fits) == 1 else 'do'}"
    )


def _problem(op: ir.Op) -> tuple[str, str, str] | None:
    if isinstance(op, ir.Conv):
        groups = op.groups
        if groups == 1:
            return None
        sides = (("input", op.in_channels), ("output", op.out_channels))
        bad = [f"{channels} {side}" for side, channels in sides if channels % groups]
        if bad:
            message = f"groups={groups} does not divide its {' and '.join(bad)} channels"
            return "conv-groups", message, _CONV_HINT
    elif isinstance(op, ir.Norm) and op.norm == "group" and op.groups == 0:
        message = f"{op.channels} channels are fewer than one group of {op.group_size}"
        return "norm-groups", message, _NORM_HINT
    elif isinstance(op, ir.Norm) and op.norm == "group" and op.channels % op.groups:
        message = f"a GroupNorm of {op.groups} groups cannot split {op.channels} channels"
        return "norm-groups", message, _NORM_HINT
    return None
