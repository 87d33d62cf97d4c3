"""Output that survives a pipe: tables printed to a file or a CI log are whole and plain.

Every command that prints a table is run with its stdout captured (a pipe, as `> f.txt` or a CI
log gives it) and a narrow `COLUMNS`, which rich would otherwise fit the table into.
"""

from __future__ import annotations

import io
import json
import re

import pytest

from resgen.report import PIPE_WIDTH, table_console, wants_colour
from tests.conftest import run_resgen

ANSI = "\x1b["
NARROW = {"COLUMNS": "40", "NO_COLOR": "", "FORCE_COLOR": ""}


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d[\d,]*\d", text))


@pytest.mark.parametrize("per_block", [False, True], ids=["stages", "per-block"])
def test_info_table_is_whole_in_a_pipe(per_block: bool) -> None:
    flag = ["--per-block"] if per_block else []
    result = run_resgen("info", "specs/resnet50.yaml", *flag, env=NARROW)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout and ANSI not in result.stdout
    data = json.loads(run_resgen("info", "specs/resnet50.yaml", *flag, "-f", "json").stdout)
    rows = [*data["stages"], *(b for s in data["stages"] for b in s.get("per_block", []))]
    printed = _numbers(result.stdout)
    for row in rows:
        assert f"{row['params']:,}" in printed and f"{row['macs']:,}" in printed, row["name"]
        assert row["name"] in result.stdout
        if per_block and "block" in row:
            assert row["block"] in result.stdout  # `bottleneck, projection`, not `bottlen…`
    assert f"{data['params']:,}" in printed and f"{data['macs']:,}" in printed


def test_diff_is_whole_in_a_pipe() -> None:
    result = run_resgen("diff", "resnet18", "resnet50", env=NARROW)
    assert result.returncode in (0, 1), result.stderr
    assert "…" not in result.stdout and ANSI not in result.stdout
    assert "11,689,512 -> 25,557,032" in result.stdout


def test_check_summaries_are_whole_in_a_pipe() -> None:
    result = run_resgen("check", "specs/resnet50.yaml", "specs/resnet18.yaml", env=NARROW)
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert "…" not in out and ANSI not in out
    assert re.search(r"resnet50\.yaml: ok \(.*25,557,032", out), out
    assert "checked 2 specs: 0 with errors" in out


def test_force_color_colours_a_pipe_and_no_color_wins() -> None:
    forced = run_resgen("info", "specs/resnet18.yaml", env={**NARROW, "FORCE_COLOR": "1"})
    assert ANSI in forced.stdout and "…" not in forced.stdout
    both = run_resgen("info", "specs/resnet18.yaml", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert ANSI not in both.stdout and "11,689,512" in both.stdout


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_table_console_follows_the_stream_and_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "50")
    piped = table_console(io.StringIO())
    assert piped.width == PIPE_WIDTH and not piped.is_terminal and piped.color_system is None
    tty = table_console(_Tty())
    assert tty.width == 50 and tty.is_terminal and wants_colour(_Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_colour(_Tty()) and table_console(_Tty()).color_system is None
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert wants_colour(io.StringIO()) and table_console(io.StringIO()).width == PIPE_WIDTH


def test_probe_table_is_whole_in_a_pipe() -> None:
    pytest.importorskip("torch")
    from resgen.api import load_spec
    from resgen.probe import probe_specs, results_table

    loaded = load_spec("specs/resnet18.yaml")
    results = probe_specs([loaded.spec], twin=True, seed=0, batch=2)
    out = io.StringIO()
    table_console(out).print(results_table(results))
    assert "…" not in out.getvalue() and ANSI not in out.getvalue()
    for block in results[0].blocks:
        assert block.name in out.getvalue()
