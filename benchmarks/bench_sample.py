"""`resgen sample` against pycls's sampler: candidates evaluated per second on one core.

    .venv/bin/python benchmarks/bench_sample.py            # 7 rounds of 20,000 candidates each
    .venv/bin/python benchmarks/bench_sample.py --quick    # 1 round of 2,000

pycls (facebookresearch/pycls) does not install here: it needs its yacs config tree, conda for
`LAUNCH.CONDA_ENV`, and imports torch and matplotlib to sample. Its sampling and complexity code is
short numpy and Python, so the baseline below is that code, re-typed from its sources:

    pycls/sweep/random.py     quantize, uniform, log_uniform, power2_uniform, power2_or_log_uniform
    pycls/sweep/samplers.py   regnet_sampler, check_regnet_constraints, check_complexity_constraints
    tools/sweep_setup.py      sample_cfgs: the rejection loop, deduplication by parameter string
    pycls/models/regnet.py    generate_regnet, RegNet.get_params
    pycls/models/blocks.py    adjust_block_compatibility, conv2d_cx, norm2d_cx, gap2d_cx, linear_cx
    pycls/models/anynet.py    AnyNet.complexity: SimpleStemIN, ResBottleneckBlock, AnyStage, AnyHead

What it leaves out favours pycls: the yacs `reset_cfg`/`merge_from_list` every candidate pays,
the model scaler, and the multiprocessing pool. Both sides draw from pycls's default RegNet ranges
(specs/spaces/regnetx_400mf.yaml) with 4 stages and 360-400 M MACs (pycls: FLOPS), pinned to one
core, timed round by round in alternating order (benchmarks/common.py). One candidate is one
draw taken through every check: parameters, stages, stage count, complexity, window, duplicate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.common import ROOT, interleave, load, machine, ratio, table

SPACE = ROOT / "specs" / "spaces" / "regnetx_400mf.yaml"
LOW, HIGH = 360_000_000, 400_000_000

# --- pycls, re-typed (see the module docstring for the files) -------------------------------


def quantize(f: float, q: Any, op: Callable[[Any], Any] = np.floor) -> Any:
    quantized = Decimal(op(f / q)) * Decimal(str(q))
    return type(q)(quantized)


def uniform(low: Any, high: Any, q: Any) -> Any:
    return quantize(np.random.uniform(low, high + q), q, np.floor)


def log_uniform(low: Any, high: Any, q: Any) -> Any:
    f = np.exp(-np.random.uniform(-(np.log(high)), -(np.log(low - min(q, low / 2)))))
    return quantize(f, q, np.ceil)


def power2_uniform(low: Any, high: Any, q: Any) -> Any:
    f2 = np.floor(np.random.uniform(np.log2(low), np.log2(high) + 1))
    return quantize(2**f2, q)


def power2_or_log_uniform(low: Any, high: Any, q: Any) -> Any:
    f = type(q)(power2_uniform(low, high, low))
    return log_uniform(max(low, q), high, min(high, q)) if f >= q else f


def regnet_sampler() -> list[Any]:
    """REGNET_SAMPLER's default ranges (pycls/sweep/config.py)."""
    d = uniform(12, 28, 1)
    w0 = log_uniform(8, 256, 8)
    wa = log_uniform(8.0, 256.0, 0.1)
    wm = log_uniform(2.0, 3.0, 0.001)
    gw = power2_or_log_uniform(8, 128, 8)
    bm = power2_uniform(1.0, 1.0, 1 / 128)
    return ["DEPTH", d, "W0", w0, "WA", wa, "WM", wm, "GROUP_W", gw, "BOT_MUL", bm]


def generate_regnet(w_a: float, w_0: int, w_m: float, d: int, q: int = 8) -> tuple[Any, ...]:
    ws_cont = np.arange(d) * w_a + w_0
    ks = np.round(np.log(ws_cont / w_0) / np.log(w_m))
    ws_all = w_0 * np.power(w_m, ks)
    ws_all = np.round(np.divide(ws_all, q)).astype(int) * q
    ws, ds = np.unique(ws_all, return_counts=True)
    num_stages, total_stages = len(ws), ks.max() + 1
    ws, ds, ws_all, ws_cont = (x.tolist() for x in (ws, ds, ws_all, ws_cont))
    return ws, ds, num_stages, total_stages, ws_all, ws_cont


