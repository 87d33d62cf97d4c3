"""The text of a user block's lines: fitting a call into 100 columns as ruff formats it, and
the checked expression trees as they read in `forward`."""

from __future__ import annotations

from resgen.spec import expr as ex


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
