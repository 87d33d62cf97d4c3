"""Gradient flow at initialisation: per-block gradient norms and activation statistics.

`probe_spec` builds a spec's model in memory, runs one forward and backward pass on a seeded
random batch and measures every block (the children of the `layer1..N` stages). `plain_twin`
and `strip_norm` derive the comparison specs: the same network without residual adds, and
without normalisation. torch and matplotlib are imported inside the functions that need them,
so importing this module (and every other resgen command) stays free of both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from resgen.spec.model import Spec
from resgen.spec.parts import InputSpec, NormSpec

if TYPE_CHECKING:
    from rich.table import Table
    from torch import Tensor, nn

    from resgen.checks.sizes import SizeReport

DEFAULT_BATCH = 8  # a laptop's batch: enough samples for batch norm's statistics
MAX_DEFAULT_SIZE = 64  # px; the default input side, so a 224 px ImageNet net probes in seconds
# Formats matplotlib writes without extra packages; `-f`, or `-o FILE`'s extension, picks one.
PLOT_SUFFIXES = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


@dataclass(frozen=True)
class BlockStats:
    """One block at initialisation: its gradient norm and its output's statistics."""

    name: str  # the module path, e.g. layer2.0 (also its state_dict prefix)
    depth: int  # 1-based position among all blocks
    grad_norm: float  # L2 norm over the gradients of all the block's parameters
    act_mean: float
    act_std: float

    def to_json(self) -> dict[str, Any]:
        return {
            "block": self.name,
            "depth": self.depth,
            "grad_norm": _finite_or_none(self.grad_norm),
            "act_mean": _finite_or_none(self.act_mean),
            "act_std": _finite_or_none(self.act_std),
        }


@dataclass(frozen=True)
class ProbeResult:
    """The probe of one network: what was run, and every block's numbers."""

    label: str  # the spec's name, or `<name> (plain twin)`
    spec_name: str
    plain: bool  # no residual add anywhere
    norm: str  # the spec's norm type ("none" when stripped)
    seed: int
    batch: int
    size: tuple[int, int]  # the input's height and width
    loss: float
    blocks: tuple[BlockStats, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "spec": self.spec_name,
            "plain": self.plain,
            "norm": self.norm,
            "seed": self.seed,
            "batch": self.batch,
            "size": list(self.size),
            "loss": _finite_or_none(self.loss),
            "blocks": [b.to_json() for b in self.blocks],
        }


def _finite_or_none(value: float) -> float | None:
    # JSON has no NaN or infinity; an exploded network reports null instead.
    return value if math.isfinite(value) else None


def is_plain(spec: Spec) -> bool:
    """Whether no block of the spec has a residual add."""
    return all((stage.shortcut or spec.shortcut) == "none" for stage in spec.stages)


def plain_twin(spec: Spec) -> Spec:
    """Return the same network with `shortcut: none` everywhere: the paper's plain baseline."""
    stages = [stage.model_copy(update={"shortcut": None}) for stage in spec.stages]
    return spec.model_copy(
        update={
            "name": f"{spec.name}_plain",
            "class_name": None,
            "description": f"plain twin of {spec.name}",
            "shortcut": "none",
            "stages": stages,
            # Without a shortcut, a zeroed last norm kills the signal and a dropped path drops
            # the whole sample: both only make sense for residual blocks.
            "zero_init_residual": False,
            "drop_path": 0.0,
        }
    )


def strip_norm(spec: Spec) -> Spec:
    """Return the same network with `norm: {type: none}` (its convs then get a bias)."""
    return spec.model_copy(update={"norm": NormSpec(type="none")})


def default_size(spec: Spec, sizes: SizeReport) -> tuple[int, int]:
    """The input size to probe at: the spec's own, each side capped at MAX_DEFAULT_SIZE and
    lowered to one the network accepts (the spec's own when it accepts none below the cap)."""
    h, w = spec.input.hw
    return _accepted(h, sizes), _accepted(w, sizes)


def _accepted(side: int, sizes: SizeReport) -> int:
    if side <= MAX_DEFAULT_SIZE or sizes.min_size == 0:
        return side
    failing = set(sizes.failing)
    below = range(MAX_DEFAULT_SIZE, sizes.min_size - 1, -1)
    return next((size for size in below if size not in failing), side)


