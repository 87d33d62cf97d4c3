"""How a spec uses the blocks it defines: the params it sets, the spec's switches user blocks do
not take (or take differently: `anti_alias` reaches the stem only), a layout's names, class names
the generated file already has, a batch norm's eps, a pool's form. resgen.spec.user_checks checks
each block's own names and values and calls `check_uses`.
"""

from __future__ import annotations

from collections.abc import Sequence

from resgen.diagnostics import Diagnostic, error
from resgen.spec.model import Spec
from resgen.spec.regnet import regnet_named
from resgen.spec.source import Path, Source
from resgen.spec.user_ops import NormOp, PoolOp


def bad(code: str, message: str, source: Source, path: Path, hint: str, *, key: bool = False
        ) -> Diagnostic:  # fmt: skip
    return error(code, message, source.locate(path, key=key), hint)


def check_uses(spec: Spec, source: Source) -> list[Diagnostic]:
    """An error wherever the spec uses its user blocks in a way they cannot be used."""
    found = _check_params(spec, source)
    used = [spec.block.type, *(stage.block for stage in spec.stages if stage.block)]
    if any(kind in spec.blocks for kind in used):
        found += _check_switches(spec, used, source) + _check_layout(spec, used, source)
    return (
        found
        + _check_eps(spec, source)
        + _check_pools(spec, source)
        + _check_class_names(spec, source)
    )


def _check_params(spec: Spec, source: Source) -> list[Diagnostic]:
    """`block.params` are params of the block that is used."""
    found = []
    user = spec.blocks.get(spec.block.type)
    for key in spec.block.params:
        if user is None or key not in user.params:
            known = ", ".join(user.params) if user else ""
            hint = f"its params are: {known}" if known else "params are a user block's"
            found.append(bad("unknown-param", f"block.params: {key!r} is no param of block "
                             f"{spec.block.type!r}", source, ("block", "params", key), hint,
                             key=True))  # fmt: skip
    return found


def _unsupported(source: Source, path: Path, what: str, hint: str) -> Diagnostic:
    return bad("block-unsupported", f"user blocks do not take {what}", source, path, hint, key=True)


def _check_switches(spec: Spec, used: Sequence[str], source: Source) -> list[Diagnostic]:
    """The spec's block switches a user block does not take: it writes its ops instead."""
    refused = [
        (spec.block.preact, ("block", "preact"), "`preact`",
         "write the block's ops in pre-activation order"),
        (spec.block.attention is not None, ("block", "attention"), "`attention`",
         "write it as an op of the block, after its last norm: `{op: attention, name: se, "
         "kind: se}` (or `kind: eca`)"),
        (spec.block.linear_out, ("block", "linear_out"), "`linear_out`",
         "give the block `output_act: none`"),
        (spec.block.reduce_first != 1, ("block", "reduce_first"), "`reduce_first`",
         "compute widths in the ops' values"),
        (spec.layout == "timm" and not regnet_named(spec), ("layout",),
         f"`layout: {spec.layout}`",
         "remove `layout`; timm's names fit a RegNet's stages (`regnet:`) only"),
    ]  # fmt: skip
    found = [_unsupported(source, path, what, hint) for on, path, what, hint in refused if on]
    if spec.anti_alias is not None:
        found += _check_anti_alias(spec, used, source)
    for i, stage in enumerate(spec.stages):
        if stage.blocks and (stage.block or spec.block.type) in spec.blocks:
            found.append(_unsupported(source, ("stages", i, "blocks"), "per-block widths",
                                      "remove the stage's `blocks`"))  # fmt: skip
    return found


def _check_layout(spec: Spec, used: Sequence[str], source: Source) -> list[Diagnostic]:
    """A layout's names around a user block: timm's and torchvision's RegNet, timm's ResNetV2."""
    found = []
    kinds = list(dict.fromkeys(k for k in used if k in spec.blocks))
    if regnet_named(spec) or spec.layout == "resnetv2":  # a projection named `downsample.conv`
        # timm pools before a bare conv (ResNetV2-D, the pre-activation RegNetV); a RegNet's
        # normed projection has no average-pool form in either library.
        normed = any(spec.blocks[k].shortcut_norm for k in kinds)
        pooled = spec.layout == "resnetv2" or (spec.layout == "timm" and not normed)
        for path, kind in _shortcuts(spec):
            if kind == "pad" or (kind == "avgpool_projection" and not pooled):
                net = "ResNetV2" if spec.layout == "resnetv2" else "RegNet"
                hint = (
                    "use `projection`"
                    if kind == "pad" or spec.layout == "torchvision"
                    else (
                        "use `projection`, or give the block `shortcut_norm: false` (timm's "
                        "average-pool projection is a pre-activation RegNet's: a pool, a bare conv)"
                    )
                )
                found.append(_unsupported(source, path, f"`shortcut: {kind}` in a {net}", hint))
    if regnet_named(spec) and spec.layout == "torchvision":  # its projection is `proj`
        for kind in kinds:
            for i, op in enumerate(spec.blocks[kind].ops):
                if op.name.split(".")[0] == "proj":
                    found.append(bad(
                        "op-name",
                        f"op {op.name!r}: `proj` is the projection's name in torchvision's RegNet",
                        source, ("blocks", kind, "ops", i, "name"), "give the op another name",
                    ))  # fmt: skip
    if spec.layout == "resnetv2":  # timm's ResNetV2 projection is a bare conv
        for kind in kinds:
            if spec.blocks[kind].shortcut_norm:
                hint = "give the block `shortcut_norm: false` (timm's projection is a bare conv)"
                found.append(_unsupported(source, ("blocks", kind),
                                          "a normed projection in a ResNetV2", hint))  # fmt: skip
    return found


