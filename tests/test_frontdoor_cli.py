"""The CLI is a package with a parser and one module per command, all loading specs one way."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest

import resgen.api
from resgen.cli import main
from resgen.cli.parser import COMMANDS
from tests.conftest import ROOT, run_resgen

CLI = ROOT / "resgen" / "cli"


def test_one_module_per_command_each_small() -> None:
    modules = {p.stem for p in CLI.glob("*.py")}
    assert set(COMMANDS) | {"__init__", "__main__", "parser", "common", "options"} == modules
    for path in CLI.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) < 200, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                assert length <= 60, f"{path.name}: {node.name} has {length} lines"


@pytest.mark.parametrize("how", [["-m", "resgen"], ["-m", "resgen.cli"]])
def test_entry_points(how: list[str]) -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, *how, "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "{" + ",".join(COMMANDS) + "}" in result.stdout  # every command, in --help's order
    assert list(COMMANDS)[:4] == ["build", "check", "info", "draw"]
    for name, module in COMMANDS.items():
        assert module.HELP in " ".join(result.stdout.split()), name


def test_console_script_is_main() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'resgen = "resgen.cli:main"' in text


def test_every_command_loads_through_the_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    loaded: list[object] = []
    real = resgen.api.load_spec

    def spy(source: Any, **options: Any) -> Any:  # options: extends_root (issue 13)
        loaded.append(source)
        return real(source, **options)

    monkeypatch.setattr(resgen.api, "load_spec", spy)
    runs = {
        ("check", "specs/resnet18.yaml", "resnet34"): 2,
        ("build", "resnet18", "-o", str(tmp_path)): 1,
        ("info", "resnet18", "-f", "json"): 1,
        ("draw", "resnet18", "-o", "-"): 1,
        ("resolve", "resnet101d"): 1,
        ("diff", "resnet18", "resnet34"): 2,
    }
    for argv, count in runs.items():
        loaded.clear()
        # diff exits 1 because resnet18 and resnet34 differ (as diff(1) does); the rest 0.
        assert main(list(argv)) == (1 if argv[0] == "diff" else 0), argv
        assert len(loaded) == count, argv
    capsys.readouterr()


def test_schema_lives_with_the_spec_models() -> None:
    from resgen.spec import schema

    assert resgen.api.json_schema is schema.json_schema
    assert resgen.api.json_schema_text is schema.json_schema_text
    assert resgen.json_schema is schema.json_schema


def test_user_mistakes_in_every_command_are_diagnostics(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nblock: {type: basik}\nstages: [{depth: 1, width: 8}]\n")
    for argv in (["check"], ["build", "-o", str(tmp_path)], ["info"], ["draw", "-o", "-"],
                 ["resolve"], ["diff", "resnet18"]):  # fmt: skip
        result = run_resgen(*argv, "bad.yaml", cwd=tmp_path)
        assert result.returncode == 1, argv
        assert "bad.yaml:2:15: error[invalid-value]" in result.stderr, argv
        assert "  2 | block: {type: basik}" in result.stderr, argv
        assert "hint: did you mean 'basic'?" in result.stderr, argv
        assert "Traceback" not in result.stderr, argv
