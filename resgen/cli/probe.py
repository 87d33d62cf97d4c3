"""`resgen probe`: gradient norms and activations of every block at initialisation (torch)."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from resgen.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    add_extends_root,
    err,
    print_diagnostics,
    write_output,
)
from resgen.diagnostics import Diagnostic, ResgenError, error, has_errors

if TYPE_CHECKING:
    from resgen.checks import Analysis
    from resgen.spec.model import Spec

MAX_BATCH = 2**20  # far beyond memory for any image net; keeps tensor sizes in int64
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
    parser.add_argument(
        "--seed", type=_seed, default=0, help="seeds weights, input and labels (0 to 2**64-1)"
    )
    parser.add_argument("--batch", type=_batch_size, default=32, help="batch size (default 32)")
    parser.add_argument(
        "-o",
        "--output",
        default="text",
        metavar="FORMAT",
        help="text (a table, the default), json, or a plot file ending in .png, .svg or .pdf",
    )
    add_extends_root(parser)


def _decimal(text: str) -> int:
    # ASCII digits only: int() would also take "1_000", "٣" or a 4,000-digit number.
    if not re.fullmatch(r"[0-9]{1,30}", text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number written in digits 0-9")
    return int(text)


def _seed(text: str) -> int:
    value = _decimal(text)
    if value >= 2**64:  # torch's generators take a 64-bit seed
        raise argparse.ArgumentTypeError(f"{text} is out of range: a seed is 0 to 2**64-1")
    return value


def _batch_size(text: str) -> int:
    value = _decimal(text)
    if value < 2:  # batch norm needs two samples to have a batch statistic
        raise argparse.ArgumentTypeError("the batch needs at least 2 samples")
    if value > MAX_BATCH:
        raise argparse.ArgumentTypeError(f"{text} is out of range: at most {MAX_BATCH:,} samples")
    return value


def run(args: argparse.Namespace) -> int:
    from resgen.probe import PLOT_SUFFIXES, plot_results, probe_specs, results_json, results_table
    from resgen.report import table_console

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
    if plot is not None and plot.is_dir():
        return EXIT_FINDINGS if not write_output(plot, b"") else EXIT_OK  # the unwritable message
    specs, analyses, problems = _checked_specs(args.specs, args.extends_root)
    problems.extend(_too_big(analyses, args.batch))
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
    except (MemoryError, RuntimeError) as exc:  # torch raises RuntimeError for failed allocations
        if isinstance(exc, RuntimeError) and "alloc" not in str(exc).lower():
            raise
        print_diagnostics([_memory_error(f"allocating the batch failed: {exc}".splitlines()[0])])
        return EXIT_FINDINGS
    if args.output == "json":
        print(json.dumps(results_json(results), indent=2))
        return EXIT_OK
    table_console(stderr=plot is not None).print(results_table(results))
    if plot is not None:
        data = plot_results(results, PLOT_SUFFIXES[plot.suffix.lower()])
        return EXIT_OK if write_output(plot, data) else EXIT_FINDINGS
    return EXIT_OK


def _too_big(analyses: list[Analysis], batch: int) -> list[Diagnostic]:
    """A diagnostic when a probe would need more memory than the machine has, before torch runs.

    Training mode keeps every node's output for the backward pass: 4 bytes per element.
    """
    import math

    memory = _physical_memory()
    found = []
    for analysis in analyses:
        per_sample = 4 * sum(math.prod(s) for s in analysis.shapes.values() if s)
        if memory and per_sample * batch > memory:
            fits = max(memory // max(per_sample, 1), 0)
            found.append(
                _memory_error(
                    f"a batch of {batch:,} needs about {per_sample * batch / 2**30:,.1f} GiB of "
                    f"activations; this machine has {memory / 2**30:,.1f} GiB",
                    fits,
                )
            )
    return found


def _memory_error(message: str, fits: int | None = None) -> Diagnostic:
    hint = f"use --batch {fits} or less" if fits and fits >= 2 else "use a smaller --batch"
    return error("out-of-memory", message, None, hint=hint)


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not on this platform
        return None


def _checked_specs(
    sources: list[str], extends_root: list[str] | None
) -> tuple[list[Spec], list[Analysis], list[Diagnostic]]:
    from resgen.api import check_spec

    specs, analyses, problems = [], [], []
    for source in sources:
        try:
            loaded, analysis = check_spec(source, extends_root=extends_root)
        except ResgenError as exc:
            problems.extend(exc.diagnostics)
            continue
        specs.append(loaded.spec)
        analyses.append(analysis)
    return specs, analyses, problems


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
