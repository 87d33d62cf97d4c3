"""Check the `blocks:` section: names, inputs, expressions, and what a user block may combine with.

Every name a user writes becomes an attribute, a module path or a local variable of generated
Python, so each must be an identifier (or two joined by a dot), never a dunder or private name,
never a keyword or a name the generated class already uses. Every value is parsed by
resgen.spec.expr's allow-list here, once, so lowering and codegen only see checked trees.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator, Sequence

from resgen.diagnostics import Diagnostic, error
from resgen.spec.expr import FUNCTIONS, ExprError, parse_expr
from resgen.spec.kinds import BLOCK_TYPES
from resgen.spec.model import Spec
from resgen.spec.regnet import regnet_named
from resgen.spec.source import Path, Source
from resgen.spec.user_blocks import (
    ACTIVATIONS,
    VARIABLES,
    ActOp,
    MergeOp,
    NormOp,
    PoolOp,
    ReshapeOp,
    ScaleOp,
    UserBlockSpec,
)

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
    found += _check_uses(spec, source)
    found += _check_eps(spec, source)
    found += _check_pools(spec, source)
    found += _check_class_names(spec, source)
    return found


def _check_class_names(spec: Spec, source: Source) -> list[Diagnostic]:
    """A user block's class is one of the generated file's: its name is no other class's there."""
    if not spec.blocks:
        return []
    # Imported here: only specs that define blocks need the names of the file's other classes.
    from resgen.codegen.render import HELPERS
    from resgen.codegen.user_blocks import class_name
    from resgen.graph.blocks import BLOCK_KINDS

    kinds = {stage.block or spec.block.type for stage in spec.stages}
    taken = {kind.class_name: "a built-in block's class" for (name, preact), kind
             in BLOCK_KINDS.items() if name in kinds and preact == spec.block.preact}  # fmt: skip
    taken |= dict.fromkeys(HELPERS, "a helper class")
    taken[spec.model_class] = "the model class"
    taken[f"{spec.model_class}Deploy"] = "the deploy model class"
    found = []
    for kind in spec.blocks:
        name = class_name(spec, kind)
        if name in taken:
            path = ("blocks", kind, "class_name") if spec.blocks[kind].class_name else (
                "blocks", kind)  # fmt: skip
            found.append(_bad("block-name", f"class {name} (block {kind!r}) is already "
                              f"{taken[name]} in the generated file", source, path,
                              "give the block another `class_name`"))  # fmt: skip
        taken[name] = f"the class of block {kind!r}"
    return found


def _check_eps(spec: Spec, source: Source) -> list[Diagnostic]:
    """A batch norm's eps is the spec's: the deploy build folds every batch norm with it."""
    found = []
    for name, block in spec.blocks.items():
        for i, op in enumerate(block.ops):
            batch = isinstance(op, NormOp) and (op.kind or spec.norm.type) in _BATCH
            if batch and op.eps is not None and op.eps != spec.norm.eps:  # type: ignore[union-attr]
                hint = "set `norm.eps`, or give a group or layer norm its own eps"
                found.append(_bad("block-value", f"a batch norm's eps is the spec's norm.eps "
                                  f"({spec.norm.eps})", source, ("blocks", name, "ops", i, "eps"),
                                  hint))  # fmt: skip
    return found


_BATCH = ("batch", "frozen_batch")


def _check_pools(spec: Spec, source: Source) -> list[Diagnostic]:
    """An avg or max pool has a kernel; a blur's kernel (3) and reflect padding are fixed."""
    found = []
    for name, block in spec.blocks.items():
        for i, op in enumerate(block.ops):
            if not isinstance(op, PoolOp):
                continue
            at: Path = ("blocks", name, "ops", i)
            if op.pool != "blur" and op.kernel is None:
                found.append(_bad("block-value", f"{op.pool} pool {op.name!r} has no kernel",
                                  source, at, "give it `kernel:`, its window size"))  # fmt: skip
                continue
            wrong = [(key, what, hint) for key, what, hint, bad in (
                ("kernel", "its kernel is 3 (a fixed [1, 2, 1] binomial filter)",
                 "; for another window write `pool: avg` or `pool: max`",
                 op.kernel not in (None, 3, "3")),
                ("padding", "it pads by reflection, 1 pixel each side", "",
                 op.padding not in (0, "0")),
                ("ceil", "it has no ceil mode", "", op.ceil),
            ) if op.pool == "blur" and bad]  # fmt: skip
            for key, what, hint in wrong:
                found.append(_bad("block-value", f"blur pool {op.name!r}: {what}", source,
                                  (*at, key), f"remove `{key}`{hint}"))  # fmt: skip
    return found


