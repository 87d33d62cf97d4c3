"""Lower a Spec into the IR graph.

Node ids are the generated module's state_dict paths (`layer2.0.conv1`, `layer2.0.downsample.1`).
A parameter-free module applied more than once gets `#n` after its path (`layer2.0.relu#3` is the
third use of `layer2.0.relu`), so every id still names the module that runs it.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from resgen.diagnostics import Location
from resgen.graph import ir
from resgen.spec.load import LoadedSpec
from resgen.spec.model import Spec, StageSpec


class _Builder:
    """Adds nodes and edges with the bookkeeping (stage, block, location) every node needs."""

    def __init__(self, loaded: LoadedSpec) -> None:
        self.spec = loaded.spec
        self.source = loaded.source
        self.graph: ir.Graph = nx.DiGraph()
        self.stage = "stem"
        self.block: str | None = None
        self.loc = self.source.locate(("stem",))

    def add(self, node: str, kind: str, inputs: tuple[str, ...] = (), **attrs: Any) -> str:
        missing = set(ir.ATTRS[kind]) - set(attrs)
        assert not missing, f"{node}: {kind} node lacks {sorted(missing)}"
        assert node not in self.graph, f"duplicate node id {node}"
        self.graph.add_node(
            node, kind=kind, stage=self.stage, block=self.block, loc=self.loc, **attrs
        )
        for port, src in enumerate(inputs):
            self.graph.add_edge(src, node, port=port)
        return node

    def conv(
        self, node: str, src: str, cin: int, cout: int, kernel: int, stride: int = 1,
        groups: int = 1, dilation: int = 1, padding: int | None = None,
    ) -> str:  # fmt: skip
        if padding is None:
            padding = dilation * (kernel - 1) // 2  # "same" for odd kernels at stride 1
        return self.add(
            node, ir.CONV, (src,), in_channels=cin, out_channels=cout, kernel=kernel,
            stride=stride, padding=padding, dilation=dilation, groups=groups, bias=False,
        )  # fmt: skip

    def norm(self, node: str, src: str, channels: int) -> str:
        return self.add(node, ir.NORM, (src,), norm="batch", channels=channels)

    def act(self, node: str, src: str) -> str:
        return self.add(node, ir.ACT, (src,), act="relu")


def lower(loaded: LoadedSpec) -> ir.Graph:
    """Build the frozen IR graph for a validated spec."""
    spec = loaded.spec
    b = _Builder(loaded)
    channels = spec.input.channels
    x = b.add("input", ir.INPUT, channels=channels)
    x, channels = _lower_stem(b, spec, x, channels)
    stages = []
    for number, stage in enumerate(spec.stages, start=1):
        info = _lower_stage(b, spec, stage, number, x, channels)
        stages.append(info)
        x, channels = info.output, info.blocks[-1].out_channels
    _lower_head(b, spec, x, channels)
    b.graph.graph.update(
        name=spec.name,
        input_shape=(spec.input.channels, *spec.input.hw),
        stages=tuple(stages),
        input_loc=loaded.source.locate(("input",)),
    )
    frozen: ir.Graph = nx.freeze(b.graph)
    return frozen


def _lower_stem(b: _Builder, spec: Spec, x: str, channels: int) -> tuple[str, int]:
    stem = spec.stem
    x = b.conv("conv1", x, channels, stem.width, kernel=7, stride=2, padding=3)
    x = b.norm("bn1", x, stem.width)
    x = b.act("relu", x)
    if stem.pool == "max":
        x = b.add(
            "maxpool", ir.POOL, (x,), pool="max", kernel=3, stride=2, padding=1, ceil_mode=False
        )
    return x, stem.width


def _lower_stage(
    b: _Builder, spec: Spec, stage: StageSpec, number: int, x: str, channels: int
) -> ir.StageInfo:
    name = f"layer{number}"
    b.stage = name
    loc = b.source.locate(("stages", number - 1))
    blocks = []
    for index in range(stage.depth):
        b.block = f"{name}.{index}"
        b.loc = loc
        block = _lower_block(b, spec, stage, number, index, x, channels)
        blocks.append(block)
        x, channels = block.output, block.out_channels
    b.block = None
    return ir.StageInfo(name, number, tuple(blocks), x, loc)


def _lower_block(
    b: _Builder, spec: Spec, stage: StageSpec, number: int, index: int, x: str, cin: int
) -> ir.BlockInfo:
    kind = spec.block
    stride = stage.stride if index == 0 else 1
    cout = stage.width * kind.out_factor
    if kind.type == "bottleneck":
        mid = int(stage.width * kind.base_width / 64) * kind.groups
    else:
        mid = stage.width
    projection = spec.shortcut == "projection" and (stride != 1 or cin != cout)
    p = b.block
    assert p is not None
    if kind.type == "bottleneck":
        s1, s3 = (stride, 1) if kind.stride_on == "1x1" else (1, stride)
        y = b.act(f"{p}.relu#1", b.norm(f"{p}.bn1", b.conv(f"{p}.conv1", x, cin, mid, 1, s1), mid))
        y = b.conv(f"{p}.conv2", y, mid, mid, 3, s3, groups=kind.groups)
        y = b.act(f"{p}.relu#2", b.norm(f"{p}.bn2", y, mid))
        y = b.norm(f"{p}.bn3", b.conv(f"{p}.conv3", y, mid, cout, 1), cout)
    else:
        y = b.conv(f"{p}.conv1", x, cin, mid, 3, stride, groups=kind.groups)
        y = b.act(f"{p}.relu#1", b.norm(f"{p}.bn1", y, mid))
        y = b.norm(f"{p}.bn2", b.conv(f"{p}.conv2", y, mid, cout, 3), cout)
    shortcut = x
    if projection:
        shortcut = b.conv(f"{p}.downsample.0", x, cin, cout, 1, stride)
        shortcut = b.norm(f"{p}.downsample.1", shortcut, cout)
    add = b.add(f"{p}.add", ir.ADD, (y, shortcut))
    last = b.act(f"{p}.relu#{3 if kind.type == 'bottleneck' else 2}", add)
    return ir.BlockInfo(
        path=p, stage=f"layer{number}", stage_number=number, index=index, type=kind.type,
        in_channels=cin, mid_channels=mid, out_channels=cout, stride=stride,
        groups=kind.groups, stride_on=kind.stride_on, projection=projection,
        input=x, output=last, add=add, loc=b.loc,
    )  # fmt: skip


def _lower_head(b: _Builder, spec: Spec, x: str, channels: int) -> None:
    b.stage = "head"
    b.loc = b.source.locate(("head",))
    x = b.add(
        "avgpool" if spec.head.pool == "avg" else "global_maxpool",
        ir.GLOBAL_POOL,
        (x,),
        pool=spec.head.pool,
    )
    x = b.add("flatten", ir.FLATTEN, (x,))
    if spec.head.classes:
        b.add(
            "fc", ir.LINEAR, (x,), in_features=channels, out_features=spec.head.classes, bias=True
        )


def location_of(graph: ir.Graph, node: str) -> Location:
    loc: Location = graph.nodes[node]["loc"]
    return loc
