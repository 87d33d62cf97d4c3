"""Graph -> the deploy build's render model: an inference module with its norms folded away.

`resgen build --deploy` writes `<name>_deploy.py` beside `<name>.py`. A pass over the IR decides
what becomes of every norm node:

- `fold`: a batch norm (or frozen batch norm) straight after a conv of the same block, which
  feeds nothing else, is folded into that conv's weight and bias: exact in real arithmetic.
- `affine`: a batch norm after an activation or an add (the pre-activation nets' `bn1` and
  `bn_final`) cannot move through the ReLU into the next conv; it stays as one multiply-add per
  channel (`Affine`, x * scale + shift).
- `keep`: a group norm depends on its input's statistics and stays as it is.

A conv whose norm folded away and that a ReLU follows becomes `ConvReLU`; a block's last conv
followed by the add and a ReLU becomes `ConvAddReLU`. Both are plain `nn.Conv2d` subclasses (same
weights, same names) that on an NVIDIA GPU run as one cuDNN kernel each
(`torch.cudnn_convolution_relu` / `_add_relu`, the kernels `torch.jit.freeze` fuses into): eager
PyTorch would add the conv's bias and apply the ReLU in two more passes over the output.

The deploy module keeps the trained module's names, so its state_dict is the trained one minus
the folded norms, plus the convs' new biases; the generated `fold_state_dict` does the arithmetic
at run time (resgen itself never imports torch). Training-only modules (drop-path, dropout) are
left out: the deploy module is the spec with those regularisers removed.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from resgen.checks import Analysis
from resgen.codegen.emit import environment
from resgen.codegen.render import BLOCK_CLASSES, BlockClass, RenderModel, build_render_model
from resgen.graph import ir
from resgen.spec.load import LoadedSpec

Action = Literal["fold", "affine", "keep"]

# Modules the normal build needs that the deploy build folds away or drops.
_DROPPED_HELPERS = ("FrozenBatchNorm2d", "DropPath")
# Helpers of the deploy build's own, in templates/deploy/helpers/.
DEPLOY_HELPERS = ("Affine", "FusedConv2d")


@dataclass(frozen=True)
class NormPlan:
    """What the deploy build does with one norm node."""

    action: Action
    into: str | None  # the conv node a folded norm goes into


@dataclass(frozen=True)
class DeployBlock:
    """One block class: the normal build's constructor flags plus what folding changed."""

    cls: BlockClass  # name, type, shortcut kind...: the same constructor as the normal module
    bias: dict[str, str]  # conv path within the block -> "True" | "False"
    norms: dict[str, str]  # kept norm path -> constructor with {c} for the channels
    fused: dict[str, str]  # conv path -> "ConvReLU" | "ConvAddReLU"; others stay nn.Conv2d
    conv_classes: dict[str, str]  # every conv path -> its constructor ("nn.Conv2d", "ConvReLU"...)
    last_conv: str  # "conv3" (bottleneck) or "conv2" (basic)
    keeps_act: bool  # whether an unfused activation is left for the block's `self.relu`


@dataclass(frozen=True)
class DeployModel:
    """Everything `templates/deploy/` prints for one spec."""

    base: RenderModel  # the normal build's model of the spec without drop-path and dropout
    docstring: tuple[str, ...]
    class_name: str  # ResNet50Deploy
    trained_class: str  # ResNet50
    exports: tuple[str, ...]
    helpers: tuple[str, ...]
    fused_classes: tuple[str, ...]  # "ConvAddReLU", "ConvReLU": the FusedConv2d kinds used
    blocks: tuple[DeployBlock, ...]
    stem_bias: dict[str, str]
    stem_norms: dict[str, str]
    stem_conv: str  # path of the first conv, whose weight tells the input channels
    stem_fused: bool  # the stem conv (7x7 or CIFAR 3x3) and its ReLU are one ConvReLU
    stem_conv_class: str  # "ConvReLU" or "nn.Conv2d"
    keeps_act: bool  # whether the model's own `self.relu` is still used (stem or final norm)
    deep_stem: tuple[str, ...]  # the deep stem's Sequential, one module per line; () for others
    final_norm: str  # constructor of the pre-activation nets' closing norm; "" for none
    model_folds: tuple[tuple[str, str], ...]  # (norm, conv) outside blocks
    block_folds: tuple[tuple[str, str], ...]  # (norm, conv) within every block
    model_affines: tuple[str, ...]
    block_affines: tuple[str, ...]
    eps: str


