"""Graph -> the model class's own modules: the stem before the stages, the norm after them.

Like block classes, they come from the nodes (trained or folded), so both builds print them
through one template: modules in node order, a Sequential for a dotted path (`conv1.3`), and
forward statements that nest ops until an activation.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from resgen.codegen.calls import Call, Decl, Statement, act_call, module_call
from resgen.graph import ir
from resgen.spec.model import Spec

_NAMES = {"in_channels"}  # the model's constructor argument that a stem conv reads


class Item(NamedTuple):
    """One module of a Sequential, on a line of its own, with a comment where it says why."""

    call: Call
    comment: str


class Sequential(NamedTuple):
    """`self.<attr> = nn.Sequential(...)`: one module per line, at its state_dict index."""

    attr: str
    items: tuple[Item, ...]
    keys: tuple[str, ...] = ()  # named modules, timm's `stem.conv`/`.bn`/`.act`; () for indexed


class Outside(NamedTuple):
    """What the model class builds and runs outside its blocks."""

    stem: tuple[Decl | Sequential, ...]  # in order; the activation module sits before the pool
    stem_statements: tuple[Statement, ...]
    final_norm: Call | None  # the pre-activation nets' closing norm
    final_statements: tuple[Statement, ...]  # `x = self.relu(self.bn_final(x))`, before the pool
    stem_conv: str  # path of the first conv, whose weight tells the input channels
    final_modules: tuple[Sequential, ...] = ()  # the head's 1x1 conv, norm, act (`final_conv`)
    final_norm_attr: str = "bn_final"  # timm's ResNetV2: `norm`


def build_outside(graph: ir.Graph, spec: Spec) -> Outside:
    act_attr = "relu" if spec.act == "relu" else "act"
    stem_nodes, head_nodes = _outside(graph)
    pool = next(i for i, (_, d) in enumerate(head_nodes) if isinstance(d.op, ir.GlobalPool))
    pre_pool = head_nodes[:pool]
    stem_statements, stem_acts = _statements(graph, stem_nodes, act_attr)
    final, final_acts = _statements(graph, pre_pool, act_attr)
    uses_act = bool(stem_acts or final_acts)
    folds: dict[str, str] = graph.graph.get("folds", {})
    decls: list[Decl | Sequential] = []
    pools: list[Decl | Sequential] = []
    for attr in dict.fromkeys(_module(n) for n, d in stem_nodes if not isinstance(d.op, ir.Act)):
        members = [(n, d.op) for n, d in stem_nodes if _module(n) == attr]
        # The stem's pool (whatever it is, timm calls it `maxpool`) comes after its activation.
        where = pools if attr == "maxpool" else decls
        if "." in members[0][0] and not members[0][0].split(".")[1].isdigit():
            where.append(Sequential(attr, *keyed_items(attr, members, _NAMES, folds, spec, 16)))
        elif "." in members[0][0]:
            where.append(Sequential(attr, _sequential(attr, members, folds, spec)))
        else:
            where.append(Decl(attr, _call(members[0][1], attr)))
    if uses_act:  # declared where torchvision declares it: after the stem's norm
        decls.append(Decl(act_attr, act_call(spec)))
    decls += pools
    norm_node = next((n for n, d in pre_pool
                      if isinstance(d.op, (ir.Norm, ir.Affine)) and "." not in n), "")  # fmt: skip
    norm = ir.op(graph, norm_node) if norm_node else None
    first_conv = next(n for n, d in stem_nodes if isinstance(d.op, ir.Conv))
    return Outside(
        stem=tuple(decls),
        stem_statements=tuple(stem_statements),
        final_norm=module_call(norm, _NAMES, first=False, indent=8) if norm else None,
        final_statements=tuple(final),
        stem_conv=first_conv,
        final_modules=_final_modules(pre_pool, folds, spec),
        final_norm_attr=norm_node or "bn_final",
    )


def _final_modules(
    nodes: list[tuple[str, ir.Node]], folds: dict[str, str], spec: Spec
) -> tuple[Sequential, ...]:
    """The head's Sequentials before the pool: timm's `final_conv` (conv, bn, act), or indexed."""
    members = [(n, d.op) for n, d in nodes if n.startswith("final_conv.")]
    if not members:
        return ()
    if members[0][0].endswith(".conv"):
        return (Sequential("final_conv", *keyed_items("final_conv", members, _NAMES, folds,
                                                      spec, 16)),)  # fmt: skip
    return (Sequential("final_conv", _sequential("final_conv", members, folds, spec)),)


def _outside(graph: ir.Graph) -> tuple[list[tuple[str, ir.Node]], list[tuple[str, ir.Node]]]:
    """The stem's nodes (the input left out) and the head's: before and after the stages."""
    order = list(graph)  # graph order is network order; a list of ids is cheap to search
    stages = ir.stages_of(graph)
    first, last = order.index(stages[0].blocks[0].input), order.index(stages[-1].output)
    stem = [(n, ir.node(graph, n)) for n in order[1 : first + 1]]
    return stem, [(n, ir.node(graph, n)) for n in order[last + 1 :]]


def _module(node: str) -> str:
    """The model attribute that runs a node: `conv1` for `conv1.3`, `relu` for `relu#final`."""
    return node.split("#")[0].split(".")[0]


def _call(op: ir.Op, attr: str) -> Call:
    fused = op.fused if isinstance(op, ir.Conv) else ""
    return module_call(op, _NAMES, first=False, indent=8, attr=attr, fused=fused)


def _sequential(
    attr: str,
    members: list[tuple[str, ir.Op]],
    folds: dict[str, str],
    spec: Spec,
) -> tuple[Item, ...]:
    """A Sequential's lines; module `attr.k` sits at index k, as in the trained module.

    A norm folded away (or a spec without norms) leaves an nn.Identity placeholder there.
    """
    items: dict[int, Item] = {}
    for node, op in members:
        index = int(node.split(".")[1])
        call = (
            act_call(spec)
            if isinstance(op, ir.Act)
            else module_call(op, _NAMES, first=False, indent=12)
        )
        items[index] = Item(call._replace(exploded=False), "")
    identity = Call("nn.Identity", (), False)
    for norm, conv in folds.items():
        if norm.startswith(attr + "."):
            items[int(norm.split(".")[1])] = Item(identity, f"{norm}: folded into {conv}")
    return tuple(items.get(i, Item(identity, "")) for i in range(max(items) + 1))


def keyed_items(
    prefix: str, members: list[tuple[str, ir.Op]], names: set[str], folds: dict[str, str],
    spec: Spec, indent: int,
) -> tuple[tuple[Item, ...], tuple[str, ...]]:  # fmt: skip
    """A keyed Sequential's modules and names (`conv`, `bn`, `act`), in order; a norm folded
    away leaves an nn.Identity under its name, right after its conv."""
    items: list[Item] = []
    keys: list[str] = []
    for node, op in members:
        head, _, key = node.rpartition(".")
        if head != prefix:
            continue
        if isinstance(op, ir.Act):
            call = act_call(spec)
        elif isinstance(op, ir.Pool) and op.zero_pad:  # BiT: zeros, then a max-pool (`pad`)
            items.append(Item(Call("nn.ConstantPad2d", (str(op.padding), "0.0"), False), ""))
            keys.append("pad")
            unpadded = dataclasses.replace(op, padding=0, zero_pad=False)
            call = module_call(unpadded, names, first=False, indent=indent)
        else:
            call = module_call(op, names, first=False, indent=indent + len(key) + 1)
        items.append(Item(call, ""))
        keys.append(key)
        folded = [norm for norm, conv in folds.items() if conv == node]
        for norm in folded:
            into = node.rpartition(".")[2]
            items.append(Item(Call("nn.Identity", (), False), f"folded into {into}"))
            keys.append(norm.rpartition(".")[2])
    return tuple(items), tuple(keys)


def _statements(
    graph: ir.Graph, nodes: list[tuple[str, ir.Node]], act_attr: str
) -> tuple[list[Statement], list[str]]:
    """Forward statements over `x`, nesting ops until an activation; and the acts still used."""
    out: list[Statement] = []
    acts: list[str] = []
    pending = ""
    swallowed: set[str] = set()
    entered: set[str] = set()
    for node, data in nodes:
        attr = _module(node)
        if node in swallowed or ("." in node.split("#")[0] and attr in entered):
            continue  # a Sequential runs as one call, entered at its first module
        entered.add(attr)
        inner = pending or "x"
        op = data.op
        if isinstance(op, ir.Conv) and op.fused == "relu" and "." not in node:
            swallowed.update(graph.successors(node))
            out.append(Statement("x", f"self.{attr}({inner})", "conv and ReLU"))
            pending = ""
        elif isinstance(op, ir.Act):
            acts.append(node)
            out.append(Statement("x", f"self.{act_attr}({inner})", ""))
            pending = ""
        elif isinstance(op, ir.Pool):
            if pending:
                out.append(Statement("x", pending, ""))
            out.append(Statement("x", f"self.{attr}(x)", ""))
            pending = ""
        else:
            pending = f"self.{attr}({inner})"
    if pending:
        out.append(Statement("x", pending, ""))
    return out, acts
