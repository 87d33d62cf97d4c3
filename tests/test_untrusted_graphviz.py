"""Graphviz misbehaving (issue 13, section 8): timeouts, failures, empty output, its warnings.

A fake `dot` first on PATH plays each misbehaviour; the real `dot` shows the cairo warning.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import run_resgen

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")

# Each fake `dot` (a shell script) and what resgen must say about it.
FAKES = {
    "hangs": ("exec sleep 30\n", "took longer than 1 s"),
    "fails": ("echo 'Error: syntax error in line 1' >&2\nexit 3\n", "syntax error in line 1"),
    "fails silently": ("exit 1\n", "exit status 1"),
    "writes nothing": ("cat >/dev/null\nexit 0\n", "wrote an empty drawing"),
    "crashes": ("kill -SEGV $$\n", "killed by a signal"),
}


def _fake_dot(tmp_path: Path, script: str) -> dict[str, str]:
    folder = tmp_path / "bin"
    folder.mkdir()
    dot = folder / "dot"
    dot.write_text("#!/bin/sh\n" + script)
    dot.chmod(0o755)
    return {"PATH": f"{folder}:/usr/bin:/bin"}


@pytest.mark.parametrize("case", sorted(FAKES))
@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_a_failed_render_is_exit_1_and_leaves_no_file(
    tmp_path: Path, case: str, suffix: str
) -> None:
    script, said = FAKES[case]
    env = _fake_dot(tmp_path, script)
    out = tmp_path / "out"
    out.mkdir()
    start = time.monotonic()
    result = run_resgen(
        "draw", "resnet18", "-o", str(out / f"r{suffix}"), "--timeout", "1", env=env, timeout=60
    )
    assert time.monotonic() - start < 20  # the hanging `dot` was stopped, not waited for
    assert result.returncode == 1, result.stderr
    assert "error[render-failed]" in result.stderr and said in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert list(out.iterdir()) == []  # no empty drawing, no temp file


def test_a_failed_render_keeps_the_old_drawing(tmp_path: Path) -> None:
    env = _fake_dot(tmp_path, FAKES["writes nothing"][0])
    old = tmp_path / "r.svg"
    old.write_text("<svg/>")
    assert run_resgen("draw", "resnet18", "-o", str(old), env=env).returncode == 1
    assert old.read_text() == "<svg/>" and sorted(p.name for p in tmp_path.iterdir()) == [
        "bin",
        "r.svg",
    ]


def test_the_timeout_hint_and_its_option(tmp_path: Path) -> None:
    env = _fake_dot(tmp_path, FAKES["hangs"][0])
    result = run_resgen(
        "draw", "resnet18", "-o", str(tmp_path / "r.svg"), "--timeout", "0.5", env=env
    )
    assert "hint: try --detail block or stage, or a longer --timeout" in result.stderr
    for bad in ("0", "-1", "nan", "inf", "soon"):
        usage = run_resgen("draw", "resnet18", "-o", str(tmp_path / "r.svg"), "--timeout", bad)
        assert usage.returncode == 2 and "--timeout" in usage.stderr, bad
        assert "Traceback" not in usage.stderr


def test_warnings_of_a_successful_render_are_passed_on(tmp_path: Path) -> None:
    script = "cat >/dev/null\necho 'Warning: something odd\x1b[31m' >&2\necho '<svg/>'\n"
    env = _fake_dot(tmp_path, script)
    result = run_resgen("draw", "resnet18", "-o", str(tmp_path / "r.svg"), env=env)
    assert result.returncode == 0, result.stderr
    assert "warning[graphviz]: dot: something odd" in result.stderr
    assert "\x1b" not in result.stderr  # what dot says is escaped like any other text
    assert (tmp_path / "r.svg").read_text() == "<svg/>\n"


@needs_dot
def test_the_real_cairo_scaling_warning_gets_a_hint(tmp_path: Path) -> None:
    """ResNet-152 at op detail is too tall for a cairo bitmap: dot shrinks it and says so."""
    out = tmp_path / "big.png"
    result = run_resgen("draw", "resnet152", "--detail", "op", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "warning[graphviz]: dot: graph is too large for cairo-renderer bitmaps" in result.stderr
    assert "hint: draw to .svg or .pdf (no size limit), or use a lower --detail" in result.stderr
    assert out.read_bytes().startswith(b"\x89PNG")
    svg = run_resgen("draw", "resnet152", "--detail", "stage", "-o", str(tmp_path / "s.svg"))
    assert svg.returncode == 0 and "warning" not in svg.stderr
