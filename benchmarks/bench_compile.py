"""torch.compile against eager for a generated model on this CPU: eval and a training step.

    .venv/bin/python benchmarks/bench_compile.py                   # resnet50, batch 16, inductor
    .venv/bin/python benchmarks/bench_compile.py --checkpoint      # + checkpoint: blocks rows
    .venv/bin/python benchmarks/bench_compile.py --quick           # resnet18, batch 2, 64 px

The generated module (generated/<name>.py) is compiled whole with `fullgraph=True`, so a graph
break would be an error, not a slowdown. Each row times eager and compiled round by round in
alternating order and gives median(compiled) / median(eager) with the 25th-75th percentile of the
per-round ratios; compile time (the first calls) is reported apart. Eval runs under
`torch.inference_mode()` (compiled under `torch.no_grad()`, which inductor supports); the training
step is forward, loss and backward.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import generated, interleave, load, machine, ratio, set_threads, table


def build(name: str, checkpoint: bool) -> Any:
    """The shipped model, or (checkpoint) the spec built with `checkpoint: blocks`."""
    import torch

    import resgen

    spec = resgen.load_spec(name).spec
    torch.manual_seed(0)
    if checkpoint:
        return resgen.build_model(spec.model_copy(update={"checkpoint": "blocks"}))
    return getattr(generated(name), spec.model_class)()


def eval_step(model: Any, x: Any, compiled: bool) -> Callable[[], object]:
    import torch

    context = torch.no_grad if compiled else torch.inference_mode

    def run() -> object:
        with context():
            return model(x)

    return run


def train_step(model: Any, x: Any, y: Any) -> Callable[[], object]:
    import torch.nn.functional as F

    def run() -> object:
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    return run


def row(
    label: str, eager: Callable[[], object], compiled: Callable[[], object], reps: int
) -> list[str]:
    start = time.perf_counter()
    compiled()  # compiles
    compiled()  # a second call: some passes recompile once shapes or modes are seen twice
    compile_s = time.perf_counter() - start
    print(f"  {label}: compiled in {compile_s:.1f} s", flush=True)
    times = interleave({"eager": eager, "compiled": compiled}, reps=reps, warmup=1)
    r = ratio(times, "compiled", "eager")
    eager_ms = statistics.median(times["eager"]) * 1e3
    return [
        label,
        f"{eager_ms:.0f}",
        f"{r.seconds * 1e3:.0f}",
        r.cell(),
        f"{compile_s:.0f}",
        load(),
    ]


def run(args: argparse.Namespace) -> list[list[str]]:
    import torch

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=gen)
    y = torch.randint(0, 1000, (args.batch,), generator=gen)
    rows = []
    for checkpoint in (False, True) if args.checkpoint else (False,):
        suffix = ", checkpoint: blocks" if checkpoint else ""
        model = build(args.model, checkpoint)
        torch._dynamo.reset()
        compiled = torch.compile(model, backend=args.backend, fullgraph=True)
        if not checkpoint:  # checkpointing changes nothing in eval
            model.eval()
            rows.append(row(f"eval b{args.batch}", eval_step(model, x, False),
                            eval_step(compiled, x, True), args.reps))  # fmt: skip
        model.train()
        rows.append(row(f"train step b{args.batch}{suffix}", train_step(model, x, y),
                        train_step(compiled, x, y), args.reps))  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet50", help="a shipped spec's name")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224, help="input height and width")
    parser.add_argument("--reps", type=int, default=7, help="interleaved timed rounds")
    parser.add_argument("--backend", default="inductor", help="torch.compile's backend")
    parser.add_argument("--checkpoint", action="store_true", help="also time checkpoint: blocks")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--quick", action="store_true", help="resnet18, batch 2, 64 px, 2 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.model, args.batch, args.size, args.reps = "resnet18", 2, 64, 2
    set_threads(args.threads)
    import torch

    print(f"# bench_compile: {machine()}")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; model {args.model}, "
          f"{args.size}x{args.size}, backend {args.backend}, fullgraph=True")  # fmt: skip
    rows = run(args)
    header = ["task", "eager ms", "compiled ms", "compiled/eager [IQR]", "compile s", "load"]
    print()
    print(table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