def plan_norms(graph: ir.Graph) -> dict[str, NormPlan]:
    """Decide, for every norm node, whether it folds into its conv, becomes affine or stays."""
    plans: dict[str, NormPlan] = {}
    for node, data in ir.nodes(graph):
        if not isinstance(data.op, ir.Norm):
            continue
        if data.op.norm == "group":
            plans[node] = NormPlan("keep", None)
            continue
        (source,) = graph.predecessors(node)
        before = ir.node(graph, source)
        foldable = (
            before.kind == ir.CONV
            and graph.out_degree(source) == 1
            # Within one block (or both outside blocks), so every instance of a block class
            # folds alike; the first pre-activation block's bn1 stays even though the stem
            # conv before it could take it.
            and before.block == data.block
        )
        plans[node] = NormPlan("fold", source) if foldable else NormPlan("affine", None)
    return plans


def build_deploy_model(loaded: LoadedSpec, analysis: Analysis) -> DeployModel:
    """Collect what the deploy templates print for one spec."""
    spec = loaded.spec
    # The deploy module is the spec's network without its training-only regularisers.
    inference = spec.model_copy(
        update={"drop_path": 0.0, "head": spec.head.model_copy(update={"dropout": 0.0})}
    )
    base = build_render_model(dataclasses.replace(loaded, spec=inference), analysis)
    graph = analysis.graph
    plans = plan_norms(graph)
    norm_ctor = _norm_constructors(loaded)
    scopes = _scopes(graph, plans, norm_ctor)
    outside = scopes.pop("", _Scope())  # the stem and the head
    relu = spec.act == "relu"
    blocks = _deploy_blocks(graph, base, scopes, relu)
    block_scope = _merge(scopes.values())
    stem_fused = relu and base.stem_norm and spec.stem.type != "deep" and "bn1" not in outside.norms
    helpers = [h for h in base.helpers if h not in _DROPPED_HELPERS]
    if stem_fused or any(b.fused for b in blocks):
        helpers.insert(0, "FusedConv2d")
    if any(p.action == "affine" for p in plans.values()):
        helpers.insert(0, "Affine")
    fused_classes = sorted(
        {c for b in blocks for c in b.fused.values()} | ({"ConvReLU"} if stem_fused else set())
    )
    class_name = f"{spec.model_class}Deploy"
    names = [*helpers, *fused_classes, *(b.cls.name for b in blocks), class_name]
    return DeployModel(
        base=base,
        docstring=_docstring(base, plans),
        class_name=class_name,
        trained_class=spec.model_class,
        exports=(*sorted(names, key=lambda n: (not n[:1].isupper(), n)), "fold_state_dict"),
        helpers=tuple(helpers),
        fused_classes=tuple(fused_classes),
        blocks=blocks,
        stem_bias=outside.bias,
        stem_norms={k: v for k, v in outside.norms.items() if k != "bn_final"},
        stem_conv="conv1.0" if spec.stem.type == "deep" else "conv1",
        stem_fused=stem_fused,
        stem_conv_class="ConvReLU" if stem_fused else "nn.Conv2d",
        keeps_act=(base.stem_norm and not stem_fused) or bool(base.final_norm),
        deep_stem=_deep_stem(graph, plans, outside, norm_ctor, base.layers.act),
        final_norm=outside.norms.get("bn_final", ""),
        model_folds=tuple(outside.folds.items()),
        block_folds=tuple(block_scope.folds.items()),
        model_affines=tuple(outside.affines),
        block_affines=tuple(block_scope.affines),
        eps=repr(spec.norm.eps),
    )


