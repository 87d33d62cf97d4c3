"""What every command shares: exit codes, printing diagnostics, finding specs, writing outputs."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeAlias

from resgen.diagnostics import Diagnostic, Location, ResgenError, TextReporter, error, printable
from resgen.files import write_atomic
from resgen.spec.load import SPEC_SUFFIXES, display_name, resolve_spec_path
from resgen.spec.paths import os_reason

if TYPE_CHECKING:
    from resgen.spec.load import LoadedSpec

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class Command(Protocol):
    """A command module: its one-line help, its arguments, and what it does."""

    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# What `resgen.api.load_spec` takes from the command line: a path, or a built-in spec's name.
SpecArg: TypeAlias = str | Path


def err(text: str) -> None:
    """Print a line on stderr, escaping what a terminal would act on (paths come from users)."""
    print(printable(text), file=sys.stderr)


def add_extends_root(parser: argparse.ArgumentParser) -> None:
    """The `--extends-root DIR` option: another folder `extends` may read bases from."""
    parser.add_argument(
        "--extends-root",
        action="append",
        type=_existing_dir,
        metavar="DIR",
        help="also let `extends` read bases in DIR (repeatable); by default only the spec's "
        "folder, or the current folder if it holds the spec",
    )


def _existing_dir(text: str) -> str:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory")
    return text


def load_or_report(spec: SpecArg, extends_root: Sequence[str] | None = None) -> LoadedSpec | None:
    """Load a spec through the front door; print its diagnostics and return None if it fails."""
    from resgen.api import load_spec

    try:
        return load_spec(spec, extends_root=extends_root)
    except ResgenError as exc:
        print_diagnostics(exc.diagnostics)
        return None


def print_diagnostics(diagnostics: Sequence[Diagnostic]) -> None:
    """Print diagnostics as text on stderr, each with its source line."""
    TextReporter().report(diagnostics)


def expand_specs(args: Sequence[str]) -> tuple[list[tuple[SpecArg, str]], list[Diagnostic]]:
    """Turn CLI arguments into specs to load, each with its name in messages, and the problems.

    Files are taken as given, directories give their spec files, and other arguments must be
    built-in spec names; what is none of these is a problem, reported after every spec.
    """
    found: list[tuple[SpecArg, str]] = []
    problems: list[Diagnostic] = []
    for arg in args:
        path = Path(arg)
        if is_dir(path):
            files, problem = _spec_files(path)
            if problem is not None:
                problems.append(problem)
            found.extend((p, display_name(p)) for p in files)
            continue
        try:
            found.append((arg, resolve_spec_path(arg)[1]))
        except ResgenError as exc:
            problems.extend(exc.diagnostics)
    return found, problems


def expand_each(args: Sequence[str]) -> tuple[list[tuple[SpecArg, str]], list[Diagnostic], bool]:
    """`expand_specs` with each spec once, and whether the arguments may name several specs (a
    folder, or more than one): then a command's output is per spec, whatever the count found."""
    found, problems = expand_specs(args)
    first: dict[str, SpecArg] = {}
    for spec, name in found:
        first.setdefault(name, spec)
    unique = [(spec, name) for name, spec in first.items()]
    several = len(args) > 1 or any(is_dir(Path(arg)) for arg in args)
    return unique, problems, several


def is_dir(path: Path) -> bool:
    """Whether `path` is a folder; False where it cannot be looked at (loading it says why)."""
    try:
        return path.is_dir()
    except OSError:  # Path.is_dir passes on EACCES, among others
        return False


def _spec_files(folder: Path) -> tuple[list[Path], Diagnostic | None]:
    """The spec files directly in a folder (symlinks to files included), or why there are none.

    A spec-suffixed entry that is not a readable file (a symlink loop, a dangling link) is kept,
    so that loading it reports what is wrong with it.
    """
    shown = display_name(folder)
    try:
        entries = sorted(p for p in folder.iterdir() if p.suffix.lower() in SPEC_SUFFIXES)
    except OSError as exc:
        return [], error(
            "unreadable",
            f"cannot list the folder {shown}: {os_reason(exc)}",
            Location(shown),
            hint="make the folder readable (and searchable) by this user",
        )
    files = [p for p in entries if not p.is_dir()]
    if not files:
        return [], error("no-specs", f"no .yaml, .yml or .json specs in {shown}/", None)
    return files, None


def write_output(target: Path, content: str | bytes, what: str = "") -> bool:
    """Write one output and say so; an `unwritable` diagnostic and False when it cannot."""
    return write_reported(target, content, what) is not None


def write_reported(target: Path, content: str | bytes, what: str = "") -> str | None:
    """Write one output and say so: "wrote" or "unchanged"; None after a diagnostic if it cannot."""
    try:
        changed = write_atomic(target, content)
    except OSError as exc:
        print_diagnostics(
            [
                error(
                    "unwritable",
                    f"cannot write {display_name(target)}: {exc.strerror or exc}",
                    Location(str(target)),
                    hint="check that the output path (-o) is in a writable directory",
                )
            ]
        )
        return None
    status = "wrote" if changed else "unchanged"
    err(f"{status} {display_name(target)}{what}")
    return status


def add_dot_timeout(parser: argparse.ArgumentParser) -> None:
    """`--timeout SECONDS`: how long Graphviz's `dot` may run (draw and view lay out with it)."""
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="stop Graphviz's `dot` after this long (default 60)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 86400:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to 86400")
    return value
