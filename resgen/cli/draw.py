"""`resgen draw`: the network as a Graphviz drawing (SVG, PNG, PDF) or its DOT text."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from resgen.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    add_extends_root,
    err,
    load_or_report,
    print_diagnostics,
    write_output,
)
from resgen.diagnostics import Diagnostic, Location, error, has_errors, printable, warning
from resgen.draw import DETAILS, RANKDIRS

MIN_DPI, MAX_DPI = 1, 2400  # past 2400 dpi a drawing is gigapixels; `dot` would shrink it anyway
HELP = "draw the network with Graphviz: SVG, PNG, PDF or DOT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC")
    parser.add_argument(
        "-o",
        "--out",
        metavar="OUT",
        help="output file; the format is its extension: .svg, .png, .pdf or .dot; a directory "
        "gets <name>.svg at block detail and <name>-stage.svg or <name>-op.svg at the others; "
        "- prints the DOT text (default: <name>.svg here)",
    )
    parser.add_argument(
        "--detail", choices=DETAILS, default="block", help="one node per stage, block or op"
    )
    parser.add_argument(
        "--rankdir", choices=RANKDIRS, default="TB", help="top-bottom or left-right"
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="stop Graphviz's `dot` after this long (default 60)",
    )
    parser.add_argument(
        "--dpi",
        type=_dpi,
        metavar="N",
        help="resolution of a .png drawing in dots per inch (Graphviz's default is 96)",
    )
    add_extends_root(parser)


def _dpi(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not MIN_DPI <= value <= MAX_DPI:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {MAX_DPI}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 86400:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to 86400")
    return value


def run(args: argparse.Namespace) -> int:
    from resgen.draw import draw_dot
    from resgen.draw.render import DotMissingError, RenderFailedError, render
    from resgen.pipeline import check

    if args.out not in (None, "-") and _draw_target(args.out, "x", args.detail) is None:
        return EXIT_USAGE
    loaded = load_or_report(args.spec, args.extends_root)
    if loaded is None:
        return EXIT_FINDINGS
    analysis = check(loaded)
    print_diagnostics(analysis.diagnostics)
    text = draw_dot(loaded, analysis, args.detail, args.rankdir)
    code = EXIT_FINDINGS if has_errors(analysis.diagnostics) else EXIT_OK
    if args.out == "-":
        sys.stdout.write(text)
        return code
    found = _draw_target(args.out or ".", loaded.spec.name, args.detail if args.out else "block")
    assert found is not None
    target, fmt = found
    if args.dpi is not None and fmt != "png":
        err(f"warning: --dpi sets a PNG's resolution; a .{fmt} drawing ignores it")
    try:
        rendered = render(text, fmt, args.timeout, dpi=args.dpi if fmt == "png" else None)
    except DotMissingError as exc:
        return _dot_only(target, text, fmt, str(exc))
    except RenderFailedError as exc:
        hint = (
            "try --detail block or stage, or a longer --timeout" if "longer" in str(exc) else None
        )
        message = f"Graphviz could not render the drawing: {exc}"
        print_diagnostics([error("render-failed", message, Location(str(target)), hint=hint)])
        return EXIT_FINDINGS
    print_diagnostics([_graphviz_warning(line, fmt) for line in rendered.warnings])
    written = write_output(target, rendered.data, f" ({args.detail} detail)")
    return code if written else EXIT_FINDINGS


def _dot_only(target: Path, text: str, fmt: str, hint: str) -> int:
    """Without Graphviz: write the DOT text beside the asked-for file, and fail (it is not it)."""
    dot_file = target.with_suffix(".dot")
    written = write_output(dot_file, text, " (the DOT text)")
    message = f"cannot draw {target}: Graphviz's `dot` is not on PATH"
    if written:
        message += f"; wrote the DOT text to {dot_file} instead"
    print_diagnostics([error("no-graphviz", message, Location(str(target)), hint=hint)])
    return EXIT_FINDINGS


def _graphviz_warning(line: str, fmt: str) -> Diagnostic:
    """What `dot` said, passed on; for a shrunken bitmap, how to get a readable drawing."""
    hint = None
    if fmt == "png" and ("scaling" in line.lower() or "too large" in line.lower()):
        hint = "draw to .svg or .pdf (no size limit), or use a lower --detail (block or stage)"
    said = line.removeprefix("Warning: ").removeprefix("dot: ")
    return warning("graphviz", f"dot: {printable(said)}", None, hint=hint)


def _draw_target(out: str, name: str, detail: str) -> tuple[Path, str] | None:
    """Where `draw -o OUT` writes and in which format; a diagnostic and None if it cannot.

    Into a folder, a drawing's name says its detail level (but the default, block), so the three
    levels of one spec are three files: `resnet50.svg`, `resnet50-stage.svg`, `resnet50-op.svg`.
    """
    from resgen.draw.render import DEFAULT_SUFFIX, format_of

    target = Path(out)
    if target.is_dir() or out.endswith(("/", os.sep)):
        level = "" if detail == "block" else f"-{detail}"
        target = target / f"{name}{level}{DEFAULT_SUFFIX}"
    fmt = format_of(target)
    if fmt is None:
        what = f"extension {target.suffix!r}" if target.suffix else "no extension"
        print_diagnostics(
            [
                error(
                    "unknown-format",
                    f"cannot draw to {out}: {what}",
                    Location(out),
                    hint="end the file name in .svg, .png, .pdf or .dot",
                )
            ]
        )
        return None
    return target, fmt
