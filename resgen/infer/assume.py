"""What weights cannot show, and the conventions resgen infer assumes for it.

A state_dict holds parameters and statistics only: strides, which conv strides, activations,
pools, dilation, anti-aliasing and epsilons leave no tensor behind. Each gets its layout family's
convention (torchvision's and timm's ResNets agree on all of them), stated in the spec it writes
and on stderr; `--assume KEY=VALUE` overrides one, and a live module shows them all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
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
    "norm.groups": "group norm's number of groups (its layers' only shape is their width)",
    "norm.group_size": "group norm's channels per group, in place of norm.groups",
    "shortcut": "a shortcut without parameters where shapes change: pad or none",
    "block.linear_out": "no activation after a block's add: true or false",
    "head.final": "what runs before the pool (and head.features): norm_act, act or none",
    "block.selective_kernel.split_input": "whether an SK bottleneck's paths each see half its "
    "input (then its groups are half as many): true or false",
    "block.split_attention.avd": "where a strided ResNeSt block's 3x3 avg-pool strides in place "
    "of its conv: last, first or none",
    "conv.standardize": "weight-standardised convs (BiT's StdConv2d): true or false",
    "conv.eps": "a standardised conv's epsilon",
    "head.pool": "global pooling: avg or max",
    "head.dropout": "dropout before the classifier",
    "drop_path": "stochastic depth rate",
    "zero_init_residual": "zero-init each block's last norm (training only)",
    "input.size": "the input size shapes are checked for",
}


# Keys that say one thing two ways: the caller's (or the module's) pick replaces the other.
ALTERNATIVES = {"norm.groups": "norm.group_size", "norm.group_size": "norm.groups"}


def settle(invisible: dict[str, Any], chosen: Iterable[str]) -> dict[str, Any]:
    """The invisible fields, with a key the caller chose in place of its assumed alternative."""
    out = dict(invisible)
    for key in chosen:
        other = ALTERNATIVES.get(key)
        if other in out and key not in out:
            out[key] = out.pop(other)
    return out


def conventions(
    spec: dict[str, Any], shortcut_free: bool, norm_widths: Iterable[int] = ()
) -> dict[str, Any]:
    """The assumed value of each invisible field, for a spec inferred from weights (`norm_widths`:
    the channels of every norm layer, which a group norm's groups must divide)."""
    cifar = spec["stem"]["type"] == "cifar"
    kinds = [s.get("block") or spec["block"]["type"] for s in spec["stages"]]
    regnet = "regnet" in kinds  # every RegNet stage strides, as torchvision's and timm's do
    found: dict[str, Any] = {
        "strides": [1 if i == 0 and not regnet else 2 for i in range(len(kinds))],
    }
    if "bottleneck" in kinds:
        found["block.stride_on"] = "3x3"
    if "pool" not in spec["stem"]:
        found["stem.pool"] = "none" if cifar or spec["stem"]["type"] == "simple" else "max"
    found |= {"act": "relu", "anti_alias": None, "output_stride": None}
    if spec["norm"]["type"] != "none":
        found["norm.eps"] = 1e-5
    if spec["norm"]["type"] in ("group", "evonorm_s0"):
        found |= group_norm(regnet, list(norm_widths))
    if spec.get("layout") == "resnetv2":
        found |= resnetv2(spec)
    if "resnest" in kinds:  # timm's avd=True, avd_first=False
        found["block.split_attention.avd"] = "last"
    if "sk_bottleneck" in kinds and "sk_basic" not in kinds:  # its groups depend on it
        found["block.selective_kernel.split_input"] = True
    if shortcut_free:  # a stage of its own is plain (none), the spec's shortcut option A
        found["shortcut"] = "none" if any(s.get("_free") for s in spec["stages"]) else "pad"
    if regnet:
        found |= regnet_ends(spec)
    found |= {"head.pool": "avg", "head.dropout": 0.0, "drop_path": 0.0,
              "zero_init_residual": False, "input.size": 32 if cifar else 224}  # fmt: skip
    return found


def regnet_ends(spec: dict[str, Any]) -> dict[str, Any]:
    """timm's conventions for what follows a RegNet's add and its last stage: no activation
    after the add (linear_out) where a first block has no shortcut (RegNetZ); an activation
    alone before the pool for such a net or a pre-activation one (RegNetV), unless a 1x1 conv
    to more features comes first (timm's final_act)."""
    found: dict[str, Any] = {}
    preact = spec["block"].get("preact", False)
    shortcuts = {spec["shortcut"], *(s.get("shortcut") for s in spec["stages"])}
    linear = "identity_or_none" in shortcuts
    if not preact:  # a pre-activation block never activates after its add
        found["block.linear_out"] = linear
    if "final" not in spec["head"]:
        plain = "features" in spec["head"] or not (linear or preact)
        found["head.final"] = "none" if plain else "act"
    return found


def resnetv2(spec: dict[str, Any]) -> dict[str, Any]:
    """timm's ResNetV2 conventions: a deep stem's nets project after an avg-pool (avg_down),
    others plainly (their keys are alike); BiT (group norm after a 7x7 stem) standardises its
    convs' weights (eps 1e-8) and zero-pads before a stride-2 max-pool."""
    found: dict[str, Any] = {}
    if spec["shortcut"] == "projection":
        deep = spec["stem"]["type"] == "deep"
        found["shortcut"] = "avgpool_projection" if deep else "projection"
    bit = spec["norm"]["type"] == "group" and spec["stem"]["type"] == "conv7"
    found["conv.standardize"] = bit
    if bit:
        found |= {"conv.eps": 1e-8, "stem.pool": "max_zero_pad"}
    return found


def group_norm(regnet: bool, widths: list[int]) -> dict[str, int]:
    """GroupNorm's groups as the family has them: 32 groups (torchvision's and timm's
    resnet50_gn), or a RegNet's groups of 16 channels (timm's regnety_040_sgn); fewer where
    that does not divide every norm's width."""
    key, value = ("norm.group_size", 16) if regnet else ("norm.groups", 32)
    return {key: math.gcd(value, *widths)}


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
        if key == "shortcut":  # where stages carry their own, those stages; else the spec's
            marked = [s for s in spec["stages"] if s.pop("_free", False)]
            for target in marked or [spec]:
                target["shortcut"] = value
            continue
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
