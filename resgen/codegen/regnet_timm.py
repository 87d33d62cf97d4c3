"""Graph -> a RegNet block class in timm's layout: `Bottleneck` or (RegNetV) `PreBottleneck`.

timm's post-activation block nests each conv with its norm (`conv1.conv`, `conv1.bn`), so its
class is keyed Sequentials (resgen.codegen.regnet); the pre-activation block is flat (`norm1`,
`conv1`, ..., `downsample`), so its modules and forward come from the block's nodes one by one:
a norm the deploy build folded is simply not there, and the forward skips it.
"""

from __future__ import annotations

from resgen.codegen.calls import Call, Decl, act_call, module_call
from resgen.codegen.regnet import AVG_DOWN, Group, RegNetClass, _mixed_residual, _params, flat_decls
from resgen.codegen.stem import Item, keyed_items
from resgen.graph import ir
from resgen.spec.model import Spec

_SE = Call("SqueezeExcite", ("mid_channels", "se_channels"), False)


def timm_class(
    rep: ir.Block, members: list[tuple[str, ir.Op]], names: set[str], folds: dict[str, str],
    spec: Spec, blocks: list[ir.Block],
) -> RegNetClass:  # fmt: skip
    """timm's Bottleneck: conv1, conv2, se, conv3 (each conv with its norm), act3, downsample."""
    if rep.preact:
        return _preact_class(rep, members, names, spec, blocks)
    groups = []
    for key in ("conv1", "conv2", "se", "conv3"):
        if key == "se":
            if rep.attention_size:
                groups.append(Group("se", (), _SE))
            continue
        items, keys = keyed_items(key, members, names, folds, spec, 16)
        groups.append(Group(key, items, None, keys))
    proj: tuple[Item, ...] = ()
    proj_keys: tuple[str, ...] = ()
    if rep.downsample:
        proj, proj_keys = keyed_items("downsample", members, names, folds, spec, 20)
    weighted = [rel for rel, op in members
                if rel.startswith("conv3.") and isinstance(op, (ir.Conv, ir.Norm))]  # fmt: skip
    return RegNetClass(
        name="Bottleneck",
        template="regnet_timm",
        params=_params(blocks),
        groups=tuple(groups),
        proj=proj,
        act=act_call(spec),
        zero_init="",
        zero_param=weighted[-1] + ".weight",
        helpers=("SqueezeExcite",) if rep.attention_size else (),
        proj_keys=proj_keys,
        residual_flag=_mixed_residual(blocks),
        linear_out=spec.block.linear_out,
    )


def _preact_class(
    rep: ir.Block, members: list[tuple[str, ir.Op]], names: set[str], spec: Spec,
    blocks: list[ir.Block],
) -> RegNetClass:  # fmt: skip
    """timm's PreBottleneck: norm-act before each conv, SE after the 3x3, and a shortcut that
    takes the pre-activated input: a bare 1x1 conv, or an average pool (where the block strides)
    then one."""
    ops = dict(members)
    decls = flat_decls(members, names)
    if rep.attention_size:
        at = next(i for i, d in enumerate(decls) if d.attr == "conv2") + 1
        decls.insert(at, Decl("se", _SE))
    proj: tuple[Item, ...] = ()
    if "downsample.1" in ops:  # timm's downsample_avg: the pool is nn.Identity() at stride 1
        conv = module_call(ops["downsample.1"], names, first=False, indent=16)
        proj = (Item(AVG_DOWN, ""), Item(conv, ""))
    elif "downsample" in ops:
        proj = (Item(module_call(ops["downsample"], names, first=False, indent=12), ""),)
    return RegNetClass(
        name="PreBottleneck",
        template="regnet_timm_preact",
        params=_params(blocks),
        groups=(),
        proj=proj,
        act=act_call(spec),
        zero_init="",
        zero_param="conv3.weight",  # pre-activation: the branch's last conv
        helpers=("SqueezeExcite",) if rep.attention_size else (),
        decls=tuple(decls),
        statements=_preact_forward(decls, bool(proj), any(b.drop_path > 0 for b in blocks)),
    )


def _preact_forward(decls: list[Decl], proj: bool, drop: bool) -> tuple[str, ...]:
    """The forward's lines; a norm the deploy build folded into the conv before it is skipped."""
    has = {d.attr for d in decls}

    def pre(norm: str, x: str) -> str:
        return f"self.act(self.{norm}({x}))" if norm in has else f"self.act({x})"

    shortcut = "x if self.downsample is None else self.downsample(x)" if proj else "x"
    lines = [f"x = {pre('norm1', 'x')}", f"shortcut = {shortcut}", "out = self.conv1(x)",
             f"out = self.conv2({pre('norm2', 'out')})"]  # fmt: skip
    if "se" in has:
        lines.append("out = self.se(out)")
    lines.append(f"out = self.conv3({pre('norm3', 'out')})")
    if drop:
        lines.append("out = self.drop_path(out)")
    lines.append("return out + shortcut")
    return tuple(lines)
