"""Lower a Spec into the IR graph: plan every block, then add the stem, the blocks, the head.

Node ids are the generated module's state_dict paths (resgen.graph.scope); each block kind's nodes
come from resgen.graph.blocks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache, partial

import networkx as nx

from resgen.diagnostics import Diagnostic, Location, ResgenError
from resgen.graph import ir, resnetv2
from resgen.graph.blocks import lower_block
from resgen.graph.ir import Arg, ShortcutKind
from resgen.graph.regnet import LAYOUTS, block_path, lower_regnet, lower_simple_stem, stage_path
from resgen.graph.resnest import split_attention_width
from resgen.graph.scope import Scope
from resgen.graph.sknet import sk_attention_width
from resgen.graph.user_blocks import lower_user_block
from resgen.spec.kinds import BLOCK_TYPES, BOTTLENECK_TYPES
from resgen.spec.load import LoadedSpec
from resgen.spec.model import Spec, StageSpec
from resgen.spec.parts import BlockWidths
from resgen.spec.regnet import inner_width, regnet_named


def plan_blocks(loaded: LoadedSpec) -> list[list[ir.Block]]:
    """Decide every block's channels, stride, dilation and shortcut, stage by stage."""
    spec = loaded.spec
    total = sum(stage.depth for stage in spec.stages)
    channels = spec.stem.out_width
    dilation = 1
    net_stride = spec.stem.reduction
    index = 0
    plans: list[list[ir.Block]] = []
    # Blocks share their arguments' values: one Arg per (value, name) is 5x cheaper than many.
    arg = cache(Arg)
    # The argument's name says what it is: SE's hidden width or ECA's kernel size.
    eca = spec.block.attention is not None and spec.block.attention.type == "eca"
    attention = "eca_kernel" if eca else "se_channels"
    split = _splits_first_conv(spec)
    regnet = regnet_named(spec)
    for number, stage in enumerate(spec.stages, start=1):
        kind, groups, shortcut_kind = stage_settings(spec, stage)
        stage_stride, stage_dilation = stage.stride, dilation * stage.dilation
        if spec.output_stride and net_stride * stage_stride > spec.output_stride:
            # torchvision/timm: a stage past the output stride dilates instead of striding.
            stage_dilation *= stage_stride
            stage_stride = 1
        net_stride *= stage_stride
        loc = loaded.source.locate(("stages", number - 1))
        blocks = []
        nominal_in = channels
        for i in range(stage.depth):
            stride = stage_stride if i == 0 else 1
            # The stage's widths decide shortcuts and attention; a block's own only its convs.
            nominal = _widths(spec, stage, kind, groups, None)
            first, mid, cout = _widths(spec, stage, kind, groups, stage.block_widths(i))
            shortcut = _shortcut(shortcut_kind, stride != 1 or nominal_in != nominal[2])
            mid_arg = arg(mid, "mid_channels")
            path, stage_name = _paths(spec, number, i, regnet=regnet)
            blocks.append(
                ir.Block(
                    path=path, stage=stage_name, stage_number=number,
                    index=i, type=kind, preact=spec.block.preact,
                    in_channels=arg(channels, "in_channels"), mid_channels=mid_arg,
                    out_channels=arg(cout, "out_channels"), stride=arg(stride, "stride"),
                    groups=arg(groups, "groups"), dilation=arg(stage_dilation, "dilation"),
                    first_dilation=arg(dilation if i == 0 else stage_dilation,
                                       "first_dilation"),
                    shortcut=shortcut, drop_path=spec.drop_path * index / max(total - 1, 1),
                    attention_size=arg(_attention_size(spec, nominal[2], channels), attention,
                                       "attention_size"),
                    loc=_block_loc(loaded, stage, number, i) if stage.blocks else loc,
                    first_channels=arg(first, "first_channels") if split.get(kind) else mid_arg,
                    sk_channels=_helper_width(arg, spec, kind, mid),
                    user=kind in spec.blocks,
                )
            )  # fmt: skip
            channels, nominal_in = cout, nominal[2]
            index += 1
        dilation = stage_dilation
        plans.append(blocks)
    return plans


