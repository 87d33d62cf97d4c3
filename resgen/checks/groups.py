"""Grouped convolutions and group norms: the groups must divide the channels.

PyTorch refuses `nn.Conv2d(64, 64, 3, groups=3)` and `nn.GroupNorm(5, 64)` only when the model
is built; this pass finds them from the graph: each stage's first bad conv, and the first bad norm.
"""

from __future__ import annotations

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
    """Report every stage with a conv or group norm whose groups do not divide its channels."""
    found = []
    seen: set[tuple[str, str]] = set()
    for node, data in ir.nodes(graph):
        problem = _problem(data.op)
        # One `norm.groups` sets every group norm: report it once, not once per stage.
        where = "" if problem and problem[0] == "norm-groups" else data.stage
        if problem is None or (where, problem[0]) in seen:
            continue
        seen.add((where, problem[0]))
        code, message, hint = problem
        found.append(error(code, f"{ir.describe_node(graph, node)}: {message}", data.loc, hint))
    return found


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
    elif isinstance(op, ir.Norm) and op.norm == "group" and op.channels % op.groups:
        message = f"a GroupNorm of {op.groups} groups cannot split {op.channels} channels"
        return "norm-groups", message, _NORM_HINT
    return None
