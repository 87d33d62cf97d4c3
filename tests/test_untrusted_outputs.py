"""Outputs behave like files any careful tool writes (issue 13, section 2 and part of 4).

Modes follow the umask and survive a rewrite; `build --check` never follows a symlink or opens a
non-regular file and agrees with `build` on every input; orphans and clashing outputs are
diagnostics; SIGINT and SIGTERM leave no temp file and no traceback.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from resgen.cli import main
from tests.conftest import ROOT, SPECS, run_resgen

TINY = """\
name: tiny
input: {channels: 3, size: 32}
stem: {type: cifar, width: 8}
block: {type: basic}
shortcut: projection
stages: [{depth: 1, width: 8}]
head: {pool: avg, classes: 10}
"""


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)  # inherited by every resgen the test starts
    yield int(request.param)
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _no_temp_files(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


# --- modes ---------------------------------------------------------------------------------------


def test_new_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "out"
    commands = [
        ("build", "resnet18", "--deploy", "-o", str(out)),
        ("draw", "resnet18", "-o", str(out / "r.dot")),
        ("schema", "-o", str(out / "schema.json")),
    ]
    for command in commands:
        result = run_resgen(*command)
        assert result.returncode == 0, result.stderr
    names = {"resnet18.py", "resnet18_deploy.py", "r.dot", "schema.json"}
    assert set(_files(out)) == names
    for name in names:
        assert _mode(out / name) == 0o666 & ~umask, name
    assert _mode(out) == 0o777 & ~umask  # the folder build made, too


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o664])
def test_a_rewritten_file_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("resnet18.py", "resnet18_deploy.py", "schema.json"):
        (out / name).write_text("stale\n")
        (out / name).chmod(mode)
    assert run_resgen("build", "resnet18", "--deploy", "-o", str(out)).returncode == 0
    assert run_resgen("schema", "-o", str(out / "schema.json")).returncode == 0
    for name in ("resnet18.py", "resnet18_deploy.py", "schema.json"):
        assert (out / name).read_text() != "stale\n"
        assert _mode(out / name) == mode, name


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_rendered_drawing_follows_the_umask(tmp_path: Path, umask: int) -> None:
    assert run_resgen("draw", "resnet18", "-o", str(tmp_path / "r.svg")).returncode == 0
    assert _mode(tmp_path / "r.svg") == 0o666 & ~umask


def test_probe_plot_follows_the_umask_and_keeps_a_mode(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    old = os.umask(0o027)
    try:
        plot = tmp_path / "p.png"
        result = run_resgen("probe", str(spec), "--batch", "2", "-o", str(plot))
        assert result.returncode == 0, result.stderr
        assert _mode(plot) == 0o640
        plot.chmod(0o604)
        plot.write_bytes(b"old")
        assert run_resgen("probe", str(spec), "--batch", "2", "-o", str(plot)).returncode == 0
        assert _mode(plot) == 0o604 and plot.read_bytes()[:4] == b"\x89PNG"
    finally:
        os.umask(old)
    _no_temp_files(tmp_path)


# --- build --check agrees with build on every input ----------------------------------------------


def _expected(tmp_path: Path) -> bytes:
    ref = tmp_path / "ref"
    assert run_resgen("build", "resnet18", "-o", str(ref)).returncode == 0
    return (ref / "resnet18.py").read_bytes()


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _link_to_file(target: Path, outside: Path, good: bytes) -> None:
    outside.write_bytes(good)
    target.symlink_to(outside)


def _link_to_fifo(target: Path, outside: Path, good: bytes) -> None:
    _fifo(outside)
    target.symlink_to(outside)


# Each case puts something at out/resnet18.py; `outside` is a file beyond the output folder.
CASES: dict[str, Callable[[Path, Path, bytes], object]] = {
    "missing": lambda target, outside, good: None,
    "up to date": lambda target, outside, good: target.write_bytes(good),
    "stale": lambda target, outside, good: target.write_bytes(good.replace(b"1000", b"10")),
    "crlf": lambda target, outside, good: target.write_bytes(good.replace(b"\n", b"\r\n")),
    "not utf-8": lambda target, outside, good: target.write_bytes(b"\xff\xfe" + good),
    "empty": lambda target, outside, good: target.write_bytes(b""),
    "symlink to same": _link_to_file,
    "symlink to fifo": _link_to_fifo,
    "dangling symlink": lambda target, outside, good: os.symlink(outside, target),
    "fifo": lambda target, outside, good: os.mkfifo(target),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_agrees_with_build(tmp_path: Path, case: str) -> None:
    good = _expected(tmp_path)
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    target = out / "resnet18.py"
    CASES[case](target, outside, good)
    outside_before = outside.read_bytes() if outside.is_file() else None
    check = run_resgen("build", "resnet18", "-o", str(out), "--check", timeout=30)
    assert "Traceback" not in check.stderr and "internal error" not in check.stderr
    assert check.returncode == (0 if case == "up to date" else 1), check.stderr
    build = run_resgen("build", "resnet18", "-o", str(out), timeout=30)
    assert build.returncode == 0, build.stderr
    assert ("unchanged" in build.stderr) == (case == "up to date")
    # The build replaced whatever was there by a regular file, and wrote nothing through a link.
    assert stat.S_ISREG(target.lstat().st_mode) and target.read_bytes() == good
    if outside_before is not None:
        assert outside.read_bytes() == outside_before
    assert run_resgen("build", "resnet18", "-o", str(out), "--check").returncode == 0
    _no_temp_files(tmp_path)


def test_check_names_what_is_not_a_regular_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "resnet18.py").mkdir(parents=True)
    check = run_resgen("build", "resnet18", "-o", str(out), "--check")
    assert check.returncode == 1 and "error[not-a-file]" in check.stderr
    assert "is a directory" in check.stderr
    build = run_resgen("build", "resnet18", "-o", str(out))
    assert build.returncode == 1 and "error[unwritable]" in build.stderr  # both fail: they agree
    (out / "resnet18.py").rmdir()
    (out / "resnet18.py").symlink_to(tmp_path / "nowhere")
    check = run_resgen("build", "resnet18", "-o", str(out), "--check")
    assert "is a symbolic link" in check.stderr and "build replaces it" in check.stderr
    crlf = out / "resnet18.py"
    crlf.unlink()
    assert run_resgen("build", "resnet18", "-o", str(out)).returncode == 0
    crlf.write_bytes(crlf.read_bytes().replace(b"\n", b"\r\n"))
    check = run_resgen("build", "resnet18", "-o", str(out), "--check")
    assert check.returncode == 1 and "error[line-endings]" in check.stderr
    crlf.write_bytes(b"\x80" * 10)
    check = run_resgen("build", "resnet18", "-o", str(out), "--check")
    assert check.returncode == 1 and "is not UTF-8 text" in check.stderr
    assert "Traceback" not in check.stderr


def test_check_reports_an_unreadable_generated_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Root reads any file, so the permission error is simulated where --check reads."""
    from resgen import drift

    (tmp_path / "resnet18.py").write_text("x\n")

    def denied(path: Path) -> bytes | None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(drift, "read_existing", denied)
    assert main(["build", "resnet18", "-o", str(tmp_path), "--check"]) == 1
    captured = capsys.readouterr().err
    assert "error[unreadable]" in captured and "Permission denied" in captured


