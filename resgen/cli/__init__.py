"""The command line: the only place that prints or exits.

Exit codes: 0 ok, 1 findings (an invalid spec, drift under --check), 2 usage or internal error,
130 after SIGINT and 143 after SIGTERM. Human text goes to stderr, results (`-f json`) to stdout
or the file `-o` names. `parser` reads the arguments, `options` holds the -f/-o grammar every
command shares; each command is a module with its arguments and its `run`.

This module imports nothing of resgen's at the top, so `main` catches SIGINT and SIGTERM before
the commands (and their dependencies) are imported: an interrupt at any moment exits quietly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

ISSUES_URL = "https://github.com/resgen/resgen/issues"
EXIT_INTERNAL = 2
_CAUGHT = (signal.SIGINT, signal.SIGTERM)

__all__ = ["Interrupted", "build_parser", "main"]


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; raised where the program was, so `finally` blocks clean up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def build_parser() -> argparse.ArgumentParser:
    from resgen.cli.parser import build_parser as build

    return build()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Called as the program (argv None), it keeps its signal handlers to the end;
    called with arguments (tests, scripts), it restores the caller's afterwards."""
    previous: dict[int, Any] = {}
    try:
        _catch_signals(previous)
        return _run(argv)
    except Interrupted as exc:
        _say("resgen: interrupted")
        return 128 + exc.signum
    finally:
        if argv is not None:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        else:
            _hold_signals()


def _run(argv: Sequence[str] | None) -> int:
    from resgen import __version__
    from resgen.cli.options import settle
    from resgen.cli.parser import COMMANDS
    from resgen.diagnostics import use_safe_streams

    use_safe_streams()  # a character the terminal's encoding lacks is escaped, never a crash
    args = build_parser().parse_args(argv)
    settle(args)  # the 0.1 spellings of -f and -o, with a warning
    try:
        return COMMANDS[args.command].run(args)
    except Interrupted:
        raise
    except KeyboardInterrupt:  # where no handler could be installed (not the main thread)
        _say("resgen: interrupted")
        return 128 + signal.SIGINT
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last line of defence: never a bare traceback
        _say(f"resgen: internal error: {type(exc).__name__}: {exc}")
        _say(
            f"This is a bug in resgen {__version__}, not in your spec; "
            f"please report it at {ISSUES_URL}"
        )
        if os.environ.get("RESGEN_DEBUG"):
            traceback.print_exc()
        else:
            _say("(set RESGEN_DEBUG=1 to see the traceback)")
        return EXIT_INTERNAL


def _catch_signals(previous: dict[int, Any]) -> None:
    """Turn SIGINT and SIGTERM into Interrupted; remember the handlers they replace."""
    for signum in _CAUGHT:
        try:
            previous[signum] = signal.signal(signum, _on_signal)
        except ValueError:  # not the main thread: leave signals to the caller
            return


def _hold_signals() -> None:
    """The program's work is done: a signal from now on stays pending and dies with the process.

    Python resets signal handlers to the default while it shuts down, so a SIGTERM arriving then
    would kill the finished process (exit -15) instead of letting it exit with its code.
    """
    if hasattr(signal, "pthread_sigmask"):
        with contextlib.suppress(ValueError, OSError):
            signal.pthread_sigmask(signal.SIG_BLOCK, set(_CAUGHT))


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # A second signal while cleaning up must not interrupt the cleanup.
    for caught in _CAUGHT:
        signal.signal(caught, signal.SIG_IGN)
    raise Interrupted(signum)


def _say(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr closed: nothing more to tell
        print(text, file=sys.stderr, flush=True)