def _bad(code: str, message: str, source: Source, path: Path, hint: str, *, key: bool = False
         ) -> Diagnostic:  # fmt: skip
    return error(code, message, source.locate(path, key=key), hint)


def _check_block(name: str, block: UserBlockSpec, source: Source) -> list[Diagnostic]:
    where: Path = ("blocks", name)
    found = []
    if not _plain(name) or name in BLOCK_TYPES:
        found.append(_bad("block-name", f"block name {name!r} cannot be used", source, where,
                          _PLAIN_HINT + ", and not a built-in block type", key=True))  # fmt: skip
    if block.class_name is not None and not _plain(block.class_name):
        found.append(_bad("block-name", f"class name {block.class_name!r} cannot be used",
                          source, (*where, "class_name"), _PLAIN_HINT))  # fmt: skip
    for i, op in enumerate(block.ops):
        # Skipped, a concat would pass on fewer channels than the class declares after it.
        if isinstance(op, MergeOp) and op.op == "concat" and op.when is not None:
            found.append(_bad("block-value", f"concat {op.name!r} cannot be skipped (`when`): "
                              "its channels would differ between blocks", source,
                              (*where, "ops", i, "when"), "skip an add or a mul, or the ops "
                              "that feed the concat"))  # fmt: skip
    for param in block.params:
        if not _plain(param) or param in _PARAM_RESERVED:
            found.append(_bad("param-name", f"param name {param!r} cannot be used", source,
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
                found.append(_bad("block-value", exc.message, source, path, exc.hint))
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
        found.append(_bad("block-value", f"reshape {op.name!r}: order {op.order} is no "
                          f"permutation of the positions of its {len(op.dims)} dims", source,
                          (*where, "order"), f"list each of 0 .. {len(op.dims) - 1} once, e.g. "
                          f"{list(reversed(range(len(op.dims))))}"))  # fmt: skip
    if sum(d in (-1, "-1") for d in op.dims) > 1:
        found.append(_bad("block-value", f"reshape {op.name!r}: more than one dim is -1", source,
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
    seen: dict[str, int] = {}
    flat: dict[str, str] = {}
    params = set(block.params)
    names = [op.name for op in block.ops]
    repeated = {n for n in names if names.count(n) > 1}
    for i, op in enumerate(block.ops):
        at: Path = (*where, "ops", i, "name")
        name = op.name
        parts = name.split(".")
        head = parts[0]
        problem = ""
        prefixes = {".".join(parts[:k]) for k in range(1, len(parts))}
        if not _NAME.fullmatch(name) or any(keyword.iskeyword(p) for p in parts):
            problem = f"must be an identifier, or up to {MAX_PARTS} joined by dots (`mlp.fc1`)"
        elif head in RESERVED or head in params or any(p in RESERVED | _DICT_ATTRS
                                                       for p in parts[1:]):  # fmt: skip
            problem = "is a name the generated block already uses"
        elif isinstance(op, ScaleOp) and len(parts) > 1:
            problem = "names a parameter of the block itself: it takes no dot"
        elif name in seen and not _same_act(block, seen[name], i):
            problem = f"is already the name of op {seen[name] + 1}"
        elif name not in seen and (
            prefixes & seen.keys() or any(o.startswith(name + ".") for o in seen)
        ):
            problem = "is both an op and the container of another op's name"
        elif name not in seen and name.replace(".", "_") in flat:
            problem = f"reads as the same variable as {flat[name.replace('.', '_')]!r}"
        if problem:
            found.append(_bad("op-name", f"op name {name!r} {problem}", source, at,
                              "name ops like `conv1`, `norm`, `mlp.fc1`: no leading underscore, "
                              "no keyword, no name the block already uses (x, forward, "
                              "downsample, add, ...)"))  # fmt: skip
        seen.setdefault(name, i)
        flat.setdefault(name.replace(".", "_"), name)
        alias = op.output_name if isinstance(op, ActOp) else None
        if alias is not None:
            taken = alias in seen or alias in names or alias in flat
            if not _plain(alias) or alias in RESERVED or alias in params or taken:
                found.append(_bad("op-name", f"`as: {alias}` cannot name op {i + 1}'s output",
                                  source, (*where, "ops", i, "as"), "use an identifier no op or "
                                  "variable of the block has"))  # fmt: skip
            seen.setdefault(alias, i)
            flat.setdefault(alias, alias)
        inputs = op.input if isinstance(op.input, list) else [op.input] if op.input else []
        for j, src in enumerate(inputs):
            if src in repeated:
                found.append(_bad("op-input", f"op {name!r} reads {src!r}, an activation module "
                                  "that runs more than once", source, (*where, "ops", i, "in"),
                                  "give the act op a name of its own to read it"))  # fmt: skip
            elif src != "x" and seen.get(src, i) >= i:
                path = (*where, "ops", i, "in", j) if isinstance(op.input, list) else (
                    *where, "ops", i, "in")  # fmt: skip
                found.append(_bad("op-input", f"op {name!r} reads {src!r}, which is no earlier "
                                  "op", source, path, "an op reads `x` (the block's input) or an "
                                  "op above it"))  # fmt: skip
    for key, value, allowed in (("branch", block.branch, ()), ("shortcut_from",
                                block.shortcut_from, ("x",)), ("projection_from",
                                block.projection_from, ("x",))):  # fmt: skip
        unknown = value not in seen and value not in allowed
        if value is not None and (value in repeated or unknown):
            found.append(_bad("op-input", f"{key} {value!r} names no op of the block (or one that "
                              "runs more than once)", source, (*where, key),
                              f"name one of: {', '.join(seen)}"))  # fmt: skip
    act = block.output_act
    acts = {op.name for op in block.ops if isinstance(op, ActOp)}
    if act is not None and act not in (*ACTIVATIONS, "none") and act not in acts:
        found.append(_bad("op-input", f"output_act {act!r} is no activation and no act op",
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
        _bad(
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


def _check_uses(spec: Spec, source: Source) -> list[Diagnostic]:
    """`block.params` fit the block that is used; and what user blocks do not combine with."""
    found = []
    user = spec.blocks.get(spec.block.type)
    for key in spec.block.params:
        if user is None or key not in user.params:
            known = ", ".join(user.params) if user else ""
            hint = f"its params are: {known}" if known else "params are a user block's"
            found.append(_bad("unknown-param", f"block.params: {key!r} is no param of block "
                              f"{spec.block.type!r}", source, ("block", "params", key), hint,
                              key=True))  # fmt: skip
    used = [spec.block.type, *(stage.block for stage in spec.stages if stage.block)]
    if not any(kind in spec.blocks for kind in used):
        return found

    def refuse(path: Path, what: str, hint: str) -> None:
        found.append(_bad("block-unsupported", f"user blocks do not take {what}", source, path,
                          hint, key=True))  # fmt: skip

    if spec.block.preact:
        refuse(("block", "preact"), "`preact`", "write the block's ops in pre-activation order")
    if spec.block.attention is not None:
        refuse(
            ("block", "attention"),
            "`attention`",
            "write it as an op of the block, after its "
            "last norm: `{op: attention, name: se, kind: se}` (or `kind: eca`)",
        )
    if spec.block.linear_out:
        refuse(("block", "linear_out"), "`linear_out`", "give the block `output_act: none`")
    if spec.block.reduce_first != 1:
        refuse(("block", "reduce_first"), "`reduce_first`", "compute widths in the ops' values")
    if spec.anti_alias is not None:
        found += _check_anti_alias(spec, used, source)
    if spec.layout == "timm" and not regnet_named(spec):
        refuse(("layout",), f"`layout: {spec.layout}`",
               "remove `layout`; timm's names fit a RegNet's stages (`regnet:`) only")  # fmt: skip
    if regnet_named(spec) or spec.layout == "resnetv2":  # a projection named `downsample.conv`
        # timm pools before a bare conv (ResNetV2-D, the pre-activation RegNetV); a RegNet's
        # normed projection has no average-pool form in either library.
        normed = any(spec.blocks[k].shortcut_norm for k in used if k in spec.blocks)
        pooled = spec.layout == "resnetv2" or (spec.layout == "timm" and not normed)
        for path, kind in _shortcuts(spec):
            if kind == "pad" or (kind == "avgpool_projection" and not pooled):
                net = "ResNetV2" if spec.layout == "resnetv2" else "RegNet"
                hint = (
                    "use `projection`"
                    if kind == "pad" or spec.layout == "torchvision"
                    else (
                        "use `projection`, or give the block `shortcut_norm: false` (timm's "
                        "average-pool projection is a pre-activation RegNet's: a pool, a bare conv)"
                    )
                )
                refuse(path, f"`shortcut: {kind}` in a {net}", hint)
    if regnet_named(spec) and spec.layout == "torchvision":  # its projection is `proj`
        for kind in dict.fromkeys(k for k in used if k in spec.blocks):
            for i, op in enumerate(spec.blocks[kind].ops):
                if op.name.split(".")[0] == "proj":
                    found.append(_bad(
                        "op-name",
                        f"op {op.name!r}: `proj` is the projection's name in torchvision's RegNet",
                        source, ("blocks", kind, "ops", i, "name"), "give the op another name",
                    ))  # fmt: skip
    if spec.layout == "resnetv2":  # timm's ResNetV2 projection is a bare conv
        for kind in dict.fromkeys(k for k in used if k in spec.blocks):
            if spec.blocks[kind].shortcut_norm:
                hint = "give the block `shortcut_norm: false` (timm's projection is a bare conv)"
                refuse(("blocks", kind), "a normed projection in a ResNetV2", hint)
    for i, stage in enumerate(spec.stages):
        if stage.blocks and (stage.block or spec.block.type) in spec.blocks:
            refuse(("stages", i, "blocks"), "per-block widths", "remove the stage's `blocks`")
    return found


def _check_anti_alias(spec: Spec, used: Sequence[str], source: Source) -> list[Diagnostic]:
    """`anti_alias` reaches the stem only: a user block downsamples as its ops say, so each one
    used must pool that way itself where it strides, or the network would anti-alias its stem
    and not its blocks."""
    aa = spec.anti_alias
    pool = "{op: pool, name: aa, pool: blur, stride: stride, when: strided}" if aa == "blur" else (
        "{op: pool, name: aa, pool: avg, kernel: stride, when: strided}")  # fmt: skip
    found = []
    for kind in dict.fromkeys(k for k in used if k in spec.blocks):
        if not any(isinstance(op, PoolOp) and op.pool == aa and op.when == "strided"
                   for op in spec.blocks[kind].ops):  # fmt: skip
            found.append(_bad(
                "block-unsupported",
                f"`anti_alias: {aa}` anti-aliases the stem only: block {kind!r} downsamples with "
                f"its own ops, and none is a `pool: {aa}` op `when: strided`",
                source, ("anti_alias",),
                f"write the block's pool, `{pool}`, after its strided conv's activation, the conv "
                "at stride 1; or remove `anti_alias`", key=True,
            ))  # fmt: skip
    return found


def _shortcuts(spec: Spec) -> list[tuple[Path, str]]:
    """Where each shortcut kind in use is said: the spec's, and each stage's own."""
    found: list[tuple[Path, str]] = [(("shortcut",), spec.shortcut)]
    return found + [(("stages", i, "shortcut"), s.shortcut) for i, s in enumerate(spec.stages)
                     if s.shortcut]  # fmt: skip
