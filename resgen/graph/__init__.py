"""The IR graph and the lowering from Spec to graph."""

from resgen.graph.lower import lower

__all__ = ["lower"]
