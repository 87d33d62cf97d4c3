"""`resgen view` size and build time for ResNet-50, -152 and -1202, against `resgen draw`.

Prints numbers (no assertions): the page's size, the time to build it from a loaded spec (check,
layout, page), and the same for the block-level SVG drawing as a baseline measured in this run.
The issue's goals: under 1.5 MB and under 2 s for resnet152 and resnet1202.

    .venv/bin/python benchmarks/bench_view.py [--repeat N]
"""

from __future__ import annotations

import argparse
import time

from resgen.api import load_spec
from resgen.draw import draw_dot
from resgen.draw.render import render
from resgen.pipeline import check
from resgen.view.page import build_page

SPECS = ("resnet50", "resnet152", "resnet1202")


def best_of(repeat: int, work: object) -> float:
    assert callable(work)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'spec':<12} {'page KB':>8} {'view s':>7} {'draw s':>7} {'ratio':>6}")
    for name in SPECS:
        loaded = load_spec(name)
        page = build_page(loaded, check(loaded))

        def view(loaded: object = loaded) -> None:
            build_page(loaded, check(loaded))  # type: ignore[arg-type]

        def draw(loaded: object = loaded) -> None:
            analysis = check(loaded)  # type: ignore[arg-type]
            render(draw_dot(loaded, analysis), "svg")  # type: ignore[arg-type]

        t_view, t_draw = best_of(args.repeat, view), best_of(args.repeat, draw)
        size = len(page.encode("utf-8")) / 1000
        print(f"{name:<12} {size:>8.0f} {t_view:>7.2f} {t_draw:>7.2f} {t_view / t_draw:>6.2f}")


if __name__ == "__main__":
    main()
