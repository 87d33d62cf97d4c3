"""The JSON Schema of spec files (draft 2020-12), derived from the spec's pydantic models.

Editors read it (through the `yaml-language-server` line of a spec) to complete and check keys;
`resgen schema` prints it and `schema/` keeps a copy.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from resgen.spec.inert import effect_of, models_of
from resgen.spec.kinds import BLOCK_TYPES
from resgen.spec.model import Spec

SCHEMA_ID = "https://json-schema.org/draft/2020-12/schema"


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
    for model in models_of(Spec):
        rules = _inert_rules(model)
        if rules:
            defs[model.__name__]["allOf"] = rules
    # A whole spec gives its stages, or RegNet's parameters that generate them: one, not both.
    spec["required"] = [key for key in spec["required"] if key != "stages"]
    spec["oneOf"] = [{"required": ["stages"]}, {"required": ["regnet"]}]
    # A block type is a built-in one unless the spec defines `blocks` (its keys name the others).
    said = "Without `blocks`, a built-in block type."
    builtin = {"enum": list(BLOCK_TYPES), "description": said}
    stage = {"anyOf": [builtin, {"type": "null"}], "description": said}
    spec.setdefault("allOf", []).append({
        "if": {"not": {"required": ["blocks"]}},
        "then": {"properties": {
            "block": {"properties": {"type": builtin}, "description": said},
            "stages": {"items": {"properties": {"block": stage}}, "description": said},
        }},
    })  # fmt: skip
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


def json_schema_text() -> str:
    """Return the JSON Schema as the text `resgen schema` writes (stable, `\\n`-terminated)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def _inert_rules(model: type[BaseModel]) -> list[dict[str, Any]]:
    """if/then rules for the fields whose Effect reads a sibling key: unless the sibling takes one
    of the values for which the field counts, the field must be absent. A patch (`extends`) has
    none, as its sibling may come from the base. Effects that read other parts of the spec are
    said by the field's description only (JSON Schema cannot compute a stage's block type)."""
    rules = []
    for name in model.model_fields:
        effect = effect_of(model, name)
        if effect is None or effect.sibling is None:
            continue
        key, values = effect.sibling
        when = {
            "enum": list(values),
            "description": f"The `{key}` values for which `{name}` counts.",
        }
        counts: dict[str, Any] = {"properties": {key: when}}
        if model.model_fields[key].default not in values:
            counts["required"] = [key]
        rules.append({"if": {"not": counts}, "then": {"not": {"required": [name]}}})
    return rules


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
