"""Does a template bytecode cache pay? Compiling resgen's templates, with and without one.

    .venv/bin/python benchmarks/bench_templates.py

In one process: the time to load every template (jinja2 parses and compiles each to Python
bytecode) with no cache, and from a warm `FileSystemBytecodeCache`, as minima over rounds, and
their difference beside the time of a whole `resgen build` of ResNet-152 --deploy (a fresh
process). resgen ships without the cache: it saved about 30 ms of a 0.3 s build (10%), and it
would load marshalled code from a folder on disk, which CI on untrusted pull requests should not.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jinja2

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ROOT
from resgen.resources import data_dir


def load_all(cache: jinja2.BytecodeCache | None) -> float:
    """Seconds to load every template into a fresh Environment."""
    loader = jinja2.FileSystemLoader(str(data_dir("templates")))
    env = jinja2.Environment(loader=loader, bytecode_cache=cache, keep_trailing_newline=True)
    start = time.perf_counter()
    for name in loader.list_templates():
        env.get_template(name)
    return time.perf_counter() - start


def build_time() -> float:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "resgen", "build", "resnet152", "--deploy", "-o", out]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None, rounds: int = 7) -> int:
    with tempfile.TemporaryDirectory() as folder:
        cache = jinja2.FileSystemBytecodeCache(folder)
        load_all(cache)  # fill it
        cold = min(load_all(None) for _ in range(rounds))
        warm = min(load_all(cache) for _ in range(rounds))
    build = min(build_time() for _ in range(3))
    print(f"templates, compiled:   {cold * 1e3:6.1f} ms")
    print(f"templates, from cache: {warm * 1e3:6.1f} ms  ({cold / warm:.1f}x faster)")
    share = (cold - warm) / build
    print(f"resnet152 --deploy build: {build * 1e3:6.1f} ms; the cache would save {share:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