def adjust_block_compatibility(ws: list[int], bs: list[float], gs: list[int]) -> tuple[Any, ...]:
    vs = [int(max(1, w * b)) for w, b in zip(ws, bs, strict=True)]
    gs = [int(min(g, v)) for g, v in zip(gs, vs, strict=True)]
    ms = [np.lcm(g, int(b)) if b > 1 else g for g, b in zip(gs, bs, strict=True)]
    vs = [max(m, int(round(v / m) * m)) for v, m in zip(vs, ms, strict=True)]
    ws = [int(v / b) for v, b in zip(vs, bs, strict=True)]
    return ws, bs, gs


def conv2d_cx(
    cx: dict[str, int],
    w_in: int,
    w_out: int,
    k: int,
    *,
    stride: int = 1,
    groups: int = 1,
    bias: bool = False,
) -> dict[str, int]:
    h, w, flops, params, acts = cx["h"], cx["w"], cx["flops"], cx["params"], cx["acts"]
    h, w = (h - 1) // stride + 1, (w - 1) // stride + 1
    flops += k * k * w_in * w_out * h * w // groups + (w_out * h * w if bias else 0)
    params += k * k * w_in * w_out // groups + (w_out if bias else 0)
    acts += w_out * h * w
    return {"h": h, "w": w, "flops": flops, "params": params, "acts": acts}


def norm2d_cx(cx: dict[str, int], w_in: int) -> dict[str, int]:
    h, w, flops, params, acts = cx["h"], cx["w"], cx["flops"], cx["params"], cx["acts"]
    params += 2 * w_in
    return {"h": h, "w": w, "flops": flops, "params": params, "acts": acts}


def gap2d_cx(cx: dict[str, int], _w_in: int) -> dict[str, int]:
    flops, params, acts = cx["flops"], cx["params"], cx["acts"]
    return {"h": 1, "w": 1, "flops": flops, "params": params, "acts": acts}


def linear_cx(cx: dict[str, int], w_in: int, w_out: int, *, bias: bool = False) -> dict[str, int]:
    h, w, flops, params, acts = cx["h"], cx["w"], cx["flops"], cx["params"], cx["acts"]
    flops += w_in * w_out + (w_out if bias else 0)
    params += w_in * w_out + (w_out if bias else 0)
    acts += w_out
    return {"h": h, "w": w, "flops": flops, "params": params, "acts": acts}


def res_bottleneck_cx(
    cx: dict[str, int], w_in: int, w_out: int, stride: int, bm: float, gw: int
) -> dict[str, int]:
    """ResBottleneckBlock.complexity with BottleneckTransform.complexity inlined (no SE)."""
    if (w_in != w_out) or (stride != 1):
        h, w = cx["h"], cx["w"]
        cx = conv2d_cx(cx, w_in, w_out, 1, stride=stride)
        cx = norm2d_cx(cx, w_out)
        cx["h"], cx["w"] = h, w
    w_b = int(round(w_out * bm))  # noqa: RUF046 (pycls's line as it is)
    groups = w_b // gw
    cx = conv2d_cx(cx, w_in, w_b, 1)
    cx = norm2d_cx(cx, w_b)
    cx = conv2d_cx(cx, w_b, w_b, 3, stride=stride, groups=groups)
    cx = norm2d_cx(cx, w_b)
    cx = conv2d_cx(cx, w_b, w_out, 1)
    return norm2d_cx(cx, w_out)


def anynet_cx(ds: list[int], ws: list[int], bs: list[float], gs: list[int]) -> dict[str, int]:
    """AnyNet.complexity: SimpleStemIN(3, 32), the stages (stride 2), AnyHead(1000 classes)."""
    cx = {"h": 224, "w": 224, "flops": 0, "params": 0, "acts": 0}
    cx = conv2d_cx(cx, 3, 32, 3, stride=2)
    cx = norm2d_cx(cx, 32)
    prev_w = 32
    for d, w, b, g in zip(ds, ws, bs, gs, strict=True):
        for i in range(d):
            cx = res_bottleneck_cx(cx, prev_w if i == 0 else w, w, 2 if i == 0 else 1, b, g)
        prev_w = w
    cx = gap2d_cx(cx, prev_w)
    return linear_cx(cx, prev_w, 1000, bias=True)


