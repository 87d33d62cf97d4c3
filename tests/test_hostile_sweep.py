"""Every CLI command over a corpus of hostile paths and environments (issue 13, section 4).

For each run: the exit code is 0, 1 or 2 as documented, no "internal error", no traceback,
nothing written outside the output folder, no temp file left anywhere.

To extend the corpus: drop a spec file into tests/specs/hostile/ (any name: the file name is the
hostile part), or add a maker to PATHS (for what git cannot hold: FIFOs, links, bad bytes) or an
environment to ENVIRONMENTS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT, SPECS

HOSTILE = ROOT / "tests" / "specs" / "hostile"
GOOD = (SPECS / "resnet18.yaml").read_text()


def _write(name: str | bytes, text: str | bytes = GOOD) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / (os.fsdecode(name) if isinstance(name, bytes) else name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    return make


def _loop(folder: Path) -> Path:
    (folder / "loop_a.yaml").symlink_to(folder / "loop_b.yaml")
    (folder / "loop_b.yaml").symlink_to(folder / "loop_a.yaml")
    return folder / "loop_a.yaml"


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "fifo.yaml")
    return folder / "fifo.yaml"


def _link(target: str, name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).symlink_to(target)
        return folder / name

    return make


def _directory(folder: Path) -> Path:
    (folder / "dir.yaml").mkdir()
    return folder / "dir.yaml"


# Hostile spec paths, made at test time in a scratch folder.
PATHS: dict[str, Callable[[Path], Path]] = {
    "symlink loop": _loop,
    "fifo": _fifo,
    "directory": _directory,
    "link to /dev/zero": _link("/dev/zero", "zero.yaml"),
    "link to /proc/self/environ": _link("/proc/self/environ", "environ.yaml"),
    "dangling link": _link("/nonexistent/spec.yaml", "dangling.yaml"),
    "missing": lambda folder: folder / "missing.yaml",
    "markup with a slash": _write("a[/x].yaml"),
    "non-UTF-8 file name": _write(b"bad\xff\xfe.yaml"),
    "control characters in the name": _write("bell\x07\x1b[31m.yaml"),
    "binary content": _write("binary.yaml", b"\x00\xff\x80PK\x03\x04" * 50),
    "non-ASCII name": _write("réseau_ü.yaml"),
}

# Environments a CI runner might have; run with a valid spec whose path is not ASCII.
ENVIRONMENTS: dict[str, dict[str, str]] = {
    "ascii streams": {"PYTHONIOENCODING": "ascii"},
    "cp1252 streams": {"PYTHONIOENCODING": "cp1252"},
    "C locale": {"LC_ALL": "C", "LANG": "C"},
    "relative XDG cache, no home": {"XDG_CACHE_HOME": "rel/cache", "HOME": "/nonexistent"},
    "narrow terminal": {"COLUMNS": "1", "TERM": "dumb"},
}


def _many(specs: list[str], out: Path) -> list[list[str]]:
    """The commands that take many specs: one run each covers the whole corpus."""
    return [
        ["check", *specs],
        ["check", *specs, "-f", "github"],
        ["build", *specs, "-o", str(out / "gen")],
        ["build", *specs, "-o", str(out / "gen"), "--check", "--deploy"],
    ]


def _single(spec: str, out: Path) -> list[list[str]]:
    """The commands that take one spec: one run per corpus entry."""
    return [
        ["info", spec, "-f", "latex"],
        ["draw", spec, "-o", str(out / "x.dot")],
        ["diff", spec, "resnet18"],
        ["resolve", spec],
    ]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[list[str], int, str]:
    full = {**os.environ, **env}
    full.pop("RESGEN_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "resgen", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        timeout=60,
        check=False,
    )
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    return args, done.returncode, text


def _snapshot(folder: Path, skip: Path) -> dict[str, float]:
    return {
        str(p): p.lstat().st_mtime for p in folder.rglob("*") if skip not in p.parents and p != skip
    }


def _sweep(work: Path, runs: list[tuple[list[str], dict[str, str]]], out: Path) -> None:
    before = _snapshot(work, out)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda run: _run(run[0], work, run[1]), runs))
    for args, code, text in results:
        shown = " ".join(map(repr, args))
        assert code in (0, 1, 2), f"{shown}: exit {code}\n{text}"
        assert "internal error" not in text and "Traceback" not in text, f"{shown}\n{text}"
    assert _snapshot(work, out) == before, "something was written outside the output folder"
    assert not [p for p in work.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def test_every_command_over_hostile_paths(work: Path) -> None:
    out = work / "out"
    specs = [str(make(work)) for make in PATHS.values()]
    specs += [str(shutil.copy(path, work / path.name)) for path in sorted(HOSTILE.iterdir())]
    runs: list[tuple[list[str], dict[str, str]]] = [(c, {}) for c in _many(specs, out)]
    runs += [(command, {}) for spec in specs for command in _single(spec, out)]
    # probe loads torch only once every spec checks: one run over every invalid path.
    invalid = [spec for name, spec in zip(PATHS, specs, strict=False) if name != "non-ASCII name"]
    runs.append((["probe", *invalid, "--batch", "2"], {}))
    runs.append((["schema", "-o", str(out / "schema.json")], {}))
    _sweep(work, runs, out)


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_every_command_in_hostile_environments(work: Path, name: str) -> None:
    out = work / "out"
    spec = str(PATHS["non-ASCII name"](work))
    commands = [*_many([spec], out)[::2], _single(spec, out)[0], ["draw", spec, "-o", "-"]]
    _sweep(work, [(command, ENVIRONMENTS[name]) for command in commands], out)
