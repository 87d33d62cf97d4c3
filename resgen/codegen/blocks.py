"""Graph -> block classes: each class's render model from its blocks' nodes.

One representative block (the first of its class in network order) gives the modules, their
arguments and the forward statements; the ops' `ir.Arg` values tell which arguments are the
class's constructor parameters. The trained graph gives the normal build, the folded graph
(`resgen.graph.fold`) the deploy build, through the same templates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import NamedTuple

from resgen.codegen.calls import (
    Call,
    Decl,
    Statement,
    aa_call,
    act_call,
    guarded_lines,
    module_call,
    module_list_lines,
)
from resgen.codegen.children import SLOTS, child_decl, child_of
from resgen.codegen.shortcuts import opens_dilated_stage, shortcut_fields, takes_dilated
from resgen.codegen.walk import MODULES, Walk
from resgen.graph import ir
from resgen.graph.blocks import BLOCK_KINDS, BlockKind
from resgen.graph.ir import Arg
from resgen.graph.scope import helpers_of
from resgen.spec.model import Spec

# The widths a block class takes first, in network order; `first_channels` only when some
# instance's first 1x1 differs from its inner width (SENet-154, a pruned net).
_WIDTHS = ("in_channels", "first_channels", "mid_channels", "out_channels")

# Constructor parameters after the widths, in signature order: (annotation, default).
PARAMS = {
    "stride": ("int", "1"),
    "groups": ("int", "1"),
    "dilation": ("int", "1"),
    "first_dilation": ("int | None", "None"),  # None: the same as `dilation`
    "downsample": ("bool", "False"),
    "dilated": ("bool", "False"),  # the block opens a dilated stage: its shortcut knows
    "aa": ("bool", "False"),  # blur even at stride 1 (the first block of a dilated stage)
    "se_channels": ("int", "16"),  # SE: the squeeze's hidden width
    "eca_kernel": ("int", "3"),  # ECA: the 1-D conv's kernel size
    "sk_channels": ("int", "32"),  # a selective kernel conv's attention width
    "attn_channels": ("int", "32"),  # a split-attention conv's
    "residual": ("bool", "True"),
    "drop_path": ("float", "0.0"),
}
_DILATIONS = ("dilation", "first_dilation")
# Widths a block passes by keyword to its attention or helper: a parameter when some op uses it.
_KEYWORD_WIDTHS = ("se_channels", "eca_kernel", "sk_channels", "attn_channels")


class Param(NamedTuple):
    name: str
    annotation: str
    default: str


class BlockClass(NamedTuple):
    """One block class to emit: constructor, modules and forward, all precomputed."""

    name: str
    template: str  # templates/blocks/<template>.py.jinja, which supplies the docstring
    deploy: bool
    folded: bool  # deploy: norms were folded into this class's convs
    stride_on_1x1: bool
    aa: str  # "" | "avg" | "blur": a strided block pools after its strided conv (anti-aliasing)
    grouped: bool
    reduces: bool  # every instance's first 1x1 narrows (or keeps) the width: "1x1 reduce"
    expands: bool  # every instance's last 1x1 widens: "1x1 expand"
    widths: tuple[str, ...]  # the positional parameters: in, (first,) mid and out channels
    params: tuple[Param, ...]
    arg_fields: tuple[tuple[str, str], ...]  # constructor argument -> the Block field it is
    defaults_dilation: bool  # `first_dilation = first_dilation or dilation`
    modules: tuple[Decl, ...]  # the residual branch's convs and norms, in order
    act: Decl | None  # the block's activation module, when some op still uses it
    attention: Decl | None
    attention_comment: str  # why an ECA module is called `se`; "" for none
    adds: bool  # every instance adds its shortcut
    residual_flag: bool  # some instances do (per-stage plain blocks): a `residual` argument
    drop_path: bool
    shortcut: str  # "" or the ShortcutKind of the `downsample` module
    shortcut_items: tuple[Call, ...]  # the downsample Sequential's convs and norms
    lone_shortcut_item: bool  # a Sequential of one module, kept for its `downsample.0` keys
    wide_conv: Call | None  # the strided blocks' wider projection conv, when others have a 1x1
    wide_comment: str  # why the projection has two convs
    wide_guard: str  # when a block takes the wide conv: `stride > 1` (`or dilated`)
    opens_dilated: bool  # some instance's shortcut opens a dilated stage (a `dilated` argument)
    stride_conv: str  # the branch conv that carries the stride, named in a comment
    stride_comment: bool  # say so beside the projection (the normal build)
    shortcut_input: str  # "x" or "pre"
    names_pre: bool  # forward comments on which input the projection sees
    statements: tuple[Statement, ...]
    fused_tail: Statement | None  # deploy: the last conv with its add and ReLU, or its ReLU
    closing: str  # what forward returns: `self.relu(out)` (post-activation) or `out`
    zero_init: str  # the module whose weight zero_init_residual zeroes
    zero_param: str = ""  # a RegNet's: that weight by path, since its modules are nested
    # Where the kind's template writes what the walk cannot (Res2Net's loop over its splits):
    # after statements[:region_at]; and one step of that loop, `self.relu(self.bns[i](...))`.
    region_at: int = 0
    loop_chain: str = ""
    concat: bool = False  # the branch concatenates its splits (Res2Net with more than one)


def class_of(block: ir.Block) -> str:
    return BLOCK_KINDS[(block.type, block.preact)].class_name


def block_classes(graph: ir.Graph, spec: Spec, *, deploy: bool) -> tuple[BlockClass, ...]:
    """Every block class the graph's blocks need, in the order of BLOCK_KINDS."""
    by_class: dict[str, list[ir.Block]] = {}
    for block in ir.blocks_of(graph):
        if not block.user:  # a user block's class is resgen.codegen.user_blocks'
            by_class.setdefault(class_of(block), []).append(block)
    return tuple(
        _block_class(graph, spec, by_class[name], template, deploy=deploy)
        for name, template in ((k.class_name, k.template) for k in BLOCK_KINDS.values())
        if name in by_class
    )


