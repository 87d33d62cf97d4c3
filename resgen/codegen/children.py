"""A block's child modules: nodes under `name.` that one call runs (`conv1.conv`, `conv2.paths.0`).

Two kinds, both read off the nodes, so a new block kind made of them needs no code here:

- a keyed Sequential of a conv, its norm and activation (timm's ConvNormAct: `conv1.conv`,
  `conv1.bn`, `conv1.act`), written as `nn.Sequential(OrderedDict(conv=..., bn=..., act=...))`;
  a norm folded away in the deploy build leaves an nn.Identity under its name;
- a helper module the lowering named for the subtree (resgen.graph.scope.Helper: SKNet's
  `SelectiveKernel`), written as `callee(args)` with the class's argument names; its template
  writes the deploy build's version too (the selective kernel conv's norms all fold, as its
  block kinds take batch norms only).
"""

from __future__ import annotations

from collections.abc import Iterable

from resgen.codegen.calls import Call, Decl, value_of
from resgen.codegen.stem import keyed_items
from resgen.graph import ir
from resgen.graph.ir import Arg
from resgen.graph.scope import Helper
from resgen.spec.model import Spec

# Modules the block template places itself: the attention and the shortcut.
SLOTS = ("se", "downsample")


def child_of(rel: str) -> str:
    """The child module that runs a node (`conv2` for `conv2.paths.0.conv`); "" for a node of
    the block itself, a slot's, or one of a ModuleList (`convs.0`)."""
    head, _, rest = rel.partition(".")
    if not rest or head in SLOTS or rest.partition(".")[0].isdigit():
        return ""
    return head


def child_decl(
    head: str, ops: dict[str, ir.Op], names: set[str], folds: dict[str, str],
    helper: Helper | None, spec: Spec,
) -> Decl:  # fmt: skip
    """The declaration of child `head`: its helper's call, or a keyed Sequential."""
    if helper is not None:
        args = [_arg(key, value, names) for key, value, default in helper.args
                if not key or _named(value, names) or value != default]  # fmt: skip
        one = f"self.{head} = {helper.callee}({', '.join(args)})"
        return Decl(head, Call(helper.callee, tuple(args), 8 + len(one) > 100))
    members = [(rel, op) for rel, op in ops.items() if child_of(rel) == head]
    items, keys = keyed_items(head, members, names, folds, spec, 16)
    lines = [f"self.{head} = nn.Sequential(", "    OrderedDict("]
    for item, key in zip(items, keys, strict=True):
        comment = f"  # {item.comment}" if item.comment else ""
        call = item.call
        if call.exploded:
            lines += [f"        {key}={call.callee}(", *(f"            {a}," for a in call.args),
                      f"        ),{comment}"]  # fmt: skip
        else:
            lines.append(f"        {key}={call.callee}({', '.join(call.args)}),{comment}")
    return Decl(head, Call("nn.Sequential", (), False), lines=(*lines, "    )", ")"))


def keyed_children(classes: Iterable[object]) -> bool:
    """Whether some block class declares a keyed Sequential, built from an OrderedDict."""
    return any(d.call.callee == "nn.Sequential" for c in classes for d in getattr(c, "modules", ()))


def _arg(key: str, value: object, names: set[str]) -> str:
    shown = value_of(value, names) if isinstance(value, int) and not isinstance(value, bool) else (
        str(value))  # fmt: skip
    return f"{key}={shown}" if key else shown


def _named(value: object, names: set[str]) -> bool:
    """Whether a value prints as a class parameter's name."""
    return isinstance(value, Arg) and value.name in names
