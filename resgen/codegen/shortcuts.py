"""A block class's `downsample` module: what the shortcut templates print, from the blocks' nodes.

The first block of the class with a downsample module gives its layout. A projection whose conv
is wider where the block strides (SENet-154's 3x3, `shortcut_kernel`) than where it does not
(a 1x1) gives both convs, and the template picks one by the block's arguments.
"""

from __future__ import annotations

from typing import TypedDict

from resgen.codegen.calls import Call, module_call
from resgen.codegen.walk import MODULES, Walk
from resgen.graph import ir


class ShortcutFields(TypedDict):
    """The BlockClass fields that describe the downsample module."""

    shortcut: str  # "" or the ShortcutKind of the `downsample` module
    shortcut_items: tuple[Call, ...]  # the downsample Sequential's convs and norms
    lone_shortcut_item: bool  # a Sequential of one module, kept for its `downsample.0` keys
    wide_conv: Call | None  # the strided blocks' wider projection conv, when others have a 1x1
    wide_comment: str  # why the projection has two convs
    wide_guard: str  # when a block takes the wide conv: `stride > 1` (`or dilated`)
    shortcut_input: str  # "x" or "pre"
    names_pre: bool  # forward comments on which input the projection sees


def shortcut_fields(
    graph: ir.Graph, blocks: list[ir.Block], names: set[str], walk: Walk
) -> ShortcutFields:
    """The BlockClass fields of the `downsample` module."""
    kinds = {b.shortcut for b in blocks if b.downsample}
    shortcut = kinds.pop() if kinds else None
    with_shortcut = [b for b in blocks if b.downsample]
    wide = [b for b in with_shortcut if _kernel(graph, b) > 1]
    narrow = [b for b in with_shortcut if _kernel(graph, b) == 1]
    items = _items(graph, next(iter(narrow or wide), None), names)
    wide_conv = None
    dilated = any(b.stride == 1 for b in wide)
    if wide and narrow:
        conv = ir.op(graph, f"{wide[0].path}.downsample.0")
        wide_conv = module_call(conv, names, first=False, indent=16 + len("conv = "))
    return {
        "shortcut": str(shortcut or ""),
        "shortcut_items": items,
        "lone_shortcut_item": len(items) == 1,
        "wide_conv": wide_conv,
        "wide_comment": _wide_comment(_kernel(graph, wide[0]) if wide else 1, dilated),
        "wide_guard": "stride > 1 or dilated" if dilated else "stride > 1",
        "shortcut_input": _shortcut_input(graph, next(iter(with_shortcut), None), walk),
        "names_pre": blocks[0].preact and bool(shortcut and shortcut.has_conv),
    }


def _wide_comment(kernel: int, dilated: bool) -> str:
    where = "strides (or opens a dilated stage)" if dilated else "strides"
    return f"SENet: a projection that {where} is a {kernel}x{kernel} conv, another a 1x1."


def takes_dilated(graph: ir.Graph, blocks: list[ir.Block]) -> bool:
    """Whether the class needs a `dilated` argument: some instance's shortcut pools at stride 1,
    or takes the wide projection conv at stride 1 where others of the class take a 1x1."""
    with_shortcut = [b for b in blocks if b.downsample]
    mixed = len({_kernel(graph, b) > 1 for b in with_shortcut}) == 2
    return any(
        opens_dilated_stage(graph, b) and (mixed or not _kernel(graph, b) > 1)
        for b in with_shortcut
    )


def opens_dilated_stage(graph: ir.Graph, block: ir.Block) -> bool:
    """Whether the block's shortcut knows it opens a dilated stage: a ResNet-D pool at stride 1
    (timm's AvgPool2dSame), or a wide projection conv at stride 1."""
    node = f"{block.path}.downsample.0"
    if node not in graph:
        return False
    op = ir.op(graph, node)
    if isinstance(op, ir.Pool):
        return op.pad_end > 0
    return isinstance(op, ir.Conv) and op.kernel > 1 and op.stride == 1


def _kernel(graph: ir.Graph, block: ir.Block) -> int:
    """The kernel of a projection's conv (`downsample.0`); 1 for other shortcuts."""
    node = f"{block.path}.downsample.0"
    op = ir.op(graph, node) if node in graph else None
    return op.kernel if isinstance(op, ir.Conv) else 1


def _items(graph: ir.Graph, block: ir.Block | None, names: set[str]) -> tuple[Call, ...]:
    """The convs and norms of the downsample Sequential (a pool is the kind template's)."""
    if block is None:
        return ()
    prefix = len(block.path) + 1
    items = []
    for node in block.nodes:
        op = ir.op(graph, node)
        if node[prefix:].startswith("downsample.") and isinstance(op, MODULES):
            items.append(module_call(op, names, first=False, indent=16))
    return tuple(items)


def _shortcut_input(graph: ir.Graph, block: ir.Block | None, walk: Walk) -> str:
    """The variable the shortcut reads: `x`, or `pre` (a pre-activation's projection)."""
    if block is None or block.add is None:
        return "x"
    node = ir.inputs_of(graph, block.add)[ir.SHORTCUT_PORT]
    while node.startswith(block.path + ".downsample"):
        (node,) = ir.inputs_of(graph, node)
    # The representative block names its values like this one: map by relative path.
    rel = node[len(block.path) :] if node.startswith(block.path + ".") else None
    for mine, name in walk.var.items():
        if rel is not None and mine.endswith(rel):
            return name
    return "x"