def at_size(spec: Spec, size: tuple[int, int]) -> Spec:
    """The same network for inputs of `size` (height, width)."""
    if size == spec.input.hw:
        return spec
    h, w = size
    shape = InputSpec(channels=spec.input.channels, size=h if h == w else [h, w])
    return spec.model_copy(update={"input": shape})


def probe_spec(
    spec: Spec, *, seed: int = 0, batch: int = DEFAULT_BATCH, label: str | None = None
) -> ProbeResult:
    """Build a spec's model (seeded), run forward and backward once, and measure every block.

    The model is in training mode, as at the first step of training: batch norm uses the
    batch's statistics. The input is standard normal noise and the loss is cross-entropy
    against uniformly random labels (the mean square of the output when the head has no
    classifier). Input and labels come from their own generator, so every network probed with
    the same seed and batch sees the very same batch.
    """
    import torch

    from resgen.api import build_model

    previous = torch.are_deterministic_algorithms_enabled()
    # fork_rng: seeding here leaves the caller's random state as it was.
    with torch.random.fork_rng(devices=[]):
        torch.use_deterministic_algorithms(True)
        try:
            torch.manual_seed(seed)
            model = build_model(spec)
            gen = torch.Generator().manual_seed(seed)
            x = torch.randn(batch, spec.input.channels, *spec.input.hw, generator=gen)
            labels = torch.randint(max(spec.head.classes, 1), (batch,), generator=gen)
            loss, stats = _measure(model, x, labels, classify=spec.head.classes > 0)
        finally:
            torch.use_deterministic_algorithms(previous)
    return ProbeResult(
        label=label or spec.name,
        spec_name=spec.name,
        plain=is_plain(spec),
        norm=spec.norm.type,
        seed=seed,
        batch=batch,
        size=spec.input.hw,
        loss=loss,
        blocks=stats,
    )


