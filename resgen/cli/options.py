"""The grammar every command shares: `-f/--format` says what to write, `-o/--output` says where.

`-o` names a file (the report of check, info, diff, resolve, list, schema and probe; the drawing
of draw) or a folder (the files build, new and draw with several specs write); `-o -` is stdout
where a file is meant. resgen 0.1 read `-o` as the format in check, info, diff, resolve and probe
and spelled the option `--out` in build, draw and schema; both still work for one release, with a
warning on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from resgen.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    err,
    is_dir,
    print_diagnostics,
    write_output,
)
from resgen.diagnostics import Location, error

# Every format name some command's -f takes: `build -o json` is more likely a format than a folder.
FORMAT_NAMES = frozenset({"text", "json", "yaml", "github", "markdown", "latex", "svg", "png"})
STDOUT = "-"


class _Output(argparse.Action):
    """Store -o's value and the spelling it came under, which the warnings quote."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.output_flag = option_string


def add_format(
    parser: argparse.ArgumentParser, formats: Sequence[str], default: str | None, what: str
) -> None:
    """The `-f/--format` option: one of `formats`, `default` when not given (None: the command
    decides; `what` then says how)."""
    parser.add_argument(
        "-f",
        "--format",
        choices=tuple(formats),
        default=None,
        help=what if default is None else f"{what} (default: {default})",
    )
    parser.set_defaults(default_format=default)


def add_output(
    parser: argparse.ArgumentParser,
    metavar: str,
    what: str,
    *,
    default: str | None = None,
    old_formats: Sequence[str] = (),
    old_long: bool = False,
) -> None:
    """The `-o/--output` option; `old_formats` are the values 0.1 read as a format, and
    `old_long` keeps the 0.1 spelling `--out`, both with a warning."""
    parser.add_argument(
        "-o", "--output", action=_Output, default=default, metavar=metavar, help=what
    )
    if old_long:
        hidden = argparse.SUPPRESS
        parser.add_argument("--out", action=_Output, dest="output", default=hidden, help=hidden)
    parser.set_defaults(old_formats=tuple(old_formats), output_flag=None)


def settle(args: argparse.Namespace) -> None:
    """Read the 0.1 spellings as they meant (warning that they go) and fill in the format."""
    flag = getattr(args, "output_flag", None)
    if flag == "--out":
        err(
            "warning: `--out` is deprecated and goes in the next release; "
            "use `-o`/`--output` (same meaning)"
        )
    if not hasattr(args, "format"):
        return
    if args.format is None and flag and args.output in args.old_formats:
        value = args.output
        err(
            f"warning: `{flag} {value}` as a format is deprecated and goes in the next release; "
            f"use `-f {value}` (`-o` now names the output file: `-o ./{value}` writes one "
            f"called {value})"
        )
        args.format, args.output = value, None
    if args.format is None:
        args.format = args.default_format


def pick_format(
    fmt: str | None, output: str | None, by_suffix: Mapping[str, str], default: str | None
) -> str | None:
    """The format -f names, else the one -o's file extension names (`by_suffix`: ".svg" ->
    "svg"), else `default`; None, after a diagnostic, when they disagree or none names one."""
    path = Path(output) if output and output != STDOUT else None
    named = by_suffix.get(path.suffix.lower()) if path else None
    if fmt is not None and named is not None and named != fmt:
        hint = f"drop -f, or end the file name in .{fmt}"
        refuse("format-conflict", f"-o {output} says {named} and -f says {fmt}", output, hint)
        return None
    if (fmt or named or default) is None:
        what = f"extension {path.suffix!r}" if path and path.suffix else "no extension"
        *others, last = (f".{name}" for name in dict.fromkeys(by_suffix.values()))
        hint = f"end the file name in {', '.join(others)} or {last}, or give -f"
        refuse("unknown-format", f"cannot tell the format of {output}: {what}", output, hint)
    return fmt or named or default


def refuse(code: str, message: str, where: str | None, hint: str) -> None:
    """Report a usage mistake in -f or -o (the caller then exits 2)."""
    print_diagnostics([error(code, message, Location(where) if where else None, hint=hint)])


def warn_folder_like_format(output: str, flag: str | None) -> None:
    """`build -o json` makes a folder json/, as build's -o always did; say so when it looks like
    the format option was meant."""
    if flag and output in FORMAT_NAMES and not Path(output).exists():
        err(
            f"warning: writing into a new folder {output}/ (-o names the output folder); "
            f"if you meant the format, that is `-f {output}`"
        )


def to_stdout(output: str | None) -> bool:
    return output is None or output == STDOUT


def report_into(output: str | None, body: Callable[[], int]) -> int:
    """Run `body`, which prints its report on stdout; with `-o FILE`, write that text to FILE.

    The file is written whole once the command has finished: never half of it, and not at all
    after an interrupt or a failure that printed nothing. Diagnostics stay on stderr.
    """
    if to_stdout(output):
        return body()
    assert output is not None
    if not output_is_file(output, "a report"):
        return EXIT_USAGE
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = body()
    text = buffer.getvalue()
    if not text and code != EXIT_OK:  # it failed before printing anything: no file
        return code
    return code if write_output(Path(output), text) else EXIT_FINDINGS


def output_is_file(output: str | None, what: str) -> bool:
    """True if `-o` names a file `what` can go to; else a diagnostic and False."""
    if output is None:
        refuse("needs-output", f"this writes {what}, which needs a file", None, "add -o FILE")
        return False
    if not (is_dir(Path(output)) or output.endswith(("/", os.sep))):
        return True
    message = f"-o {output} is a folder, and this command writes {what} to one file"
    hint = f"name a file inside it (-o {Path(output) / 'NAME'}), or leave out -o for stdout"
    refuse("output-is-folder", message, output, hint)
    return False


def whole_number(low: int, high: int, allowed: str) -> Callable[[str], int]:
    """An argparse type: a whole number in ASCII digits from `low` to `high` (`allowed` says so).

    int() alone would also take "1_000", "٣" or a 4,000-digit number.
    """

    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,30}", text.strip()):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number in digits 0-9")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range: {allowed}")
        return value

    return parse
