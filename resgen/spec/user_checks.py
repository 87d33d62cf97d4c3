"""Check the `blocks:` section: names, inputs and expressions (resgen.spec.user_uses: how the
spec uses its blocks).

Every name a user writes becomes an attribute, a module path or a local variable of generated
Python, so each must be an identifier (or two joined by a dot), never a dunder or private name,
never a keyword or a name the generated class already uses. Every value is parsed by
resgen.spec.expr's allow-list here, once, so lowering and codegen only see checked trees.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator

from resgen.diagnostics import Diagnostic
from resgen.spec.expr import FUNCTIONS, ExprError, parse_expr
from resgen.spec.kinds import BLOCK_TYPES
from resgen.spec.model import Spec
from resgen.spec.source import Path, Source
from resgen.spec.user_blocks import ACTIVATIONS, UserBlockSpec
from resgen.spec.user_ops import VARIABLES, ActOp, MergeOp, OpSpec, ReshapeOp, ScaleOp
from resgen.spec.user_uses import bad, check_uses

# An op's name: an identifier, then up to three identifiers or indices, each an entry of the
# container before it (`mlp.fc1`, `mlp.0`, timm's `conv1.paths.0.conv`).
MAX_PARTS = 4
_PART = r"\.([A-Za-z][A-Za-z0-9_]*|[0-9]+)"
_NAME = re.compile(rf"[A-Za-z][A-Za-z0-9_]*({_PART}){{0,{MAX_PARTS - 1}}}")
# An entry of an nn.ModuleDict container cannot take the name of one of its attributes.
_DICT_ATTRS = frozenset({"keys", "items", "values", "update", "pop", "clear"})
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Names the generated block class, its forward or nn.Module already use.
RESERVED = frozenset({
    "x", "out", "identity", "self", "torch", "nn", "super", "downsample", "add", "out_act",
    "residual", "drop_path", "forward", "training", "parameters", "buffers", "modules",
    "children", "state_dict", "load_state_dict", "to", "cuda", "cpu", "eval", "train", "apply",
    "register_buffer", "register_parameter", "register_module", "add_module", "named_modules",
    "named_parameters", "named_buffers", "named_children", "zero_grad", "half", "float",
    "double", "bfloat16", "type", "extra_repr", "requires_grad_", "share_memory", "get_submodule",
    "get_parameter", "get_buffer", "dump_patches", "call_super_init", "compile", "ipu", "xpu",
    "mtia", "to_empty", "register_forward_hook", "register_forward_pre_hook",
    "register_backward_hook", "register_full_backward_hook", "set_extra_state", "get_extra_state",
    "projecting",
    *VARIABLES, *FUNCTIONS, "min", "max", "int", "len", "range", "print",
})  # fmt: skip
# And the constructor's own arguments and locals, which a param would be one of.
_PARAM_RESERVED = RESERVED | {"dilated", "pool", "conv"}
_VALUES = {
    "conv": ("out", "kernel", "stride", "dilation", "groups", "padding"),
    "norm": ("groups",),
    "pool": ("kernel", "stride", "padding"),
    "channel_conv": ("kernel",),
    "attention": ("hidden", "kernel"),
    "split": ("start", "channels"),
    "reshape": ("dims",),
    "softmax": ("paths", "groups"),
}


def check_user_blocks(spec: Spec, source: Source) -> list[Diagnostic]:
    """An error at every name, input or value of the `blocks:` section that cannot be used."""
    found: list[Diagnostic] = []
    for name, block in spec.blocks.items():
        found += _check_block(name, block, source)
    return found + check_uses(spec, source)


def _check_block(name: str, block: UserBlockSpec, source: Source) -> list[Diagnostic]:
    where: Path = ("blocks", name)
    found = []
    if not _plain(name) or name in BLOCK_TYPES:
        found.append(bad("block-name", f"block name {name!r} cannot be used", source, where,
                          _PLAIN_HINT + ", and not a built-in block type", key=True))  # fmt: skip
    if block.class_name is not None and not _plain(block.class_name):
        found.append(bad("block-name", f"class name {block.class_name!r} cannot be used",
                          source, (*where, "class_name"), _PLAIN_HINT))  # fmt: skip
    for i, op in enumerate(block.ops):
        # Skipped, a concat would pass on fewer channels than the class declares after it.
        if isinstance(op, MergeOp) and op.op == "concat" and op.when is not None:
            found.append(bad("block-value", f"concat {op.name!r} cannot be skipped (`when`): "
                              "its channels would differ between blocks", source,
                              (*where, "ops", i, "when"), "skip an add or a mul, or the ops "
                              "that feed the concat"))  # fmt: skip
    for param in block.params:
        if not _plain(param) or param in _PARAM_RESERVED:
            found.append(bad("param-name", f"param name {param!r} cannot be used", source,
                              (*where, "params", param), _PLAIN_HINT + ", and no variable "
                              "name (in_channels, ...)", key=True))  # fmt: skip
    names_found = _check_names(block, source, where)
    found += names_found or _check_live(block, source, where)
    names = frozenset((*VARIABLES, *block.params))
    for i, op in enumerate(block.ops):
        for at, value in _values(op):
            try:
                parse_expr(value, names)
            except ExprError as exc:
                path = (*where, "ops", i, *at)
                found.append(bad("block-value", exc.message, source, path, exc.hint))
        if isinstance(op, ReshapeOp):
            found += _check_reshape(op, source, (*where, "ops", i))
    return found


def _values(op: object) -> Iterator[tuple[tuple[str | int, ...], object]]:
    """The (path within the op, value) pairs of an op that hold integers or expressions."""
    for field in _VALUES.get(str(getattr(op, "op", "")), ()):
        value = getattr(op, field)
        if isinstance(value, list):  # a reshape's dims
            yield from (((field, j), item) for j, item in enumerate(value))
        elif value is not None:
            yield (field,), value


def _check_reshape(op: ReshapeOp, source: Source, where: Path) -> list[Diagnostic]:
    """A reshape's order is a permutation of its dims' positions; at most one dim is -1."""
    found = []
    if sorted(op.order) != list(range(len(op.dims))):
        found.append(bad("block-value", f"reshape {op.name!r}: order {op.order} is no "
                          f"permutation of the positions of its {len(op.dims)} dims", source,
                          (*where, "order"), f"list each of 0 .. {len(op.dims) - 1} once, e.g. "
                          f"{list(reversed(range(len(op.dims))))}"))  # fmt: skip
    if sum(d in (-1, "-1") for d in op.dims) > 1:
        found.append(bad("block-value", f"reshape {op.name!r}: more than one dim is -1", source,
                          (*where, "dims"), "give every dim but one its size"))  # fmt: skip
    return found


_PLAIN_HINT = (
    "use an identifier of ASCII letters, digits and underscores that starts with a letter and is "
    "not a Python keyword"
)


def _plain(name: str) -> bool:
    return bool(_IDENTIFIER.fullmatch(name)) and not keyword.iskeyword(name)


def _check_names(block: UserBlockSpec, source: Source, where: Path) -> list[Diagnostic]:
    """Op names: well formed, unique, no clash with a container or a reserved name; inputs and
    the residual wiring name earlier ops."""
    found = []
    seen: dict[str, int] = {}  # each name (and `as` alias) -> the op that first has it
    flat: dict[str, str] = {}  # the variable each name reads as -> the name
    names = [op.name for op in block.ops]
    repeated = {n for n in names if names.count(n) > 1}
    for i, op in enumerate(block.ops):
        problem = _name_problem(block, i, seen, flat)
        if problem:
            found.append(bad("op-name", f"op name {op.name!r} {problem}", source,
                             (*where, "ops", i, "name"), "name ops like `conv1`, `norm`, "
                             "`mlp.fc1`: no leading underscore, no keyword, no name the block "
                             "already uses (x, forward, downsample, add, ...)"))  # fmt: skip
        seen.setdefault(op.name, i)
        flat.setdefault(op.name.replace(".", "_"), op.name)
        alias = op.output_name if isinstance(op, ActOp) else None
        if alias is not None:
            taken = alias in seen or alias in names or alias in flat
            if not _plain(alias) or alias in RESERVED or alias in block.params or taken:
                found.append(bad("op-name", f"`as: {alias}` cannot name op {i + 1}'s output",
                                 source, (*where, "ops", i, "as"), "use an identifier no op or "
                                 "variable of the block has"))  # fmt: skip
            seen.setdefault(alias, i)
            flat.setdefault(alias, alias)
        found += _check_inputs(op, i, seen, repeated, source, (*where, "ops", i))
    return found + _check_wiring(block, seen, repeated, source, where)


def _name_problem(block: UserBlockSpec, i: int, seen: dict[str, int], flat: dict[str, str]
                  ) -> str:  # fmt: skip
    """What is wrong with op `i`'s name, given the names before it; "" for nothing."""
    op = block.ops[i]
    name = op.name
    parts = name.split(".")
    prefixes = {".".join(parts[:k]) for k in range(1, len(parts))}
    if not _NAME.fullmatch(name) or any(keyword.iskeyword(p) for p in parts):
        return f"must be an identifier, or up to {MAX_PARTS} joined by dots (`mlp.fc1`)"
    if (
        parts[0] in RESERVED
        or parts[0] in block.params
        or any(p in RESERVED | _DICT_ATTRS for p in parts[1:])
    ):
        return "is a name the generated block already uses"
    if isinstance(op, ScaleOp) and len(parts) > 1:
        return "names a parameter of the block itself: it takes no dot"
    if name in seen:
        return (
            "" if _same_act(block, seen[name], i) else f"is already the name of op {seen[name] + 1}"
        )
    if prefixes & seen.keys() or any(o.startswith(name + ".") for o in seen):
        return "is both an op and the container of another op's name"
    if name.replace(".", "_") in flat:
        return f"reads as the same variable as {flat[name.replace('.', '_')]!r}"
    return ""


