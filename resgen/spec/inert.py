"""Keys that change nothing: every spec field declares when it has an effect, one pass reports.

A field's `Effect` sits beside its description in resgen.spec.model (as its `json_schema_extra`,
so the JSON Schema description says it too). `check_inert_keys` walks the keys the user wrote
(pydantic's `model_fields_set`) and warns `inert-key` at each one whose effect's condition does
not hold, with what would make it count. A spec that `extends` another answers for the keys of
its own file only: a base file's keys are checked when the base is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.config import JsonDict

from resgen.diagnostics import Diagnostic, warning
from resgen.spec.kinds import BOTTLENECK_TYPES
from resgen.spec.regnet import regnet_named

if TYPE_CHECKING:
    from resgen.spec.model import Spec
    from resgen.spec.source import Path, Source

# Does the field at `where` (the path of the model that holds it) have an effect in `spec`?
Condition = Callable[["Spec", "Path"], bool]


@dataclass(frozen=True)
class Effect:
    """When a field has an effect: always (`counts` None), or when `counts(spec, where)` holds.

    `said` tells when the field counts and `hint` what would make it count; both go into the
    warning. `sibling` is the same condition said declaratively when it reads only a sibling key
    of the same mapping, (key, the values for which the field counts), so the JSON Schema can
    say it with if/then.
    """

    counts: Condition | None = None
    said: str = ""
    hint: str = ""
    sibling: tuple[str, tuple[str | bool, ...]] | None = None

    def __call__(self, schema: JsonDict) -> None:
        """pydantic's `json_schema_extra`: the description says when the field counts."""
        if self.said:
            schema["description"] = f"{schema.get('description', '')} Inert unless: {self.said}."


ALWAYS = Effect()


def when(counts: Condition, said: str, hint: str) -> Effect:
    """A field that counts only when `counts(spec, where)` holds."""
    return Effect(counts, said, hint)


def when_sibling(key: str, values: tuple[str | bool, ...], said: str, hint: str) -> Effect:
    """A field that counts only when the sibling `key` takes one of `values`."""

    def counts(spec: Spec, where: Path) -> bool:
        return getattr(model_at(spec, where), key) in values

    return Effect(counts, said, hint, (key, values))


def model_at(spec: Spec, where: Path) -> Any:
    """The value at a path of the spec: ("stages", 2) is spec.stages[2]."""
    node: Any = spec
    for part in where:
        if isinstance(node, dict):  # block numbers: ints in the spec, text in a path
            node = node[part] if part in node else node[int(part)]
        else:
            node = node[part] if isinstance(part, int) else getattr(node, part)
    return node


def effect_of(model: type[BaseModel], name: str) -> Effect | None:
    """The Effect a model's field declares, or None if it declares none."""
    extra = model.model_fields[name].json_schema_extra
    return extra if isinstance(extra, Effect) else None


def check_inert_keys(spec: Spec, source: Source) -> list[Diagnostic]:
    """An `inert-key` warning at every key the user wrote that changes nothing."""
    found = []
    for model, where in _written(spec, ()):
        for name in type(model).model_fields:
            effect = effect_of(type(model), name)
            path = (*where, name)
            if name not in model.model_fields_set or path in source.origins:
                continue
            if effect is None or effect.counts is None or effect.counts(spec, where):
                continue
            found.append(
                warning(
                    "inert-key",
                    f"{_named(path)} changes nothing: {effect.said}",
                    source.locate(path, key=True),
                    hint=effect.hint,
                )
            )
    return found