# --- orphans and clashes -------------------------------------------------------------------------


def _spec_folder(tmp_path: Path, *names: str) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in names:
        shutil.copy(SPECS / f"{name}.yaml", specs)
    return specs


def test_check_reports_orphans_of_a_renamed_spec(tmp_path: Path) -> None:
    specs, out = _spec_folder(tmp_path, "resnet18", "resnet34"), tmp_path / "out"
    assert run_resgen("build", str(specs), "--deploy", "-o", str(out)).returncode == 0
    (out / "notes.py").write_text("# a hand-written file: not resgen's, never an orphan\n")
    assert run_resgen("build", str(specs), "-o", str(out), "--check").returncode == 0  # deploy ok
    renamed = (specs / "resnet34.yaml").read_text().replace("name: resnet34", "name: resnet34x")
    (specs / "resnet34.yaml").write_text(renamed)
    assert run_resgen("build", str(specs), "--deploy", "-o", str(out)).returncode == 0
    check = run_resgen("build", str(specs), "--deploy", "-o", str(out), "--check")
    assert check.returncode == 1, check.stderr
    assert check.stderr.count("error[orphan]") == 2  # resnet34.py and resnet34_deploy.py
    assert "resnet34.py was generated by resgen" in check.stderr and "notes.py" not in check.stderr
    # One spec named on its own says nothing of files other specs may make.
    single = run_resgen("build", str(specs / "resnet18.yaml"), "-o", str(out), "--check")
    assert single.returncode == 0, single.stderr


def test_outputs_sharing_a_file_name_write_nothing(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    base = (SPECS / "resnet18.yaml").read_text()
    (specs / "a.yaml").write_text(base.replace("name: resnet18", "name: a"))
    (specs / "b.yaml").write_text(base.replace("name: resnet18", "name: a_deploy"))
    out = tmp_path / "out"
    result = run_resgen("build", str(specs), "--deploy", "-o", str(out))
    assert result.returncode == 1 and "error[duplicate-name]" in result.stderr
    assert "would write a_deploy.py" in result.stderr and "wrote nothing" in result.stderr
    assert not out.exists()
    assert run_resgen("build", str(specs), "-o", str(out)).returncode == 0  # no clash without it


# --- signals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_leave_no_temp_file_and_no_traceback(tmp_path: Path, signum: int) -> None:
    """Signals at moments spread over a run: while importing, compiling and writing."""
    out = tmp_path / "out"
    seen = set()
    # From 0.1 s: before that Python itself is still starting (no program can catch a signal
    # there); resgen installs its handlers before importing anything of its own.
    for delay in (0.1, 0.15, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0):
        process = subprocess.Popen(
            [sys.executable, "-m", "resgen", "build", str(SPECS), "--deploy", "-o", str(out)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
        seen.add(process.returncode)
        if process.returncode == -signum:
            # Python itself was still starting, before resgen could install its handlers (a
            # loaded machine): the default action killed it before it printed or wrote anything.
            assert not stderr, stderr
        else:
            assert process.returncode in (0, 128 + signum), stderr
        assert "Traceback" not in stderr and "internal error" not in stderr
        assert process.returncode in (0, -signum) or "resgen: interrupted" in stderr
        if out.exists():
            _no_temp_files(out)
    assert 128 + signum in seen
