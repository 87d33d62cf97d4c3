"""`resgen sample`: distinct networks drawn from a design space, inside a complexity window."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from resgen.cli.common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, err, print_diagnostics
from resgen.cli.options import add_format
from resgen.diagnostics import Location, ResgenError, error

if TYPE_CHECKING:
    from resgen.sample.constraints import Window
    from resgen.sample.run import Sample, Tally
    from resgen.sample.space import Space

HELP = "draw distinct networks from a design space inside a MACs/params window"
_COUNTS = {"macs": "multiply-adds", "params": "parameters", "acts": "activations"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("space", nargs="?", metavar="SPACE", help="a design-space file (see specs/spaces/)")
    add("-n", type=_positive, default=100, help="how many distinct networks (default 100)")
    for name, what in _COUNTS.items():
        add(f"--{name}", type=_window, metavar="LOW:HIGH",
            help=f"keep networks whose {what} are in this inclusive range, e.g. 360M:400M "
            "(a side may be left open); overrides the space's `constraints`")  # fmt: skip
    add("--seed", type=_natural, default=0, help="random seed (default 0)")
    what = "the table printed on stdout without -o: csv or json (with -o both are written)"
    add_format(parser, ("csv", "json"), "csv", what)
    add("-o", "--output", type=Path, metavar="DIR",
        help="write DIR/specs/ (N spec files), DIR/samples.csv and DIR/samples.json into a new "
        "(or empty) folder; without it, print the table (CSV) on stdout")  # fmt: skip
    add("--max-draws", type=_positive, default=2_000_000, metavar="COUNT",
        help="give up after this many candidates (default 2,000,000)")  # fmt: skip
    add("--plot", action="store_true", help="also write DIR/complexity.png (needs matplotlib)")
    add("--compare", nargs="+", type=Path, metavar="JSON",
        help="instead of sampling, draw these samples.json files' complexity distributions "
        "into -o FILE.png")  # fmt: skip
    add("--results", nargs="+", type=Path, metavar="CSV",
        help="with --compare: one CSV (name,error) per samples.json, for the error EDF and "
        "the complexity-normalised EDF")  # fmt: skip


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _natural(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 0")
    return int(text)


def _window(text: str) -> Window:
    from resgen.sample.constraints import parse_window

    window = parse_window(text)
    low, high = (None, None) if window is None else (window.low, window.high)
    if window is None or (low is not None and high is not None and low > high):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not LOW:HIGH with LOW <= HIGH (counts such as 360M, 1.6G, 5000000)"
        )
    return window


def run(args: argparse.Namespace) -> int:
    if (args.space is None) == (args.compare is None) or (args.results and not args.compare):
        err("resgen sample: give a SPACE to sample, or --compare JSON... (with --results CSV...)")
        return EXIT_USAGE
    if args.compare:
        return _compare(args)
    if args.plot and args.output is None:
        err("resgen sample: --plot writes DIR/complexity.png: give -o DIR")
        return EXIT_USAGE
    from resgen.sample.run import require, sample_space
    from resgen.sample.space import load_space

    try:
        space = load_space(Path(args.space))
        windows = dict(space.constraints.windows)
        windows.update({k: getattr(args, k) for k in _COUNTS if getattr(args, k) is not None})
        started = time.perf_counter()
        kept, tally = sample_space(space, args.n, args.seed, windows, args.max_draws)
        seconds = time.perf_counter() - started
        require(args.n, kept, tally, windows, _window_place(space, args))
    except ResgenError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_FINDINGS
    err(_summary(tally, seconds))
    return _output(space, kept, tally, args, windows)


def _compare(args: argparse.Namespace) -> int:
    from resgen.sample.plot import compare

    if args.output is None or args.output.suffix.lower() != ".png":
        err("resgen sample: --compare draws into a PNG file: give -o FILE.png")
        return EXIT_USAGE
    try:
        picture = compare(args.compare, args.results)
    except ResgenError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_FINDINGS
    from resgen.cli.common import write_output

    return EXIT_OK if write_output(args.output, picture) else EXIT_FINDINGS


def _window_place(space: Space, args: argparse.Namespace) -> Location | None:
    """Where the window was set: the first of the space's, unless the command line gave one."""
    if any(getattr(args, k) is not None for k in _COUNTS):
        return None
    return next((space.constraints.where[k] for k in _COUNTS if k in space.constraints.where),
                None)  # fmt: skip


def _summary(tally: Tally, seconds: float) -> str:
    parts = [f"{count:,} {what}" for count, what in (
        (tally.unbuildable, "unbuildable"), (tally.stage_count, "outside num_stages"),
        (tally.window, "outside the window"), (tally.duplicate, "duplicates"),
    ) if count]  # fmt: skip
    rest = f": {', '.join(parts)}" if parts else ""
    speed = tally.candidates / seconds if seconds > 0 else 0.0
    return (
        f"kept {tally.kept:,} of {tally.candidates:,} candidates ({100 * tally.acceptance:.2f}%)"
        f"{rest}; {seconds:.2f} s, {speed:,.0f} candidates/s"
    )


def _output(
    space: Space, kept: list[Sample], tally: Tally, args: argparse.Namespace,
    windows: dict[str, Window],
) -> int:  # fmt: skip
    from resgen.sample.verify import verify_counts
    from resgen.sample.write import render_spec, render_table, spec_name, write_folder

    specs = {
        f"specs/{spec_name(space, i, args.n)}.yaml": render_spec(space, s, i, args.n, args.seed)
        for i, s in enumerate(kept)
    }
    problem = verify_counts(specs, kept)
    if problem is not None:
        err(f"resgen: internal error: {problem}")
        return EXIT_USAGE
    table, document = render_table(space, kept, tally, args.seed, windows)
    if args.output is None:
        sys.stdout.write(document if args.format == "json" else table)
        return EXIT_OK
    files: dict[str, str | bytes] = {**specs, "samples.csv": table, "samples.json": document}
    if args.plot:
        import numpy as np

        from resgen.sample.plot import Run, render

        macs = np.array([float(s.macs) for s in kept])
        files["complexity.png"] = render([Run(space.name, tuple(specs), macs)], None)
    try:
        write_folder(args.output, files)
    except OSError as exc:
        print_diagnostics([error(
            "unwritable", f"cannot write {args.output}/: {exc.strerror or exc}",
            Location(str(args.output)),
            hint="give -o a new folder (or an empty one) in a writable place",
        )])  # fmt: skip
        return EXIT_FINDINGS
    err(f"wrote {len(kept)} specs to {args.output}/specs/, samples.csv and samples.json")
    return EXIT_OK
