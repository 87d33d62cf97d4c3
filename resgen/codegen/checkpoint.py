"""Activation checkpointing: which stages run their blocks under torch.utils.checkpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from resgen.spec.model import Spec

if TYPE_CHECKING:
    from resgen.codegen.render import StageRender


def checkpointed(
    spec: Spec, stages: tuple[StageRender, ...], *, deploy: bool
) -> tuple[tuple[StageRender, ...], str]:
    """Mark the stages whose blocks are checkpointed, and say so in a comment ("" for none).

    A stage's own `checkpoint` wins over the spec's. The deploy build only infers, so it has
    none; nor has a spec without any, whose generated file stays as it was.
    """
    if deploy:
        return stages, ""
    default = spec.checkpoint == "blocks"
    own = [stage.checkpoint for stage in spec.stages]
    flags = [
        default if i >= len(own) or own[i] is None else bool(own[i]) for i in range(len(stages))
    ]
    if not any(flags):
        return stages, ""
    marked = tuple(s._replace(checkpoint=f) for s, f in zip(stages, flags, strict=True))
    where = "every block" if all(flags) else f"the blocks of {_names(marked)}"
    comment = f"Activation checkpointing in training (run_stage): {where}."
    return marked, comment


def _names(stages: tuple[StageRender, ...]) -> str:
    names = [s.name for s in stages if s.checkpoint]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