def pycls_candidates(count: int, seed: int) -> tuple[int, int]:
    """sample_cfgs over `count` candidates: (configs kept, candidates that passed the stages)."""
    np.random.seed(seed)
    cfgs: dict[str, Any] = {}
    staged = 0
    for _ in range(count):
        params = regnet_sampler()
        key = " ".join(f"REGNET.{k} {v}" for k, v in zip(params[0::2], params[1::2], strict=True))
        if key in cfgs:
            continue
        p = dict(zip(params[0::2], params[1::2], strict=True))
        _, _, num_s, max_s, _, _ = generate_regnet(p["WA"], p["W0"], p["WM"], p["DEPTH"], 8)
        if num_s != max_s or not 4 <= num_s <= 4:
            continue
        staged += 1
        ws, ds = generate_regnet(p["WA"], p["W0"], p["WM"], p["DEPTH"])[0:2]
        bs, gs = [p["BOT_MUL"] for _ in ws], [p["GROUP_W"] for _ in ws]
        ws, bs, gs = adjust_block_compatibility(ws, bs, gs)
        if LOW <= anynet_cx(ds, ws, bs, gs)["flops"] <= HIGH:
            cfgs[key] = True
    return len(cfgs), staged


# --- resgen ---------------------------------------------------------------------------------


def resgen_candidates(count: int, seed: int) -> tuple[int, int]:
    """resgen's loop over exactly `count` candidates (N too large to stop it early)."""
    from resgen.sample.constraints import Window
    from resgen.sample.run import sample_space
    from resgen.sample.space import load_space

    space = load_space(SPACE)
    kept, tally = sample_space(space, count + 1, seed, {"macs": Window(LOW, HIGH)}, count)
    return len(kept), tally.candidates - tally.stage_count - tally.unbuildable


def one_core() -> str:
    """Pin this process to one core, so neither side gains from a second one."""
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity here)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="1 round of 2,000 candidates")
    args = parser.parse_args(argv)
    count, reps = (2_000, 1) if args.quick else (args.candidates, args.reps)
    print(machine())
    print(f"{one_core()}; {count:,} candidates per round, {reps} rounds")
    found: dict[str, tuple[int, int]] = {}
    contenders = {
        "pycls": lambda: found.__setitem__("pycls", pycls_candidates(count, 0)),
        "resgen": lambda: found.__setitem__("resgen", resgen_candidates(count, 0)),
    }
    times = interleave(contenders, reps, warmup=1)
    r = ratio(times, "resgen", "pycls")
    rows = []
    for name in ("pycls", "resgen"):
        median = sorted(times[name])[len(times[name]) // 2]
        kept, staged = found[name]
        rows.append(
            [
                name,
                f"{count / median:,.0f}",
                f"{1e6 * median / count:.1f}",
                f"{staged / count:.2%}",
                f"{kept / count:.2%}",
                str(kept),
            ]
        )
    header = ["sampler", "candidates/s", "us/candidate", "4 stages", "kept", "kept (of round)"]
    print(table(header, rows))
    print(
        f"resgen/pycls time per candidate: {r.cell()}; speed-up {1 / r.median:.1f}x (load {load()})"
    )
    started = time.perf_counter()
    from resgen.sample.constraints import Window
    from resgen.sample.run import sample_space
    from resgen.sample.space import load_space

    kept, tally = sample_space(load_space(SPACE), 500, 0, {"macs": Window(LOW, HIGH)})
    seconds = time.perf_counter() - started
    print(
        f"resgen: {len(kept)} distinct networks at 360-400 M MACs in {seconds:.2f} s "
        f"({tally.candidates:,} candidates, {tally.acceptance:.2%} kept)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
