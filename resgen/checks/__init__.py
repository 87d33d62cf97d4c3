"""Static passes over the graph: shapes at every node, residual adds, params and MACs.

A pass is `(graph, facts) -> diagnostics`: it may record what it found in `Facts` for the passes
after it. `resgen.pipeline.GRAPH_PASSES` lists them in order; `Analysis` is what they found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from resgen.checks.counts import node_counts
from resgen.checks.shapes import infer_shapes
from resgen.checks.sizes import SizeReport, valid_sizes
from resgen.diagnostics import Diagnostic, error, in_line_order, warning
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
        # Nodes of a stage are consecutive in graph order: sum runs of equal stages.
        params, macs = self.params, self.macs
        sums: dict[str, list[int]] = {}
        last: dict[str, str] = {}
        stage, row = "", [0, 0]
        for node, data in ir.nodes(self.graph):
            if data.stage != stage:
                stage = data.stage
                row = sums.setdefault(stage, [0, 0])
            if data.op.kind != ir.INPUT:
                row[0] += params[node]
                row[1] += macs[node]
                last[stage] = node
        depth = {s.name: len(s.blocks) for s in ir.stages_of(self.graph)}
        return [
            StageRow(name, depth.get(name, 0), self.shapes[last[name]], *sums[name])
            for name in last
        ]


@dataclass
class Facts:
    """What the graph passes found so far; `Analysis` freezes it once they have all run."""

    shapes: dict[str, ir.Shape | None] = field(default_factory=dict)
    params: dict[str, int] = field(default_factory=dict)
    macs: dict[str, int] = field(default_factory=dict)
    sizes: SizeReport | None = None

    @property
    def total_params(self) -> int:
        return sum(self.params.values())

    def freeze(self, graph: ir.Graph, diagnostics: list[Diagnostic]) -> Analysis:
        assert self.sizes is not None, "find_sizes did not run"
        found = tuple(in_line_order(diagnostics))
        return Analysis(graph, self.shapes, self.params, self.macs, found, self.sizes)


GraphPass = Callable[[ir.Graph, Facts], list[Diagnostic]]


def find_shapes(graph: ir.Graph, facts: Facts) -> list[Diagnostic]:
    """The shape at every node; a broken add or an emptied tensor is an error.

    The sizes the network accepts come first: they tell a mismatch that is the input size's
    fault from one that no input size would mend.
    """
    if facts.sizes is None:
        facts.sizes = valid_sizes(graph)
    facts.shapes, found = infer_shapes(graph, facts.sizes)
    return found


def count_nodes(graph: ir.Graph, facts: Facts) -> list[Diagnostic]:
    """Parameters and multiply-adds of every node."""
    facts.params, facts.macs = node_counts(graph, facts.shapes)
    return []


def find_sizes(graph: ir.Graph, facts: Facts) -> list[Diagnostic]:
    """The input sizes the network accepts (find_shapes may have found them already)."""
    if facts.sizes is None:
        facts.sizes = valid_sizes(graph)
    return []


def check_size(graph: ir.Graph, facts: Facts) -> list[Diagnostic]:
    total = facts.total_params
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


def check_shortcut_kinds(graph: ir.Graph, facts: Facts) -> list[Diagnostic]:
    """One block class has one kind of downsample module; per-stage overrides must agree."""
    kinds: dict[str, ir.Block] = {}
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


def check_plain_regularisers(graph: ir.Graph, facts: Facts) -> list[Diagnostic]:
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
    # A RegNet block without a shortcut drops nothing (timm's), so look for the node itself.
    if any(f"{b.path}.drop_path" in b.nodes for b in ir.blocks_of(graph) if b.add is None):
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


def check_pad_narrowing(graph: ir.Graph, facts: Facts) -> list[Diagnostic]:
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
