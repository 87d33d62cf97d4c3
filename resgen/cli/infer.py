"""`resgen infer CHECKPOINT`: a ResNet checkpoint (or `timm:NAME`, `torchvision:NAME`) back to a
spec; what weights cannot show is assumed, listed on stderr and written into the spec."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resgen.cli.common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, err, print_diagnostics
from resgen.cli.options import STDOUT, add_format, add_output, output_is_file
from resgen.diagnostics import Location, ResgenError, error

if TYPE_CHECKING:
    from resgen.infer import Inferred

HELP = "infer a spec from a ResNet checkpoint (.safetensors, .pt, .pth) or timm:/torchvision:NAME"
LIBRARIES = ("timm:", "torchvision:")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="CHECKPOINT",
        help="a state_dict file (.safetensors; .pt/.pth/.bin read with weights_only=True), or "
        "timm:NAME / torchvision:NAME for a live model of that library",
    )
    parser.add_argument(
        "--assume",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set what weights cannot show, e.g. --assume act=silu --assume strides=1,2,2,2 "
        "(repeatable; the assumed keys are listed on stderr)",
    )
    parser.add_argument("--name", metavar="NAME", help="the spec's name (default: the file's)")
    add_format(parser, ("yaml",), "yaml", "output format (a commented YAML spec)")
    add_output(parser, "FILE", "write the spec to FILE (never overwrites; default: stdout)")


def run(args: argparse.Namespace) -> int:
    from resgen.infer import assume

    given, problems = assume.parse_assume(args.assume)
    if problems:
        print_diagnostics(problems)
        return EXIT_USAGE
    target = None if args.output in (None, STDOUT) else Path(args.output)
    if target is not None and not output_is_file(args.output, "a spec"):
        return EXIT_USAGE
    if target is not None and (target.exists() or target.is_symlink()):
        message = f"{target} exists; resgen infer never overwrites a spec"
        hint = "choose another -o, or delete the file first"
        print_diagnostics([error("exists", message, Location(str(target)), hint)])
        return EXIT_FINDINGS
    try:
        inferred = _infer(args.source, args.name, given)
    except ResgenError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_FINDINGS
    _report(inferred)
    if target is None:
        sys.stdout.write(inferred.text)
        return EXIT_OK
    from resgen.cli.common import write_output

    return EXIT_OK if write_output(target, inferred.text) else EXIT_FINDINGS


def _infer(source: str, name: str | None, given: dict[str, Any]) -> Inferred:
    from resgen.infer import infer, infer_file, spec_name

    if source.startswith(LIBRARIES) and not Path(source).exists():
        library, _, model = source.partition(":")
        return infer(_library_model(library, model), name or spec_name(model), given)
    return infer_file(source, name, given)


def _library_model(library: str, model: str) -> Any:
    """A library's model with random weights (never downloaded); a diagnostic if unknown."""
    try:
        if library == "timm":
            import timm

            if model in timm.list_models():
                return timm.create_model(model, pretrained=False)
        else:
            import torchvision  # type: ignore[import-untyped]

            if model in torchvision.models.list_models():
                return torchvision.models.get_model(model, weights=None)
    except ImportError as exc:
        raise ResgenError([error("missing-dependency", f"{library}:{model} needs {library}",
                                 hint=f"pip install {library}")]) from exc  # fmt: skip
    raise ResgenError([error("unknown-model", f"{library} has no model {model!r}",
                             hint=f"list them with {library}.list_models()")])  # fmt: skip


def _report(inferred: Inferred) -> None:
    from resgen.infer.assume import describe

    for note in inferred.notes:
        err(f"note: {note}")
    if inferred.base:
        err(f"note: the spec extends the built-in {inferred.base}")
    if inferred.assumed:
        err(f"assumed ({len(inferred.assumed)}; weights cannot show them, --assume changes one):")
        for line in describe(inferred.assumed):
            err(f"  {line}")
