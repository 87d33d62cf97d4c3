"""YAML in the shipped specs' style, for `resgen resolve` and `resgen new`."""

from __future__ import annotations

from typing import Any

import yaml

FLOW_WIDTH = 96


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
