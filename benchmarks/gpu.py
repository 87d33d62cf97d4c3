"""Generated ResNet-50 against torchvision's on a CUDA GPU: training and inference throughput.

    .venv/bin/python benchmarks/gpu.py              # on a CUDA machine; about 3-5 minutes
    .venv/bin/python benchmarks/gpu.py --no-compile # eager only, under a minute
    .venv/bin/python benchmarks/gpu.py --dry-run    # tiny sizes on any device, compile traced
                                                    # with the eager backend: does it all run?

Rows: a training step (forward, backward, SGD) under bf16 autocast in channels_last, and
inference (bf16 autocast, channels_last) of the generated module and of the deploy module (norms
folded), each eager and under torch.compile (and the deploy module under mode="max-autotune",
against torchvision's eager), against torchvision's resnet50 run the same way;
and inference of torchvision's and the deploy module converted to bfloat16 (no autocast: the
deploy module's convs then run cuDNN's fused conv-bias-ReLU kernels).
Contenders take turns round by round; each ratio is a throughput ratio, median(torchvision
time) / median(contender time) (above 1.00: faster than torchvision), with the 25th-75th
percentile of the per-round ratios. Without CUDA (and without --dry-run) it says so and exits 0.
Then benchmarks/gpu_training.py's part: activation checkpointing's memory and time ratios for
resnet1202 and preact_resnet1001, and an FSDP2 smoke run (--no-scaling skips it).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import deploy_module, interleave, machine, ratio, table, twins
from benchmarks.gpu_training import autotune_models, scaling_report


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model: Any, x: Any, device: Any) -> Callable[[], object]:
    import torch

    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    target = torch.randint(0, 1000, (x.shape[0],), device=device)

    def step() -> object:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x), target)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        _sync(device)
        return loss

    return step


def infer(model: Any, x: Any, device: Any) -> Callable[[], object]:
    """Autocast for a float32 model; a model converted to bfloat16 runs on a bfloat16 input."""
    import torch

    model.eval()
    converted = next(model.parameters()).dtype == torch.bfloat16
    x = x.to(torch.bfloat16) if converted else x

    def run() -> object:
        with torch.inference_mode():
            if converted:
                out = model(x)
            else:
                with torch.autocast(device.type, dtype=torch.bfloat16):
                    out = model(x)
        _sync(device)
        return out

    return run


def build(name: str, device: Any, compile_mode: str | None) -> dict[str, dict[str, Any]]:
    """The models of each comparison: torchvision's, generated, deploy; eager and compiled."""
    import torch

    ours, reference = twins(name)
    deploy_class = getattr(deploy_module(name), f"{type(ours).__name__}Deploy")
    deploy = deploy_class.from_trained(ours.eval())
    cl = torch.channels_last
    ours, reference = ours.to(device, memory_format=cl), reference.to(device, memory_format=cl)
    deploy = deploy.to(device, memory_format=cl)
    eager = {"torchvision": reference, "generated": ours, "deploy": deploy}
    # Converted to bfloat16 instead of autocast: no casts per op, and the deploy module's convs
    # take cuDNN's fused conv-bias-ReLU (and -add-ReLU) kernels, which need one dtype throughout.
    bf16 = torch.bfloat16
    eager["torchvision, bf16 weights"] = copy.deepcopy(reference).to(bf16)
    eager["deploy, bf16 weights"] = copy.deepcopy(deploy).to(bf16)
    groups = {"eager": eager}
    if compile_mode is not None:
        groups["compile"] = {k: torch.compile(m, backend=compile_mode) for k, m in eager.items()}
    return groups


def run(args: argparse.Namespace) -> int:
    import torch

    if args.dry_run:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        batch, size, reps = 2, 32, min(args.reps, 2)
        compile_mode = None if args.no_compile else "eager"  # trace with dynamo, skip codegen
    else:
        if not torch.cuda.is_available():
            print("benchmarks/gpu.py: no CUDA device here (torch.cuda.is_available() is False); "
                  "nothing measured. Run it on a CUDA machine, or use --dry-run to check that "
                  "the script works.")  # fmt: skip
            return 0
        device = torch.device("cuda")
        batch, size, reps = args.batch, 224, args.reps
        compile_mode = None if args.no_compile else "inductor"
        torch.backends.cudnn.benchmark = True
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"
    print(f"# gpu.py{' --dry-run' if args.dry_run else ''}: {machine()}; device {where}")
    print(f"# torch {torch.__version__}; batch {batch}, {size}x{size}, bf16, channels_last")
    x = torch.randn(batch, 3, size, size, device=device)
    x = x.contiguous(memory_format=torch.channels_last)
    rows: list[list[str]] = []
    start = time.perf_counter()
    groups = build(args.model, device, compile_mode)
    if compile_mode is not None:  # the deploy module under mode="max-autotune" (issue 19)
        groups["compile max-autotune"] = autotune_models(groups["eager"], dry_run=args.dry_run)
    for mode, models in groups.items():
        fns = {k: infer(m, x, device) for k, m in models.items()}
        rows += _compare(fns, f"inference, {mode}", batch, reps)
        # Training: torchvision against the generated module (deploy is inference-only).
        if (mode == "eager" or args.compile_train) and "generated" in models:
            fns = {k: train_step(models[k], x, device) for k in ("torchvision", "generated")}
            rows += _compare(fns, f"train step, {mode}", batch, reps)
        print(f"  {mode} done at {time.perf_counter() - start:.0f} s", flush=True)
    print()
    print(table(["task", "model", "images/s", "throughput / torchvision [IQR]"], rows))
    if not args.no_scaling:  # checkpointing's memory and time, an FSDP2 smoke run (issue 19)
        scaling_report(device, dry_run=args.dry_run, reps=reps)
    return 0


def _compare(
    fns: dict[str, Callable[[], object]], task: str, batch: int, reps: int
) -> list[list[str]]:
    times = interleave(fns, reps=reps, warmup=2)  # warm-up: cuDNN autotuning, compilation
    rows = []
    for name in fns:
        r = ratio(times, "torchvision", name)  # inverse of a time ratio: a throughput ratio
        cell = f"{r.median:.2f} [{r.low:.2f}-{r.high:.2f}]"
        rows.append([task, name, f"{batch / ratio(times, name, name).seconds:.1f}", cell])
        print(f"  {task}, {name}: {rows[-1][2]} images/s, {cell}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on any device")
    parser.add_argument("--no-compile", action="store_true", help="eager only")
    parser.add_argument("--compile-train", action="store_true", help="also compile the train step")
    parser.add_argument("--batch", type=int, default=128, help="batch (default 128)")
    parser.add_argument("--reps", type=int, default=20, help="interleaved rounds (default 20)")
    parser.add_argument("--model", default="resnet50", help="a torchvision name with a spec")
    parser.add_argument("--no-scaling", action="store_true", help="skip checkpointing and FSDP2")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
