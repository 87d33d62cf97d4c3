"""The deploy build: `<name>_deploy.py`, an inference module with its norms folded away.

The network is the folded graph (`resgen.graph.fold`): the same block and model templates print
it, and the same checks count it, so the docstring's parameters are the deploy module's own.
What this module adds is the deploy build's own vocabulary: the class name, where each trained
norm goes (the generated `fold_state_dict` does the arithmetic at run time; resgen itself never
imports torch), and a docstring paragraph on what changed.

The deploy module keeps the trained module's names, so its state_dict is the trained one minus
the folded norms, plus the convs' new biases. Training-only modules (drop-path, dropout) are left
out: the deploy module is the spec with those regularisers removed.
"""

from __future__ import annotations

import dataclasses
import textwrap
from typing import Any, NamedTuple

from resgen.checks import Analysis
from resgen.codegen.emit import render_source
from resgen.codegen.render import RenderModel, build_render_model
from resgen.graph import ir
from resgen.graph.fold import fold
from resgen.spec.load import LoadedSpec
from resgen.spec.regnet import regnet_named


class DeployExtras(NamedTuple):
    """What only the deploy template prints: where the trained norms go."""

    trained_class: str  # ResNet50
    eps: str
    model_folds: tuple[tuple[str, str], ...]  # (norm, conv) outside blocks
    block_folds: tuple[tuple[str, str], ...]  # (norm, conv) within every block, relative
    model_affines: tuple[str, ...]
    block_affines: tuple[str, ...]
    block_pattern: str  # a regex of a block's path: `layer\d+\.\d+`
    note: tuple[str, ...]  # the comment above the tables, wrapped
    std_eps: str = ""  # weight standardisation's eps where the trained convs standardise
    model_standardized: tuple[str, ...] = ()  # those convs outside blocks
    block_standardized: tuple[str, ...] = ()  # and within every block, relative


def folded_analysis(analysis: Analysis) -> Analysis:
    """Every static pass over the folded graph: the deploy module's shapes, params and MACs."""
    from resgen.pipeline import analyze  # the pipeline imports codegen lazily too

    return analyze(fold(analysis.graph))


def build_deploy_model(loaded: LoadedSpec, analysis: Analysis) -> RenderModel:
    """The render model of the deploy build, from the folded graph of a checked spec."""
    spec = loaded.spec
    # The deploy module is the spec's network without its training-only regularisers.
    inference = spec.model_copy(
        update={"drop_path": 0.0, "head": spec.head.model_copy(update={"dropout": 0.0})}
    )
    folded = folded_analysis(analysis)
    base = build_render_model(dataclasses.replace(loaded, spec=inference), folded, deploy=True)
    extras = _norm_tables(folded.graph, spec.model_class, repr(spec.norm.eps), spec.layout,
                          regnet=regnet_named(spec))  # fmt: skip
    return base._replace(docstring=_docstring(base, folded.graph), deploy=extras)


def render_deploy_source(loaded: LoadedSpec, analysis: Analysis) -> str:
    """Render `<name>_deploy.py`; the text ends with exactly one newline."""
    return render_source(build_deploy_model(loaded, analysis), "deploy/model.py.jinja")


