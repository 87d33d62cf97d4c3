"""Which input sizes a network accepts, from the conv/pool arithmetic alone (no trial runs).

H and W follow the same arithmetic (kernels are square), so one axis is analysed. The graph is
first reduced to its spatial skeleton: nodes that keep the size for every input (norms,
activations, stride-1 "same" convs) alias their input, so only strided convs, pools, pads and the
adds whose two sides differ are evaluated per size. That keeps a 10,000-block net cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from resgen.checks.shapes import apply_op, blur_out, conv_out, pool_out
from resgen.graph import ir

MAX_SIZE = 1024
_ANY = 1 << 16  # a spatial size for channel arithmetic, which ignores it
_CONSTANT = -1  # the value id of a size that no longer depends on the input
PERIODS = (2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class SizeReport:
    """The input sizes (per axis) the network accepts, and why the others fail."""

    min_size: int  # every size below fails (too small); 0 when no size in range works
    failing: tuple[int, ...]  # sizes >= min_size that fail anyway
    reasons: dict[int, str]  # size -> why it fails
    summary: str
    ranges: tuple[tuple[int, int], ...] = ()  # the sizes that work, as inclusive (low, high)
    # Adds whose two sides agree, above 1 px, at some input size: where they disagree, the input
    # size is at fault (an identity shortcut past a stride agrees only at 1 px).
    size_dependent: frozenset[str] = frozenset()
    accepted: str = ""  # the summary's first part: which H, W work

    def accepts(self, size: int) -> bool:
        return any(low <= size <= high for low, high in self.ranges)

    def nearest(self, size: int) -> list[int]:
        """The accepted sizes closest to `size` from below and above (one or two; none if none)."""
        below = [high if high < size else size for low, high in self.ranges if low <= size]
        above = [low if low > size else size for low, high in self.ranges if high >= size]
        return sorted({*below[-1:], *above[:1]})


def _spatial_op(op: ir.Op) -> Callable[[int], int] | None:
    """The size function of an op, or None when it keeps every size."""
    if isinstance(op, ir.Conv):
        k, s, p, d = op.kernel, op.stride, op.padding, op.dilation
        if s == 1 and 2 * p == d * (k - 1):
            return None
        return lambda h: conv_out(h, k, s, p, d)
    if isinstance(op, ir.Pool):
        k, s, p, ceil, end = op.kernel, op.stride, op.padding, op.ceil_mode, op.pad_end
        if s == 1 and 2 * p + end == k - 1:
            return None  # a "same" pool
        return lambda h: pool_out(h + end, k, s, p, ceil)
    if isinstance(op, ir.BlurPool):
        stride = op.stride  # even at stride 1: reflect padding fails below 2 pixels
        return lambda h: blur_out(h, stride)
    if isinstance(op, ir.Pad) and op.stride != 1:
        s = op.stride
        return lambda h: -(-h // s)
    return None


@dataclass(frozen=True)
class _Step:
    node: str
    source: int  # index of the value it reads
    op: Callable[[int], int]


class _Skeleton(NamedTuple):
    steps: list[_Step]
    checks: list[tuple[str, int, int]]  # adds whose two sides are different size values
    clash: str | None  # an add whose sides have different channels: no size can work


def _skeleton(graph: ir.Graph) -> _Skeleton:
    """Return the size-changing steps, the adds whose sides differ, and any channel clash."""
    value_of: dict[str, int] = {}
    channels: dict[str, int] = {}
    steps: list[_Step] = []
    checks: list[tuple[str, int, int]] = []
    clash = None
    for node, data in ir.nodes(graph):
        kind = data.kind
        preds = ir.inputs_of(graph, node)
        if kind == ir.INPUT:
            value_of[node] = 0
            channels[node] = data.op.channels if isinstance(data.op, ir.Input) else 0
            continue
        if data.stage == "head":
            break  # past the global pool nothing depends on H and W
        # Channel counts do not depend on H and W: any spatial size gives the same answer.
        channels[node] = apply_op(data.op, (channels[preds[0]], _ANY, _ANY))[0]
        if kind == ir.CONCAT:
            channels[node] = sum(channels[p] for p in preds)
        if kind == ir.ADD and clash is None and channels[preds[0]] != channels[preds[1]]:
            clash = (
                f"{ir.describe_node(graph, node)} adds {channels[preds[0]]} channels (residual "
                f"branch) to {channels[preds[1]]} (shortcut)"
            )
        first = value_of[preds[0]]
        op = _spatial_op(data.op)
        if kind == ir.GLOBAL_POOL or first == _CONSTANT:
            value_of[node] = _CONSTANT  # SE/ECA squeeze: 1x1 whatever the input
        elif kind in (ir.ADD, ir.CONCAT):
            for other in sorted({value_of[p] for p in preds[1:]} - {first}):
                checks.append((node, first, other))
            value_of[node] = first
        elif op is None:
            value_of[node] = first
        else:
            steps.append(_Step(node, first, op))
            value_of[node] = len(steps)
    return _Skeleton(steps, checks, clash)


def _evaluate(steps: list[_Step], checks: list[tuple[str, int, int]], size: int,
              describe: Callable[[str], str], agreeing: set[str]) -> str | None:  # fmt: skip
    """Why `size` fails, or None when it works; adds `agreeing` the adds whose sides agree."""
    values = [size]
    why = None
    for step in steps:
        out = step.op(values[step.source])
        if out <= 0:
            why = f"{describe(step.node)} gets spatial size {values[step.source]}, too small"
            break
        values.append(out)
    known = len(values)  # the values past a step that failed are unknown
    for node, a, b in checks:
        if a >= known or b >= known:
            continue
        if values[a] == values[b]:
            if values[a] > 1:
                agreeing.add(node)
        elif why is None:
            why = (
                f"{describe(node)} adds spatial size {values[a]} (residual branch) "
                f"to {values[b]} (shortcut)"
            )
    return why


def valid_sizes(graph: ir.Graph, limit: int = MAX_SIZE) -> SizeReport:
    """Evaluate every input size from 1 to `limit` and summarise the ones that work."""
    steps, checks, clash = _skeleton(graph)
    if clash is not None:
        return SizeReport(0, (), {}, f"no input size works: {clash}")
    reasons: dict[int, str] = {}
    agreeing: set[str] = set()
    for size in range(1, limit + 1):
        why = _evaluate(steps, checks, size, lambda n: ir.describe_node(graph, n), agreeing)
        if why:
            reasons[size] = why
    ranges = _ranges([s for s in range(1, limit + 1) if s not in reasons])
    min_size = ranges[0][0] if ranges else 0
    failing = tuple(s for s in sorted(reasons) if s > min_size) if ranges else ()
    accepted, _ = _describe(ranges, reasons, limit)
    summary = _summarise(ranges, reasons, limit)
    return SizeReport(min_size, failing, reasons, summary, tuple(ranges), frozenset(agreeing),
                      accepted)  # fmt: skip


def _ranges(sizes: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive sizes as inclusive (low, high) pairs."""
    out: list[tuple[int, int]] = []
    for size in sizes:
        if out and out[-1][1] == size - 1:
            out[-1] = (out[-1][0], size)
        else:
            out.append((size, size))
    return out


