"""The tiny arithmetic language of user blocks: `4 * out_channels`, `max(8, mid_channels // 4)`.

Integers, `+ - * //`, unary minus, parentheses, `min(...)`, `max(...)`, `make_divisible(v, d)`
(timm's rounding to a multiple of `d`, never more than 10% below `v`) and `log2(v)` (the floor of
the base-2 log of a positive `v`: ECA's kernel grows with it), over names the caller allows. Text
is parsed with `ast.parse` and every node is checked against an allow-list, then copied into a
small tree of our own; nothing is ever compiled or evaluated by Python. The same tree prints back
as Python source for the generated file, built from the checked parts only.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_TEXT = 200  # characters of one expression
MAX_VALUE = 1 << 40  # an intermediate result past this is a mistake, not a width

FUNCTIONS: dict[str, tuple[int, int]] = {  # name -> (least, most) arguments
    "min": (2, 8),
    "max": (2, 8),
    "make_divisible": (2, 2),
    "log2": (1, 1),
}


class ExprError(ValueError):
    """A value that is not an expression of the language, or that cannot be evaluated."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Num:
    value: int


@dataclass(frozen=True, slots=True)
class Var:
    name: str


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str  # "+" | "-" | "*" | "//"
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class FnCall:
    name: str  # one of FUNCTIONS
    args: tuple[Expr, ...]


Expr = Num | Var | Neg | BinOp | FnCall

_OPS: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//"}
_LANGUAGE = (
    "a value is an integer or an expression of integers, the block's variables, + - * //, "
    "parentheses, min(a, b), max(a, b), make_divisible(v, d) and log2(v)"
)


def parse_expr(text: object, names: frozenset[str]) -> Expr:
    """Parse an int or expression text into a checked tree; raise ExprError otherwise."""
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise ExprError(f"expected an integer or an expression, got {text!r}", _LANGUAGE)
    if isinstance(text, int):
        return Num(text)
    if len(text) > MAX_TEXT:
        raise ExprError(f"expression longer than {MAX_TEXT} characters", _LANGUAGE)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExprError(f"`{_short(text)}` is not an expression", _LANGUAGE) from None
    return _convert(tree.body, names, text)


def _convert(node: ast.AST, names: frozenset[str], text: str) -> Expr:
    """Copy an allowed ast node into our tree; anything else is refused by name."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int):
            kind = type(node.value).__name__
            raise ExprError(f"`{_short(text)}`: only integers are allowed, not a {kind}", _LANGUAGE)
        return Num(node.value)
    if isinstance(node, ast.Name):
        return Var(_known(node.id, names, text))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return Neg(_convert(node.operand, names, text))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left = _convert(node.left, names, text)
        return BinOp(_OPS[type(node.op)], left, _convert(node.right, names, text))
    if isinstance(node, ast.Call):
        return _call(node, names, text)
    what = _WHAT.get(type(node), type(node).__name__)
    if isinstance(node, ast.BinOp):
        what = f"the operator {type(node.op).__name__}"
    raise ExprError(f"`{_short(text)}`: {what} is not allowed", _LANGUAGE)


def _call(node: ast.Call, names: frozenset[str], text: str) -> Expr:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        called = ast.unparse(node.func)  # the callee as written: text, never evaluated
        raise ExprError(
            f"`{_short(text)}`: calling {_short(called)} is not allowed",
            "the functions are min, max, make_divisible and log2",
        )
    if node.keywords:
        raise ExprError(f"`{_short(text)}`: keyword arguments are not allowed", _LANGUAGE)
    least, most = FUNCTIONS[node.func.id]
    if not least <= len(node.args) <= most:
        raise ExprError(
            f"`{_short(text)}`: {node.func.id} takes {least} to {most} arguments",
            "make_divisible(v, d) takes two, log2(v) one; min and max two or more",
        )
    return FnCall(node.func.id, tuple(_convert(a, names, text) for a in node.args))


def _known(name: str, names: frozenset[str], text: str) -> str:
    if name.startswith("_") or name not in names:
        known = ", ".join(sorted(names))
        raise ExprError(
            f"`{_short(text)}`: unknown name {_short(name)!r}", f"the names are {known}"
        )
    return name


_WHAT: dict[type, str] = {
    ast.Attribute: "an attribute (`a.b`)",
    ast.Subscript: "a subscript (`a[b]`)",
    ast.Lambda: "a lambda",
    ast.Starred: "a starred argument",
    ast.JoinedStr: "an f-string",
    ast.Compare: "a comparison",
    ast.BoolOp: "a boolean operator",
    ast.IfExp: "a conditional",
    ast.Tuple: "a tuple",
    ast.List: "a list",
    ast.Dict: "a dict",
    ast.NamedExpr: "an assignment",
}


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def evaluate(expr: Expr, env: Mapping[str, int]) -> int:
    """The value of a checked expression, with each name's value from `env`."""
    match expr:
        case Num(value):
            return _bounded(value)
        case Var(name):
            return env[name]
        case Neg(operand):
            return -evaluate(operand, env)
        case BinOp(op, left, right):
            a, b = evaluate(left, env), evaluate(right, env)
            if op == "//" and b == 0:
                raise ExprError("division by zero", "check the divisor's value for every block")
            return _bounded(_ARITH[op](a, b))
        case FnCall(name, args):
            values = [evaluate(a, env) for a in args]
            if name == "make_divisible":
                return make_divisible(*values)
            if name == "log2":
                return log2(*values)
            return min(values) if name == "min" else max(values)
    raise AssertionError(expr)  # pragma: no cover


