"""`resgen draw`: the network as a Graphviz drawing (SVG, PNG, PDF) or its DOT text."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NamedTuple

from resgen.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    SpecArg,
    add_dot_timeout,
    add_extends_root,
    err,
    expand_each,
    is_dir,
    load_or_report,
    print_diagnostics,
    write_output,
)
from resgen.cli.options import (
    STDOUT,
    add_format,
    add_output,
    pick_format,
    refuse,
    whole_number,
)
from resgen.diagnostics import Location, error, has_errors
from resgen.draw import DETAILS, RANKDIRS

MIN_DPI, MAX_DPI = 1, 2400  # past 2400 dpi a drawing is gigapixels; `dot` would shrink it anyway
HELP = "draw the network with Graphviz: SVG, PNG, PDF or DOT"
FORMATS = ("svg", "png", "pdf", "dot")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC_OR_DIR",
        help="spec files, directories or built-in names (several: -o names a folder)",
    )
    add_format(parser, FORMATS, None, "drawing format (default: the -o file's extension, else svg)")
    add_output(
        parser,
        "OUT",
        "a file, whose extension (.svg, .png, .pdf, .dot) is the format unless -f says; or a "
        "folder, which gets <name>.svg at block detail and <name>-stage.svg or <name>-op.svg at "
        "the others (always a folder with several specs); - prints the drawing (DOT text unless "
        "-f says) on stdout (default: <name>.svg here)",
        old_long=True,
    )
    parser.add_argument(
        "--detail", choices=DETAILS, default="block", help="one node per stage, block or op"
    )
    parser.add_argument("--rankdir", choices=RANKDIRS, default="TB", help="top-bottom, left-right")
    add_dot_timeout(parser)
    parser.add_argument(
        "--dpi",
        type=_dpi,
        metavar="N",
        help="resolution of a .png drawing in dots per inch (Graphviz's default is 96)",
    )
    add_extends_root(parser)


_dpi = whole_number(MIN_DPI, MAX_DPI, f"a resolution is {MIN_DPI} to {MAX_DPI} dpi")


class Plan(NamedTuple):
    """Where the drawings go: one file, a folder (a file per spec), or stdout; in which format."""

    fmt: str
    file: Path | None = None
    folder: Path | None = None  # None with no file: stdout
    level_names: bool = False  # a folder -o names: file names say the detail level

    def target(self, name: str, detail: str) -> Path | None:
        if self.folder is None:
            return self.file
        level = "" if detail == "block" or not self.level_names else f"-{detail}"
        return self.folder / f"{name}{level}.{self.fmt}"


def run(args: argparse.Namespace) -> int:
    files, problems, several = expand_each(args.specs)
    plan = plan_output(args.output, args.format, several=several)
    if plan is None:
        return EXIT_USAGE
    if args.dpi is not None and plan.fmt != "png":
        err(f"warning: --dpi sets a PNG's resolution; a .{plan.fmt} drawing ignores it")
    print_diagnostics(problems)
    code = EXIT_FINDINGS if problems else EXIT_OK
    for spec, _ in files:  # a spec that fails is reported; the others are still drawn
        code = max(code, _draw(spec, plan, args))
    return code


def _draw(spec: SpecArg, plan: Plan, args: argparse.Namespace) -> int:
    """Draw one spec as `plan` says; the exit code for it."""
    from resgen.draw import draw_dot
    from resgen.pipeline import check

    loaded = load_or_report(spec, args.extends_root)
    if loaded is None:
        return EXIT_FINDINGS
    analysis = check(loaded)
    print_diagnostics(analysis.diagnostics)
    text = draw_dot(loaded, analysis, args.detail, args.rankdir)
    code = EXIT_FINDINGS if has_errors(analysis.diagnostics) else EXIT_OK
    target = plan.target(loaded.spec.name, args.detail)
    if target is None and plan.fmt == "dot":
        sys.stdout.write(text)
        return code
    data = _render(text, plan.fmt, target, args)
    if data is None:
        return EXIT_FINDINGS
    if target is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        return code
    written = write_output(target, data, f" ({args.detail} detail)")
    return code if written else EXIT_FINDINGS


def _render(text: str, fmt: str, target: Path | None, args: argparse.Namespace) -> bytes | None:
    """The drawing in `fmt`; None after saying why there is none (the DOT text is still written
    beside `target` when Graphviz is missing)."""
    from resgen.draw.render import DotMissingError, RenderFailedError, dot_warning, render

    where = Location(str(target) if target else STDOUT)
    try:
        rendered = render(text, fmt, args.timeout, dpi=args.dpi if fmt == "png" else None)
    except DotMissingError as exc:
        if target is not None:
            _dot_only(target, text, str(exc))
        else:
            message = "cannot draw: Graphviz's `dot` is not on PATH"
            print_diagnostics([error("no-graphviz", message, where, hint=f"{exc}; or -f dot")])
        return None
    except RenderFailedError as exc:
        hint = (
            "try --detail block or stage, or a longer --timeout" if "longer" in str(exc) else None
        )
        message = f"Graphviz could not render the drawing: {exc}"
        print_diagnostics([error("render-failed", message, where, hint=hint)])
        return None
    print_diagnostics([dot_warning(line, fmt) for line in rendered.warnings])
    return rendered.data


def _dot_only(target: Path, text: str, hint: str) -> None:
    """Without Graphviz: write the DOT text beside the asked-for file (the run still fails)."""
    dot_file = target.with_suffix(".dot")
    written = write_output(dot_file, text, " (the DOT text)")
    message = f"cannot draw {target}: Graphviz's `dot` is not on PATH"
    if written:
        message += f"; wrote the DOT text to {dot_file} instead"
    print_diagnostics([error("no-graphviz", message, Location(str(target)), hint=hint)])


def plan_output(out: str | None, fmt: str | None, *, several: bool) -> Plan | None:
    """Where `draw -o OUT -f FMT` writes, and in which format; a diagnostic and None if nowhere.

    Into a folder, a drawing's name says its detail level (but the default, block), so the three
    levels of one spec are three files: `resnet50.svg`, `resnet50-stage.svg`, `resnet50-op.svg`.
    """
    from resgen.draw.render import FORMATS as SUFFIXES

    path = Path(out or ".")
    if out is None:
        return Plan(fmt or "svg", folder=path)
    named = out != STDOUT and path.suffix.lower() in SUFFIXES
    if is_dir(path) or out.endswith(("/", os.sep)) or (several and not named and out != STDOUT):
        return Plan(fmt or "svg", folder=path, level_names=True)
    if several:
        hint = "give a folder (-o drawings/), which gets <name>.svg for each spec"
        refuse("one-output", f"-o {out} names one drawing, and these are several specs", out, hint)
        return None
    if out == STDOUT:
        return Plan(fmt or "dot")
    found = pick_format(fmt, out, SUFFIXES, None)
    return None if found is None else Plan(found, file=path)
