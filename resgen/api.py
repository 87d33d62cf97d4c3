"""The Python API: load, compile, build and summarise specs without the command line.

Every function accepts a spec source (a file path, a built-in spec name, a mapping) or a spec that
`load_spec` already loaded, and raises `ResgenError`, carrying every diagnostic, when the spec is
wrong. Only `build_model` imports torch.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias

from resgen.diagnostics import ResgenError, has_errors
from resgen.spec.extends import base_reference, merge
from resgen.spec.load import (
    LoadedSpec,
    load_merged,
    load_spec_file,
    resolve_spec_path,
    validate_data,
)
from resgen.spec.model import Spec
from resgen.spec.source import Source, parse_text

if TYPE_CHECKING:
    from torch import nn

    from resgen.checks import Analysis
    from resgen.diff import SpecDiff

SpecSource: TypeAlias = str | os.PathLike[str] | Mapping[str, Any] | Spec | LoadedSpec
"""What the API accepts as a spec: a path, a built-in name, a mapping, a Spec or a LoadedSpec."""

DICT_SOURCE = "<dict>"
SCHEMA_ID = "https://json-schema.org/draft/2020-12/schema"


def load_spec(source: SpecSource) -> LoadedSpec:
    """Load and validate a spec from a file path, a built-in spec name or a mapping.

    A mapping is validated as if it were a JSON file named `<dict>`: diagnostics point at
    `<dict>:line:col` of its `json.dumps(indent=2)` text. Its `extends` (a built-in name, or a
    path relative to the working directory) works as in a file. A `Spec` is re-validated too.
    """
    if isinstance(source, LoadedSpec):
        return source
    if isinstance(source, Spec):
        return _load_mapping(source.model_dump(mode="json", exclude_unset=True), "<Spec>")
    if isinstance(source, Mapping):
        return _load_mapping(source, DICT_SOURCE)
    if isinstance(source, (str, os.PathLike)):
        path, name = resolve_spec_path(os.fspath(source))
        return load_spec_file(path, name)
    raise TypeError(
        f"load_spec() takes a path, a built-in spec name, a mapping or a loaded spec, "
        f"not {type(source).__name__}"
    )


def _load_mapping(data: Mapping[str, Any], name: str) -> LoadedSpec:
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False, default=repr, skipkeys=True) + "\n"
    except ValueError:  # a circular reference: validation reports it, without positions
        text = ""
    # Parse the dump only for its positions; validate the caller's own objects, so a tuple or a
    # float is judged as what it is, not as what JSON turns it into.
    source = parse_text(text, name, fmt="json")[1] if text else Source(name, "")
    raw = text.encode("utf-8")
    merged: Any = dict(data)
    if "extends" in merged:
        # As in a file, but a base path is relative to the working directory.
        reference = base_reference(merged.pop("extends"), Path(name), source)
        try:
            base_path, base_name = resolve_spec_path(reference)
        except ResgenError as exc:  # point at the `extends` line, not at the bare name
            where = source.locate(("extends",))
            raise ResgenError(
                [source.attach(replace(d, location=where)) for d in exc.diagnostics]
            ) from None
        base, base_source, base_raw = load_merged(base_path, base_name)
        merged, source = merge(base, base_source, merged, source)
        raw += b"\0" + base_raw
    spec = validate_data(merged, source)
    return LoadedSpec(spec, source, hashlib.sha256(raw).hexdigest())


def check_spec(spec: SpecSource) -> tuple[LoadedSpec, Analysis]:
    """Load a spec and run every static pass; raise `ResgenError` if any finds an error."""
    from resgen.pipeline import check

    loaded = load_spec(spec)
    analysis = check(loaded)
    diagnostics = [loaded.source.attach(d) for d in analysis.diagnostics]
    if has_errors(diagnostics):
        raise ResgenError(diagnostics)
    return loaded, analysis


def compile_source(spec: SpecSource) -> str:
    """Return the generated PyTorch source of a spec, exactly as `resgen build` writes it."""
    from resgen.pipeline import compile_spec

    compiled = compile_spec(load_spec(spec))
    assert compiled.source is not None  # compile_spec raises instead of returning no source
    return compiled.source


def build_model(spec: SpecSource, **kwargs: Any) -> nn.Module:
    """Generate a spec's model class in memory and return an instance of it.

    Keyword arguments go to the constructor (`num_classes`, `in_channels`,
    `zero_init_residual`). No file is written: the source runs in a fresh module, and it is
    registered with `linecache` so tracebacks, `inspect` and `torch.jit.script` can read it.
    """
    try:
        import torch  # noqa: F401  (imported here so a missing torch gets a clear message)
    except ImportError as exc:
        raise ImportError(
            "resgen.build_model needs PyTorch: pip install 'resgen[torch]' (or torch)"
        ) from exc
    loaded = load_spec(spec)
    module = load_module(compile_source(loaded), loaded.spec.name)
    model_class = getattr(module, loaded.spec.model_class)
    instance: nn.Module = model_class(**kwargs)
    return instance


def load_module(source: str, name: str) -> ModuleType:
    """Execute generated source as a new module that is not put in `sys.modules`."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    filename = f"<resgen:{name}:{digest}>"
    # An mtime of None keeps linecache.checkcache() from dropping the entry.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = ModuleType(f"resgen_generated_{name}")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def summarize(spec: SpecSource) -> dict[str, Any]:
    """Return the numbers `resgen info -o json` prints: input, params, MACs, per-stage rows."""
    from resgen.report import info_json

    loaded, analysis = check_spec(spec)
    return info_json(loaded, analysis)