_ARITH: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "//": lambda a, b: a // b,
}


def _bounded(value: int) -> int:
    if abs(value) > MAX_VALUE:
        raise ExprError(f"a value of {value:,} is too large", "values are at most 2**40")
    return value


def make_divisible(value: int, divisor: int) -> int:
    """timm's make_divisible: the nearest multiple of `divisor`, at least `divisor`, and never
    more than 10% below `value`."""
    if divisor <= 0:
        raise ExprError(
            "make_divisible: the divisor must be at least 1", "use make_divisible(v, 8)"
        )
    rounded = max(divisor, (value + divisor // 2) // divisor * divisor)
    if 10 * rounded < 9 * value:
        rounded += divisor
    return rounded


def log2(value: int) -> int:
    """The floor of the base-2 log of a positive integer, exactly (no float rounding)."""
    if value <= 0:
        raise ExprError(f"log2 of {value}: its argument must be at least 1", "use log2(channels)")
    return value.bit_length() - 1


def names_in(expr: Expr) -> set[str]:
    """Every variable an expression reads."""
    match expr:
        case Var(name):
            return {name}
        case Neg(operand):
            return names_in(operand)
        case BinOp(_, left, right):
            return names_in(left) | names_in(right)
        case FnCall(_, args):
            return set().union(*(names_in(a) for a in args))
    return set()


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "//": 2}


def to_python(expr: Expr, parent: int = 0, right: bool = False) -> str:
    """Python source for a checked expression, as ruff formats it (minimal parentheses)."""
    match expr:
        case Num(value):
            text = str(value)
            return f"({text})" if value < 0 and parent else text
        case Var(name):
            return name
        case Neg(operand):
            text = "-" + to_python(operand, 3)
            return f"({text})" if parent >= 3 else text
        case BinOp(op, left, r):
            level = _PRECEDENCE[op]
            text = f"{to_python(left, level)} {op} {to_python(r, level, right=True)}"
            wrap = level < parent or (level == parent and right)
            return f"({text})" if wrap else text
        case FnCall(name, args):
            return f"{name}({', '.join(to_python(a) for a in args)})"
    raise AssertionError(expr)  # pragma: no cover


def replace_names(expr: Expr, by: Mapping[str, Expr]) -> Expr:
    """The expression with each name in `by` replaced by its expression (no folding)."""
    match expr:
        case Var(name) if name in by:
            return by[name]
        case Neg(operand):
            return Neg(replace_names(operand, by))
        case BinOp(op, left, right):
            return BinOp(op, replace_names(left, by), replace_names(right, by))
        case FnCall(name, args):
            return FnCall(name, tuple(replace_names(a, by) for a in args))
    return expr


def substitute(expr: Expr, fixed: Mapping[str, int]) -> Expr:
    """The expression with the names in `fixed` replaced by their values, and every subtree
    without names folded to its value (one that cannot be evaluated is kept as written)."""
    match expr:
        case Var(name) if name in fixed:
            return Num(fixed[name])
        case Neg(operand):
            out: Expr = Neg(substitute(operand, fixed))
        case BinOp(op, left, right):
            out = BinOp(op, substitute(left, fixed), substitute(right, fixed))
        case FnCall(name, args):
            out = FnCall(name, tuple(substitute(a, fixed) for a in args))
        case _:
            return expr
    if names_in(out):
        return out
    try:
        return Num(evaluate(out, {}))
    except ExprError:
        return out