def _check_inputs(op: OpSpec, i: int, seen: dict[str, int], repeated: set[str], source: Source,
                  at: Path) -> list[Diagnostic]:  # fmt: skip
    """Op `i` reads `x` or earlier ops, and no act module that runs more than once."""
    found = []
    inputs = op.input if isinstance(op.input, list) else [op.input] if op.input else []
    for j, src in enumerate(inputs):
        if src in repeated:
            found.append(bad("op-input", f"op {op.name!r} reads {src!r}, an activation module "
                             "that runs more than once", source, (*at, "in"),
                             "give the act op a name of its own to read it"))  # fmt: skip
        elif src != "x" and seen.get(src, i) >= i:
            path = (*at, "in", j) if isinstance(op.input, list) else (*at, "in")
            found.append(bad("op-input", f"op {op.name!r} reads {src!r}, which is no earlier "
                             "op", source, path, "an op reads `x` (the block's input) or an "
                             "op above it"))  # fmt: skip
    return found


def _check_wiring(block: UserBlockSpec, seen: dict[str, int], repeated: set[str],
                  source: Source, where: Path) -> list[Diagnostic]:  # fmt: skip
    """The branch, the shortcut's sources and the closing activation name what the block has."""
    found = []
    for key, value, allowed in (("branch", block.branch, ()), ("shortcut_from",
                                block.shortcut_from, ("x",)), ("projection_from",
                                block.projection_from, ("x",))):  # fmt: skip
        unknown = value not in seen and value not in allowed
        if value is not None and (value in repeated or unknown):
            found.append(bad("op-input", f"{key} {value!r} names no op of the block (or one that "
                             "runs more than once)", source, (*where, key),
                             f"name one of: {', '.join(seen)}"))  # fmt: skip
    act = block.output_act
    acts = {op.name for op in block.ops if isinstance(op, ActOp)}
    if act is not None and act not in (*ACTIVATIONS, "none") and act not in acts:
        found.append(bad("op-input", f"output_act {act!r} is no activation and no act op",
                         source, (*where, "output_act"), f"use one of {', '.join(ACTIVATIONS)}, "
                         "none, or an act op's name"))  # fmt: skip
    return found


