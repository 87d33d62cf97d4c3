"""Lower a block the spec defines under `blocks:` into the graph, op by op.

Each op becomes one node named as the user wrote it (`layer1.0.mlp.fc1`), at the op's line in
the spec, through the same Scope the built-in blocks use; its values are the block's checked
expressions (resgen.spec.expr) evaluated with this block's plan. The shortcut, the add and the
activation after it are the built-in blocks' (resgen.graph.blocks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from resgen.diagnostics import Diagnostic, Location, error
from resgen.graph import ir
from resgen.graph.blocks import lower_channel_attention, lower_shortcut
from resgen.graph.ir import ShortcutKind
from resgen.graph.regnet import lower_regnet_shortcut
from resgen.graph.resnetv2 import lower_resnetv2_shortcut
from resgen.graph.scope import Scope, standardized
from resgen.spec.expr import ExprError, evaluate, parse_expr
from resgen.spec.model import Spec
from resgen.spec.parts import MAX_CHANNELS
from resgen.spec.regnet import regnet_named
from resgen.spec.source import Source
from resgen.spec.user_blocks import UserBlockSpec, op_nodes
from resgen.spec.user_ops import (
    ATTENTION_DEFAULTS,
    VARIABLES,
    ActOp,
    AttentionOp,
    ChannelConvOp,
    ConvOp,
    GlobalPoolOp,
    IdentityOp,
    MergeOp,
    NormOp,
    PoolOp,
    ReshapeOp,
    ScaleOp,
    SoftmaxOp,
    SplitOp,
)


def block_env(spec: Spec, block: ir.Block) -> dict[str, int]:
    """The values a user block's expressions read: its plan's variables and its params."""
    user = spec.blocks[block.type]
    env = {name: int(getattr(block, name)) for name in VARIABLES}
    env.update({k: p.default for k, p in user.params.items()})
    if spec.block.type == block.type:
        env.update(spec.block.params)
    return env


class _Lowering:
    """The state of one block's lowering: each op's node and channels, by the op's name."""

    def __init__(self, s: Scope, block: ir.Block, x: str, source: Source) -> None:
        self.s, self.block, self.source = s, block, source
        self.user = s.spec.blocks[block.type]
        self.env = block_env(s.spec, block)
        self.names = frozenset((*VARIABLES, *self.user.params))
        self.node: dict[str, str] = {"x": x}
        self.channels: dict[str, int] = {"x": int(block.in_channels)}
        self.found: list[Diagnostic] = []
        self.index = 0

    def where(self, *path: str | int) -> Location:
        return self.source.locate(("blocks", self.block.type, "ops", self.index, *path))

    def value(self, field: str, raw: object, *, least: int, most: int = MAX_CHANNELS) -> int:
        """An op's value for this block; a diagnostic (and `least`) when it cannot be one."""
        try:
            value = evaluate(parse_expr(raw, self.names), self.env)
        except ExprError as exc:
            self.found.append(error("block-value", f"{exc.message} {self._in_block()}",
                                    self.where(field), exc.hint))  # fmt: skip
            return least
        if not least <= value <= most:
            bound = f"at least {least}" if value < least else f"at most {most:,}"
            self.found.append(error(
                "block-value",
                f"{field} gives {value} {self._in_block()}; it must be {bound}",
                self.where(field),
                f"with {self._env_text()}",
            ))  # fmt: skip
            return least
        return value

    def _in_block(self) -> str:
        b = self.block
        return f"in stage {b.stage_number} block {b.index + 1}"

    def _env_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.env.items())

    def add(self, name: str, op: ir.Op, *inputs: str) -> str:
        """The op's node, at the op's line in the spec."""
        return dataclasses.replace(self.s, loc=self.where()).add(name, op, *inputs)


