"""The helper classes a generated module may define, in the order written, and which ones it uses.

A helper is a module the blocks, the stem or the head call that torch has not (FrozenBatchNorm2d,
DropPath, timm's ClassifierHead); resgen/codegen/render.py lists the used ones in the render model.
"""

from __future__ import annotations

from resgen.codegen.blocks import BlockClass
from resgen.codegen.regnet import RegNetClass
from resgen.codegen.stem import Outside, Sequential
from resgen.codegen.user_blocks import UserBlockClass
from resgen.graph import ir
from resgen.spec.model import Spec
from resgen.spec.regnet import regnet_named

# Helper classes, in the order they are written.
HELPERS = (
    "Affine",
    "FusedConv2d",
    "ConvReLU",
    "ConvAddReLU",
    "FrozenBatchNorm2d",
    "PadShortcut",
    "AvgPool2dSame",
    "BlurPool2d",
    "SqueezeExcite",
    "SqueezeExcitation",
    "SelectiveKernel",
    "SplitAttn",
    "ClassifierHead",
    "StdConv2d",
    "EvoNorm2dS0",
    "FilterResponseNormTlu2d",
    "ResNetStage",
    "ConvClassifierHead",
    "EfficientChannelAttention",
    "DropPath",
    "KeepBuffers",
    "LayerNorm2d",
    "make_divisible",
    "log2",
)


def head_class(spec: Spec, blocks: tuple[ir.Block, ...]) -> str:
    """timm's head module, when the names are timm's: a linear classifier, or (ResNetV2) a 1x1
    conv; "" for torchvision's `avgpool` and `fc`."""
    if spec.layout == "resnetv2":
        return "ConvClassifierHead"
    return "ClassifierHead" if regnet_named(spec) and spec.layout == "timm" else ""


def used_helpers(
    all_classes: tuple[BlockClass | RegNetClass | UserBlockClass, ...],
    outside: Outside,
    head: str = "",
) -> tuple[str, ...]:
    """The helper classes the module uses: those its calls name, and the templates' own."""
    classes = [c for c in all_classes if isinstance(c, BlockClass)]
    calls = [d.call for c in classes for d in (*c.modules, c.act, c.attention) if d is not None]
    calls += [item for c in classes for item in c.shortcut_items]
    regnets = [c for c in all_classes if isinstance(c, RegNetClass)]
    extra = {h for c in regnets for h in c.helpers}  # a RegNet's class names its own
    for c in regnets:  # and the modules it calls (FrozenBatchNorm2d, StdConv2d, EvoNorm2dS0)
        calls += [item.call for g in c.groups for item in g.items] + [i.call for i in c.proj]
        calls += [d.call for d in c.decls]
    extra |= {"DropPath"} if any(c.drop_path for c in regnets) else set()
    users = [c for c in all_classes if isinstance(c, UserBlockClass)]
    extra |= {h for c in users for h in c.helpers}
    extra |= {"DropPath"} if any(c.drop_path for c in users) else set()
    calls += [item for c in users for item in c.shortcut_items]
    if any(c.shortcut == ir.ShortcutKind.PAD for c in users):
        extra.add("PadShortcut")
    if any(c.opens_dilated and c.shortcut == ir.ShortcutKind.AVGPOOL_PROJECTION for c in users):
        extra.add("AvgPool2dSame")
    for d in outside.stem:
        calls += [item.call for item in d.items] if isinstance(d, Sequential) else [d.call]
    if outside.final_norm is not None:
        calls.append(outside.final_norm)
    calls += [item.call for d in outside.final_modules for item in d.items]
    used = {call.callee for call in calls} | extra
    if used & {"ConvReLU", "ConvAddReLU"}:
        used.add("FusedConv2d")  # their base class
    if any(c.shortcut == ir.ShortcutKind.PAD for c in classes):
        used.add("PadShortcut")  # templates/shortcuts/pad.py.jinja
    if any(c.opens_dilated and c.shortcut == ir.ShortcutKind.AVGPOOL_PROJECTION for c in classes):
        used.add("AvgPool2dSame")  # templates/shortcuts/avgpool_projection.py.jinja
    if any(c.drop_path for c in classes):
        used.add("DropPath")
    used.add(head)
    return tuple(h for h in HELPERS if h in used)
