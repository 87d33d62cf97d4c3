"""`resgen sample`: distinct networks drawn from a design space, inside a complexity window."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from resgen.cli.common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, err, print_diagnostics
from resgen.diagnostics import Location, ResgenError, error

if TYPE_CHECKING:
    from resgen.sample.constraints import Window
    from resgen.sample.run import Sample, Tally
    from resgen.sample.space import Space

HELP = "draw distinct networks from a design space inside a MACs/params window"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", metavar="SPACE", help="a design-space file (specs/spaces/)")
    parser.add_argument(
        "-n",
        type=_positive,
        default=100,
        metavar="N",
        help="how many distinct networks (default 100)",
    )
    for name, what in (
        ("macs", "multiply-adds"),
        ("params", "parameters"),
        ("acts", "activations (conv and linear outputs)"),
    ):
        parser.add_argument(
            f"--{name}",
            type=_window,
            metavar="LOW:HIGH",
            help=f"keep networks whose {what} are in this inclusive range, e.g. 360M:400M "
            "(either side may be left open); overrides the space's `constraints`",
        )
    parser.add_argument("--seed", type=_natural, default=0, help="random seed (default 0)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help="write DIR/specs/ (N spec files), DIR/samples.csv and DIR/samples.json into a new "
        "(or empty) folder; without it, print the table (CSV) on stdout",
    )
    parser.add_argument(
        "--max-draws",
        type=_positive,
        default=2_000_000,
        metavar="COUNT",
        help="give up after this many candidates (default 2,000,000)",
    )


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
    empty = (
        window is not None
        and window.low is not None
        and window.high is not None
        and (window.low > window.high)
    )
    if window is None or empty:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not LOW:HIGH with LOW <= HIGH (counts such as 360M, 1.6G, 5000000)"
        )
    return window


def run(args: argparse.Namespace) -> int:
    from resgen.sample.run import require, sample_space
    from resgen.sample.space import load_space

    try:
        space = load_space(Path(args.space))
        windows = dict(space.constraints.windows)
        windows.update(
            {
                k: getattr(args, k)
                for k in ("macs", "params", "acts")
                if getattr(args, k) is not None
            }
        )
        started = time.perf_counter()
        kept, tally = sample_space(space, args.n, args.seed, windows, args.max_draws)
        seconds = time.perf_counter() - started
        require(args.n, kept, tally, windows, _window_place(space, args))
    except ResgenError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_FINDINGS
    err(_summary(tally, seconds))
    return _output(space, kept, tally, args, windows)


def _window_place(space: Space, args: argparse.Namespace) -> Location | None:
    """Where the window was set: the first of the space's, unless the command line gave one."""
    if any(getattr(args, k) is not None for k in ("macs", "params", "acts")):
        return None
    where = space.constraints.where
    return next((where[k] for k in ("macs", "params", "acts") if k in where), None)


def _summary(tally: Tally, seconds: float) -> str:
    parts = [
        f"{count:,} {what}"
        for count, what in (
            (tally.unbuildable, "unbuildable"),
            (tally.stage_count, "outside num_stages"),
            (tally.window, "outside the window"),
            (tally.duplicate, "duplicates"),
        )
        if count
    ]
    rate = f"{100 * tally.acceptance:.2f}%"
    rest = f": {', '.join(parts)}" if parts else ""
    speed = tally.candidates / seconds if seconds > 0 else 0.0
    return (
        f"kept {tally.kept:,} of {tally.candidates:,} candidates ({rate}){rest}; "
        f"{seconds:.2f} s, {speed:,.0f} candidates/s"
    )


def _output(
    space: Space,
    kept: list[Sample],
    tally: Tally,
    args: argparse.Namespace,
    windows: dict[str, Window],
) -> int:
    from resgen.sample.verify import verify_counts
    from resgen.sample.write import render_spec, render_table, spec_name, write_folder

    files = {
        f"specs/{spec_name(space, i, args.n)}.yaml": render_spec(space, s, i, args.n, args.seed)
        for i, s in enumerate(kept)
    }
    problem = verify_counts(files, kept)
    if problem is not None:
        err(f"resgen: internal error: {problem}")
        return EXIT_USAGE
    table, document = render_table(space, kept, tally, args.seed, windows)
    if args.output is None:
        sys.stdout.write(table)
        return EXIT_OK
    files.update({"samples.csv": table, "samples.json": document})
    try:
        write_folder(args.output, files)
    except OSError as exc:
        print_diagnostics(
            [
                error(
                    "unwritable",
                    f"cannot write {args.output}/: {exc.strerror or exc}",
                    Location(str(args.output)),
                    hint="give -o a new folder (or an empty one) in a writable place",
                )
            ]
        )
        return EXIT_FINDINGS
    err(f"wrote {len(kept)} specs to {args.output}/specs/, samples.csv and samples.json")
    return EXIT_OK
