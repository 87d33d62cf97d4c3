"""`resgen probe`: gradient norms and activations of every block at initialisation (torch)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from resgen.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    err,
    print_diagnostics,
)
from resgen.diagnostics import Diagnostic, ResgenError, error, has_errors
from resgen.spec.load import display_name

if TYPE_CHECKING:
    from resgen.spec.model import Spec

HELP = "gradient norms and activations of every block at initialisation (torch)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="spec files or built-in names")
    parser.add_argument(
        "--twin", action="store_true", help="also probe each spec's plain twin (shortcut: none)"
    )
    parser.add_argument(
        "--norm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="--no-norm probes the specs with `norm: {type: none}`",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds weights, input and labels")
    parser.add_argument("--batch", type=_batch_size, default=32, help="batch size (default 32)")
    parser.add_argument(
        "-o",
        "--output",
        default="text",
        metavar="FORMAT",
        help="text (a table, the default), json, or a plot file ending in .png, .svg or .pdf",
    )


def _batch_size(text: str) -> int:
    value = int(text)
    if value < 2:  # batch norm needs two samples to have a batch statistic
        raise argparse.ArgumentTypeError("the batch needs at least 2 samples")
    return value


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from resgen.probe import PLOT_SUFFIXES, plot_results, probe_specs, results_json, results_table

    plot = None if args.output in ("text", "json") else Path(args.output)
    if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
        print_diagnostics(
            [
                error(
                    "unknown-format",
                    f"cannot probe to {args.output}",
                    None,
                    hint="use -o text, -o json, or a plot file ending in .png, .svg or .pdf",
                )
            ]
        )
        return EXIT_USAGE
    specs, problems = _checked_specs(args.specs)
    print_diagnostics(problems)
    if has_errors(problems):
        return EXIT_FINDINGS
    missing = [m for m in ("torch", *(["matplotlib"] if plot else [])) if not _importable(m)]
    if missing:
        err(f"resgen probe needs {' and '.join(missing)}: pip install 'resgen[probe]'")
        return EXIT_USAGE
    try:
        specs = _variants(specs, twin=args.twin, norm=args.norm)
        results = probe_specs(specs, twin=args.twin, seed=args.seed, batch=args.batch)
    except ResgenError as exc:  # a twin or a norm-less variant that does not check
        print_diagnostics(exc.diagnostics)
        return EXIT_FINDINGS
    if args.output == "json":
        print(json.dumps(results_json(results), indent=2))
        return EXIT_OK
    Console(stderr=plot is not None).print(results_table(results))
    if plot is not None:
        plot_results(results, plot)
        err(f"wrote {display_name(plot)}")
    return EXIT_OK


def _checked_specs(sources: list[str]) -> tuple[list[Spec], list[Diagnostic]]:
    from resgen.api import check_spec

    specs, problems = [], []
    for source in sources:
        try:
            specs.append(check_spec(source)[0].spec)
        except ResgenError as exc:
            problems.extend(exc.diagnostics)
    return specs, problems


def _variants(specs: list[Spec], *, twin: bool, norm: bool) -> list[Spec]:
    """The specs to probe: a note for each that has no plain twin, norms stripped on request."""
    from resgen.probe import is_plain, strip_norm

    for spec in specs if twin else ():
        if is_plain(spec):
            err(f"note: {spec.name} has no residual add, so it has no plain twin")
    return specs if norm else [strip_norm(spec) for spec in specs]


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
