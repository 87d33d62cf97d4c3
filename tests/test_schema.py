"""The JSON Schema of the spec language: generated from the models, shipped, and true to them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import resgen
from resgen.api import json_schema_text
from tests.conftest import ROOT, SPECS, run_resgen
from tests.golden import assert_golden

SCHEMA_FILE = ROOT / "schema" / "resgen-spec.schema.json"
SCHEMA_LINE = "# yaml-language-server: $schema=../schema/resgen-spec.schema.json"
REGENERATE = "make schema (or: .venv/bin/resgen schema -o schema/resgen-spec.schema.json)"
SHIPPED = sorted(p for p in SPECS.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_schema_file_is_up_to_date() -> None:
    assert_golden(json_schema_text(), SCHEMA_FILE, REGENERATE)


def _properties(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield every property schema in the schema, with a path to name it by."""
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            yield f"{path}/properties/{name}", prop
        for key, value in node.items():
            yield from _properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _properties(value, f"{path}/{i}")


def test_every_field_has_a_description() -> None:
    schema = resgen.json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    props = list(_properties(schema))
    assert len(props) >= 15
    missing = [path for path, prop in props if not prop.get("description")]
    assert not missing, f"fields without a description (add Field(description=...)): {missing}"
    for name, model in schema["$defs"].items():
        assert model.get("description"), f"model {name} needs a docstring"
        assert model.get("additionalProperties") is False, name  # typos are flagged in editors


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_specs_match_schema(path: Path, validator: jsonschema.protocols.Validator) -> None:
    # Through JSON, as an editor sees YAML: `stages: {3: ...}` has the key "3".
    data = json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8"))))
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, errors


def test_shipped_specs_declare_schema() -> None:
    """Each shipped spec's first line points editors (VS Code's YAML extension) at the schema."""
    lines = {p.name: p.read_text(encoding="utf-8").partition("\n")[0] for p in SHIPPED}
    missing = sorted(name for name, first in lines.items() if first != SCHEMA_LINE)
    assert not missing, f"specs without `{SCHEMA_LINE}` as their first line: {missing}"


BASE: dict[str, Any] = {
    "name": "m",
    "block": {"type": "basic"},
    "stages": [{"depth": 1, "width": 4}],
}


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"input": {"size": [224, 320]}}, True),
        ({"head": {"classes": 0}}, True),
        ({"blok": {"type": "basic"}}, False),  # unknown key
        ({"block": {"type": "basik"}}, False),  # not one of the choices
        ({"block": {"type": "basic", "groups": True}}, False),  # a bool is not an int
        ({"block": {"type": "basic", "groups": "2"}}, False),  # strict: no string numbers
        ({"stages": []}, False),  # at least one stage
        ({"stages": [{"depth": 0, "width": 8}]}, False),  # out of range
        ({"input": {"size": [224]}}, False),  # one number or two
        ({"extends": "resnet50", "head": {"classes": 10}}, True),  # a patch: nothing required
        ({"extends": "resnet50", "stages": {"3": {"depth": 23}}}, True),  # a stage patch
        ({"extends": "resnet50", "block": {"attention": None}}, True),  # null: the default
        ({"extends": "resnet50", "stages": [{"depth": 2, "width": 8}]}, True),  # replaced
        ({"extends": "resnet50", "stages": {"3": {"dept": 23}}}, False),  # a typo in a patch
        ({"extends": "resnet50", "stages": [{"depth": 2}]}, False),  # a new stage is whole
        ({"extends": "resnet50", "block": {"groups": "2"}}, False),  # patches are typed too
        ({"extends": "", "head": {"classes": 10}}, False),
    ],
)
def test_schema_agrees_with_loader(
    change: dict[str, Any], valid: bool, validator: jsonschema.protocols.Validator
) -> None:
    data = {**BASE, **change}
    if "extends" in change:
        data = change
    assert validator.is_valid(data) is valid
    if valid:
        resgen.load_spec(data)
    else:
        with pytest.raises(resgen.ResgenError):
            resgen.load_spec(data)


def test_cli_schema_stdout_and_file(tmp_path: Path) -> None:
    printed = run_resgen("schema")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == json_schema_text()
    target = tmp_path / "sub" / "spec.schema.json"
    wrote = run_resgen("schema", "-o", str(target))
    assert wrote.returncode == 0 and "wrote" in wrote.stderr
    assert target.read_text(encoding="utf-8") == json_schema_text()
    again = run_resgen("schema", "-o", str(target))
    assert again.returncode == 0 and "unchanged" in again.stderr
    (tmp_path / "file").write_text("")
    blocked = run_resgen("schema", "-o", str(tmp_path / "file" / "x.json"))
    assert blocked.returncode == 1
    assert "error[unwritable]: cannot write" in blocked.stderr and "Traceback" not in blocked.stderr