def diff_specs(a: SpecSource, b: SpecSource) -> SpecDiff:
    """Compare two specs: changed fields, and per-stage shapes, params and MACs.

    Both specs are checked first; a `ResgenError` carries the diagnostics of both.
    """
    from resgen.diff import compare_specs

    checked, problems = [], []
    for spec in (a, b):
        try:
            checked.append(check_spec(spec))
        except ResgenError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise ResgenError(problems)
    return compare_specs(checked[0], checked[1])


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of spec files, from the spec's pydantic models.

    A file without `extends` is a whole `Spec`; a file with it is a `SpecPatch`, where every key
    is optional and may be null, nested mappings are patches too, and `stages` may also be a
    mapping from stage number to a partial stage.
    """
    spec = Spec.model_json_schema()
    defs: dict[str, Any] = {**spec.pop("$defs", {}), "Spec": spec}
    objects = {f"#/$defs/{name}" for name, model in defs.items() if "properties" in model}
    patches = {
        f"{name}Patch": _as_patch(model, objects)
        for name, model in defs.items()
        if f"#/$defs/{name}" in objects
    }
    patch = patches["SpecPatch"]
    extends = spec["properties"]["extends"]
    patch["properties"]["extends"] = {
        "type": "string",
        "minLength": 1,
        "description": extends["description"],
    }
    patch["required"] = ["extends"]
    stages = patch["properties"]["stages"]
    stages["anyOf"].insert(
        1,
        {
            "type": "object",
            "patternProperties": {"^[1-9][0-9]*$": {"$ref": "#/$defs/StageSpecPatch"}},
            "additionalProperties": False,
        },
    )
    return {
        "$schema": SCHEMA_ID,
        "title": "resgen spec",
        "description": f"{spec['description']} With `extends`, changes to a base spec.",
        "if": {"type": "object", "required": ["extends"]},
        "then": {"$ref": "#/$defs/SpecPatch"},
        "else": {"$ref": "#/$defs/Spec"},
        "$defs": {**defs, **patches},
    }


def _as_patch(model: dict[str, Any], objects: set[str]) -> dict[str, Any]:
    """The schema of a partial model that `extends` merges over a base: nothing required."""
    patch = {k: v for k, v in model.items() if k not in ("required", "title")}
    patch["properties"] = {
        name: _as_patch_field(field, objects) for name, field in model["properties"].items()
    }
    return patch


def _as_patch_field(field: dict[str, Any], objects: set[str]) -> dict[str, Any]:
    # A mapping merges into the base's, so it is a patch too; a list replaces the base's whole,
    # so its items stay complete. null removes the key. No default: the base's value applies.
    field = {k: v for k, v in field.items() if k not in ("default", "title")}
    options = field.pop("anyOf", None)
    if options is None:
        options = [{k: v for k, v in field.items() if k != "description"}]
        field = {"description": field["description"]} if "description" in field else {}
    options = [
        {**o, "$ref": o["$ref"] + "Patch"} if o.get("$ref") in objects else o
        for o in options
        if o != {"type": "null"}
    ]
    return {**field, "anyOf": [*options, {"type": "null"}]}


def json_schema_text() -> str:
    """Return the JSON Schema as the text `resgen schema` writes (stable, `\\n`-terminated)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "SpecSource",
    "build_model",
    "check_spec",
    "compile_source",
    "diff_specs",
    "json_schema",
    "json_schema_text",
    "load_module",
    "load_spec",
    "summarize",
]
