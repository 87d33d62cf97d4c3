"""`resgen view`: one self-contained HTML page to explore a network offline."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from resgen.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    SpecArg,
    add_dot_timeout,
    add_extends_root,
    expand_each,
    is_dir,
    load_or_report,
    print_diagnostics,
    write_output,
)
from resgen.cli.options import STDOUT, add_format, add_output, refuse
from resgen.diagnostics import Location, error, has_errors

HELP = "one offline HTML page to explore the network: collapse, hover, search"
FORMATS = ("html",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC_OR_DIR",
        help="spec files, directories or built-in names (several: -o names a folder)",
    )
    add_format(parser, FORMATS, "html", "page format")
    add_output(
        parser,
        "OUT",
        "an .html file, or a folder that gets <name>.html (always a folder with several specs; "
        "default: <name>.html here)",
    )
    add_dot_timeout(parser)
    add_extends_root(parser)


def run(args: argparse.Namespace) -> int:
    files, problems, several = expand_each(args.specs)
    out = args.output
    folder = out is None or is_dir(Path(out)) or out.endswith(("/", os.sep)) or several
    if out == STDOUT:
        refuse("needs-file", "a view is a file, not text for stdout", out, "give -o NAME.html")
        return EXIT_USAGE
    if not folder and Path(out).suffix.lower() not in (".html", ".htm"):
        hint = "end the file name in .html, or give a folder"
        refuse("unknown-format", f"-o {out} is not an .html file", out, hint)
        return EXIT_USAGE
    print_diagnostics(problems)
    code = EXIT_FINDINGS if problems else EXIT_OK
    for spec, _ in files:
        code = max(code, _view(spec, Path(out or "."), folder, args))
    return code


def _view(spec: SpecArg, out: Path, folder: bool, args: argparse.Namespace) -> int:
    """Write one spec's page; a spec with errors still gets one (its errors shown), exit 1."""
    from resgen.draw.render import DotMissingError, RenderFailedError
    from resgen.pipeline import check
    from resgen.view.page import build_page

    loaded = load_or_report(spec, args.extends_root)
    if loaded is None:
        return EXIT_FINDINGS
    analysis = check(loaded)
    print_diagnostics(analysis.diagnostics)
    target = out / f"{loaded.spec.name}.html" if folder else out
    try:
        page = build_page(loaded, analysis, args.timeout)
    except DotMissingError as exc:
        message = "cannot lay out the view: Graphviz's `dot` is not on PATH"
        print_diagnostics([error("no-graphviz", message, Location(str(target)), hint=str(exc))])
        return EXIT_FINDINGS
    except RenderFailedError as exc:
        message = f"Graphviz could not lay out the view: {exc}"
        hint = "give a longer --timeout"
        print_diagnostics([error("render-failed", message, Location(str(target)), hint=hint)])
        return EXIT_FINDINGS
    if not write_output(target, page):
        return EXIT_FINDINGS
    return EXIT_FINDINGS if has_errors(analysis.diagnostics) else EXIT_OK
