"""The text of a user block's lines: its statements and declarations, nesting and fitting
calls into 100 columns as ruff formats them, and the checked expression trees as they read in
`forward`."""

from __future__ import annotations

from typing import NamedTuple

from resgen.codegen.calls import ACTIVATIONS
from resgen.spec import expr as ex


class Var(NamedTuple):
    """An op's value in forward: the variable holding it and its channels as an expression."""

    name: str
    channels: ex.Expr


class Stmt(NamedTuple):
    var: str
    text: str
    depth: int  # module calls nested in `text`
    ends: bool  # an activation: the statement ends here (torchvision's conv, norm, act lines)


class Decl(NamedTuple):
    target: str
    callee: str
    args: tuple[str, ...]
    exploded: bool


def nest(stmts: list[Stmt]) -> list[str]:
    """The forward lines: a module call reading `out` nests the one before it, up to three
    calls deep and never past an activation (`self.relu(self.bn1(self.conv1(x)))`)."""
    lines: list[Stmt] = []
    for stmt in stmts:
        before = lines[-1] if lines else None
        inner = stmt.text.endswith("(out)") and stmt.depth == 1
        if (before is not None and inner and before.var == "out" and before.depth
                and not before.ends and before.depth + 1 <= 3):  # fmt: skip
            text = stmt.text[: -len("(out)")] + f"({before.text})"
            if 8 + len(f"{stmt.var} = {text}") <= LIMIT:
                lines[-1] = Stmt(stmt.var, text, before.depth + 1, stmt.ends)
                continue
        lines.append(stmt)
    return [f"{s.var} = {s.text}" for s in lines]


def module_of(node: str) -> str:
    """The module a node runs: its id without the `#n` of a repeated use."""
    return node.split("#")[0]


def act_call(act: str, *, inplace: bool) -> tuple[str, tuple[str, ...]]:
    if act == "sigmoid":
        return "nn.Sigmoid", ()
    callee, args = ACTIVATIONS[act]
    if not inplace:
        args = tuple(a for a in args if a != "inplace=True")
    return callee, args


def fit(line: str, indent: int) -> tuple[str, ...]:
    """A `target = callee(args)` line as ruff formats it: on one line if it fits in 100
    columns, else its arguments on the next line, else one argument per line."""
    if indent + len(line) <= LIMIT or not line.endswith(")") or "(" not in line:
        return (line,)
    head, _, rest = line.partition("(")
    if indent + 4 + len(rest) - 1 <= LIMIT:
        return (f"{head}(", f"    {rest[:-1]}", ")")
    return (f"{head}(", *(f"    {a}," for a in _split_args(rest[:-1])), ")")


LIMIT = 100
EXPLODE = 88  # a declaration longer than this is written one argument per line (calls.LINE)


def _split_args(text: str) -> list[str]:
    """Split call arguments at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def attributes(tree: ex.Expr) -> ex.Expr:
    """The expression with each variable read as an attribute of the block (`self.width`)."""
    match tree:
        case ex.Var(name):
            return ex.Var(f"self.{name}")
        case ex.Neg(operand):
            return ex.Neg(attributes(operand))
        case ex.BinOp(op, left, right):
            return ex.BinOp(op, attributes(left), attributes(right))
        case ex.FnCall(name, args):
            return ex.FnCall(name, tuple(attributes(a) for a in args))
    return tree


def walk(tree: ex.Expr) -> list[ex.Expr]:
    match tree:
        case ex.Neg(operand):
            return [tree, *walk(operand)]
        case ex.BinOp(_, left, right):
            return [tree, *walk(left), *walk(right)]
        case ex.FnCall(_, args):
            return [tree, *(t for a in args for t in walk(a))]
    return [tree]