def lower_user_block(
    source: Source, found: list[Diagnostic], s: Scope, block: ir.Block, x: str
) -> ir.Block:
    """A user block's ops, then the built-in shortcut, add and closing activation; a value that
    does not work for this block adds a diagnostic to `found`."""
    low = _Lowering(s, block, x, source)
    user = low.user
    ids, closing = op_nodes(user)
    for index, op in enumerate(user.ops):
        low.index = index
        _lower_op(low, op, ids[index])
    name = user.branch or user.ops[-1].name
    branch = low.node[name]
    # The drop-path and the add are said where the branch ends: a wrong width there is its.
    low.index = next(i for i, op in enumerate(user.ops) if op.name == name)
    if block.drop_path > 0:
        branch = low.add("drop_path", ir.Drop("path", block.drop_path), branch)
    out, add = branch, None
    if block.shortcut is not ShortcutKind.NONE:
        # Where the shape changes the shortcut may read another value (a pre-activation
        # block's projection reads the pre-activated input) and be a bare conv.
        reads = user.shortcut_from
        if block.downsample and user.projection_from is not None:
            reads = user.projection_from
        # lower_shortcut leaves out the projection's norm in a pre-activation block.
        plan = block if user.shortcut_norm else dataclasses.replace(block, preact=True)
        shortcut = _shortcut_lowering(s.spec)(s, plan, low.node[reads])
        add = out = low.add("add", ir.Add(), branch, shortcut)
    if closing:
        out = low.add(closing, ir.Act(_closing_act(user, s.spec.act)), out)
    found += low.found
    return block.wired(x, out, add, tuple(s.added))


def _shortcut_lowering(spec: Spec) -> Callable[[Scope, ir.Block, str], str]:
    """The shortcut's lowering: named as the layout names a projection (`downsample.conv`), or
    the built-in ResNet blocks' (`downsample.0`)."""
    if spec.layout == "resnetv2":
        return lower_resnetv2_shortcut
    return lower_regnet_shortcut if regnet_named(spec) else lower_shortcut


def _closing_act(user: UserBlockSpec, act: str) -> str:
    """The activation after the add: `output_act`, the act op it names, or the spec's."""
    named = [op for op in user.ops if isinstance(op, ActOp) and op.name == user.output_act]
    if named:
        return named[0].act or act
    return user.output_act or act


def runs_in(block: ir.Block, when: str | None) -> bool:
    """Whether an op `when: ...` runs in this block."""
    projecting = block.stride > 1 or block.downsample
    return {None: True, "strided": block.stride > 1, "projecting": projecting,
            "not_projecting": not projecting}[when]  # fmt: skip


def _lower_op(low: _Lowering, op: object, node_id: str) -> None:
    if isinstance(op, MergeOp) and not runs_in(low.block, op.when):
        first = op.input[0]  # passed on as it is
        low.node[op.name], low.channels[op.name] = low.node[first], low.channels[first]
        return
    if isinstance(op, MergeOp):
        sources = [low.node[name] for name in op.input]
        if len(set(sources)) < len(sources):  # an input named twice, or through identities
            low.found.append(error(
                "op-input",
                f"op {op.name!r} reads one value twice {low._in_block()}",
                low.where("in"),
                "give each input of a merge its own value (x + x is 2 x: a scale)",
            ))  # fmt: skip
            sources = list(dict.fromkeys(sources))
        kinds: dict[str, ir.Op] = {"add": ir.Add(), "mul": ir.Mul(), "concat": ir.Concat()}
        kind = kinds[op.op]
        channels = [low.channels[name] for name in op.input]
        low.node[op.name] = low.add(node_id, kind, *sources)
        low.channels[op.name] = sum(channels) if op.op == "concat" else channels[0]
        return
    assert isinstance(op, (ConvOp, NormOp, ActOp, PoolOp, GlobalPoolOp, ChannelConvOp, SplitOp,
                           SoftmaxOp, ScaleOp, IdentityOp, AttentionOp, ReshapeOp))  # fmt: skip
    prev = op.input or _previous(low)
    src, cin = low.node[prev], low.channels[prev]
    if isinstance(op, AttentionOp):  # the helper module's nodes, under the op's name
        size = _attention_size(low, op, cin)
        scope = dataclasses.replace(low.s, loc=low.where())
        low.node[op.name] = lower_channel_attention(scope, node_id, src, cin, op.kind, size)
        low.channels[op.name] = cin
        return
    lowered = _one_input_op(low, op, cin)
    if lowered is None:  # an identity, or a norm of `norm: none`
        low.node[op.name], low.channels[op.name] = src, cin
        return
    node_op, cout = lowered
    low.node[op.name] = low.add(node_id, node_op, src)
    low.channels[op.name] = cout
    if isinstance(op, ActOp) and op.output_name:
        low.node[op.output_name], low.channels[op.output_name] = low.node[op.name], cout


