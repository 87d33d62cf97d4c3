"""The argument parser: `resgen COMMAND ...`, one subcommand per module of this package."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from resgen import __version__
from resgen.cli import (
    build,
    check,
    diff,
    draw,
    infer,
    info,
    new,
    probe,
    resolve,
    sample,
    schema,
    view,
)
from resgen.cli import list as list_  # the module of `resgen list`
from resgen.cli.common import EXIT_USAGE, Command

# In the order `resgen --help` lists them.
COMMANDS: dict[str, Command] = {
    "build": build,
    "check": check,
    "info": info,
    "draw": draw,
    "view": view,
    "schema": schema,
    "diff": diff,
    "resolve": resolve,
    "probe": probe,
    "list": list_,
    "new": new,
    "infer": infer,
    "sample": sample,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"resgen: error: {message}\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="resgen",
        description="Compile ResNet-family specs (YAML/JSON) into checked, standalone PyTorch.",
    )
    parser.add_argument("--version", action="version", version=f"resgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP))
    return parser