def _members(graph: ir.Graph, block: ir.Block) -> list[tuple[str, ir.Op]]:
    """A block's nodes as (path relative to the block, op), in graph order."""
    prefix = len(block.path) + 1
    return [(node[prefix:], ir.op(graph, node)) for node in block.nodes]


def _block_args(block: ir.Block, fields_of: dict[str, str]) -> dict[str, int]:
    """A block's constructor arguments, read off the Block fields its class's Args hold."""
    return {name: int(getattr(block, field)) for name, field in fields_of.items()}


def _block_class(
    graph: ir.Graph, spec: Spec, blocks: list[ir.Block], template: str, *, deploy: bool
) -> BlockClass:
    # The representative: the first block with an anti-aliasing pool or a guarded module if some
    # have one (a stride-1 block of the class has none: ResNeSt's avd pool), else the first.
    guarded = [name for name, _ in BLOCK_KINDS[(blocks[0].type, blocks[0].preact)].guards]
    rep = next((b for b in blocks if aa_stride(graph, b)
                or any(f"{b.path}.{name}" in graph for name in guarded)), blocks[0])  # fmt: skip
    ops = dict(_members(graph, rep))
    fields_of = _arg_fields(ops.values(), _helper_args(graph, rep))
    flags = {
        "dilated": takes_dilated(graph, blocks),
        "aa": any(aa_stride(graph, b) == 1 for b in blocks),  # a dilated stage's blur
    }
    params = _params(blocks, fields_of, flags)
    widths = _WIDTHS if "first_channels" in fields_of else _WIDTHS[:1] + _WIDTHS[2:]
    names = {p.name for p in params} | set(widths)
    # Only a deploy graph marks fusions; every instance must agree on them.
    fused = _agreed_fusions(graph, blocks) if deploy else {}
    act_attr = "relu" if spec.act == "relu" else "act"
    walk = Walk(graph, rep, fused, act_attr)
    kind = BLOCK_KINDS[(rep.type, rep.preact)]
    children = _children(graph, spec, rep, ops, names)
    # The first module that takes the stride (a ModuleList's by its own name: `convs`).
    strided = list(dict.fromkeys(rel.partition(".")[0] for rel, op in ops.items()
                                 if _is_arg(getattr(op, "stride", 1), "stride")))  # fmt: skip
    attention = _attention(spec)
    eca = attention is not None and attention.call.callee == "EfficientChannelAttention"
    return BlockClass(
        name=class_of(rep),
        template=template,
        deploy=deploy,
        folded=bool(graph.graph.get("folds")) and _folds_here(graph, rep),
        stride_on_1x1=spec.block.stride_on == "1x1",
        aa=spec.anti_alias or "",
        grouped="groups" in names,
        reduces=all(b.first_width <= b.in_channels for b in blocks),
        expands=all(b.out_channels > b.mid_channels for b in blocks),
        widths=widths,
        params=params,
        arg_fields=tuple(fields_of.items()),
        defaults_dilation="first_dilation" in names,
        modules=_modules(ops, names, fused, kind, flags["aa"], children),
        act=Decl(act_attr, act_call(spec)) if walk.uses_act else None,
        attention=attention,
        attention_comment=_ECA_COMMENT if eca else "",
        adds=all(b.add is not None for b in blocks),
        residual_flag=_residual_flag(blocks),
        drop_path=any(b.drop_path > 0 for b in blocks),  # the first block's rate is 0
        **shortcut_fields(graph, blocks, names, walk),
        opens_dilated=flags["dilated"],
        stride_conv=strided[0] if strided else "",
        stride_comment=bool(strided) and not deploy,
        statements=tuple(walk.statements),
        region_at=walk.region_at,
        loop_chain=walk.loop_chain,
        concat=any(isinstance(op, ir.Concat) for op in ops.values()),
        fused_tail=walk.tail,
        closing="out" if rep.preact or spec.block.linear_out else f"self.{act_attr}(out)",
        **_zero_init(ops),
    )


