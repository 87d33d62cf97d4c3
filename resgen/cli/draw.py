"""`resgen draw`: the network as a Graphviz drawing (SVG, PNG, PDF) or its DOT text."""

from __future__ import annotations

import argparse
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
from resgen.diagnostics import Location, error, has_errors
from resgen.draw import DETAILS, RANKDIRS

HELP = "draw the network with Graphviz: SVG, PNG, PDF or DOT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC")
    parser.add_argument(
        "-o",
        "--out",
        metavar="OUT",
        help="output file; the format is its extension: .svg, .png, .pdf or .dot; a directory "
        "gets <name>.svg; - prints the DOT text (default: <name>.svg here)",
    )
    parser.add_argument(
        "--detail", choices=DETAILS, default="block", help="one node per stage, block or op"
    )
    parser.add_argument(
        "--rankdir", choices=RANKDIRS, default="TB", help="top-bottom or left-right"
    )
    add_extends_root(parser)


def run(args: argparse.Namespace) -> int:
    from resgen.draw import draw_dot
    from resgen.draw.render import DotMissingError, RenderFailedError, render
    from resgen.pipeline import check

    if args.out not in (None, "-") and _draw_target(args.out, "x") is None:
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
    found = _draw_target(args.out or ".", loaded.spec.name)
    assert found is not None
    target, fmt = found
    try:
        data = render(text, fmt)
    except DotMissingError as exc:
        target, data = target.with_suffix(".dot"), text.encode("utf-8")
        err(f"warning: Graphviz's `dot` is not on PATH, so this writes the DOT text; {exc}")
    except RenderFailedError as exc:
        print_diagnostics([error("render-failed", f"Graphviz could not render the drawing: {exc}")])
        return EXIT_USAGE
    return code if write_output(target, data, f" ({args.detail} detail)") else EXIT_FINDINGS


def _draw_target(out: str, name: str) -> tuple[Path, str] | None:
    """Where `draw -o OUT` writes and in which format; a diagnostic and None if it cannot."""
    from resgen.draw.render import DEFAULT_SUFFIX, format_of

    target = Path(out)
    if target.is_dir() or out.endswith(("/", os.sep)):
        target = target / f"{name}{DEFAULT_SUFFIX}"
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