def _block_loc(loaded: LoadedSpec, stage: StageSpec, number: int, index: int) -> Location:
    """Where a block is said: its own widths, if it has them, else its stage."""
    path = ("stages", number - 1, "blocks", str(index + 1))
    return loaded.source.locate(path if stage.block_widths(index) else path[:2])


def _widths(
    spec: Spec, stage: StageSpec, kind: str, groups: int, own: BlockWidths | None
) -> tuple[int, int, int]:
    """A block's (first conv, inner, output) widths: the stage's, or the block's own.

    The inner width is a bottleneck's 3x3 and a basic block's first 3x3; the first conv's is a
    bottleneck's 1x1 (the inner width over `reduce_first`), a basic block's first 3x3 again.
    """
    reduce = spec.block.reduce_first
    cout = stage.width * spec.block.out_factor(kind)
    if kind in spec.blocks:  # a user block: a bottleneck's inner width, the block's expansion
        own_expansion = spec.block.expansion if spec.block.type == kind else None
        cout = stage.width * (own_expansion or spec.blocks[kind].expansion)
        if regnet_named(spec):  # in a RegNet, a RegNet block's inner width
            return cout, _regnet_inner(spec, stage), cout
        return cout, int(stage.width * spec.block.base_width / 64) * groups, cout
    if kind == "regnet":
        mid = _regnet_inner(spec, stage)
        return mid, mid, cout
    if kind in BOTTLENECK_TYPES:
        mid = int(stage.width * spec.block.base_width / 64) * groups
        # A res2net block's first 1x1 feeds `scale` splits of the inner width.
        first = mid * spec.block.scale if kind == "res2net" else mid // reduce
        if own is not None:
            first, mid, cout = own.conv1 or first, own.conv2 or mid, own.conv3 or cout
        return first, mid, cout
    mid = stage.width // reduce
    if own is not None:
        mid, cout = own.conv1 or mid, own.conv2 or cout
    return mid, mid, cout


def _helper_width(arg: Callable[..., Arg], spec: Spec, kind: str, mid: int) -> Arg:
    """The attention width of a block's helper module (Block.sk_channels): a selective kernel
    conv's `sk_channels`, a split-attention conv's `attn_channels`."""
    if kind == "resnest":
        return arg(split_attention_width(spec, mid), "attn_channels", "sk_channels")
    return arg(sk_attention_width(spec, kind, mid), "sk_channels")


def _regnet_inner(spec: Spec, stage: StageSpec) -> int:
    return inner_width(stage.width, stage.bottleneck_ratio or spec.block.bottleneck_ratio)


def _splits_first_conv(spec: Spec) -> dict[str, bool]:
    """Per block type: whether some block's first conv is narrower or wider than its inner
    width, so that the class takes a `first_channels` argument (a bottleneck only)."""
    split = {kind: kind == "res2net" for kind in BLOCK_TYPES}
    if spec.block.reduce_first == 1 and not any(stage.blocks for stage in spec.stages):
        return split  # the usual case, decided without a loop over every block
    for stage in spec.stages:
        kind, groups, _ = stage_settings(spec, stage)
        for i in range(stage.depth):
            first, mid, _ = _widths(spec, stage, kind, groups, stage.block_widths(i))
            split[kind] = split.get(kind, False) or (kind in BOTTLENECK_TYPES and first != mid)
    return split


