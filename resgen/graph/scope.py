"""Scope: adds the nodes of one place of the network (the stem, a block, the head) to the graph.

Node ids are the generated module's state_dict paths (`layer2.0.conv1`, `layer2.0.downsample.1`).
A parameter-free module applied more than once gets `#n` after its path (`layer2.0.relu#3` is the
third use of `layer2.0.relu`), so every id still names the module that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from resgen.diagnostics import Location
from resgen.graph import ir
from resgen.spec.model import Spec


class Helper(NamedTuple):
    """A helper module that runs a subtree of a block's nodes (`conv2.paths.0.conv`, ...):
    codegen declares `conv2 = <callee>(<args>)`; an arg that is an `ir.Arg` prints as its name."""

    callee: str  # templates/helpers/<callee>.py.jinja
    # (keyword, value, the helper's default): a keyword at its default is left out unless a class
    # parameter gives it; keyword "" is a positional argument (its default unused).
    args: tuple[tuple[str, object, object], ...]


def helpers_of(graph: ir.Graph) -> dict[str, Helper]:
    """Node path prefix (`layer2.0.conv2`) -> the helper module that runs the nodes under it."""
    found: dict[str, Helper] = graph.graph.get("helpers", {})
    return found


@dataclass(frozen=True)
class Scope:
    """Adds nodes to one place of the network: every node it adds gets its stage, block, loc.

    `path("conv1")` is the node id within the scope (`layer2.0.conv1` in a block).
    """

    graph: ir.Graph
    spec: Spec
    stage: str
    block: str | None
    loc: Location
    added: list[str] = field(default_factory=list)  # the ids this scope added, in order

    @property
    def act_name(self) -> str:
        return "relu" if self.spec.act == "relu" else "act"

    @property
    def has_norm(self) -> bool:
        return self.spec.norm.type != "none"

    def path(self, name: str) -> str:
        return f"{self.block}.{name}" if self.block else name

    def add(self, name: str, op: ir.Op, *inputs: str) -> str:
        node = self.path(name)
        assert node not in self.graph, f"duplicate node id {node}"
        self.graph.add_node(node, node=ir.Node(op, self.stage, self.block, self.loc))
        self.added.append(node)
        for port, src in enumerate(inputs):
            self.graph.add_edge(src, node, port=port)
        return node

    def conv(
        self, name: str, src: str, cin: int, cout: int, kernel: int, stride: int = 1,
        groups: int = 1, dilation: int = 1, padding: int | None = None, bias: bool | None = None,
    ) -> str:  # fmt: skip
        if padding is None:
            # "same" for odd kernels at stride 1; a 3x3 keeps its dilation's Arg name.
            padding = dilation if kernel == 3 else dilation * (kernel - 1) // 2
        std = standardized(self.spec, own_bias=bias is not None)
        bias = not self.has_norm if bias is None else bias
        op = ir.Conv(cin, cout, kernel, stride, padding, dilation, groups, bias, standardize=std)
        return self.add(name, op, src)

    def norm(self, name: str, src: str, channels: int) -> str:
        """A norm node; with `norm: none` nothing (the conv before it got a bias instead)."""
        if not self.has_norm:
            return src
        norm = self.spec.norm
        if norm.type == "group" and norm.group_size:  # timm's group_size: groups per width
            op = ir.Norm("group", channels, channels // norm.group_size, norm.eps, norm.group_size)
            return self.add(name, op, src)
        return self.add(name, ir.Norm(norm.type, channels, norm.groups, norm.eps), src)

    def helper(self, name: str, callee: str, *args: tuple[str, object, object]) -> None:
        """Record that helper `callee(args)` runs the nodes under `name` (added next)."""
        self.graph.graph.setdefault("helpers", {})[self.path(name)] = Helper(callee, args)

    def act(self, name: str, src: str, act: str | None = None) -> str:
        """An activation node; after a norm that activates itself (EvoNorm, FRN), nothing."""
        before = ir.op(self.graph, src)
        if isinstance(before, ir.Norm) and before.norm in ir.ACTIVATING_NORMS and act is None:
            return src
        return self.add(name, ir.Act(act or self.spec.act), src)

    def conv_norm(
        self, n: int, src: str, cin: int, cout: int, kernel: int, stride: int = 1,
        groups: int = 1, dilation: int = 1,
    ) -> str:  # fmt: skip
        """`conv{n}` then `bn{n}`: the torchvision pair."""
        x = self.conv(f"conv{n}", src, cin, cout, kernel, stride, groups, dilation)
        return self.norm(f"bn{n}", x, cout)

    def relu(self, n: int, src: str) -> str:
        """The n-th use of the block's activation module (`relu#2`)."""
        return self.act(f"{self.act_name}#{n}", src)


def standardized(spec: Spec, *, own_bias: bool) -> float:
    """A network conv's weight-standardisation eps, 0.0 for a plain conv: BiT standardises every
    conv (the spec's `conv.standardize`) but one given its own bias, such as an SE's."""
    return spec.conv.eps if spec.conv.standardize and not own_bias else 0.0