def _norm_tables(
    graph: ir.Graph, trained_class: str, eps: str, layout: str, *, regnet: bool
) -> DeployExtras:
    """The folds and affines, outside blocks by path and within blocks relative to the block.

    Every block folds alike (lowering builds every block of a kind the same way); the assert
    keeps it so.
    """
    model_folds: dict[str, str] = {}
    block_folds: dict[str, str] = {}
    affines: dict[str, list[str]] = {"model": [], "block": []}
    folds: dict[str, str] = graph.graph["folds"]
    for norm, conv in folds.items():
        block = ir.node(graph, conv).block  # a norm folds only into a conv of its own block
        if block is None:
            model_folds[norm] = conv
            continue
        rel, into = norm[len(block) + 1 :], conv[len(block) + 1 :]
        assert block_folds.setdefault(rel, into) == into, (norm, conv)
    for node, data in ir.nodes(graph):
        if isinstance(data.op, ir.Affine):
            where, rel = ("block", node[len(data.block) + 1 :]) if data.block else ("model", node)
            if rel not in affines[where]:
                affines[where].append(rel)
    std: dict[str, list[str]] = {"model": [], "block": []}
    for conv in graph.graph.get("standardized", {}):
        block = ir.node(graph, conv).block
        where, rel = ("block", conv[len(block) + 1 :]) if block else ("model", conv)
        if rel not in std[where]:
            std[where].append(rel)
    epsilons = set(graph.graph.get("standardized", {}).values())
    assert len(epsilons) <= 1, epsilons  # one spec-wide `conv.eps`
    return DeployExtras(
        std_eps=repr(epsilons.pop()) if epsilons else "",
        model_standardized=tuple(std["model"]),
        block_standardized=tuple(std["block"]),
        trained_class=trained_class,
        eps=eps,
        model_folds=tuple(model_folds.items()),
        block_folds=tuple(block_folds.items()),
        model_affines=tuple(affines["model"]),
        block_affines=tuple(affines["block"]),
        **_block_paths(layout, regnet=regnet),
    )


def _block_paths(layout: str, *, regnet: bool) -> dict[str, Any]:
    """How block paths look, for the generated `_BLOCK_PATH`: ResNet's, or a RegNet layout's."""
    pattern, example = r"layer\d+\.\d+", "layer2.3"
    if regnet and layout == "torchvision":
        pattern, example = r"trunk_output\.block\d+\.block\d+-\d+", "trunk_output.block2.block2-3"
    elif regnet:
        pattern, example = r"s\d+\.b\d+", "s2.b3"
    elif layout == "resnetv2":
        pattern, example = r"stages\.\d+\.blocks\.\d+", "stages.1.blocks.3"
    note = (
        "Where the trained model's norms go. A norm in *_FOLDS is folded into the conv before it; "
        "one in *_AFFINES (after an activation or an add) becomes x * scale + shift. BLOCK_* paths "
        f"are relative to each block (`{example}.` left off); group norms are in neither and stay "
        "as they are."
    )
    return {"block_pattern": pattern, "note": tuple(textwrap.wrap(note, 96))}


def _docstring(base: RenderModel, graph: ir.Graph) -> tuple[str, ...]:
    """The folded network's docstring with a paragraph on what the deploy build changed."""
    folds = len(graph.graph["folds"])
    affines = sum(1 for _, d in ir.nodes(graph) if isinstance(d.op, ir.Affine))
    kept = sum(1 for _, d in ir.nodes(graph) if isinstance(d.op, ir.Norm))
    parts = []
    if folds:
        parts.append(f"{folds} norms are folded into the convs before them")
    if affines:
        parts.append(
            f"{affines} norms after an activation or an add become one multiply-add "
            "per channel (Affine)"
        )
    if kept:
        parts.append(f"{kept} group norms stay as they are")
    text = (
        "Deploy build: an inference-only module. "
        + ("; ".join(parts) + ". " if parts else "")
        + "Drop-path and dropout are gone; activations run in place where torch allows"
        + (
            ", and on an NVIDIA GPU a ReLU (with the add before it) runs in its conv's cuDNN kernel"
            if "FusedConv2d" in base.helpers
            else ""
        )
        + "; inputs and weights are channels_last unless channels_last=False. Load trained weights "
        f"with {base.class_name}.from_trained(model) or fold_state_dict(), and run it "
        "under torch.inference_mode()."
    )
    lines = list(base.docstring)
    split = lines.index("") if "" in lines else len(lines)
    return (*lines[:split], "", *textwrap.wrap(text, 96, break_on_hyphens=False), *lines[split:])