def _check_anti_alias(spec: Spec, used: Sequence[str], source: Source) -> list[Diagnostic]:
    """`anti_alias` reaches the stem only: a user block downsamples as its ops say, so each one
    used must pool that way itself where it strides, or the network would anti-alias its stem
    and not its blocks."""
    aa = spec.anti_alias
    pool = "{op: pool, name: aa, pool: blur, stride: stride, when: strided}" if aa == "blur" else (
        "{op: pool, name: aa, pool: avg, kernel: stride, when: strided}")  # fmt: skip
    found = []
    for kind in dict.fromkeys(k for k in used if k in spec.blocks):
        if not any(isinstance(op, PoolOp) and op.pool == aa and op.when == "strided"
                   for op in spec.blocks[kind].ops):  # fmt: skip
            found.append(bad(
                "block-unsupported",
                f"`anti_alias: {aa}` anti-aliases the stem only: block {kind!r} downsamples with "
                f"its own ops, and none is a `pool: {aa}` op `when: strided`",
                source, ("anti_alias",),
                f"write the block's pool, `{pool}`, after its strided conv's activation, the conv "
                "at stride 1; or remove `anti_alias`", key=True,
            ))  # fmt: skip
    return found


def _shortcuts(spec: Spec) -> list[tuple[Path, str]]:
    """Where each shortcut kind in use is said: the spec's, and each stage's own."""
    found: list[tuple[Path, str]] = [(("shortcut",), spec.shortcut)]
    return found + [(("stages", i, "shortcut"), s.shortcut) for i, s in enumerate(spec.stages)
                     if s.shortcut]  # fmt: skip


def _check_class_names(spec: Spec, source: Source) -> list[Diagnostic]:
    """A user block's class is one of the generated file's: its name is no other class's there."""
    if not spec.blocks:
        return []
    # Imported here: only specs that define blocks need the names of the file's other classes.
    from resgen.codegen.render import HELPERS
    from resgen.codegen.user_blocks import class_name
    from resgen.graph.blocks import BLOCK_KINDS

    kinds = {stage.block or spec.block.type for stage in spec.stages}
    taken = {kind.class_name: "a built-in block's class" for (name, preact), kind
             in BLOCK_KINDS.items() if name in kinds and preact == spec.block.preact}  # fmt: skip
    taken |= dict.fromkeys(HELPERS, "a helper class")
    taken[spec.model_class] = "the model class"
    taken[f"{spec.model_class}Deploy"] = "the deploy model class"
    found = []
    for kind in spec.blocks:
        name = class_name(spec, kind)
        if name in taken:
            path = ("blocks", kind, "class_name") if spec.blocks[kind].class_name else (
                "blocks", kind)  # fmt: skip
            found.append(bad("block-name", f"class {name} (block {kind!r}) is already "
                              f"{taken[name]} in the generated file", source, path,
                              "give the block another `class_name`"))  # fmt: skip
        taken[name] = f"the class of block {kind!r}"
    return found


def _check_eps(spec: Spec, source: Source) -> list[Diagnostic]:
    """A batch norm's eps is the spec's: the deploy build folds every batch norm with it."""
    found = []
    for name, block in spec.blocks.items():
        for i, op in enumerate(block.ops):
            batch = isinstance(op, NormOp) and (op.kind or spec.norm.type) in _BATCH
            if batch and op.eps is not None and op.eps != spec.norm.eps:  # type: ignore[union-attr]
                hint = "set `norm.eps`, or give a group or layer norm its own eps"
                found.append(bad("block-value", f"a batch norm's eps is the spec's norm.eps "
                                  f"({spec.norm.eps})", source, ("blocks", name, "ops", i, "eps"),
                                  hint))  # fmt: skip
    return found


_BATCH = ("batch", "frozen_batch")


def _check_pools(spec: Spec, source: Source) -> list[Diagnostic]:
    """An avg or max pool has a kernel; a blur's kernel (3) and reflect padding are fixed."""
    found = []
    for name, block in spec.blocks.items():
        for i, op in enumerate(block.ops):
            if not isinstance(op, PoolOp):
                continue
            at: Path = ("blocks", name, "ops", i)
            if op.pool != "blur" and op.kernel is None:
                found.append(bad("block-value", f"{op.pool} pool {op.name!r} has no kernel",
                                  source, at, "give it `kernel:`, its window size"))  # fmt: skip
                continue
            wrong = [(key, what, hint) for key, what, hint, bad in (
                ("kernel", "its kernel is 3 (a fixed [1, 2, 1] binomial filter)",
                 "; for another window write `pool: avg` or `pool: max`",
                 op.kernel not in (None, 3, "3")),
                ("padding", "it pads by reflection, 1 pixel each side", "",
                 op.padding not in (0, "0")),
                ("ceil", "it has no ceil mode", "", op.ceil),
            ) if op.pool == "blur" and bad]  # fmt: skip
            for key, what, hint in wrong:
                found.append(bad("block-value", f"blur pool {op.name!r}: {what}", source,
                                  (*at, key), f"remove `{key}`{hint}"))  # fmt: skip
    return found
