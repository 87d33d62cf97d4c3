"""The deploy build against torchvision's eager eval, on this CPU: what folding and NHWC buy.

    .venv/bin/python benchmarks/bench_deploy.py                # batch 1 and 16, + jit + compile
    .venv/bin/python benchmarks/bench_deploy.py --quick        # batch 1 and 8, eager and jit only
    .venv/bin/python benchmarks/bench_deploy.py --no-compile   # skip torch.compile

Every contender runs resnet50 with the same weights, under torch.inference_mode(), round by round
in alternating order; the table shows median(contender) / median(torchvision eager NCHW) with the
25th-75th percentile of the per-round ratios. Targets (issue 6): the deploy module (eager,
channels_last) at batch 16 <= 0.75, at batch 1 <= 1.00.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    deploy_module,
    interleave,
    load,
    machine,
    ratio,
    set_threads,
    table,
    twins,
)

BASELINE = "torchvision eager"
TARGETS = {1: 1.0, 16: 0.75}


def contenders(name: str, compile_: bool) -> dict[str, Any]:
    """Every way to run the model at inference; each a module taking an NCHW batch."""
    import torch

    ours, reference = twins(name)
    _randomise_norms(reference)
    ours.load_state_dict(reference.state_dict())
    deploy_class = getattr(deploy_module(name), f"{type(ours).__name__}Deploy")
    models: dict[str, Any] = {
        BASELINE: reference.eval(),
        "torchvision eager channels_last": _channels_last(twins(name)[1], reference),
        "generated eager": ours.eval(),
        "deploy eager NCHW (folding only)": deploy_class.from_trained(ours, channels_last=False),
        "deploy eager": deploy_class.from_trained(ours),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # jit is deprecated, still worth a row
        models["torchvision jit.freeze"] = torch.jit.freeze(torch.jit.script(reference.eval()))
        models["deploy jit.freeze"] = torch.jit.freeze(torch.jit.script(models["deploy eager"]))
    if compile_:
        # freezing: inductor folds weights as constants and prepacks them for oneDNN (CPU).
        torch._inductor.config.freezing = True
        models["torchvision compile"] = torch.compile(reference.eval())
        models["deploy compile"] = torch.compile(models["deploy eager"])
    return models


def _randomise_norms(model: Any) -> None:
    """Non-trivial BN statistics, so that the folded weights are not the initial ones."""
    import torch

    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key.endswith("running_var"):
                value.copy_(torch.rand(value.shape, generator=gen) + 0.5)
            elif key.endswith("running_mean"):
                value.copy_(torch.randn(value.shape, generator=gen) * 0.1)


def _channels_last(model: Any, weights: Any) -> Any:
    import torch

    model.load_state_dict(weights.state_dict())
    return model.eval().to(memory_format=torch.channels_last)


def forward(model: Any, x: Any, channels_last: bool) -> Callable[[], object]:
    import torch

    def run() -> object:
        with torch.inference_mode():
            # The NHWC copy of the input is part of the cost, as it is for a caller.
            return model(x.contiguous(memory_format=torch.channels_last) if channels_last else x)

    return run


def check_outputs(models: dict[str, Any], x: Any) -> str:
    """Largest difference from the baseline's logits, relative to the largest logit."""
    import torch

    with torch.inference_mode():
        expected = models[BASELINE](x)
        worst = max(
            float((m(x) - expected).abs().max() / expected.abs().max()) for m in models.values()
        )
    return f"{worst:.1e}"


def run(
    name: str, batches: list[int], reps: int, compile_: bool, quick: bool, size: int = 224
) -> int:
    import torch

    print(f"# bench_deploy{' --quick' if quick else ''}: {machine()}")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; model {name}")
    models = contenders(name, compile_)
    rows: list[list[str]] = []
    for batch in batches:
        x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1))
        for label, model in models.items():  # compile (and jit's profiling runs) happen here
            start = time.perf_counter()
            try:
                for _ in range(3):
                    forward(model, x, "channels_last" in label)()
            except Exception as exc:  # torch.compile may be unavailable here; say so, go on
                print(f"  {label}: skipped ({type(exc).__name__}: {str(exc)[:200]})")
                models = {k: v for k, v in models.items() if k != label}
                continue
            print(f"  {label}: ready in {time.perf_counter() - start:.1f} s", flush=True)
        print(f"  batch {batch}: outputs agree with the baseline to {check_outputs(models, x)}")
        fns = {k: forward(m, x, "channels_last" in k) for k, m in models.items()}
        times = interleave(fns, reps=reps, warmup=1)
        for label in models:
            r = ratio(times, label, BASELINE)
            rows.append([str(batch), label, f"{r.seconds * 1e3:.1f}", r.cell(), load()])
        print(f"  batch {batch} done (load {load()})", flush=True)
    print()
    print(table(["batch", "contender", "median ms", f"/ {BASELINE} [IQR]", "load"], rows))
    for batch in batches:
        target = TARGETS.get(batch, TARGETS[16] if batch > 1 else TARGETS[1])
        cell = next(r for r in rows if r[0] == str(batch) and r[1] == "deploy eager")
        print(f"deploy eager at batch {batch}: {cell[3]} (target <= {target:.2f})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch 1 and 8, 5 rounds, no compile")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--reps", type=int, help="interleaved rounds (default 11; quick 5)")
    parser.add_argument("--model", default="resnet50", help="a torchvision name with a spec")
    parser.add_argument("--size", type=int, default=224, help="input height and width")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    batches = [1, 8] if args.quick else [1, 16]
    reps = args.reps or (5 if args.quick else 11)
    compile_ = not (args.quick or args.no_compile)
    return run(args.model, batches, reps, compile_, args.quick, args.size)


if __name__ == "__main__":
    sys.exit(main())
