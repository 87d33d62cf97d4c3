"""Check an inferred spec against the checkpoint: the model it builds must have exactly the
checkpoint's keys and shapes, so that a strict load succeeds."""

from __future__ import annotations

from typing import Any

from resgen.infer.weights import Shapes


def expected_shapes(spec: dict[str, Any]) -> Shapes:
    """The state_dict keys and shapes of the spec's model, built on `meta` (no memory) and
    without its own initialisation, which on `meta` is pure cost (each init runs op by op)."""
    import torch

    from resgen.api import compile_source, load_module, load_spec

    loaded = load_spec(spec)
    model_class = getattr(load_module(compile_source(loaded), loaded.spec.name),
                          loaded.spec.model_class)  # fmt: skip
    uninitialised = type(model_class.__name__, (model_class,), {"reset_parameters": _skip})
    with torch.device("meta"):
        model = uninitialised()
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _skip(*args: Any, **kwargs: Any) -> None:
    """In place of the generated model's reset_parameters: shapes need no values."""


def compare(expected: Shapes, found: Shapes) -> tuple[list[str], list[str], list[str]]:
    """Keys the checkpoint has that the model lacks, keys it lacks, keys whose shapes differ."""
    unexpected = [k for k in found if k not in expected]
    missing = [k for k in expected if k not in found]
    wrong = [f"{k}: {list(found[k])} (the spec gives {list(v)})"
             for k, v in expected.items() if k in found and found[k] != v]  # fmt: skip
    return unexpected, missing, wrong
