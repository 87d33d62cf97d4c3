"""Words for nodes: an op's phrase from its kind and attributes, counts, and the colour scheme.

Every node kind gets a phrase, including kinds added after this module was written (their kind
name and attributes), so a new block type draws before anyone teaches the drawing about it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from resgen.graph import ir

MACS_CONVENTION = (
    "MACs: multiply-adds of convs and linear layers per sample (= torch FlopCounterMode / 2)"
)

NORM_SHORT = {"batch": "BN", "group": "GN", "layer": "LN", "instance": "IN"}
DROP_NAMES = {"path": "drop path"}  # `dropout` names itself
# Ops that follow the op before them on the same line of a block's recipe.
LIGHT_KINDS = (ir.NORM, ir.AFFINE, ir.ACT, ir.DROP, ir.LAYER_NORM, ir.SCALE, ir.REGROUP)

# Colours: ColorBrewer's Dark2 orange for shortcuts, so they read in print and for most
# colour-blind readers; red only for errors.
BODY_FILL, BODY_LINE = "#e8f0fa", "#4a6fa5"
PLAIN_FILL = "#eeeeee"
SHORTCUT_FILL, SHORTCUT_LINE = "#fdebdc", "#d95f02"
IDENTITY_LINE = "#666666"
CLUSTER_FILL, CLUSTER_LINE = "#fafafa", "#bbbbbb"
ERROR = "#d62728"
MUTED = "#555555"


def fmt_count(n: int) -> str:
    """Three significant digits and a suffix: 9536 -> 9.54K, 14964736 -> 15.0M."""
    value = float(n)
    for suffix in ("", "K", "M", "G", "T"):
        if abs(value) < 999.5 or suffix == "T":
            if not suffix:
                return str(n)
            digits = 2 if abs(value) < 9.995 else 1 if abs(value) < 99.95 else 0
            return f"{value:.{digits}f}{suffix}"
        value /= 1000
    raise AssertionError("unreachable")


def fmt_value(value: object) -> str:
    """Every number a label shows: floats to six significant digits, `0.06` not `0.0600...01`.

    Rates are computed (`0.3 * 2 / 10`), so their binary rounding would otherwise reach the page.
    """
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(fmt_value(v) for v in value) + ")"
    return str(value)


def _size(value: Any) -> str:
    """A kernel size: `3x3` for 3, `1x7` for (1, 7)."""
    if isinstance(value, (tuple, list)):
        return "x".join(str(v) for v in value)
    return f"{value}x{value}"


def _stride(value: Any) -> str:
    return "" if value in (1, (1, 1), [1, 1]) else f", /{_size(value).split('x')[0]}"


def op_phrase(op: ir.Op, *, short: bool = False) -> str:
    """Describe one op: `3x3 conv, 64, /2`, `batch norm`, `relu`, `fc, 1000`."""
    match op:
        case ir.Conv(kernel=k, out_channels=cout, stride=s, groups=g, dilation=d):
            text = f"{_size(k)} conv, {cout}{_stride(s)}"
            if g != 1:
                text += f", groups {g}"
            if d not in (1, (1, 1)):
                text += f", dilation {fmt_value(d)}"
            return text
        case ir.Norm(norm=norm):
            return NORM_SHORT.get(norm, f"{norm} norm") if short else f"{norm} norm"
        case ir.Act(act=act):
            return act
        case ir.LayerNorm():
            return "LN" if short else "layer norm"
        case ir.Scale():
            return "layer scale"
        case ir.Pool(kernel=k, pool=pool, stride=s, pad_end=end):
            return f"{_size(k)} {pool} pool{_stride(s)}" + (", same" if end else "")
        case ir.BlurPool(stride=s):
            return f"3x3 blur pool{_stride(s)}"
        case ir.GlobalPool(pool=pool):
            return f"global {pool} pool"
        case ir.Linear(out_features=features):
            return f"fc, {features}"
        case ir.Pad(out_channels=cout, stride=s):
            return f"zero-pad to {cout}{_stride(s)}"
        case ir.ChannelConv(kernel=k):
            return f"channel conv, k={k}"
        case ir.Mul():
            return "multiply"
        case ir.Slice(start=start, channels=c):
            return f"channels {start}..{start + c - 1}"
        case ir.Concat():
            return "concat"
        case ir.Regroup(dims=dims, order=order):
            shown = ", ".join(str(dims[i]) for i in order)
            return f"regroup channels ({', '.join(map(str, dims))}) as ({shown})"
        case ir.Softmax(paths=paths, groups=groups):
            return f"softmax over {paths} paths" + (f" in {groups} groups" if groups > 1 else "")
        case ir.Drop(drop=drop, rate=rate):
            return f"{DROP_NAMES.get(drop, drop)} {fmt_value(rate)}"
    extra = [f"{k}={fmt_value(v)}" for k, v in ir.op_fields(op)]
    return " ".join([op.kind.replace("_", " "), ", ".join(extra)]).strip()


def op_lines(graph: ir.Graph, nodes: Iterable[str]) -> list[str]:
    """A sequence of ops as lines, one per heavy op with its norm and activation after it."""
    lines: list[str] = []
    pieces = 0  # the split being drawn: its slices so far (Res2Net's scales, SK's paths)
    repeats = 1  # how many times in a row the last line's op ran (a product per split)
    for node in nodes:
        data = ir.node(graph, node)
        if isinstance(data.op, ir.Slice):
            pieces = pieces + 1 if pieces and data.op.start else 1
            phrase = f"split into {pieces} x {data.op.channels} channels"
            lines[-1:] = [phrase] if pieces > 1 else [*lines[-1:], phrase]
            continue
        pieces = 0
        phrase = op_phrase(data.op, short=True)
        if data.kind in LIGHT_KINDS and lines:
            lines[-1] += f" \u2192 {phrase}"
        elif lines and lines[-1] in (phrase, f"{phrase} \u00d7 {repeats}"):
            repeats += 1
            lines[-1] = f"{phrase} \u00d7 {repeats}"
        else:
            repeats = 1
            lines.append(phrase)
    return lines


def counts_line(params: int, macs: int) -> str:
    return f"{fmt_count(params)} params \u00b7 {fmt_count(macs)} MACs"
