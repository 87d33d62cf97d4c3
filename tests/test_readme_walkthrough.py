"""The README's "Five minutes with resgen" runs as written (issue 14, section 8).

Every fenced block of that section is played in order in an empty folder, as a newcomer would:
a `yaml` block whose first line is `# NAME` is saved as NAME; each `$ ` line of a `console` block
runs (resgen through the real CLI, `python -m resgen`, in a subprocess) and must print exactly the
lines below it, with exit status 1 where they show an error and 0 otherwise; a `python` block runs
as a script and, when a `text` block follows it, must print that.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HEADING = "## Five minutes with resgen"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(HEADING)
    end = readme.index("\n## ", start + len(HEADING))
    return readme[start:end]


def _blocks() -> list[tuple[str, str]]:
    return [(match[1], match[2]) for match in FENCE.finditer(_section())]


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("RESGEN_DEBUG", None)
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )


def _commands(block: str) -> list[tuple[str, list[str]]]:
    """The `$ ` lines of a console block, each with the output lines shown under it."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before any command: {line!r}"
            steps[-1][1].append(line)
    return steps


def _play_console(block: str, cwd: Path) -> None:
    for command, shown in _commands(block):
        argv = shlex.split(command)
        if argv[0] == "resgen":
            argv = [sys.executable, "-m", "resgen", *argv[1:]]
        result = _run(argv, cwd)
        printed = [line.rstrip() for line in result.stdout.splitlines()]
        assert printed == [line.rstrip() for line in shown], f"$ {command}\n{result.stdout}"
        expected_status = 1 if any(": error[" in line for line in shown) else 0
        assert result.returncode == expected_status, f"$ {command}\n{result.stdout}"


def _play_python(block: str, shown: str | None, cwd: Path, number: int) -> None:
    pytest.importorskip("torch")
    script = cwd / f"walkthrough_{number}.py"
    script.write_text(block, encoding="utf-8")
    result = _run([sys.executable, script.name], cwd)
    assert result.returncode == 0, result.stdout
    if shown is not None:
        assert result.stdout == shown, result.stdout


def test_walkthrough_runs_as_written(tmp_path: Path) -> None:
    blocks = _blocks()
    for number, (kind, body) in enumerate(blocks):
        if kind == "yaml":
            name = body.splitlines()[0].removeprefix("# ").strip()
            assert re.fullmatch(r"[\w.-]+\.ya?ml", name), f"a yaml block starts with # NAME: {name}"
            (tmp_path / name).write_text(body, encoding="utf-8")
        elif kind == "console":
            _play_console(body, tmp_path)
        elif kind == "python":
            after = blocks[number + 1] if number + 1 < len(blocks) else None
            shown = after[1] if after and after[0] == "text" else None
            _play_python(body, shown, tmp_path, number)
        else:
            assert kind == "text" and blocks[number - 1][0] == "python", f"unplayable {kind}"
    assert (tmp_path / "mynet.py").is_file() and (tmp_path / "mynet.dot").is_file()


def test_walkthrough_covers_a_first_session() -> None:
    # Write a spec, check it, read an error, fix it, build it, import and run it, draw it.
    kinds = [kind for kind, _ in _blocks()]
    assert kinds.count("yaml") >= 1 and "python" in kinds
    commands = [c for kind, body in _blocks() if kind == "console" for c, _ in _commands(body)]
    verbs = [shlex.split(c)[1] for c in commands if c.startswith("resgen ")]
    assert verbs[:2] == ["check", "check"] and "build" in verbs and "draw" in verbs
    assert any(": error[" in body for kind, body in _blocks() if kind == "console")
    python = next(body for kind, body in _blocks() if kind == "python")
    assert "import torch" in python and "from mynet import MyNet" in python
    spec = next(body for kind, body in _blocks() if kind == "yaml")
    assert len(spec.splitlines()) <= 12  # a first spec is about ten lines


def test_readme_opens_with_two_commands_then_install_then_walkthrough() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = FENCE.search(readme)
    assert first is not None and first.start() == readme.index("```")
    assert [line.split()[:2] for line in first[2].splitlines()] == [
        ["make", "run"],
        ["make", "test"],
    ]
    install = readme.index("`pip install .`")
    assert first.end() < install < readme.index(HEADING) < readme.index("## What resgen is")
    assert readme[first.end() : readme.index(HEADING)].count("\n## ") == 0