def _measure(
    model: nn.Module, x: Tensor, labels: Tensor, *, classify: bool
) -> tuple[float, tuple[BlockStats, ...]]:
    """One training-mode forward and backward pass, with a forward hook on every block."""
    import torch

    model.train()
    blocks = _blocks(model)
    acts: dict[str, tuple[float, float]] = {}
    hooks = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: acts.__setitem__(name, _mean_std(out))
        )
        for name, module in blocks
    ]
    try:
        out = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    # Without a classifier (head.classes: 0) the output is features: their mean square.
    if classify:
        loss = torch.nn.functional.cross_entropy(out, labels)
    else:
        loss = out.square().mean()
    torch.autograd.backward(loss)
    stats = tuple(
        BlockStats(name, depth, _grad_norm(module), *acts[name])
        for depth, (name, module) in enumerate(blocks, start=1)
    )
    return float(loss.detach()), stats


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The residual (or plain) blocks: the children of every stage, in order."""
    stages = [info["module"] for info in getattr(model, "feature_info", ())]
    return [
        (f"{stage}.{index}", block)
        for stage in stages
        for index, block in enumerate(model.get_submodule(stage).children())
    ]


def _mean_std(out: Any) -> tuple[float, float]:
    data = out.detach().double()
    return float(data.mean()), float(data.std())


def _grad_norm(module: nn.Module) -> float:
    squares = [p.grad.double().square().sum() for p in module.parameters() if p.grad is not None]
    return math.sqrt(float(sum(squares))) if squares else 0.0


def probe_specs(
    specs: Sequence[Spec], *, twin: bool = False, seed: int = 0, batch: int = DEFAULT_BATCH
) -> list[ProbeResult]:
    """Probe each spec, and after each its plain twin when asked (a plain spec has none)."""
    results = []
    for spec in specs:
        results.append(probe_spec(spec, seed=seed, batch=batch))
        if twin and not is_plain(spec):
            results.append(
                probe_spec(plain_twin(spec), seed=seed, batch=batch, label=f"{spec.name} (plain)")
            )
    return results


def first_block_ratios(results: Sequence[ProbeResult]) -> list[tuple[str, str, float]]:
    """For each plain result after a residual one: (plain, residual, plain/residual grad norm)."""
    ratios = []
    for residual, plain in itertools.pairwise(results):
        if plain.plain and not residual.plain and residual.blocks and plain.blocks:
            base = residual.blocks[0].grad_norm
            ratio = plain.blocks[0].grad_norm / base if base else math.inf
            ratios.append((plain.label, residual.label, ratio))
    return ratios


def results_json(results: Sequence[ProbeResult]) -> dict[str, Any]:
    """The machine output of `resgen probe -f json`."""
    return {
        "runs": [r.to_json() for r in results],
        "first_block_ratios": [
            {"plain": p, "residual": r, "ratio": _finite_or_none(x)}
            for p, r, x in first_block_ratios(results)
        ],
    }


def results_table(results: Sequence[ProbeResult]) -> Table:
    """A rich table: one row per block, a gradient-norm and an activation-std column per run."""
    from rich.table import Table

    first = results[0]
    table = Table(
        title=f"Gradient flow at initialisation (seed {first.seed}, batch {first.batch})",
        caption=_caption(results),
    )
    table.add_column("block")
    for r in results:
        table.add_column(f"{r.label}\n|grad|", justify="right")
        table.add_column(f"{r.label}\nact mean, std", justify="right")
    depth = max(len(r.blocks) for r in results)
    for i in range(depth):
        names = {r.blocks[i].name for r in results if i < len(r.blocks)}
        cells = [" / ".join(sorted(names))]
        for r in results:
            if i < len(r.blocks):
                b = r.blocks[i]
                cells += [f"{b.grad_norm:.3g}", f"{b.act_mean:.3g}, {b.act_std:.3g}"]
            else:
                cells += ["", ""]
        table.add_row(*cells)
    table.add_section()
    table.add_row("loss", *[c for r in results for c in (f"{r.loss:.4g}", "")], style="bold")
    return table


def _caption(results: Sequence[ProbeResult]) -> str:
    norms = sorted({r.norm for r in results})
    lines = [
        f"{_inputs(results)}; norm: {', '.join(norms)}",
        "|grad|: L2 norm of all the block's parameter gradients",
    ]
    lines += [
        f"first block |grad|, {plain} / {residual}: {ratio:.3g}"
        for plain, residual, ratio in first_block_ratios(results)
    ]
    return "\n".join(lines)


def _inputs(results: Sequence[ProbeResult]) -> str:
    """The input size of the runs: one, or each run's when they differ."""
    sizes = {r.size for r in results}
    if len(sizes) == 1:
        return f"input {_hw(sizes.pop())}"
    by_spec = {r.spec_name: r.size for r in results}  # a twin runs at its spec's size
    return "input " + ", ".join(f"{_hw(size)} ({name})" for name, size in by_spec.items())


def _hw(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]} px"


def plot_results(results: Sequence[ProbeResult], fmt: str) -> bytes:
    """Gradient norm (log scale) and activation std against block depth, as a png, svg or pdf.

    The caller writes the bytes (atomically, with the umask's mode), so no half-written plot is
    left behind by a failure or a signal.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")  # no display; only the file
    import matplotlib.pyplot as plt

    fig, (ax_grad, ax_std) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for r in results:
        depths = [b.depth for b in r.blocks]
        # The paper's Figure 1 style: plain nets thin and dashed, residual nets bold and solid.
        style: dict[str, Any] = (
            {"linestyle": "--", "linewidth": 1.2} if r.plain else {"linewidth": 2.2}
        )
        ax_grad.plot(depths, [b.grad_norm for b in r.blocks], label=r.label, **style)
        ax_std.plot(depths, [b.act_std for b in r.blocks], label=r.label, **style)
    norms = ", ".join(sorted({r.norm for r in results}))
    ax_grad.set_title("gradient norm of each block's parameters")
    ax_std.set_title("std of each block's output")
    for ax in (ax_grad, ax_std):
        ax.set_yscale("log")
        ax.set_xlabel("block (input to output)")
        ax.grid(True, which="both", alpha=0.3)
    ax_grad.legend()
    first = results[0]
    fig.suptitle(
        f"At initialisation: seed {first.seed}, batch {first.batch}, {_inputs(results)}, "
        f"norm: {norms}"
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=120)
    plt.close(fig)
    return buffer.getvalue()