def render_deploy_source(loaded: LoadedSpec, analysis: Analysis) -> str:
    """Render `<name>_deploy.py`; the text ends with exactly one newline."""
    model = build_deploy_model(loaded, analysis)
    template = environment().get_template("deploy/model.py.jinja")
    text = template.render(m=model, deploy_helpers=DEPLOY_HELPERS)
    return text.rstrip("\n") + "\n"


@dataclass
class _Scope:
    """What folding changed within one block, or outside blocks (the stem and the head)."""

    bias: dict[str, str] = dataclasses.field(default_factory=dict)
    norms: dict[str, str] = dataclasses.field(default_factory=dict)
    folds: dict[str, str] = dataclasses.field(default_factory=dict)
    affines: list[str] = dataclasses.field(default_factory=list)


def _norm_constructors(loaded: LoadedSpec) -> dict[Action, str]:
    norm = loaded.spec.norm
    eps = "" if norm.eps == 1e-5 else f", eps={norm.eps!r}"
    return {
        "keep": f"nn.GroupNorm({norm.groups}, {{c}}{eps})",
        "affine": "Affine({c})",
        "fold": "",
    }


def _scopes(
    graph: ir.Graph, plans: dict[str, NormPlan], norm_ctor: dict[Action, str]
) -> dict[str, _Scope]:
    """One pass over the nodes: per block path ("" outside blocks), with paths relative to it."""
    scopes: dict[str, _Scope] = {}
    targets = {p.into for p in plans.values() if p.into is not None}
    for node, data in ir.nodes(graph):
        if not isinstance(data.op, (ir.Conv, ir.Norm)):
            continue
        block = data.block or ""
        scope = scopes.setdefault(block, _Scope())
        rel = node[len(block) + 1 :] if block else node
        if isinstance(data.op, ir.Conv):
            scope.bias[rel] = str(bool(data.op.bias) or node in targets)
            continue
        plan = plans[node]
        if plan.action == "fold":
            assert plan.into is not None
            scope.folds[rel] = plan.into[len(block) + 1 :] if block else plan.into
        else:
            scope.norms[rel] = norm_ctor[plan.action]
            if plan.action == "affine":
                scope.affines.append(rel)
    return scopes


def _merge(scopes: Iterable[_Scope]) -> _Scope:
    """Union the blocks' scopes; every block of a spec must fold the same way."""
    merged = _Scope()
    for scope in scopes:
        for mine, theirs in (
            (merged.bias, scope.bias),
            (merged.norms, scope.norms),
            (merged.folds, scope.folds),
        ):
            for key, value in theirs.items():
                assert mine.setdefault(key, value) == value, (key, value, mine[key])
        merged.affines += [a for a in scope.affines if a not in merged.affines]
    return merged


def _deep_stem(
    graph: ir.Graph,
    plans: dict[str, NormPlan],
    stem: _Scope,
    norm_ctor: dict[Action, str],
    act: str,
) -> tuple[str, ...]:
    """The deep stem's `conv1` Sequential, one module per line.

    Module `conv1.k` sits at index k, as in the trained module: a Sequential numbers its modules,
    so a folded norm (or a spec without norms) leaves an nn.Identity placeholder there.
    """
    lines: dict[int, str] = {}
    for node, data in ir.nodes(graph):
        if data.stage != "stem" or not node.startswith("conv1."):
            continue
        index, op = int(node.split(".")[1]), data.op
        if isinstance(op, ir.Conv):
            cin = op.in_channels if index else "in_channels"
            stride = f", stride={op.stride}" if op.stride != 1 else ""
            lines[index] = (
                f"nn.Conv2d({cin}, {op.out_channels}, kernel_size=3{stride}, padding=1, "
                f"bias={stem.bias[node]}),"
            )
        elif isinstance(op, ir.Norm) and plans[node].action == "fold":
            lines[index] = f"nn.Identity(),  # {node}: folded into {plans[node].into}"
        elif isinstance(op, ir.Norm):
            lines[index] = norm_ctor[plans[node].action].format(c=op.channels) + ","
        elif isinstance(op, ir.Act):
            lines[index] = f"{act},"
    return tuple(lines.get(i, "nn.Identity(),") for i in range(max(lines, default=-1) + 1))


