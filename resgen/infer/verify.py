"""Check an inferred spec against the checkpoint: the model it builds must have exactly the
checkpoint's keys and shapes, so that a strict load succeeds."""

from __future__ import annotations

from typing import Any

from resgen.infer.weights import Shapes


def expected_shapes(spec: dict[str, Any]) -> Shapes:
    """The state_dict keys and shapes of the spec's model, built on `meta` (no memory)."""
    import torch

    from resgen.api import build_model

    with torch.device("meta"):
        model = build_model(spec)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def compare(expected: Shapes, found: Shapes) -> tuple[list[str], list[str], list[str]]:
    """Keys the checkpoint has that the model lacks, keys it lacks, keys whose shapes differ."""
    unexpected = [k for k in found if k not in expected]
    missing = [k for k in expected if k not in found]
    wrong = [f"{k}: {list(found[k])} (the spec gives {list(v)})"
             for k, v in expected.items() if k in found and found[k] != v]  # fmt: skip
    return unexpected, missing, wrong
