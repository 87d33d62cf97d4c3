"""User blocks -> block classes: `__init__` declares each op under the user's name, `forward` runs
them op by op.

The values come from the block's checked expressions (resgen.spec.expr prints them back as Python
from the checked tree only, so nothing a user writes reaches the file as code); which modules
exist and what they became (a norm folded into its conv, a batch norm turned `Affine`) comes from
the graph, the trained one or the deploy build's folded one. A dotted name (`mlp.fc1`) is an entry
of an `nn.ModuleDict` container, so the state_dict keys are the names as written.
"""

from __future__ import annotations

import textwrap
from typing import NamedTuple

from resgen.codegen.blocks import Param
from resgen.codegen.calls import Call, module_call
from resgen.codegen.shortcuts import opens_dilated_stage, shortcut_fields, takes_dilated
from resgen.codegen.user_lines import Decl, fit, nest
from resgen.codegen.user_writer import Writer
from resgen.codegen.walk import MODULES
from resgen.diagnostics import ResgenError, error
from resgen.graph import ir
from resgen.graph.user_blocks import block_env
from resgen.spec.model import Spec
from resgen.spec.naming import class_name_for
from resgen.spec.regnet import regnet_named
from resgen.spec.user_blocks import UserBlockSpec
from resgen.spec.user_ops import MergeOp, PoolOp

_WIDTHS = ("in_channels", "mid_channels", "out_channels")
_INTS = ("stride", "groups", "dilation", "first_dilation")  # keyword parameters, default 1


class UserBlockClass(NamedTuple):
    """One user block class to emit: every line precomputed."""

    name: str
    template: str  # "user": templates/blocks/user.py.jinja
    doc: str
    widths: tuple[str, ...]
    params: tuple[Param, ...]
    init_lines: tuple[str, ...]
    forward_lines: tuple[str, ...]
    identity_first: bool  # `identity = x` opens forward
    shortcut_comment: str  # which value each shortcut reads, when they differ; or ""
    tail_lines: tuple[str, ...]  # the shortcut, the add and the return
    helpers: tuple[str, ...]  # helper classes and functions it calls
    arg_values: tuple[str, ...]  # the variables block_call passes, in signature order
    drop_path: bool
    zero_init: str
    zero_param: str
    # The downsample module, as resgen.codegen.shortcuts gives it to the shortcut templates.
    shortcut: str
    shortcut_items: tuple[Call, ...]
    lone_shortcut_item: bool
    wide_conv: Call | None
    wide_comment: str
    wide_guard: str
    opens_dilated: bool
    stride_comment: bool
    stride_conv: str
    residual_flag: bool
    shortcut_attr: str = "downsample"  # torchvision's RegNet calls its projection `proj`
    named_shortcut: bool = False  # a layout's projection (templates/shortcuts/named_projection)
    shortcut_keys: tuple[str, ...] = ()  # the projection's module names, when it has them
    shortcut_first: bool = False  # declared before the ops (timm's ResNetV2, torchvision's RegNet)
    bare_shortcut: bool = False  # the projection is the conv itself (timm's PreBottleneck)
    pooled_shortcut: bool = False  # a keyed `pool` first, where the block strides (ResNetV2-D)


def class_name(spec: Spec, kind: str) -> str:
    """The generated class of user block `kind`: its `class_name`, else from its name."""
    return spec.blocks[kind].class_name or class_name_for(kind)


def user_block_classes(graph: ir.Graph, spec: Spec, *, deploy: bool) -> tuple[UserBlockClass, ...]:
    """A class for every user block the graph uses, in the order `blocks:` defines them."""
    by_kind: dict[str, list[ir.Block]] = {}
    for block in ir.blocks_of(graph):
        if block.user:
            by_kind.setdefault(block.type, []).append(block)
    return tuple(_user_class(graph, spec, kind, by_kind[kind], deploy=deploy)
                 for kind in spec.blocks if kind in by_kind)  # fmt: skip