def _deploy_blocks(
    graph: ir.Graph, base: RenderModel, scopes: dict[str, _Scope], relu: bool
) -> tuple[DeployBlock, ...]:
    by_class: dict[str, list[_Scope]] = {}
    preact = bool(base.block_classes) and base.block_classes[0].preact
    for block in ir.blocks_of(graph):
        name = BLOCK_CLASSES[(block.type, preact)]
        by_class.setdefault(name, []).append(scopes.get(block.path, _Scope()))
    out = []
    for cls in base.block_classes:
        merged = _merge(by_class.get(cls.name, []))
        convs = ("conv1", "conv2", "conv3") if cls.type == "bottleneck" else ("conv1", "conv2")
        fused = _fusions(cls, convs, merged.norms) if relu else {}
        out.append(
            DeployBlock(
                cls,
                merged.bias,
                merged.norms,
                fused,
                conv_classes={c: fused.get(c, "nn.Conv2d") for c in convs},
                last_conv=convs[-1],
                keeps_act=len(fused) < len(convs),
            )
        )
    return tuple(out)


def _fusions(cls: BlockClass, convs: tuple[str, ...], kept_norms: dict[str, str]) -> dict[str, str]:
    """Which convs of a post-activation ReLU block run fused with what follows them.

    A conv fuses with its ReLU when no norm stays between them; the last conv also takes the add
    when nothing comes between (no SE/ECA) and every instance adds (not a per-stage plain flag).
    Pre-activation blocks end in a bare conv and activate their input, so nothing fuses there.
    """
    if cls.preact:
        return {}
    *inner, last = convs
    fused = {c: "ConvReLU" for c in inner if f"bn{c[-1]}" not in kept_norms}
    if f"bn{last[-1]}" not in kept_norms and not cls.attention:
        if cls.residual == "always":
            fused[last] = "ConvAddReLU"
        elif cls.residual == "never":
            fused[last] = "ConvReLU"
    return fused


def _docstring(base: RenderModel, plans: dict[str, NormPlan]) -> tuple[str, ...]:
    """The normal build's docstring with a paragraph on what the deploy build changed."""
    count = {a: sum(1 for p in plans.values() if p.action == a) for a in ("fold", "affine", "keep")}
    parts = []
    if count["fold"]:
        parts.append(f"{count['fold']} norms are folded into the convs before them")
    if count["affine"]:
        parts.append(
            f"{count['affine']} norms after an activation or an add become one multiply-add "
            "per channel (Affine)"
        )
    if count["keep"]:
        parts.append(f"{count['keep']} group norms stay as they are")
    text = (
        "Deploy build: an inference-only module. "
        + ("; ".join(parts) + ". " if parts else "")
        + "Drop-path and dropout are gone; activations run in place where torch allows, and on "
        "an NVIDIA GPU a ReLU (with the add before it) runs in its conv's cuDNN kernel; "
        "inputs and weights are channels_last unless channels_last=False. Load trained weights "
        f"with {base.class_name}Deploy.from_trained(model) or fold_state_dict(), and run it "
        "under torch.inference_mode()."
    )
    lines = list(base.docstring)
    split = lines.index("") if "" in lines else len(lines)
    head, rest = lines[:split], lines[split:]
    rest = [
        line.replace("rebuild with `resgen build`.", "rebuild with `resgen build --deploy`.")
        for line in rest
    ]
    return (*head, "", *textwrap.wrap(text, 96, break_on_hyphens=False), *rest)