# The branch's modules that the class declares, in order: convs, norms and the `aa` pool.
_DECLARED = (*MODULES, ir.Pool, ir.BlurPool)


def _modules(
    ops: dict[str, ir.Op], names: set[str], fused: dict[str, str], kind: BlockKind,
    aa_flag: bool, children: dict[str, Decl],
) -> tuple[Decl, ...]:  # fmt: skip
    """The branch's module declarations, in node order; the first conv is written out in full.

    `name.i` modules (Res2Net's `convs.0`, `bns.0`) are one ModuleList of the first's call."""
    first = next((rel for rel, op in ops.items() if "." not in rel and isinstance(op, ir.Conv)),
                 "")  # fmt: skip
    decls = []
    families: dict[str, list[ir.Op]] = {}
    for rel, op in ops.items():
        head, _, index = rel.partition(".")
        if index.isdigit() and head not in SLOTS and isinstance(op, _DECLARED):
            families.setdefault(head, []).append(op)
    for rel, op in ops.items():
        head, _, index = rel.partition(".")
        if head in children:
            decls.append(children.pop(head))  # at its first node
        if head in families and index == "0":
            call = module_call(op, names, first=False, indent=12)
            lines = module_list_lines(head, call, len(families[head]))
            decls.append(Decl(head, call, lines=lines))
        if "." in rel or not isinstance(op, _DECLARED):
            continue
        if rel == "aa":
            assert isinstance(op, (ir.Pool, ir.BlurPool))
            decls.append(Decl(rel, aa_call(op, names), guard="aa" if aa_flag else "stride > 1",
                              comment=AA_COMMENTS[type(op)]))  # fmt: skip
            continue
        call = module_call(op, names, first=rel == first, indent=8, attr=rel,
                           fused=fused.get(rel, ""))  # fmt: skip
        guard = dict(kind.guards).get(rel, "")
        decls.append(Decl(rel, call, lines=guarded_lines(rel, call, guard) if guard else ()))
    return tuple(decls)


def _helper_args(graph: ir.Graph, rep: ir.Block) -> list[object]:
    """The arguments of the block's helper modules, which count as its ops' do: the helper's
    ops hold values derived from them (half its input, with split_input)."""
    prefix = rep.path + "."
    return [v for path, h in helpers_of(graph).items() if path.startswith(prefix)
            for _, v, _ in h.args]  # fmt: skip


def _zero_init(ops: dict[str, ir.Op]) -> dict[str, str]:
    """The branch's last conv or norm, which zero_init_residual zeroes: by attribute, or (in a
    child module, `conv3.bn`) by the path of its weight."""
    weighted = [rel for rel, op in ops.items() if isinstance(op, _WEIGHTED)]
    last = next(rel for rel in reversed(weighted) if rel.partition(".")[0] not in SLOTS)
    if "." in last:
        return {"zero_init": "", "zero_param": f"{last}.weight"}
    return {"zero_init": last, "zero_param": ""}


def _children(
    graph: ir.Graph, spec: Spec, rep: ir.Block, ops: dict[str, ir.Op], names: set[str]
) -> dict[str, Decl]:
    """The declarations of the block's child modules (resgen.codegen.children), by name."""
    cut = len(rep.path) + 1
    folds = {norm[cut:]: conv[cut:] for norm, conv in graph.graph.get("folds", {}).items()
             if norm.startswith(rep.path + ".")}  # fmt: skip
    helpers = helpers_of(graph)
    heads = dict.fromkeys(head for head in map(child_of, ops) if head)
    return {head: child_decl(head, ops, names, folds, helpers.get(f"{rep.path}.{head}"), spec)
            for head in heads}  # fmt: skip


AA_COMMENTS = {
    ir.Pool: "Anti-aliasing: a strided block's conv keeps the resolution, a 2x2 average halves it.",
    ir.BlurPool: "Anti-aliasing: a strided block's conv keeps the resolution, then it blurs and "
    "subsamples.",
}


_WEIGHTED = (ir.Conv, ir.Norm)


def _is_arg(value: object, name: str) -> bool:
    return isinstance(value, Arg) and value.name == name


