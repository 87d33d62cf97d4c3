"""Memory a training step needs, known before torch runs, and the machine's memory."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from resgen.diagnostics import Diagnostic, error

if TYPE_CHECKING:
    from resgen.checks import Analysis


def too_big(analysis: Analysis, batch: int, name: str) -> Diagnostic | None:
    """An `out-of-memory` diagnostic when a forward and backward pass of `batch` samples needs
    more memory than the machine has; None when it fits (or the machine's memory is unknown).

    Training mode keeps every node's output for the backward pass: 4 bytes per element.
    """
    memory = physical_memory()
    per_sample = 4 * sum(math.prod(s) for s in analysis.shapes.values() if s)
    if not memory or per_sample * batch <= memory:
        return None
    return out_of_memory(
        f"{name}: a batch of {batch:,} needs about {per_sample * batch / 2**30:,.1f} GiB of "
        f"activations; this machine has {memory / 2**30:,.1f} GiB",
        memory // max(per_sample, 1),
    )


def out_of_memory(message: str, fits: int | None = None) -> Diagnostic:
    """The diagnostic for a batch that does not fit; `fits`: the largest batch that would."""
    hint = f"use --batch {fits} or less" if fits and fits >= 2 else "use a smaller --batch"
    return error("out-of-memory", message, None, hint=hint)


def physical_memory() -> int | None:
    """The machine's memory in bytes; None where the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
