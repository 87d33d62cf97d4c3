"""Graph -> RegNet block classes and stages, in torchvision's or timm's layout.

A RegNet block's modules are nested (`f.a.0`, `f.se.fc1`, `proj.1`), so its class is not the
ResNet blocks' flat one: each Sequential's modules come from the block's nodes at their
state_dict index, as the stem's do (resgen.codegen.stem), and stages are built with
`add_module`, since torchvision's keys (`block1-0`) are not Python identifiers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from resgen.codegen.calls import Call, Decl, act_call, module_call
from resgen.codegen.stem import Item
from resgen.graph import ir
from resgen.spec.model import Spec

# The class's constructor parameters after the widths, as (name, annotation, default).
_PARAMS = (
    ("stride", "int", "1"),
    ("groups", "int", "1"),
    ("downsample", "bool", "False"),
    ("se_channels", "int", "16"),
    ("residual", "bool", "True"),
    ("drop_path", "float", "0.0"),
)
_WIDTHS = ("in_channels", "mid_channels", "out_channels")
_INDENT = 20  # where a module of `self.f`'s Sequentials starts


class Group(NamedTuple):
    """`key=nn.Sequential(...)` inside `self.f`, or `key=<call>` for one module (SE)."""

    key: str
    items: tuple[Item, ...]
    call: Call | None
    keys: tuple[str, ...] = ()  # timm: the Sequential's module names (conv, bn, act)


class RegNetClass(NamedTuple):
    """A RegNet block class: what templates/blocks/regnet_<layout>.py.jinja prints."""

    name: str
    template: str
    params: tuple[tuple[str, str, str], ...]
    groups: tuple[Group, ...]
    proj: tuple[Item, ...]
    act: Call
    zero_init: str  # unused: a nested module has no typed attribute path
    zero_param: str  # the weight zero_init_residual zeroes: `f.c.1.weight`
    helpers: tuple[str, ...]
    proj_keys: tuple[str, ...] = ()  # timm: the projection's module names
    residual_flag: bool = False  # some blocks have no shortcut (RegNetZ): a `residual` argument
    linear_out: bool = False  # no activation after the add (timm's linear_out)
    decls: tuple[Decl, ...] = ()  # timm's pre-activation block: its flat modules, in order
    statements: tuple[str, ...] = ()  # and its forward's lines

    @property
    def uses_act(self) -> bool:
        """A flat block's forward calls `self.act` (EvoNorm and FRN activate themselves)."""
        return not self.statements or any("self.act(" in line for line in self.statements)

    @property
    def drop_path(self) -> bool:
        """Some block drops its branch in training (stochastic depth): a `drop_path` argument."""
        return any(p[0] == "drop_path" for p in self.params)


def regnet_class(graph: ir.Graph, spec: Spec, blocks: list[ir.Block]) -> RegNetClass:
    """The one RegNet block class, from its first block that has every module."""
    rep = next((b for b in blocks if b.downsample), blocks[0])
    names = {*_WIDTHS, *(p[0] for p in _params(blocks))}
    members = [(node[len(rep.path) + 1 :], ir.op(graph, node)) for node in rep.nodes]
    cut = len(rep.path) + 1
    folds = {k[cut:]: v[cut:] for k, v in graph.graph.get("folds", {}).items()
             if k.startswith(rep.path + ".")}  # fmt: skip
    if spec.layout == "timm":
        from resgen.codegen.regnet_timm import timm_class  # it builds on this module's parts

        return timm_class(rep, members, names, folds, spec, blocks)
    groups = []
    for key in ("a", "b", "se", "c"):
        if key == "se":
            if rep.attention_size:
                groups.append(
                    Group(
                        "se", (), Call("SqueezeExcitation", ("mid_channels", "se_channels"), False)
                    )
                )
            continue
        groups.append(Group(key, _items(f"f.{key}", members, names, folds, spec), None))
    proj = _items("proj", members, names, folds, spec, indent=16) if rep.downsample else ()
    return RegNetClass(
        name="ResBottleneckBlock",
        template="regnet_torchvision",
        params=_params(blocks),
        groups=tuple(groups),
        proj=proj,
        act=act_call(spec),
        zero_init="",
        zero_param=[
            rel
            for rel, op in members
            if rel.startswith("f.c.") and isinstance(op, (ir.Conv, ir.Norm))
        ][-1]
        + ".weight",
        helpers=("SqueezeExcitation",) if rep.attention_size else (),
    )