def _arg_fields(ops: Iterable[ir.Op], extra: Iterable[object] = ()) -> dict[str, str]:
    """The constructor arguments a block's ops (and helpers, `extra`) were built from: name ->
    the Block field."""
    found: dict[str, str] = {v.name: v.field for v in extra if isinstance(v, Arg)}
    for op in ops:
        names = _INT_FIELDS.get(type(op))
        if names is None:
            names = _INT_FIELDS[type(op)] = tuple(f.name for f in fields(op) if f.type == "int")
        for name in names:
            value = getattr(op, name)
            if isinstance(value, Arg):
                found.setdefault(value.name, value.field)
    return found


_INT_FIELDS: dict[type, tuple[str, ...]] = {}  # op class -> the fields that can hold an Arg


def _params(
    blocks: list[ir.Block], fields_of: dict[str, str], flags: dict[str, bool]
) -> tuple[Param, ...]:
    """The class's constructor parameters: those some instance sets away from the default."""
    values = [_block_args(b, fields_of) for b in blocks]
    used = {name for v in values for name in v}
    dilated = any(v.get(d, 1) != 1 for v in values for d in _DILATIONS)
    wanted = {
        "stride": True,
        "groups": any(v.get("groups", 1) != 1 for v in values),
        "dilation": dilated and "dilation" in used,
        "first_dilation": dilated and "first_dilation" in used,
        "downsample": any(b.downsample for b in blocks),
        "dilated": flags["dilated"],
        "aa": flags["aa"],
        **{name: name in used for name in _KEYWORD_WIDTHS},
        "residual": _residual_flag(blocks),
        "drop_path": any(b.drop_path > 0 for b in blocks),
    }
    return tuple(Param(name, *PARAMS[name]) for name in PARAMS if wanted[name])


def block_call(graph: ir.Graph, block: ir.Block, cls: BlockClass, *, rate: str = "rates[i]") -> str:
    """The expression that builds one block: `Bottleneck(256, 128, 512, stride=2, ...)`."""
    values = {name: int(getattr(block, field)) for name, field in cls.arg_fields}
    names = {p.name for p in cls.params}
    args = [str(values[c]) for c in cls.widths]
    for name in ("stride", "groups", "dilation"):
        if name in names and values.get(name, 1) != 1:
            args.append(f"{name}={values[name]}")
    if "first_dilation" in names and values["first_dilation"] != values.get("dilation", 1):
        args.append(f"first_dilation={values['first_dilation']}")
    if block.downsample:
        args.append("downsample=True")
    if cls.opens_dilated and opens_dilated_stage(graph, block):
        args.append("dilated=True")
    if "aa" in names and aa_stride(graph, block):
        args.append("aa=True")
    for name in _KEYWORD_WIDTHS:
        if name in names:
            args.append(f"{name}={values[name]}")
    if block.add is None and cls.residual_flag:
        args.append("residual=False")
    if cls.drop_path:
        args.append(f"drop_path={rate}")
    return f"{cls.name}({', '.join(args)})"


_ECA_COMMENT = "timm calls the ECA module `se` too, so the state_dict keys are timm's"


def _attention(spec: Spec) -> Decl | None:
    attention = spec.block.attention
    if attention is None:
        return None
    if attention.type == "se":
        return Decl("se", Call("SqueezeExcite", ("out_channels", "se_channels"), False))
    return Decl("se", Call("EfficientChannelAttention", ("eca_kernel",), False))


def _residual_flag(blocks: list[ir.Block]) -> bool:
    """Whether some instances add their shortcut and others, in plain stages, do not."""
    return len({b.add is None for b in blocks}) == 2


def _agreed_fusions(graph: ir.Graph, blocks: list[ir.Block]) -> dict[str, str]:
    """Convs every instance fuses alike; a per-stage plain flag, say, leaves the last unfused."""
    agreed: dict[str, str] | None = None
    for block in blocks:
        ops = _members(graph, block)
        mine = {rel: op.fused for rel, op in ops if isinstance(op, ir.Conv)}
        agreed = mine if agreed is None else {k: v for k, v in agreed.items() if mine.get(k) == v}
    return {k: v for k, v in (agreed or {}).items() if v}


def _folds_here(graph: ir.Graph, block: ir.Block) -> bool:
    prefix = block.path + "."
    return any(norm.startswith(prefix) for norm in graph.graph["folds"])


def aa_stride(graph: ir.Graph, block: ir.Block) -> int:
    """The stride of the block's anti-aliasing pool (module `aa`); 0 when it has none."""
    node = f"{block.path}.aa"
    if node not in graph:
        return 0
    op = ir.op(graph, node)
    assert isinstance(op, (ir.Pool, ir.BlurPool))
    return int(op.stride)