def _user_class(
    graph: ir.Graph, spec: Spec, kind: str, blocks: list[ir.Block], *, deploy: bool
) -> UserBlockClass:
    user = spec.blocks[kind]
    writer = _written(graph, spec, user, blocks, deploy=deploy)
    rep, downsample = writer.rep, writer.projects
    widths, params = _signature(graph, spec, user, blocks, writer)
    residual_flag, drop_path, dilated = (any(p.name == n for p in params)
                                         for n in ("residual", "drop_path", "dilated"))  # fmt: skip
    names = set(widths) | {p.name for p in params}
    shortcut = shortcut_fields(graph, blocks, names, _Vars({rep.input: "x"}))  # type: ignore[arg-type]
    attr, keys, calls = _named_shortcut(graph, spec, blocks, names)
    projection = _projection_attr(spec)
    if attr:
        shortcut["shortcut_items"] = calls
    pooled = any(b.shortcut is ir.ShortcutKind.AVGPOOL_PROJECTION for b in blocks if b.downsample)
    zero = zero_target(writer)
    if not zero:
        message = f"block {kind!r} has no conv, norm or scale for zero_init_residual to zero"
        hint = "give the block a conv or a norm"
        raise ResgenError([error("not-generated", message, rep.loc, hint=hint)])
    return UserBlockClass(
        name=class_name(spec, kind),
        template="user",
        doc=_docstring(user.description, kind),
        widths=widths,
        params=tuple(params),
        init_lines=tuple(writer.init_lines()),
        forward_lines=tuple(x for line in nest(writer.stmts) for x in fit(line, 8)),
        identity_first=user.shortcut_from == "x" and any(b.add for b in blocks),
        shortcut_comment=_shortcut_comment(writer, user, downsample),
        tail_lines=_tail(writer, user, blocks, residual_flag, drop_path=drop_path, attr=projection),
        helpers=tuple(sorted(writer.helpers)),
        arg_values=tuple(p.name for p in params),
        drop_path=drop_path,
        zero_init=zero if "." not in zero and zero not in writer.scales else "",
        zero_param=zero if "." in zero or zero in writer.scales else "",
        shortcut=shortcut["shortcut"],
        shortcut_items=shortcut["shortcut_items"],
        lone_shortcut_item=shortcut["lone_shortcut_item"],
        wide_conv=shortcut["wide_conv"],
        wide_comment=shortcut["wide_comment"],
        wide_guard=shortcut["wide_guard"],
        opens_dilated=dilated,
        stride_comment=bool(writer.strided) and not deploy,
        stride_conv=writer.strided.split(".")[0],  # a container holds the strided conv
        residual_flag=residual_flag,
        shortcut_attr=projection,
        named_shortcut=bool(attr),
        shortcut_keys=keys,
        shortcut_first=spec.layout == "resnetv2" or projection == "proj",
        bare_shortcut=_bare_projection(graph, blocks, attr),
        pooled_shortcut=bool(keys) and pooled,
    )


def _written(
    graph: ir.Graph, spec: Spec, user: UserBlockSpec, blocks: list[ir.Block], *, deploy: bool
) -> Writer:
    """The class's lines, written from one instance: the first in which every op runs (a pool
    `when: strided` is an identity in the others), so each module is declared."""
    sometimes = [op.name for op in user.ops if isinstance(op, (PoolOp, MergeOp)) and op.when]
    rep = next((b for b in blocks if all(f"{b.path}.{n}" in graph for n in sometimes)), blocks[0])
    envs = [block_env(spec, b) for b in blocks]
    # groups and dilations at 1 in every instance are written as 1 (and usually left out), as
    # the built-in classes take such arguments only where some instance sets them.
    fixed = {n: 1 for n in _INTS[1:] if all(env[n] == 1 for env in envs)}
    writer = Writer(graph, spec, user, rep, fixed)
    writer.fused = _agreed_fusions(graph, blocks) if deploy else {}
    writer.projects = any(b.downsample for b in blocks)
    writer.write()
    return writer


