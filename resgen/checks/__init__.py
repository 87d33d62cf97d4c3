"""Static passes over the graph: shapes at every node, residual adds, params and MACs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resgen.checks.counts import node_counts
from resgen.checks.groups import check_groups
from resgen.checks.shapes import infer_shapes
from resgen.checks.sizes import SizeReport, valid_sizes
from resgen.diagnostics import Diagnostic, error, warning
from resgen.graph import ir

# A model this large is almost certainly a typo (a width of 65536 in every stage, say).
MAX_SENSIBLE_PARAMS = 20_000_000_000


@dataclass(frozen=True)
class StageRow:
    """One row of the per-stage summary: stem, layer1..N, head."""

    name: str
    blocks: int
    shape: ir.Shape | None
    params: int
    macs: int


@dataclass(frozen=True)
class Analysis:
    """Everything the static passes know about a graph; one source of truth for all outputs."""

    graph: ir.Graph
    shapes: dict[str, ir.Shape | None]
    params: dict[str, int]
    macs: dict[str, int]
    diagnostics: tuple[Diagnostic, ...]
    sizes: SizeReport

    @property
    def total_params(self) -> int:
        return sum(self.params.values())

    @property
    def total_macs(self) -> int:
        return sum(self.macs.values())

    @property
    def output_shape(self) -> ir.Shape | None:
        last = list(self.graph.nodes)[-1]
        return self.shapes[last]

    def rows(self) -> list[StageRow]:
        """Sum params and MACs per stage, in network order."""
        order: dict[str, dict[str, Any]] = {}
        for node, data in ir.nodes(self.graph):
            if data.kind == ir.INPUT:
                continue
            row = order.setdefault(data.stage, {"params": 0, "macs": 0, "last": node})
            row["params"] += self.params[node]
            row["macs"] += self.macs[node]
            row["last"] = node
        depth = {s.name: len(s.blocks) for s in ir.stages_of(self.graph)}
        return [
            StageRow(name, depth.get(name, 0), self.shapes[row["last"]], row["params"], row["macs"])
            for name, row in order.items()
        ]


def check_size(graph: ir.Graph, analysis: Analysis) -> list[Diagnostic]:
    total = analysis.total_params
    if total <= MAX_SENSIBLE_PARAMS:
        return []
    return [
        warning(
            "huge-model",
            f"the model has {total:,} parameters ({total * 4 / 2**30:,.0f} GiB in float32)",
            graph.graph["input_loc"],
            hint="check the stage widths and depths for a typo",
        )
    ]


def check_shortcut_kinds(graph: ir.Graph, analysis: Analysis) -> list[Diagnostic]:
    """One block class has one kind of downsample module; per-stage overrides must agree."""
    kinds: dict[str, ir.BlockInfo] = {}
    found = []
    for block in ir.blocks_of(graph):
        if not block.downsample:
            continue
        first = kinds.setdefault(block.type, block)
        if first.shortcut != block.shortcut:
            found.append(
                error(
                    "mixed-shortcuts",
                    f"stage {block.stage_number} uses `{block.shortcut}` shortcuts but stage "
                    f"{first.stage_number} uses `{first.shortcut}` for the same {block.type} "
                    "blocks; resgen generates one downsample kind per block type",
                    block.loc,
                    hint="use one projecting shortcut kind per block type; per-stage `none` "
                    "(a plain stage) and `identity` mix with any",
                )
            )
            break
    return found


# Extra passes that need the shapes and counts; each returns its diagnostics.
def check_plain_regularisers(graph: ir.Graph, analysis: Analysis) -> list[Diagnostic]:
    """Zero-init and drop-path assume a shortcut carries the signal; plain blocks have none."""
    plain = next((b for b in ir.blocks_of(graph) if b.add is None), None)
    if plain is None:
        return []
    found = []
    if graph.graph.get("zero_init_residual"):
        found.append(
            warning(
                "zero-init-plain",
                f"zero_init_residual zeroes the last norm of plain blocks (stage "
                f"{plain.stage_number}), so they start by outputting zeros, not the identity",
                plain.loc,
                hint="set `zero_init_residual: false` for plain (shortcut: none) networks",
            )
        )
    if any(b.drop_path > 0 for b in ir.blocks_of(graph) if b.add is None):
        found.append(
            warning(
                "drop-path-plain",
                f"drop-path in plain blocks (stage {plain.stage_number}) drops a sample's whole "
                "signal, as no shortcut carries it past the block",
                plain.loc,
                hint="use drop_path only with residual shortcuts",
            )
        )
    return found


def check_pad_narrowing(graph: ir.Graph, analysis: Analysis) -> list[Diagnostic]:
    """A zero-pad shortcut (option A) widens by adding zero channels; narrowing it crops."""
    for block in ir.blocks_of(graph):
        if block.shortcut is ir.ShortcutKind.PAD and block.in_channels > block.out_channels:
            lost = block.in_channels - block.out_channels
            return [
                warning(
                    "pad-crops",
                    f"the zero-pad shortcut of {block.path} (stage {block.stage_number}) narrows "
                    f"{block.in_channels} channels to {block.out_channels}: it drops the last "
                    f"{lost} input channels instead of padding",
                    block.loc,
                    hint="use `shortcut: projection` for a stage that narrows, or keep stage "
                    "widths from shrinking",
                )
            ]
    return []


CHECKS: tuple[Callable[[ir.Graph, Analysis], list[Diagnostic]], ...] = (
    check_size,
    check_shortcut_kinds,
    check_groups,
    check_plain_regularisers,
    check_pad_narrowing,
)


def analyze(graph: ir.Graph) -> Analysis:
    """Infer shapes, count params and MACs, and run every check."""
    shapes, diagnostics = infer_shapes(graph)
    params, macs = node_counts(graph, shapes)
    sizes = valid_sizes(graph)
    analysis = Analysis(graph, shapes, params, macs, tuple(diagnostics), sizes)
    extra = [d for check in CHECKS for d in check(graph, analysis)]
    return Analysis(graph, shapes, params, macs, (*diagnostics, *extra), sizes)
