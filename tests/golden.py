"""Golden files: one comparison, one way to accept new output.

Every checked-in expected output (generated/, the schema, tests/golden/, the diagnostics corpus's
`.expected` files) is compared with `assert_golden`. A mismatch prints a unified diff and the one
command that regenerates the file:

    make build      generated/ (`resgen build specs --deploy`)
    make schema     schema/resgen-spec.schema.json
    RESGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_x.py    the rest

RESGEN_UPDATE_GOLDEN=1 is the one update switch: under it every `assert_golden` writes its file
instead of comparing, generated/ and the schema included. Read `git diff` before committing.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UPDATE_VARIABLE = "RESGEN_UPDATE_GOLDEN"
MAX_DIFF_LINES = 200  # enough to see what changed; the regenerated file shows the rest


def updating() -> bool:
    """Whether this run writes golden files instead of comparing with them."""
    return os.environ.get(UPDATE_VARIABLE, "") not in ("", "0")


def update_command() -> str:
    """The command that rewrites the golden files of the test running now."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "tests")
    test_file = current.split("::", 1)[0]
    return f"{UPDATE_VARIABLE}=1 .venv/bin/python -m pytest -q {test_file}"


def assert_golden(actual: str, path: Path, regenerate: str | None = None) -> None:
    """Assert that `path` holds exactly `actual`; print a unified diff and the fix if not.

    With RESGEN_UPDATE_GOLDEN=1 the file is written instead (UTF-8, `\\n` line ends).
    `regenerate` names the command that rewrites this file, if it is not the test's own update
    run (generated/ is rewritten by `make build`).
    """
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != actual.encode("utf-8"):
            path.write_bytes(actual.encode("utf-8"))
        return
    expected = path.read_bytes().decode("utf-8") if path.is_file() else None
    if expected == actual:
        return
    shown = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    if expected is None:
        problem = f"{shown} is missing"
        diff = ""
    else:
        problem = f"{shown} is out of date"
        lines = list(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                f"{shown} (checked in)",
                f"{shown} (produced now)",
            )
        )
        if len(lines) > MAX_DIFF_LINES:
            lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more lines\n"]
        diff = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    pytest.fail(
        f"{problem}; if the change is deliberate, regenerate with:\n"
        f"    {regenerate or update_command()}\n{diff}",
        pytrace=False,
    )