def _signature(
    graph: ir.Graph, spec: Spec, user: UserBlockSpec, blocks: list[ir.Block], writer: Writer
) -> tuple[tuple[str, ...], list[Param]]:
    """The constructor's widths and keyword parameters: those the lines read, and the flags some
    instances set (downsample, dilated, residual, drop_path), as the built-in classes take them."""
    downsample = writer.projects
    used = writer.used | ({"in_channels", "out_channels", "stride"} if downsample else set())
    widths = tuple(w for w in _WIDTHS if w in used)
    params = [Param(n, "int", "1") for n in _INTS if n in used]
    first = block_env(spec, blocks[0])
    params += [Param(n, "int", str(first[n])) for n in user.params if n in used]
    flags = {"downsample": downsample, "dilated": takes_dilated(graph, blocks)}
    params += [Param(n, "bool", "False") for n, on in flags.items() if on]
    if len({b.add is None for b in blocks}) == 2:  # some instances add, others not
        params.append(Param("residual", "bool", "True"))
    if any(b.drop_path > 0 for b in blocks):  # the first block's rate is 0
        params.append(Param("drop_path", "float", "0.0"))
        writer.late.append(Decl("self.drop_path", "DropPath", ("drop_path",), exploded=False))
    return widths, params


def _agreed_fusions(graph: ir.Graph, blocks: list[ir.Block]) -> dict[str, str]:
    """The convs (by op name) that every instance fuses alike in the deploy build: with the ReLU
    after them ("relu"), or with the add and the closing ReLU ("add_relu"). A ReLU that closes a
    block without an add stays a module: the tail calls it."""
    agreed: dict[str, str] | None = None
    for block in blocks:
        mine = {}
        for node in block.nodes:
            op = ir.op(graph, node)
            if isinstance(op, ir.Conv) and op.fused:
                (after,) = graph.successors(node)
                closing = op.fused == "relu" and after == block.output
                mine[node[len(block.path) + 1 :]] = "" if closing else op.fused
        agreed = mine if agreed is None else {k: v for k, v in agreed.items() if mine.get(k) == v}
    return {k: v for k, v in (agreed or {}).items() if v}


def _named_shortcut(
    graph: ir.Graph, spec: Spec, blocks: list[ir.Block], names: set[str]
) -> tuple[str, tuple[str, ...], tuple[Call, ...]]:
    """A projection named as a layout names it: its attribute (torchvision's RegNet `proj`,
    else `downsample`), its modules' keys (timm's `conv`, `bn`; () where they are numbered) and
    calls; ("", (), ()) for the built-in blocks' `downsample.0`, which shortcut_fields gives."""
    attr = _projection_attr(spec)
    block = next((b for b in blocks if b.downsample), None)
    if block is None:
        return "", (), ()
    if _bare_projection(graph, blocks, attr):
        conv = ir.op(graph, f"{block.path}.{attr}")
        return attr, (), (module_call(conv, names, first=False, indent=12),)
    prefix = f"{block.path}.{attr}."
    members = [(node.removeprefix(prefix), ir.op(graph, node)) for node in block.nodes
               if node.startswith(prefix) and isinstance(ir.op(graph, node), MODULES)]  # fmt: skip
    if not members or (attr == "downsample" and members[0][0].isdigit()):
        return "", (), ()
    if members[0][0].isdigit():
        return attr, (), tuple(module_call(op, names, first=False, indent=16) for _, op in members)
    keys = tuple(key for key, _ in members)
    calls = tuple(module_call(op, names, first=False, indent=20 + len(key) + 1)
                  for key, op in members)  # fmt: skip
    return attr, keys, calls


def unkeyed_projection(blocks: tuple[ir.Block, ...]) -> bool:
    """Whether user blocks in timm's RegNet project as its PreBottleneck does, with the conv
    itself (`downsample`) or a numbered pool and conv (`downsample.0`, `.1`): no keyed
    Sequential (`downsample.conv`) holds it."""
    projecting = [b for b in blocks if b.user and b.downsample]
    return any(f"{b.path}.downsample.conv" not in b.nodes for b in projecting)


def _bare_projection(graph: ir.Graph, blocks: list[ir.Block], attr: str) -> bool:
    """Whether the projection is the conv itself (timm's PreBottleneck `downsample`), no
    Sequential around it."""
    block = next((b for b in blocks if b.downsample), None)
    node = f"{block.path}.{attr}" if block else ""
    return block is not None and node in block.nodes and isinstance(ir.op(graph, node), ir.Conv)


def _projection_attr(spec: Spec) -> str:
    return "proj" if regnet_named(spec) and spec.layout == "torchvision" else "downsample"


