"""`resgen resolve`: a spec as resgen sees it, `extends` bases merged in."""

from __future__ import annotations

import json
from typing import Any

import yaml

from resgen.spec.model import Spec

FLOW_WIDTH = 96


def dump_resolved(spec: Spec, *, fmt: str = "yaml", defaults: bool = False) -> str:
    """Serialise a validated spec; without `defaults`, only fields someone actually set."""
    data: dict[str, Any] = spec.model_dump(
        mode="json", exclude_unset=not defaults, exclude={"extends"}
    )
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return "".join(yaml_entry(key, value) for key, value in data.items())


def _flow(value: Any) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def yaml_entry(key: str, value: Any) -> str:
    """One top-level key in the shipped specs' style: short collections in flow style."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return f"{key}:\n" + "".join(f"  - {_flow(item)}\n" for item in value)
    line = f"{key}: {_flow(value)}"
    if len(line) <= FLOW_WIDTH or not isinstance(value, dict | list):
        return line + "\n"
    text: str = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=None)
    return text
