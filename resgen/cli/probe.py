"""`resgen probe`: gradient norms and activations of every block at initialisation (torch)."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING

from resgen.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    SpecArg,
    add_extends_root,
    err,
    expand_each,
    print_diagnostics,
    write_output,
)
from resgen.cli.options import (
    add_format,
    add_output,
    output_is_file,
    pick_format,
    report_into,
    whole_number,
)
from resgen.diagnostics import Diagnostic, ResgenError, has_errors
from resgen.probe import DEFAULT_BATCH, MAX_DEFAULT_SIZE
from resgen.spec.parts import MAX_SIZE

if TYPE_CHECKING:
    from resgen.probe import ProbeResult
    from resgen.spec.model import Spec

MAX_BATCH = 2**20  # far beyond memory for any image net; keeps tensor sizes in int64
HELP = "gradient norms and activations of every block at initialisation (torch)"
PLOTS = ("png", "svg", "pdf")  # matplotlib writes these without extra packages
FORMATS = ("text", "json", *PLOTS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs", nargs="+", metavar="SPEC_OR_DIR", help="spec files, directories or built-in names"
    )
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
    parser.add_argument(
        "--batch",
        type=_batch_size,
        default=DEFAULT_BATCH,
        help=f"batch size (default {DEFAULT_BATCH}: enough for batch norm, light on a laptop)",
    )
    parser.add_argument(
        "--size",
        type=_size,
        metavar="N|HxW",
        help=f"input height and width in pixels (default: the spec's own, at most "
        f"{MAX_DEFAULT_SIZE}: a 224 px ImageNet net is probed at {MAX_DEFAULT_SIZE} px)",
    )
    add_format(
        parser,
        FORMATS,
        None,
        "text (a table), json, or a plot: png, svg or pdf (default: the -o file's extension, "
        "else text)",
    )
    add_output(
        parser,
        "FILE",
        "write the table, JSON or plot to FILE (a plot's table still goes to stderr)",
        old_formats=("text", "json"),
    )
    add_extends_root(parser)


_seed = whole_number(0, 2**64 - 1, "a seed is 0 to 2**64-1")  # torch seeds are 64-bit
# Batch norm needs two samples to have a batch statistic.
_batch_size = whole_number(2, MAX_BATCH, f"a batch is 2 to {MAX_BATCH:,} samples")
_side = whole_number(1, MAX_SIZE, f"a side is 1 to {MAX_SIZE} pixels")


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) > 2:
        raise argparse.ArgumentTypeError(f"{text!r} is not N or HxW (e.g. 32 or 64x48)")
    return _side(parts[0]), _side(parts[-1])


def run(args: argparse.Namespace) -> int:
    suffixes = {f".{plot}": plot for plot in PLOTS}
    fmt = pick_format(args.format, args.output, suffixes, "text")
    if fmt is None:
        return EXIT_USAGE
    if fmt in PLOTS:  # the table goes to stderr, the plot to its file
        if not output_is_file(args.output, f"a {fmt} plot"):
            return EXIT_USAGE
        return _probe(args, fmt, Path(args.output))
    return report_into(args.output, lambda: _probe(args, fmt, None))


def _probe(args: argparse.Namespace, fmt: str, plot: Path | None) -> int:
    """Probe every spec that checks and fits in memory; report the others and still fail."""
    from resgen.probe import plot_results, results_json, results_table
    from resgen.report import table_console

    files, problems, _ = expand_each(args.specs)
    specs = _checked_specs(files, args, problems)
    print_diagnostics(problems)
    failed = has_errors(problems)
    if not specs:
        return EXIT_FINDINGS
    needs = ("torch", *(["matplotlib"] if plot else []))
    missing = [module for module in needs if importlib.util.find_spec(module) is None]
    if missing:
        err(f"resgen probe needs {' and '.join(missing)}: pip install 'resgen[probe]'")
        return EXIT_USAGE
    results, lost = _results(_variants(specs, twin=args.twin, norm=args.norm), args)
    if not results:
        return EXIT_FINDINGS
    if fmt == "json":
        print(json.dumps(results_json(results), indent=2))
    else:
        table_console(stderr=plot is not None).print(results_table(results))
    if plot is not None:
        failed |= not write_output(plot, plot_results(results, fmt))
    return EXIT_FINDINGS if failed or lost else EXIT_OK


def _results(specs: list[Spec], args: argparse.Namespace) -> tuple[list[ProbeResult], bool]:
    """Probe each spec in turn; one that fails is reported and the others still probed."""
    from resgen.memory import out_of_memory
    from resgen.probe import probe_specs

    results, lost = [], False
    for spec in specs:
        try:
            results += probe_specs([spec], twin=args.twin, seed=args.seed, batch=args.batch)
        except ResgenError as exc:  # a twin or a norm-less variant that does not check
            print_diagnostics(exc.diagnostics)
            lost = True
        except (MemoryError, RuntimeError) as exc:  # torch: RuntimeError for failed allocations
            if isinstance(exc, RuntimeError) and "alloc" not in str(exc).lower():
                raise
            message = f"{spec.name}: allocating the batch failed: {exc}".splitlines()[0]
            print_diagnostics([out_of_memory(message)])
            lost = True
    return results, lost


def _checked_specs(
    files: list[tuple[SpecArg, str]], args: argparse.Namespace, problems: list[Diagnostic]
) -> list[Spec]:
    """The specs at the size to probe, each checked at it and small enough for this machine's
    memory; what is wrong with the others goes into `problems`."""
    from resgen.api import check_spec
    from resgen.memory import too_big
    from resgen.probe import at_size, default_size

    specs = []
    for source, _ in files:
        try:
            loaded, analysis = check_spec(source, extends_root=args.extends_root)
            size = args.size or default_size(loaded.spec, analysis.sizes)
            spec = at_size(loaded.spec, size)
            if spec is not loaded.spec:
                loaded, analysis = check_spec(spec)
        except ResgenError as exc:
            problems.extend(exc.diagnostics)
            continue
        problem = too_big(analysis, args.batch, loaded.spec.name)
        if problem is None:
            specs.append(loaded.spec)
        else:
            problems.append(problem)
    return specs


def _variants(specs: list[Spec], *, twin: bool, norm: bool) -> list[Spec]:
    """The specs to probe: a note for each that has no plain twin, norms stripped on request."""
    from resgen.probe import is_plain, strip_norm

    for spec in specs if twin else ():
        if is_plain(spec):
            err(f"note: {spec.name} has no residual add, so it has no plain twin")
    return specs if norm else [strip_norm(spec) for spec in specs]