def _params(blocks: list[ir.Block]) -> tuple[tuple[str, str, str], ...]:
    wanted = {
        "stride": True,
        "groups": any(b.groups != 1 for b in blocks),
        "downsample": any(b.downsample for b in blocks),
        "se_channels": any(b.attention_size for b in blocks),
        "residual": _mixed_residual(blocks),
        "drop_path": any(b.drop_path > 0 for b in blocks),
    }
    return tuple(p for p in _PARAMS if wanted[p[0]])


# timm's avg-pool shortcut pool; its class guards it by the stride (nn.Identity() at stride 1).
AVG_DOWN = Call("nn.AvgPool2d", ("2", "stride", "ceil_mode=True", "count_include_pad=False"), False)


def flat_decls(members: Iterable[tuple[str, ir.Op]], names: set[str]) -> list[Decl]:
    """A flat block's branch modules in node order (`norm1`, `conv1`, ...): its convs, norms and
    affines; the shortcut (`downsample`), which the class builds under its flag, left out."""
    return [Decl(rel, module_call(op, names, first=False, indent=8, attr=rel))
            for rel, op in members if "." not in rel and rel != "downsample"
            and isinstance(op, (ir.Conv, ir.Norm, ir.Affine))]  # fmt: skip


def _mixed_residual(blocks: list[ir.Block]) -> bool:
    """Some blocks add a shortcut and some do not (timm's downsample=None): a `residual` flag."""
    return len({b.shortcut is ir.ShortcutKind.NONE for b in blocks}) > 1


def _items(
    prefix: str, members: list[tuple[str, ir.Op]], names: set[str], folds: dict[str, str],
    spec: Spec, indent: int = _INDENT,
) -> tuple[Item, ...]:  # fmt: skip
    """A Sequential's modules at their indices; a folded norm leaves an nn.Identity there."""
    items: dict[int, Item] = {}
    for rel, op in members:
        head, _, index = rel.rpartition(".")
        if head != prefix or not index.isdigit():
            continue
        if isinstance(op, ir.Act):
            items[int(index)] = Item(act_call(spec), "")
        elif isinstance(op, (ir.Conv, ir.Norm, ir.Affine)):
            items[int(index)] = Item(module_call(op, names, first=False, indent=indent), "")
    identity = Call("nn.Identity", (), False)
    for norm, conv in folds.items():
        head, _, index = norm.rpartition(".")
        if head == prefix:
            items[int(index)] = Item(identity, f"{norm}: folded into {conv}")
    return tuple(items.get(i, Item(identity, "")) for i in range(max(items) + 1))


def block_args(block: ir.Block, cls: RegNetClass, rate: str = "") -> str:
    """`ResBottleneckBlock(32, 48, 48, stride=2, groups=6, downsample=True, se_channels=8)`."""
    args = [str(int(block.in_channels)), str(int(block.mid_channels)),
            str(int(block.out_channels))]  # fmt: skip
    names = {p[0] for p in cls.params}
    if block.stride != 1:
        args.append(f"stride={block.stride}")
    if "groups" in names and block.groups != 1:
        args.append(f"groups={block.groups}")
    if block.downsample:
        args.append("downsample=True")
    if "se_channels" in names:
        args.append(f"se_channels={block.attention_size}")
    if "residual" in names and block.shortcut is ir.ShortcutKind.NONE:
        args.append("residual=False")
    if rate and "drop_path" in names:
        args.append(f"drop_path={rate}")
    return f"{cls.name}({', '.join(args)})"


