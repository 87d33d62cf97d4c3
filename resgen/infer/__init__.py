"""`resgen infer`: a checkpoint's or a live model's state_dict back to a spec.

The weights show every width, depth, group and kind (resgen.infer.structure); what they cannot
show is assumed by convention (resgen.infer.assume) or read off a live module (resgen.infer.live).
The spec is kept only if the model it builds has exactly the checkpoint's keys and shapes.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resgen.diagnostics import Location, ResgenError, error
from resgen.infer import assume as assumptions
from resgen.infer.checkpoint import diagnostics_for_keys, group_keys, read_state_dict
from resgen.infer.weights import NotAResNetError, Shapes

if TYPE_CHECKING:
    from torch import nn

# The order of a spec's keys, as the shipped specs write them.
ORDER = ("name", "description", "input", "layout", "stem", "block", "shortcut", "shortcut_kernel",
         "norm", "conv", "act", "stages", "output_stride", "anti_alias", "head", "drop_path",
         "zero_init_residual")  # fmt: skip

STAGE_ORDER = ("depth", "width", "stride", "block", "groups", "group_width", "bottleneck_ratio",
               "shortcut", "blocks")  # fmt: skip


@dataclass
class Inferred:
    """The inferred spec (full, as data), its YAML text, and what went into it."""

    spec: dict[str, Any]
    text: str
    assumed: dict[str, Any]  # conventions, for what neither the weights nor the caller showed
    notes: list[str] = field(default_factory=list)
    base: str | None = None  # the built-in spec the text extends, if any


def spec_name(text: str) -> str:
    """A Python identifier from a file or model name: resnet50-ft.pth -> resnet50_ft."""
    name = re.sub(r"\W+", "_", text.strip(), flags=re.ASCII).strip("_") or "inferred"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"model_{name}"
    return name[:64]


def infer_shapes(
    shapes: Shapes,
    name: str,
    source: str,
    given: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    live: dict[str, Any] | None = None,
) -> Inferred:
    """A spec for a state_dict's shapes. `given` values (--assume) and `live` ones (read off a
    module) win over conventions. Raise `ResgenError` if the keys show no ResNet, a given key is
    one the weights show, or the spec cannot load the checkpoint strictly."""
    from resgen.infer.structure import spec_from_shapes

    try:
        try:
            spec, shortcut_free = spec_from_shapes(shapes, name, (live or {}) | (given or {}))
        except (IndexError, KeyError, ZeroDivisionError, ValueError) as exc:
            # a tensor of the wrong rank or size where a ResNet has a conv
            raise NotAResNetError(f"a tensor has a shape no ResNet layer has: {exc!r}") from exc
    except NotAResNetError as exc:
        raise ResgenError([error(
            "not-a-resnet", f"the keys show no ResNet ({exc}); they are: "
            + group_keys(list(shapes)), Location(source),
            "resgen infer reads torchvision's and timm's ResNet layouts (conv1, layerN.I.conv1, "
            "fc), timm's ResNetV2 (stages.N.blocks.I) and RegNet layouts (stem, "
            "trunk_output.blockN.blockN-I or sN.bI, fc or head.fc)")]) from None  # fmt: skip
    widths = [s[0] for k, s in shapes.items() if k.endswith(".weight") and len(s) == 1]
    invisible = assumptions.conventions(spec, shortcut_free, widths)
    given = given or {}
    live = {k: v for k, v in (live or {}).items() if assumptions.ALTERNATIVES.get(k) not in given}
    invisible = assumptions.settle(invisible, [*live, *given])
    if shown := [k for k in given if k not in invisible]:
        hint = "--assume sets only what is assumed: " + ", ".join(invisible)
        message = f"--assume {', '.join(shown)}: the weights show it"
        raise ResgenError([error("assumption-shown", message, Location(source), hint)])
    seen = {k: v for k, v in (live or {}).items() if k in invisible} | given
    assumed = {k: v for k, v in invisible.items() if k not in seen}
    assumptions.apply(spec, assumed | seen)
    spec["description"] = f"Inferred by resgen infer from {source}"
    spec = {k: spec[k] for k in ORDER if k in spec}
    spec["stages"] = [{k: s[k] for k in STAGE_ORDER if k in s} for s in spec["stages"]]
    _verify(spec, shapes, source)
    text, base = _text(spec)
    header = _header(name, source, assumed, notes or [])
    return Inferred(spec, header + text, assumed, notes or [], base)


def _verify(spec: dict[str, Any], shapes: Shapes, source: str) -> None:
    from resgen.api import load_spec
    from resgen.infer.verify import compare, expected_shapes

    load_spec(spec)  # a bad --assume value is the spec's own diagnostic
    unexpected, missing, wrong = compare(expected_shapes(spec), shapes)
    problems = diagnostics_for_keys(source, unexpected, missing)
    if wrong:
        problems.append(error("shape-mismatch", f"{len(wrong)} tensors have shapes no inferred "
                              "spec gives: " + "; ".join(wrong[:20]),
                              Location(source), "is the checkpoint from one model?"))  # fmt: skip
    if problems:
        raise ResgenError(problems)


def _text(spec: dict[str, Any]) -> tuple[str, str | None]:
    from resgen.infer.nearest import extends_form, full_form, resolved
    from resgen.resources import builtin_spec_names

    full = full_form(spec)
    short = extends_form(spec, resolved(spec), builtin_spec_names())
    if short is not None and len(short) < len(full):
        return short, short.split("\n", 1)[0].removeprefix("extends: ")
    return full, None


def _header(name: str, source: str, assumed: dict[str, Any], notes: list[str]) -> str:
    lines = [f"# Spec {name}, inferred by `resgen infer` from {source}."]
    lines += [f"# Reading it, resgen infer {note}." for note in notes]
    if assumed:
        lines.append("# Assumed, as weights cannot show them (`--assume KEY=VALUE` changes one):")
        lines += [f"#   {line}" for line in assumptions.describe(assumed)]
    return "\n".join(lines) + "\n"


def infer_file(path: str | Path, name: str | None = None,
               given: dict[str, Any] | None = None) -> Inferred:  # fmt: skip
    """A spec for a checkpoint file (.safetensors, .pt, .pth, .bin)."""
    path = Path(path)
    state = read_state_dict(path)
    return infer_shapes(state.shapes(), name or spec_name(path.stem.split(".")[0]), path.name,
                        given, state.notes)  # fmt: skip


def infer(module: nn.Module, name: str | None = None,
          given: dict[str, Any] | None = None) -> Inferred:  # fmt: skip
    """A spec for a live model: its weights, plus the strides, pools and activations its
    modules show (so nothing is assumed that the module can tell)."""
    from resgen.infer.live import read_live

    shapes = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    label = name or spec_name(type(module).__name__.lower())
    source = f"a live {type(module).__name__}"
    return infer_shapes(shapes, label, source, given, live=read_live(module))


__all__ = ["Inferred", "infer", "infer_file", "infer_shapes", "spec_name"]
