"""How the compiler scales: the whole `resgen build` process, from 152 layers to 10,000 blocks.

    .venv/bin/python benchmarks/bench_compiler.py            # 5 rounds, ~1 min
    .venv/bin/python benchmarks/bench_compiler.py --quick    # 3 rounds, no 10,000-block spec

Each case runs `resgen build SPEC -o TMP` as a fresh process, round by round in turn; the table
has the median wall time, the median CPU time of the process (user + sys, which a busy machine
inflates much less than wall time), the generated file's lines, and t(10k) / t(1k) for the
synthetic specs of 1,000 and 10,000 blocks. Then `python -X importtime -m resgen check` shows
what `check` imports: never torch, and each dependency's share.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ROOT, load, machine, table

# Targets of issue 6 on a 2-core machine, in seconds of wall time.
TARGETS = {"resnet152": 0.5, "resnet1202": 1.0, "blocks_10000": 10.0}
MAX_GROWTH = 12.0  # t(10k blocks) / t(1k blocks)
DEPENDENCIES = ("pydantic", "yaml", "networkx", "jinja2", "rich", "graphviz", "torch", "numpy")


def synthetic_spec(blocks: int) -> str:
    """A CIFAR-style spec of `blocks` basic blocks in three stages (ResNet-1202 has 600)."""
    depths = [blocks // 3 + (1 if i < blocks % 3 else 0) for i in range(3)]
    return (
        f"name: blocks_{blocks}\n"
        f"description: {blocks} basic blocks, for benchmarks/bench_compiler.py\n"
        "input: {channels: 3, size: 32}\n"
        "stem: {type: cifar, width: 16}\n"
        "block: {type: basic}\n"
        "shortcut: pad\n"
        "stages:\n"
        f"  - {{depth: {depths[0]}, width: 16}}\n"
        f"  - {{depth: {depths[1]}, width: 32, stride: 2}}\n"
        f"  - {{depth: {depths[2]}, width: 64, stride: 2}}\n"
        "head: {classes: 10}\n"
    )


def resgen_command() -> list[str]:
    script = Path(sys.executable).parent / "resgen"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "resgen"]


def timed(command: list[str]) -> tuple[float, float]:
    """Run a command; return its wall time and its CPU time (user + sys), in seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def build_times(specs: dict[str, Path], out: Path, reps: int) -> dict[str, tuple[float, float]]:
    """Median (wall, cpu) of `resgen build` per spec, the specs taking turns round by round."""
    walls: dict[str, list[float]] = {name: [] for name in specs}
    cpus: dict[str, list[float]] = {name: [] for name in specs}
    for path in specs.values():  # warm the page cache and the bytecode once
        timed([*resgen_command(), "build", str(path), "-o", str(out)])
    for _ in range(reps):
        for name, path in specs.items():
            wall, cpu = timed([*resgen_command(), "build", str(path), "-o", str(out)])
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {n: (statistics.median(walls[n]), statistics.median(cpus[n])) for n in specs}


def import_times(reps: int) -> dict[str, float]:
    """Median cumulative import time (ms) of each top-level module `resgen check` imports."""
    samples: dict[str, list[float]] = {}
    for _ in range(reps):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "resgen", "check", "specs/resnet50.yaml"],
            capture_output=True, text=True, cwd=ROOT, check=True,
        )  # fmt: skip
        for line in result.stderr.splitlines():
            fields = line[len("import time:") :].split("|")
            name = fields[-1].strip()
            if line.startswith("import time:") and name in (*DEPENDENCIES, "resgen"):
                samples.setdefault(name, []).append(int(fields[1]) / 1000)
    return {name: statistics.median(v) for name, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds, no 10,000-block spec")
    parser.add_argument("--reps", type=int, help="rounds (default 5; quick 3)")
    args = parser.parse_args(argv)
    reps = args.reps or (3 if args.quick else 5)
    print(f"# bench_compiler{' --quick' if args.quick else ''}: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        specs = {
            "resnet20": ROOT / "specs" / "resnet20.yaml",
            "resnet152": ROOT / "specs" / "resnet152.yaml",
            "resnet1202": ROOT / "specs" / "resnet1202.yaml",
        }
        for blocks in (1000,) if args.quick else (1000, 10000):
            path = work / f"blocks_{blocks}.yaml"
            path.write_text(synthetic_spec(blocks), encoding="utf-8")
            specs[f"blocks_{blocks}"] = path
        out = work / "out"
        times = build_times(specs, out, reps)
        rows = []
        for name, (wall, cpu) in times.items():
            lines = len((out / f"{name}.py").read_text(encoding="utf-8").splitlines())
            target = TARGETS.get(name)
            verdict = "" if target is None else ("met" if wall < target else "MISSED")
            rows.append([name, f"{wall:.3f}", f"{cpu:.3f}", str(lines),
                         f"< {target}" if target else "", verdict])  # fmt: skip
    print(table(["spec", "wall s", "cpu s", "lines", "target s", ""], rows))
    if "blocks_10000" in times:
        base = times["resnet20"]
        for i, label in ((0, "wall"), (1, "cpu")):
            growth = times["blocks_10000"][i] / times["blocks_1000"][i]
            net = (times["blocks_10000"][i] - base[i]) / (times["blocks_1000"][i] - base[i])
            print(f"t(10k)/t(1k) {label}: {growth:.2f} (target <= {MAX_GROWTH:.0f}); "
                  f"less the fixed cost of a 9-block build (resnet20): {net:.2f}")  # fmt: skip
    print(f"load after: {load()}")
    imports = import_times(reps)
    total = imports.get("resgen", 0.0)
    print(f"\n`python -X importtime -m resgen check specs/resnet50.yaml`, median of {reps} (ms, "
          "cumulative, first import):")  # fmt: skip
    print(table(["module", "ms"], [[n, f"{imports[n]:.0f}"] for n in DEPENDENCIES if n in imports]
                + [["resgen (all of it)", f"{total:.0f}"]]))  # fmt: skip
    heavy = [n for n in ("torch", "torchvision", "numpy") if n in imports]
    print(f"heavy modules imported by `check`: {', '.join(heavy) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
