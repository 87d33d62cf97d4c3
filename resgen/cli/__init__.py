"""The command line: the only place that prints or exits.

Exit codes: 0 ok, 1 findings (an invalid spec, drift under --check), 2 usage or internal error.
Human text goes to stderr, machine output (-o json) to stdout. `parser` reads the arguments; each
command is a module with its arguments and its `run`.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Sequence

from resgen import __version__
from resgen.cli.common import EXIT_OK, EXIT_USAGE, err
from resgen.cli.parser import COMMANDS, build_parser

ISSUES_URL = "https://github.com/resgen/resgen/issues"

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the last line of defence: never a bare traceback
        err(f"resgen: internal error: {type(exc).__name__}: {exc}")
        err(
            f"This is a bug in resgen {__version__}, not in your spec; "
            f"please report it at {ISSUES_URL}"
        )
        if os.environ.get("RESGEN_DEBUG"):
            traceback.print_exc()
        else:
            err("(set RESGEN_DEBUG=1 to see the traceback)")
        return EXIT_USAGE
