"""What weights cannot show, and the conventions resgen infer assumes for it.

A state_dict holds parameters and statistics only: strides, which conv strides, activations,
pools, dilation, anti-aliasing and epsilons leave no tensor behind. Each gets its layout family's
convention (torchvision's and timm's ResNets agree on all of them), stated in the spec it writes
and on stderr; `--assume KEY=VALUE` overrides one, and a live module shows them all.
"""

from __future__ import annotations

from typing import Any

import yaml

from resgen.diagnostics import Diagnostic, error

# KEY -> what it means, for the list --assume takes.
KEYS = {
    "strides": "each stage's first-block stride, comma-separated (e.g. 1,2,2,2)",
    "block.stride_on": "the bottleneck conv that strides: 3x3 (v1.5) or 1x1 (v1)",
    "stem.pool": "the stem's pool: max or none (a conv pool shows in the weights)",
    "act": "the activation: relu, silu, gelu, ...",
    "anti_alias": "anti-aliased downsampling: none, avg or blur",
    "output_stride": "cap on the total stride, 8 or 16 (dilates the last stages), or none",
    "norm.eps": "the norm layers' epsilon",
    "norm.groups": "group norm's number of groups",
    "shortcut": "a shortcut without parameters where shapes change: pad or none",
    "head.pool": "global pooling: avg or max",
    "head.dropout": "dropout before the classifier",
    "drop_path": "stochastic depth rate",
    "zero_init_residual": "zero-init each block's last norm (training only)",
    "input.size": "the input size shapes are checked for",
}


def conventions(spec: dict[str, Any], shortcut_free: bool) -> dict[str, Any]:
    """The assumed value of each invisible field, for a spec inferred from weights."""
    cifar = spec["stem"]["type"] == "cifar"
    found: dict[str, Any] = {
        "strides": [1] + [2] * (len(spec["stages"]) - 1),
    }
    if any((s.get("block") or spec["block"]["type"]) == "bottleneck" for s in spec["stages"]):
        found["block.stride_on"] = "3x3"
    if "pool" not in spec["stem"]:
        found["stem.pool"] = "none" if cifar else "max"
    found |= {"act": "relu", "anti_alias": None, "output_stride": None}
    if spec["norm"]["type"] != "none":
        found["norm.eps"] = 1e-5
    if spec["norm"]["type"] == "group":
        found["norm.groups"] = 32
    if shortcut_free:
        found["shortcut"] = "pad"
    found |= {"head.pool": "avg", "head.dropout": 0.0, "drop_path": 0.0,
              "zero_init_residual": False, "input.size": 32 if cifar else 224}  # fmt: skip
    return found


def parse_assume(items: list[str]) -> tuple[dict[str, Any], list[Diagnostic]]:
    """`KEY=VALUE` strings as values; an unknown key or a bad value is a diagnostic."""
    found: dict[str, Any] = {}
    problems = []
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in KEYS:
            problems.append(error(
                "unknown-assumption", f"--assume {item!r}: not KEY=VALUE with a known KEY",
                hint="KEY is one of: " + ", ".join(KEYS)))  # fmt: skip
            continue
        found[key] = parse_value(key, text)
    return found, problems


def parse_value(key: str, text: str) -> Any:
    if text.strip().lower() in ("none", "null", "~", ""):
        return None
    if key == "strides":
        return [_number(part) for part in text.split(",")]
    value = yaml.safe_load(text)
    return value if isinstance(value, (int, float, str, bool)) else text


def _number(text: str) -> Any:
    value = yaml.safe_load(text.strip())
    return value if isinstance(value, int) else text.strip()


def apply(spec: dict[str, Any], values: dict[str, Any]) -> None:
    """Write the assumed values into the spec dict; None removes the key."""
    for key, value in values.items():
        if key == "strides":
            strides = value if isinstance(value, list) else [value]
            for stage, stride in zip(spec["stages"], strides, strict=False):
                stage["stride"] = stride
            continue
        *parents, leaf = key.split(".")
        target = spec
        for part in parents:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value


def describe(values: dict[str, Any]) -> list[str]:
    """`key: value` lines, as stderr and the spec's header list them."""
    return [f"{key}: {format_value(value)}" for key, value in values.items()]


def format_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)
