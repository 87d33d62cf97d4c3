"""The whole compiler, top to bottom: load -> spec passes -> lower -> graph passes -> render.

Loading (resgen.spec.load) parses and validates; every pass after it is listed here, in order.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resgen.checks import (
    Analysis,
    Facts,
    GraphPass,
    check_pad_narrowing,
    check_plain_regularisers,
    check_shortcut_kinds,
    check_size,
    count_nodes,
    find_shapes,
    find_sizes,
)
from resgen.checks.groups import check_groups, check_splits
from resgen.diagnostics import Diagnostic, ResgenError, has_errors
from resgen.graph import ir, lower
from resgen.spec.inert import check_inert_keys
from resgen.spec.kind_checks import check_block_kinds
from resgen.spec.limits import SpecPass, check_spec_limits
from resgen.spec.load import LoadedSpec, load_spec_data, load_spec_file
from resgen.spec.regnet_checks import check_regnet_blocks
from resgen.spec.resnetv2_checks import check_resnetv2
from resgen.spec.user_checks import check_user_blocks

# Passes over the validated spec, before anything is lowered: a spec that asks for an absurd
# amount of work (a million blocks, say) is refused before the work starts. Their warnings join
# the graph passes' in the Analysis.
SPEC_PASSES: tuple[SpecPass, ...] = (
    check_spec_limits,
    check_inert_keys,  # keys the user wrote that change nothing
    check_regnet_blocks,  # ResNet switches a regnet block has no counterpart for
    check_block_kinds,  # and those res2net and selective kernel blocks have none for
    check_resnetv2,  # and those timm's ResNetV2 layout has none for
    check_user_blocks,  # the `blocks:` section's names, inputs and expressions
)

# Passes over the graph, in order; each may read what the ones before it found (`Facts`).
GRAPH_PASSES: tuple[GraphPass, ...] = (
    find_shapes,  # the shape at every node; broken adds and emptied tensors
    count_nodes,  # params and MACs of every node
    find_sizes,  # the input sizes the network accepts
    check_size,
    check_shortcut_kinds,
    check_groups,
    check_splits,
    check_plain_regularisers,
    check_pad_narrowing,
)


@dataclass(frozen=True)
class Compiled:
    loaded: LoadedSpec
    analysis: Analysis
    source: str | None  # Python text; None when the checks found errors


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (if on) for a pass that allocates and frees little.

    The passes build several objects per node and keep them, so each collection rescans the
    growing graph: without the pause, time per block grows with the graph (at 10,000 blocks
    lowering took a third longer, the checks about 15%). Reference counting still frees
    everything that dies; the collector runs again when the pause ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def validate(loaded: LoadedSpec) -> LoadedSpec:
    """Run the spec passes over a loaded spec; raise ResgenError if any finds an error."""
    spec_diagnostics(loaded)
    return loaded


def spec_diagnostics(loaded: LoadedSpec) -> list[Diagnostic]:
    """The spec passes' warnings; raise ResgenError if any finds an error."""
    found = [d for run in SPEC_PASSES for d in run(loaded.spec, loaded.source)]
    if has_errors(found):
        raise ResgenError(found)
    return found


def load_file(path: Path, name: str | None = None) -> LoadedSpec:
    """Load, validate and run the spec passes: what every front door does with a file."""
    return validate(load_spec_file(path, name))


def load_data(data: Mapping[str, Any], name: str) -> LoadedSpec:
    """Load, validate and run the spec passes over an in-memory spec."""
    return validate(load_spec_data(data, name))


def check(loaded: LoadedSpec) -> Analysis:
    """Lower a loaded spec and run every graph pass over it.

    The spec passes run again first (they cost microseconds), so that a spec loaded past the
    front door still cannot make lowering build a million blocks.
    """
    warnings = spec_diagnostics(loaded)
    with gc_paused():
        return analyze(lower(loaded), warnings)


def analyze(graph: ir.Graph, found: list[Diagnostic] | None = None) -> Analysis:
    """Run the graph passes over a graph (a trained one, or the deploy build's folded one).

    `found`: diagnostics that come first, the spec passes' warnings.
    """
    facts = Facts()
    found = list(found or [])
    for run in GRAPH_PASSES:
        found += run(graph, facts)
    return facts.freeze(graph, found)


def compile_spec(loaded: LoadedSpec) -> Compiled:
    """Check, then generate; raise ResgenError with every diagnostic if anything is wrong."""
    analysis = check(loaded)
    diagnostics = list(analysis.diagnostics)
    if has_errors(diagnostics):
        raise ResgenError(diagnostics)
    # Imported here: `check`, `info` and `draw` never need jinja2 and the render model.
    from resgen.codegen.emit import render_source
    from resgen.codegen.render import build_render_model

    with gc_paused():
        text = render_source(build_render_model(loaded, analysis))
    return Compiled(loaded, analysis, text)


def compile_file(path: Path, name: str | None = None) -> Compiled:
    return compile_spec(load_file(path, name))
