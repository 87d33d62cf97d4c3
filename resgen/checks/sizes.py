"""Which input sizes a network accepts, from the conv/pool arithmetic alone (no trial runs).

H and W follow the same arithmetic (kernels are square), so one axis is analysed. The graph is
first reduced to its spatial skeleton: nodes that keep the size for every input (norms,
activations, stride-1 "same" convs) alias their input, so only strided convs, pools, pads and the
adds whose two sides differ are evaluated per size. That keeps a 10,000-block net cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from resgen.checks.shapes import conv_out, pool_out
from resgen.graph import ir

MAX_SIZE = 1024
_CONSTANT = -1  # the value id of a size that no longer depends on the input
PERIODS = (2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class SizeReport:
    """The input sizes (per axis) the network accepts, and why the others fail."""

    min_size: int  # every size below fails (too small); 0 when no size in range works
    failing: tuple[int, ...]  # sizes >= min_size that fail anyway
    reasons: dict[int, str]  # size -> why it fails
    summary: str


def _spatial_op(op: ir.Op) -> Callable[[int], int] | None:
    """The size function of an op, or None when it keeps every size."""
    if isinstance(op, ir.Conv):
        k, s, p, d = op.kernel, op.stride, op.padding, op.dilation
        if s == 1 and 2 * p == d * (k - 1):
            return None
        return lambda h: conv_out(h, k, s, p, d)
    if isinstance(op, ir.Pool):
        k, s, p, ceil = op.kernel, op.stride, op.padding, op.ceil_mode
        return lambda h: pool_out(h, k, s, p, ceil)
    if isinstance(op, ir.Pad) and op.stride != 1:
        s = op.stride
        return lambda h: -(-h // s)
    return None


@dataclass(frozen=True)
class _Step:
    node: str
    source: int  # index of the value it reads
    op: Callable[[int], int]


def _skeleton(graph: ir.Graph) -> tuple[list[_Step], list[tuple[str, int, int]]]:
    """Return the size-changing steps and the adds whose sides are different values."""
    value_of: dict[str, int] = {}
    steps: list[_Step] = []
    checks: list[tuple[str, int, int]] = []
    for node, data in ir.nodes(graph):
        kind = data.kind
        preds = ir.inputs_of(graph, node)
        if kind == ir.INPUT:
            value_of[node] = 0
            continue
        if data.stage == "head":
            break  # past the global pool nothing depends on H and W
        first = value_of[preds[0]]
        op = _spatial_op(data.op)
        if kind == ir.GLOBAL_POOL or first == _CONSTANT:
            value_of[node] = _CONSTANT  # SE/ECA squeeze: 1x1 whatever the input
        elif kind == ir.ADD:
            other = value_of[preds[1]]
            if other != first:
                checks.append((node, first, other))
            value_of[node] = first
        elif op is None:
            value_of[node] = first
        else:
            steps.append(_Step(node, first, op))
            value_of[node] = len(steps)
    return steps, checks


def _evaluate(steps: list[_Step], checks: list[tuple[str, int, int]], size: int,
              describe: Callable[[str], str]) -> str | None:  # fmt: skip
    """Why `size` fails, or None when it works."""
    values = [size]
    for step in steps:
        out = step.op(values[step.source])
        if out <= 0:
            return f"{describe(step.node)} gets size {values[step.source]}, too small"
        values.append(out)
    for node, a, b in checks:
        if values[a] != values[b]:
            return f"{describe(node)}: residual branch gives {values[a]}, shortcut {values[b]}"
    return None


def valid_sizes(graph: ir.Graph, limit: int = MAX_SIZE) -> SizeReport:
    """Evaluate every input size from 1 to `limit` and summarise the ones that work."""
    steps, checks = _skeleton(graph)
    reasons: dict[int, str] = {}
    for size in range(1, limit + 1):
        why = _evaluate(steps, checks, size, lambda n: ir.describe_node(graph, n))
        if why:
            reasons[size] = why
    min_size = 1
    while min_size in reasons:
        min_size += 1
    failing = tuple(s for s in sorted(reasons) if s > min_size)
    return SizeReport(min_size if min_size <= limit else 0, failing, reasons,
                      _summarise(min_size, failing, reasons, limit))  # fmt: skip


def _summarise(min_size: int, failing: tuple[int, ...], reasons: dict[int, str], limit: int) -> str:
    if min_size > limit:
        return f"no input size up to {limit} works ({reasons[limit]})"
    head = f"any H, W >= {min_size}"
    if not failing:
        return head
    for period in PERIODS:
        residues = {s % period for s in failing}
        pattern = [s for s in range(min_size, limit + 1) if s % period in residues]
        if tuple(pattern) == failing:
            which = ", ".join(str(r) for r in sorted(residues))
            return (
                f"H, W >= {min_size} except sizes = {which} (mod {period}): "
                f"{reasons[failing[0]]} at size {failing[0]}"
            )
    shown = ", ".join(str(s) for s in failing[:8]) + (", ..." if len(failing) > 8 else "")
    return f"H, W >= {min_size} except {shown}: {reasons[failing[0]]} at size {failing[0]}"