def _check_live(block: UserBlockSpec, source: Source, where: Path) -> list[Diagnostic]:
    """Every op feeds the branch or the shortcut: an op whose output nothing reads would be dead
    code in the generated forward."""
    reads: dict[str, list[str]] = {}
    for index, op in enumerate(block.ops):
        prev = block.ops[index - 1].name if index else "x"
        inputs = op.input if isinstance(op.input, list) else [op.input or prev]
        reads[op.name] = [*reads.get(op.name, []), *inputs]
        if isinstance(op, ActOp) and op.output_name:
            reads[op.output_name] = inputs
    live: set[str] = set()
    todo = [block.branch or block.ops[-1].name, block.shortcut_from, block.projection_from or "x"]
    while todo:
        name = todo.pop()
        if name not in live:
            live.add(name)
            todo += reads.get(name, [])
    return [
        bad(
            "dead-op",
            f"op {op.name!r} feeds nothing: neither the branch nor the shortcut reads it",
            source,
            (*where, "ops", i, "name"),
            "remove it, or read its output with `in:`",
        )
        for i, op in enumerate(block.ops)
        if op.name not in live
    ]


def _same_act(block: UserBlockSpec, first: int, other: int) -> bool:
    """Whether ops `first` and `other` are act ops of one activation: one module, run twice."""
    a, b = block.ops[first], block.ops[other]
    return isinstance(a, ActOp) and isinstance(b, ActOp) and a.act == b.act