def _previous(low: _Lowering) -> str:
    return low.user.ops[low.index - 1].name if low.index else "x"


def _one_input_op(low: _Lowering, op: object, cin: int) -> tuple[ir.Op, int] | None:
    spec = low.s.spec
    if isinstance(op, ConvOp):
        conv = _conv(low, op, cin)
        return conv, conv.out_channels
    if isinstance(op, NormOp):
        return _norm(low, op, cin)
    if isinstance(op, ActOp):
        return ir.Act(op.act or spec.act), cin
    if isinstance(op, PoolOp):
        if not runs_in(low.block, op.when):
            return None  # an identity in this block
        if op.pool == "blur":  # timm's BlurPool2d: 3x3, reflect padding (user_checks)
            stride = 2 if op.stride is None else low.value("stride", op.stride, least=1, most=64)
            return ir.BlurPool(cin, stride), cin
        kernel = low.value("kernel", op.kernel, least=1, most=64)
        stride = (
            low.value("stride", op.stride, least=1, most=64) if op.stride is not None else kernel
        )
        padding = low.value("padding", op.padding, least=0, most=kernel // 2)
        return ir.Pool(op.pool, kernel, stride, padding, ceil_mode=op.ceil), cin
    if isinstance(op, ScaleOp):
        return ir.Scale(cin, op.init), cin
    if isinstance(op, GlobalPoolOp):
        return ir.GlobalPool(op.pool), cin
    if isinstance(op, ChannelConvOp):
        kernel = _odd_kernel(low, op.kernel, "a channel conv's")
        return ir.ChannelConv(kernel, (kernel - 1) // 2), cin
    if isinstance(op, SplitOp):
        return _split(low, op, cin)
    if isinstance(op, SoftmaxOp):
        return _softmax(low, op, cin)
    if isinstance(op, ReshapeOp):
        return _regroup(low, op, cin)
    return None


def _attention_size(low: _Lowering, op: AttentionOp, cin: int) -> int:
    """SE's hidden channels or ECA's kernel: the op's value, else timm's rule for `cin`."""
    raw = op.hidden if op.kind == "se" else op.kernel
    if raw is None:
        return evaluate(parse_expr(ATTENTION_DEFAULTS[op.kind], frozenset("C")), {"C": cin})
    if op.kind == "se":
        return low.value("hidden", raw, least=1)
    return _odd_kernel(low, raw, "ECA's")


def _odd_kernel(low: _Lowering, raw: object, whose: str) -> int:
    """A 1-D kernel across channels: odd, so its padding keeps the channels (a diagnostic, and
    the next odd size, otherwise)."""
    kernel = low.value("kernel", raw, least=1, most=63)
    if kernel % 2 == 0:
        low.found.append(error(
            "block-value",
            f"kernel gives {kernel} {low._in_block()}; {whose} kernel is odd, so its padding "
            "keeps the channels",
            low.where("kernel"),
            f"with {low._env_text()}",
        ))  # fmt: skip
        kernel += 1
    return kernel


def _regroup(low: _Lowering, op: ReshapeOp, cin: int) -> tuple[ir.Op, int]:
    """The channels as blocks `dims` (one may be -1), reordered; the channels must split so."""
    dims = [low.value("dims", d, least=-1) for d in op.dims]
    known = [d for d in dims if d != -1]
    product = 1
    for d in known:
        product *= d
    rest = cin // product if product and len(known) == len(dims) - 1 else 0
    if 0 in dims or len(known) < len(dims) - 1 or (rest or 1) * product != cin:
        shown = " x ".join("-1" if d == -1 else str(d) for d in dims)
        low.found.append(error(
            "block-value",
            f"reshape: {cin} channels do not split as {shown} {low._in_block()}",
            low.where("dims"),
            f"give dims whose product is the input's channels (one may be -1); with "
            f"{low._env_text()}",
        ))  # fmt: skip
        return ir.Regroup((cin,), (0,)), cin
    full = tuple(rest if d == -1 else d for d in dims)
    return ir.Regroup(full, tuple(op.order)), cin


def _split(low: _Lowering, op: SplitOp, cin: int) -> tuple[ir.Op, int]:
    start = low.value("start", op.start, least=0)
    channels = low.value("channels", op.channels, least=1)
    if start + channels > cin:
        low.found.append(error(
            "block-value",
            f"split: channels {start}..{start + channels - 1} of a {cin}-channel input "
            f"{low._in_block()}",
            low.where("channels"),
            f"with {low._env_text()}",
        ))  # fmt: skip
        start, channels = 0, min(channels, cin)
    return ir.Slice(start, channels), channels


def _softmax(low: _Lowering, op: SoftmaxOp, cin: int) -> tuple[ir.Op, int]:
    paths = low.value("paths", op.paths, least=2, most=64)
    groups = low.value("groups", op.groups, least=1)
    if cin % (paths * groups):
        low.found.append(error(
            "block-value",
            f"softmax: {paths} paths x {groups} groups do not divide {cin} channels "
            f"{low._in_block()}",
            low.where("paths"),
            f"with {low._env_text()}",
        ))  # fmt: skip
        paths, groups = 2, 1
    return ir.Softmax(paths, groups), cin


def _conv(low: _Lowering, op: ConvOp, cin: int) -> ir.Conv:
    cout = low.value("out", op.out, least=1)
    kernel = low.value("kernel", op.kernel, least=1, most=64)
    stride = low.value("stride", op.stride, least=1, most=64)
    dilation = low.value("dilation", op.dilation, least=1, most=64)
    groups = low.value("groups", op.groups, least=1)
    if cin % groups or cout % groups:
        low.found.append(error(
            "block-value",
            f"groups {groups} must divide the conv's {cin} input and {cout} output channels "
            f"{low._in_block()}",
            low.where("groups"),
            f"with {low._env_text()}",
        ))  # fmt: skip
        groups = 1
    same = dilation * (kernel - 1) // 2
    padding = same if op.padding is None else low.value("padding", op.padding, least=0, most=256)
    bias = op.bias if op.bias is not None else not low.s.has_norm
    std = standardized(low.s.spec, own_bias=op.bias is True)  # as the built-in blocks' convs
    return ir.Conv(cin, cout, kernel, stride, padding, dilation, groups, bias, standardize=std)


def _norm(low: _Lowering, op: NormOp, channels: int) -> tuple[ir.Op, int] | None:
    norm = low.s.spec.norm
    kind = op.kind or norm.type
    if kind == "none":
        return None
    if kind == "layer":
        return ir.LayerNorm(channels, op.eps or 1e-6), channels
    eps = op.eps or norm.eps
    if kind in ("group", "evonorm_s0"):  # EvoNorm-S0 takes its std over groups of channels
        groups = norm.groups if op.groups is None else low.value("groups", op.groups, least=1)
        if channels % groups:
            low.found.append(error(
                "block-value",
                f"{kind} norm: {groups} groups do not divide {channels} channels "
                f"{low._in_block()}",
                low.where("groups" if op.groups is not None else "name"),
                "give the norm `groups` that divide its channels",
            ))  # fmt: skip
            groups = 1
        return ir.Norm(kind, channels, groups, eps), channels
    # frn as the built-in blocks' (scope.norm): the spec's groups, which it does not read.
    return ir.Norm(kind, channels, norm.groups, eps), channels