def _summarise(ranges: list[tuple[int, int]], reasons: dict[int, str], limit: int) -> str:
    """One line: which H, W work, and why the first size that does not, fails."""
    accepted, why = _describe(ranges, reasons, limit)
    if not ranges:
        return f"{accepted} ({why})"
    return f"{accepted}; {why}" if why else accepted


def _describe(
    ranges: list[tuple[int, int]], reasons: dict[int, str], limit: int
) -> tuple[str, str]:
    """Which H, W work, and why the first size above the smallest that works fails ("" if none)."""
    if not ranges:
        return f"no input size up to {limit} works", f"at input {limit}: {reasons[limit]}"
    low = ranges[0][0]
    above = [s for s in sorted(reasons) if s > low]
    if not above:
        return f"any H, W >= {low}", ""
    why = f"at input {above[0]}: {reasons[above[0]]}"
    runs = [f">= {a}" if b == limit else (f"{a}-{b}" if b > a else str(a)) for a, b in ranges]
    if ranges[-1][1] == limit:
        for period in PERIODS:
            bad = {s % period for s in above}
            if [s for s in range(low, limit + 1) if s % period in bad] != above:
                continue
            if len(bad) <= period // 2:
                which = ", ".join(str(r) for r in sorted(bad))
                return f"H, W >= {low} except sizes = {which} (mod {period})", why
            shown = ", ".join(runs[:3])
            return f"H, W in {shown}, ... (repeating every {period})", why
    shown = ", ".join(runs[:6]) + (f", ... ({len(runs)} runs in all)" if len(runs) > 6 else "")
    return f"H, W in {shown}", why