def models_of(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The model and every model its fields hold, each once."""
    found = [model]
    for field in model.model_fields.values():
        for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                found += [m for m in models_of(arg) if m not in found]
    return found


def _written(model: BaseModel, where: Path) -> Iterator[tuple[BaseModel, Path]]:
    """The model and every model under it that the user wrote, with their paths."""
    yield model, where
    for name in type(model).model_fields:
        if name not in model.model_fields_set:
            continue
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _written(value, (*where, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _written(item, (*where, name, i))
        elif isinstance(value, dict):  # keyed by block number; the source keys paths by text
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    yield from _written(item, (*where, name, str(key)))


def _named(path: Path) -> str:
    """("stages", 1, "dilation") -> "stage 2's `dilation`"; ("stem", "width") -> "`stem.width`"."""
    if len(path) >= 3 and path[0] == "stages" and isinstance(path[1], int):
        rest = ".".join(str(part) for part in path[2:])
        return f"stage {path[1] + 1}'s `{rest}`"
    return "`" + ".".join(str(part) for part in path) + "`"


# The conditions that read more than a sibling key; the fields in resgen.spec.model name them.
# Each mirrors how resgen.graph.lower reads the field.


def _kinds(spec: Spec) -> list[str]:
    return [stage.block or spec.block.type for stage in spec.stages]


def any_bottleneck(spec: Spec, where: Path) -> bool:
    """Some stage uses bottleneck blocks (`base_width` sizes their inner width), or a block the
    spec defines (its `mid_channels` is a bottleneck's inner width)."""
    kinds = set(_kinds(spec))
    return bool(BOTTLENECK_TYPES & kinds) or any(kind in spec.blocks for kind in kinds)


def any_kind(*kinds: str) -> Condition:
    """Some stage uses blocks of one of `kinds`."""

    def counts(spec: Spec, where: Path) -> bool:
        return bool(set(kinds) & set(_kinds(spec)))

    return counts


def any_strided_bottleneck(spec: Spec, where: Path) -> bool:
    """Some bottleneck stage has a stride (`stride_on` picks the conv that carries it)."""
    kinds = _kinds(spec)
    return any(k == "bottleneck" and s.stride > 1 for k, s in zip(kinds, spec.stages, strict=True))


def any_stage_of_block_type(spec: Spec, where: Path) -> bool:
    """Some stage uses `block.type` (`expansion` applies to blocks of that type only, and a
    regnet block has none)."""
    return spec.block.type != "regnet" and spec.block.type in _kinds(spec)


def any_stage_without(key: str) -> Condition:
    """Some stage does not override `key`, so it takes the spec-wide value."""

    def counts(spec: Spec, where: Path) -> bool:
        return any(getattr(stage, key) is None for stage in spec.stages)

    return counts


def dilation_reaches_a_conv(spec: Spec, where: Path) -> bool:
    """A stage's dilation reaches a conv: lower.plan_blocks gives a stage's first block the
    previous stage's dilation for its first 3x3 and this stage's for any later 3x3 (a basic
    block's conv2), later blocks this stage's, and later stages inherit it. So it is inert only
    in a last stage of one bottleneck block (whose one 3x3 is its first)."""
    index = where[-1]
    assert isinstance(index, int)
    stage = spec.stages[index]
    last = index == len(spec.stages) - 1
    one_3x3 = _kinds(spec)[index] in ("bottleneck", "regnet")
    return not (last and stage.depth == 1 and one_3x3)


def stride_exceeds_output_stride(spec: Spec, where: Path) -> bool:
    """The network's stride exceeds `output_stride`, so some stage trades stride for dilation."""
    stride = spec.stem.reduction
    for stage in spec.stages:
        stride *= stage.stride
    return spec.output_stride is not None and stride > spec.output_stride


def something_downsamples(spec: Spec, where: Path) -> bool:
    """The stem has a pool or some stage a stride: `anti_alias` changes how they downsample."""
    return spec.stem.has_pool or any(stage.stride > 1 for stage in spec.stages)


def strided_projection(spec: Spec, where: Path) -> bool:
    """Some stage's projection shortcut strides or opens a dilated stage, as lower.plan_blocks
    decides (past `output_stride` a stage trades its stride for dilation)."""
    stride, dilation = spec.stem.reduction, 1
    for stage in spec.stages:
        step, dilation = stage.stride, dilation * stage.dilation
        if spec.output_stride and stride * step > spec.output_stride:
            dilation, step = dilation * step, 1
        stride *= step
        projects = (stage.shortcut or spec.shortcut) in ("projection", "projection_all")
        if projects and (step > 1 or dilation > 1):
            return True
    return False


def bottleneck_stage(spec: Spec, where: Path) -> bool:
    """The stage that holds these block widths (`stages.<i>.blocks.<n>`) has bottlenecks."""
    return _kinds(spec)[int(where[1])] == "bottleneck"


def any_regnet(spec: Spec, where: Path) -> bool:
    """Some stage has regnet blocks (the layout names RegNet stages and blocks)."""
    return "regnet" in _kinds(spec)


def resnet_stage_without(key: str) -> Condition:
    """Some stage of ResNet blocks does not set `key` (regnet blocks take `group_width`)."""

    def counts(spec: Spec, where: Path) -> bool:
        kinds = _kinds(spec)
        return any(k != "regnet" and getattr(s, key) is None
                   for k, s in zip(kinds, spec.stages, strict=True))  # fmt: skip

    return counts


def not_regnet_here(spec: Spec, where: Path) -> bool:
    """The stage at `where` (`stages.<i>`) has ResNet blocks, whose groups are a count."""
    return not regnet_here(spec, where)


def regnet_here(spec: Spec, where: Path) -> bool:
    """The stage at `where` (`stages.<i>`) has regnet blocks."""
    return _kinds(spec)[int(where[1])] == "regnet"


def regnet_stage_without(key: str) -> Condition:
    """Some stage of regnet blocks does not set `key`, so it takes `block.<key>`."""

    def counts(spec: Spec, where: Path) -> bool:
        kinds = _kinds(spec)
        return any(k == "regnet" and getattr(s, key) is None
                   for k, s in zip(kinds, spec.stages, strict=True))  # fmt: skip

    return counts


def post_activation(spec: Spec, where: Path) -> bool:
    return not spec.block.preact


def layout_counts(spec: Spec, where: Path) -> bool:
    """`layout` names RegNet stages and blocks (regnet blocks', or user blocks' in stages from
    `regnet`), or (resnetv2) every module."""
    return spec.layout == "resnetv2" or regnet_named(spec)
