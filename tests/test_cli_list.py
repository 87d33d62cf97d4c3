"""`resgen list`: every built-in spec with the numbers `info` gives it (issue 14, section 3)."""

from __future__ import annotations

import json

import pytest

import resgen
from resgen.resources import builtin_spec_names
from tests.conftest import run_resgen


@pytest.fixture(scope="module")
def listed() -> list[dict[str, object]]:
    result = run_resgen("list", "-f", "json")
    assert result.returncode == 0, result.stderr
    data: list[dict[str, object]] = json.loads(result.stdout)
    return data


def test_json_lists_every_builtin_spec_with_its_numbers(listed: list[dict[str, object]]) -> None:
    assert [row["name"] for row in listed] == builtin_spec_names()
    by_name = {row["name"]: row for row in listed}
    for name in ("resnet50", "resnet20", "wrn28_10"):
        info = resgen.summarize(name)
        assert by_name[name]["params"] == info["params"]
        assert by_name[name]["macs"] == info["macs"]
        loaded = resgen.load_spec(name)
        assert by_name[name]["description"] == loaded.spec.description
        assert by_name[name]["input"] == [loaded.spec.input.channels, *loaded.spec.input.hw]


def test_text_is_a_whole_table_in_a_pipe(listed: list[dict[str, object]]) -> None:
    result = run_resgen("list", env={"COLUMNS": "40"})
    assert result.returncode == 0, result.stderr
    assert "\u2026" not in result.stdout and "\x1b[" not in result.stdout
    for row in listed:
        line = next(
            line for line in result.stdout.splitlines() if line.split()[:1] == [row["name"]]
        )
        assert f"{row['params']:,}" in line and f"{row['macs']:,}" in line
        assert str(row["description"]) in line


def test_list_takes_no_spec() -> None:
    result = run_resgen("list", "resnet50")
    assert result.returncode == 2 and "Traceback" not in result.stderr