def zero_target(writer: Writer) -> str:
    """The conv, norm or scale nearest the branch's end on its main path (its first inputs:
    the features a gate multiplies, not the gate), which zero_init_residual zeroes; else the
    last one declared."""
    names = {writer.node(i): op.name for i, op in zip(writer.ids, writer.user.ops, strict=True)}
    end = writer.rep.add or writer.rep.output
    node = ir.inputs_of(writer.graph, end)[ir.RESIDUAL_PORT] if writer.rep.add else end
    last = writer.weighted[-1] if writer.weighted else ""
    while node != writer.rep.input:  # through the drop-path and the ops
        if names.get(node) in writer.weighted:
            last = names[node]
            break
        node = ir.inputs_of(writer.graph, node)[0]
    if not last or last in writer.scales:
        return last
    return f"{last}.weight" if "." in last else last


class _Vars(NamedTuple):
    var: dict[str, str]  # what resgen.codegen.shortcuts reads of a Walk


def _tail(
    writer: Writer,
    user: UserBlockSpec,
    blocks: list[ir.Block],
    residual_flag: bool,
    *,
    drop_path: bool,
    attr: str,
) -> tuple[str, ...]:
    """The drop-path, the shortcut (the projection is `self.<attr>`), the add and the return."""
    branch = writer.var_of(user.branch or user.ops[-1].name)
    lines = []
    if drop_path:
        lines.append(f"out = self.drop_path({branch})")
        branch = "out"
    closing = f"{writer.closing}(out)" if writer.closing else "out"
    if not any(b.add for b in blocks):
        lines += [f"out = {branch}"] if branch != "out" else []
        return (*lines, f"return {closing}")
    source = writer.var_of(user.shortcut_from)
    lines += [] if user.shortcut_from == "x" else [f"identity = {source}"]
    if any(b.downsample for b in blocks):
        projected = writer.var_of(user.projection_from or user.shortcut_from)
        lines += [f"if self.{attr} is not None:", f"    identity = self.{attr}({projected})"]
    if writer.fused_tail:  # the deploy build's last conv runs the add and the ReLU
        call, comment = writer.fused_tail
        return (*lines, f"return {call}  # {comment}")
    # In place, as torchvision adds, unless the branch ends in an activation, whose backward
    # may need its output (a ReLU in place, a sigmoid).
    add = "out += identity" if branch == "out" and not writer.ends_in_act else (
        f"out = {branch} + identity")  # fmt: skip
    if residual_flag:
        lines += ["if self.residual:", f"    {add}"]
        if branch != "out":
            lines += ["else:", f"    out = {branch}"]
    else:
        lines.append(add)
    return (*lines, f"return {closing}")


def _shortcut_comment(writer: Writer, user: UserBlockSpec, downsample: bool) -> str:
    if not downsample or user.projection_from in (None, user.shortcut_from):
        return ""
    projected = writer.var_of(user.projection_from or "x")
    return (
        f"A projection shortcut sees {projected}; an identity one sees "
        f"{writer.var_of(user.shortcut_from)} itself."
    )


def user_block_call(
    graph: ir.Graph, spec: Spec, block: ir.Block, cls: UserBlockClass, *, rate: str = "rates[i]"
) -> str:
    """The expression that builds one user block: `ConvNeXtBlock(64, 128, stride=2, ...)`."""
    env = block_env(spec, block)
    args = [str(env[w]) for w in cls.widths]
    for name in _INTS:
        if name in cls.arg_values and env[name] != 1:
            args.append(f"{name}={env[name]}")
    if block.downsample:
        args.append("downsample=True")
    if "dilated" in cls.arg_values and opens_dilated_stage(graph, block):
        args.append("dilated=True")
    if cls.residual_flag and block.add is None:
        args.append("residual=False")
    if cls.drop_path:
        args.append(f"drop_path={rate}")
    return f"{cls.name}({', '.join(args)})"


def _docstring(description: str | None, kind: str) -> str:
    """A class docstring's text, wrapped to fit 100 columns between its quotes at indent 4.

    Wrapped first, then each line escaped (as the module docstring): wrapping escaped text could
    split an escape across lines. Wrapping also turns any line break in the text into a space.
    """
    from resgen.codegen.render import docstring_safe  # render imports this module

    lines = textwrap.wrap(description or "", 88) or [f"The `{kind}` block, as the spec defines it."]
    return "\n    ".join(docstring_safe(line) for line in lines)