def stage_lines(
    stage: ir.StageInfo,
    cls: RegNetClass | None,
    layout: str,
    offset: int = 0,
    call_of: Callable[[ir.Block, str], str] | None = None,
) -> tuple[str, ...]:
    """A stage built as torchvision's AnyStage is: `block2.add_module("block2-0", ...)` (timm:
    `self.s2.add_module("b1", ...)`), with a loop over the blocks that repeat; lines relative to
    the constructor's indentation. With drop-path, block k of the network (`offset` blocks come
    before this stage) reads its rate as `rates[k]`. `call_of` writes a block's call (a user
    block's); else `cls` does."""
    if call_of is None:
        assert cls is not None
        regnet = cls

        def call_of(block: ir.Block, rate: str) -> str:
            return block_args(block, regnet, rate)

    if layout == "timm":
        var, prefix, base = f"self.{stage.name}", "b", 1
    else:
        var = stage.name.rpartition(".")[2]  # block2
        prefix, base = f"{var}-", 0
    lines = [f"{var} = nn.Sequential()"]
    runs: list[tuple[str, int, int]] = []  # (call, first index, last index + 1)
    for block in stage.blocks:
        call = call_of(block, "")
        if runs and runs[-1][0] == call:
            runs[-1] = (call, runs[-1][1], block.index + 1)
        else:
            runs.append((call, block.index, block.index + 1))
    for call, first, last in runs:
        if last - first == 1:
            call = call_of(stage.blocks[first], f"rates[{offset + first}]")
            lines += _add_module(f"{var}.add_module", f'"{prefix}{first + base}"', call, 8)
        else:
            call = call_of(stage.blocks[first], f"rates[{_shifted(offset - base)}]")
            lines.append(f"for i in range({first + base}, {last + base}):")
            lines += [f"    {line}" for line in
                      _add_module(f"{var}.add_module", f'f"{prefix}{{i}}"', call, 12)]  # fmt: skip
    return tuple(lines)


def _shifted(shift: int) -> str:
    """`i`, `i + 3` or `i - 1`: the network index of the loop's block `i`."""
    return "i" if shift == 0 else f"i + {shift}" if shift > 0 else f"i - {-shift}"


def _add_module(method: str, key: str, call: str, indent: int) -> list[str]:
    """`method(key, call)` as ruff formats it at `indent`."""
    one = f"{method}({key}, {call})"
    if indent + len(one) <= 100:
        return [one]
    if indent + 4 + len(key) + 2 + len(call) <= 100:
        return [f"{method}(", f"    {key}, {call}", ")"]
    if indent + 4 + len(call) + 1 <= 100:
        return [f"{method}(", f"    {key},", f"    {call},", ")"]
    head, _, rest = call.partition("(")
    args = rest[:-1].split(", ")
    return [f"{method}(", f"    {key},", f"    {head}(", *(f"        {a}," for a in args), "    ),",
            ")"]  # fmt: skip


def trunk_line(stages: tuple[ir.StageInfo, ...]) -> tuple[str, ...]:
    """`self.trunk_output = nn.Sequential(OrderedDict(block1=block1, ...))`, as ruff writes it."""
    parts = [f"{v}={v}" for v in (s.name.rpartition(".")[2] for s in stages)]
    one = f"self.trunk_output = nn.Sequential(OrderedDict({', '.join(parts)}))"
    if 8 + len(one) <= 100:
        return (one,)
    inner = f"OrderedDict({', '.join(parts)})"
    if 12 + len(inner) <= 100:
        return ("self.trunk_output = nn.Sequential(", f"    {inner}", ")")
    return ("self.trunk_output = nn.Sequential(", "    OrderedDict(",
            *(f"        {p}," for p in parts), "    )", ")")  # fmt: skip