def stage_settings(spec: Spec, stage: StageSpec) -> tuple[str, int, str]:
    """The block type, conv groups and shortcut a stage uses: its own, else the spec's.

    A regnet stage's groups are its inner width over its group width (torchvision's and timm's
    w_b // group_width); so are a user block's in a RegNet (its `groups` variable).
    """
    kind = stage.block or spec.block.type
    groups = stage.groups or spec.block.groups
    if kind == "regnet" or (kind in spec.blocks and regnet_named(spec)):
        mid = _regnet_inner(spec, stage)
        groups = max(1, mid // (stage.group_width or spec.block.group_width))
    return kind, groups, stage.shortcut or spec.shortcut


def _paths(spec: Spec, number: int, index: int, *, regnet: bool) -> tuple[str, str]:
    """A block's path and its stage's: ResNet's `layer2.0`, or the layout's RegNet names."""
    if regnet:
        return block_path(spec.layout, number, index), stage_path(spec.layout, number)
    if spec.layout == "resnetv2":
        return resnetv2.block_path(number, index), resnetv2.stage_path(number)
    return f"layer{number}.{index}", f"layer{number}"


def _shortcut(kind: str, shape_changes: bool) -> ShortcutKind:
    if kind == "projection_all":
        return ShortcutKind.PROJECTION
    if kind == "identity_or_none":
        return ShortcutKind.NONE if shape_changes else ShortcutKind.IDENTITY
    shortcut = _SHORTCUTS[kind]  # ShortcutKind(kind) costs 4 us a call
    if shortcut.has_module and not shape_changes:
        return ShortcutKind.IDENTITY
    return shortcut


_SHORTCUTS = {kind.value: kind for kind in ShortcutKind}


def _attention_size(spec: Spec, channels: int, block_in: int) -> int:
    """SE: hidden channels (timm's make_divisible, or RegNet's share of the block's input);
    ECA: the 1-D kernel size (Wang et al.)."""
    attention = spec.block.attention
    if attention is None:
        return 0
    if attention.type == "se" and attention.ratio is not None:
        return round(attention.ratio * block_in)  # torchvision's and timm's rounding
    if attention.type == "se":
        divisor = attention.divisor
        value = channels / attention.reduction
        return max(divisor, int(value + divisor / 2) // divisor * divisor)
    t = int(abs(math.log(channels, 2) + 1) / 2)
    return max(t if t % 2 else t + 1, 3)


def lower(loaded: LoadedSpec) -> ir.Graph:
    """Build the frozen IR graph for a validated spec (resgen.pipeline.check pauses the GC)."""
    spec = loaded.spec
    graph: ir.Graph = nx.DiGraph()
    stem = Scope(graph, spec, "stem", None, loaded.source.locate(("stem",)))
    x = stem.add("input", ir.Input(spec.input.channels))
    x = _lower_stem(stem, x)
    stages = []
    found: list[Diagnostic] = []  # user blocks' values that do not work for some block
    for plans in plan_blocks(loaded):
        blocks = []
        for block in plans:
            lower_one = _block_lowering(spec, block, loaded, found)
            blocks.append(lower_one(Scope(graph, spec, block.stage, block.path, block.loc),
                                    block, x))  # fmt: skip
            x = blocks[-1].output
        first = plans[0]
        stages.append(ir.StageInfo(first.stage, first.stage_number, tuple(blocks), x, first.loc))
    if found:  # each place once: every block of a stage would repeat it
        raise ResgenError(list({(d.location, d.code): d for d in found}.values()))
    head = Scope(graph, spec, "head", None, loaded.source.locate(("head",)))
    _lower_head(head, x, stages[-1].blocks[-1].out_channels)
    graph.graph.update(
        name=spec.name,
        input_shape=(spec.input.channels, *spec.input.hw),
        stages=tuple(stages),
        zero_init_residual=spec.zero_init_residual,
        input_loc=loaded.source.locate(("input",)),
        input_size_loc=loaded.source.locate(("input", "size")),  # else its nearest parent
        block_widths=any(stage.blocks for stage in spec.stages),  # some block sets its own
    )
    frozen: ir.Graph = nx.freeze(graph)
    return frozen


def _block_lowering(
    spec: Spec, block: ir.Block, loaded: LoadedSpec, found: list[Diagnostic]
) -> Callable[[Scope, ir.Block, str], ir.Block]:
    if block.user:
        return partial(lower_user_block, loaded.source, found)
    if block.type == "regnet":
        return lower_regnet
    return resnetv2.lower_resnetv2_block if spec.layout == "resnetv2" else lower_block


def _lower_stem(s: Scope, x: str) -> str:
    spec = s.spec
    if spec.layout == "resnetv2":
        return resnetv2.lower_resnetv2_stem(s, x)
    stem = spec.stem
    cin = Arg(spec.input.channels, "in_channels")  # the model's constructor argument
    if stem.type == "deep":
        # timm's layout: conv1 is a Sequential of conv, norm, act, conv, norm, act, conv.
        w0, w1, w2 = stem.conv_widths
        x = s.norm("conv1.1", s.conv("conv1.0", x, cin, w0, 3, stride=2), w0)
        x = s.act("conv1.2", x)
        x = s.norm("conv1.4", s.conv("conv1.3", x, w0, w1, 3), w1)
        x = s.act("conv1.5", x)
        x = s.conv("conv1.6", x, w1, w2, 3)
    elif stem.type == "cifar":
        x = s.conv("conv1", x, cin, stem.out_width, 3)
    elif stem.type == "simple":
        x = lower_simple_stem(s, x, cin)
        return _lower_stem_pool(s, x, stem.out_width) if stem.has_pool else x
    else:
        x = s.conv("conv1", x, cin, stem.out_width, 7, stride=2, padding=3)
    if stem.norm:
        x = s.act(s.act_name, s.norm("bn1", x, stem.out_width))
    if stem.has_pool:
        x = _lower_stem_pool(s, x, stem.out_width)
    return x


def _lower_stem_pool(s: Scope, x: str, channels: int) -> str:
    """The stem's pool, `maxpool` whatever it is (timm keeps the name for its weights).

    A max-pool, or (ResNet-RS) a 3x3 stride-2 conv, norm and activation; anti-aliased, the max-pool
    or conv runs at stride 1 and an `aa` pool follows it (an average pool replaces a max-pool).
    """
    aa = s.spec.anti_alias
    if s.spec.stem.pool_kind == "conv":
        x = s.conv("maxpool.0", x, channels, channels, 3, stride=1 if aa else 2)
        if aa:
            x = _stem_aa(s, "maxpool.1", x, channels)
        index = 2 if aa else 1
        return s.act(f"maxpool.{index + 1}", s.norm(f"maxpool.{index}", x, channels))
    if aa == "avg":
        return s.add("maxpool", ir.Pool("avg", 2, 2, 0, ceil_mode=False), x)
    if aa == "blur":
        x = s.add("maxpool.0", ir.Pool("max", 3, 1, 1, ceil_mode=False), x)
        return _stem_aa(s, "maxpool.1", x, channels)
    return s.add("maxpool", ir.Pool("max", 3, 2, 1, ceil_mode=False), x)


def _stem_aa(s: Scope, name: str, x: str, channels: int) -> str:
    """The stem's anti-aliasing pool at stride 2: a 2x2 average or a blur."""
    if s.spec.anti_alias == "blur":
        return s.add(name, ir.BlurPool(channels, 2), x)
    return s.add(name, ir.Pool("avg", 2, 2, 0, ceil_mode=False), x)


def _lower_head(s: Scope, x: str, channels: int) -> None:
    spec = s.spec
    if spec.layout == "resnetv2":
        resnetv2.lower_resnetv2_head(s, x, channels)
        return
    final = spec.head.final or ("norm_act" if spec.block.preact else "none")
    if final == "norm_act":
        # The last pre-activation block ends in a conv: normalise and activate before pooling.
        x = s.act(f"{s.act_name}#final", s.norm("bn_final", x, channels))
    elif final == "act":
        x = s.act(f"{s.act_name}#final", x)
    if spec.head.features:
        x, channels = _lower_features(s, x, channels, spec.head.features), spec.head.features
    pool = "avgpool" if spec.head.pool == "avg" else "global_maxpool"
    fc = "fc"
    if regnet_named(spec):
        pool, fc = LAYOUTS[spec.layout].pool, LAYOUTS[spec.layout].fc
    x = s.add(pool, ir.GlobalPool(spec.head.pool), x)
    x = s.add("flatten", ir.Flatten(), x)
    if spec.head.dropout > 0:
        x = s.add("dropout", ir.Drop("dropout", spec.head.dropout), x)
    if spec.head.classes:
        s.add(fc, ir.Linear(channels, spec.head.classes), x)


def _lower_features(s: Scope, x: str, channels: int, features: int) -> str:
    """The head's 1x1 conv, norm and activation (timm's `final_conv`, a ConvNormAct)."""
    keys = ("conv", "bn", "act") if s.spec.layout == "timm" else ("0", "1", "2")
    x = s.conv(f"final_conv.{keys[0]}", x, channels, features, 1)
    return s.act(f"final_conv.{keys[2]}", s.norm(f"final_conv.{keys[1]}", x, features))
