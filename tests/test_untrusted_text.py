"""Nothing the spec says reaches the terminal or a document raw (issue 13, sections 7 and 4).

File names and values are data: control characters, bidirectional overrides, rich markup,
Markdown and LaTeX syntax in them are shown escaped, and an output encoding that cannot show a
character gets an escape instead of a crash.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SPECS, run_resgen

# Characters that drive a terminal or reorder text: C0 and C1 controls but the line feed, DEL,
# line and paragraph separators, bidirectional controls.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

HOSTILE_NAMES = {
    "ansi": "a\x1b[31mred\x1b[0m.yaml",
    "clear": "x\x1b[2J\x1b[H.yaml",
    "newline": "a\nb.yaml",
    "cr": "a\rb.yaml",
    "bell": "a\x07b.yaml",
    "bidi": "a\u202etxt.yaml",
    "separator": "a\u2028b.yaml",
}
BAD_SPEC = "name: t\nblock: {type: basic, groupz: 2}\nstages:\n  - {depth: 2, width: 64}\n"


def _assert_clean(text: str) -> None:
    found = RAW.findall(text)
    assert not found, (found, text)
    assert "Traceback" not in text and "internal error" not in text, text


@pytest.mark.parametrize("key", sorted(HOSTILE_NAMES))
def test_file_names_are_escaped_in_every_diagnostic_format(key: str, tmp_path: Path) -> None:
    name = HOSTILE_NAMES[key]
    (tmp_path / name).write_text(BAD_SPEC, encoding="utf-8")
    for output in ("text", "github", "json"):
        result = run_resgen("check", name, "-f", output, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        _assert_clean(result.stdout)
        _assert_clean(result.stderr)
    result = run_resgen("check", name, cwd=tmp_path)
    assert "error[unknown-key]" in result.stderr


@pytest.mark.parametrize("key", sorted(HOSTILE_NAMES))
def test_file_names_are_escaped_in_info_and_build(key: str, tmp_path: Path) -> None:
    name = HOSTILE_NAMES[key]
    shutil.copy(SPECS / "resnet18.yaml", tmp_path / name)
    for output in ("text", "markdown", "latex", "json"):
        result = run_resgen("info", name, "-f", output, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        _assert_clean(result.stdout)
        _assert_clean(result.stderr)
    result = run_resgen("build", name, "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _assert_clean(result.stderr)


@pytest.mark.parametrize(
    "path",
    ["nope\x1b[2J/x.yaml", "no\nsuch.yaml", "missing\u202e.json", "gone\x9b31m"],
)
def test_paths_that_do_not_exist_are_escaped_where_they_are_named(path: str) -> None:
    for command in ("check", "info", "build"):
        result = run_resgen(command, path)
        assert result.returncode in (1, 2), result.stderr
        _assert_clean(result.stderr)


@pytest.mark.parametrize(
    "value", ['"\\e[31mred"', '"a\\nb"', '"\\x07"', '"\\u202eevil"', '"\\x9b2J"']
)
def test_values_are_escaped_in_messages(value: str, tmp_path: Path) -> None:
    (tmp_path / "v.yaml").write_text(
        f"name: v\nact: {value}\nblock: {{type: basic, {value}: 1}}\nstages:\n"
        "  - {depth: 2, width: 64}\n",
        encoding="utf-8",
    )
    for output in ("text", "github"):
        result = run_resgen("check", "v.yaml", "-f", output, cwd=tmp_path)
        assert result.returncode == 1
        _assert_clean(result.stdout + result.stderr)


@pytest.mark.parametrize("name", ["a[/x].yaml", "[red]b.yaml", "[bold]c[/bold].yaml", "[/].yaml"])
def test_rich_markup_in_a_file_name_is_shown_as_written(name: str, tmp_path: Path) -> None:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)  # `a[/x]` is `x]` in `a[`
    shutil.copy(SPECS / "resnet18.yaml", tmp_path / name)
    result = run_resgen("info", name, cwd=tmp_path, env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert f"ResNet18 ({name})" in result.stdout, result.stdout


def test_markdown_and_latex_escape_the_file_name(tmp_path: Path) -> None:
    name = "x*[y](z)_<b>|\\%$&#{}~^\nend.yaml"
    shutil.copy(SPECS / "resnet18.yaml", tmp_path / name)
    shutil.copy(SPECS / "resnet18.yaml", tmp_path / "plain.yaml")
    plain = run_resgen("info", "plain.yaml", "-f", "latex", cwd=tmp_path)
    latex = run_resgen("info", name, "-f", "latex", cwd=tmp_path)
    assert latex.returncode == 0, latex.stderr
    # The newline does not end the comment: the document has as many lines as for a plain name.
    assert len(latex.stdout.splitlines()) == len(plain.stdout.splitlines())
    assert latex.stdout.splitlines()[0].startswith("% ResNet18 (x*[y](z)_<b>|\\%$&#{}~^\\nend")
    caption = next(line for line in latex.stdout.splitlines() if line.startswith("\\caption"))
    assert r"\_" in caption and r"\%" in caption and r"\&" in caption and r"\#" in caption
    markdown = run_resgen("info", name, "-f", "markdown", cwd=tmp_path)
    title = markdown.stdout.splitlines()[0]
    assert title.startswith(r"**ResNet18 (x\*\[y\](z)\_\<b\>\|"), title
    assert "\\nend" in title


@pytest.mark.parametrize("encoding", ["ascii", "cp1252", "latin-1"])
def test_an_encoding_that_cannot_show_a_character_gets_escapes(
    encoding: str, tmp_path: Path
) -> None:
    name = "réseau_✓_日本.yaml"
    (tmp_path / name).write_text(
        BAD_SPEC.replace("name: t", "name: t\ndescription: 残差 ✓"), encoding="utf-8"
    )
    shutil.copy(SPECS / "resnet18.yaml", tmp_path / "ok_✓.yaml")
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    env.pop("RESGEN_DEBUG", None)

    def run(*args: str) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "resgen", *args], cwd=tmp_path, env=env,
            capture_output=True, check=False, timeout=120,
        )  # fmt: skip
        return done.returncode, done.stderr.decode(encoding)  # it must be valid in `encoding`

    for args, code in (
        (("check", name), 1),
        (("check", name, "-f", "github"), 1),
        (("info", "ok_✓.yaml"), 0),
        (("info", "ok_✓.yaml", "-f", "markdown"), 0),
        (("build", "ok_✓.yaml", "-o", "out"), 0),
    ):
        returncode, stderr = run(*args)
        assert returncode == code, (args, stderr)
        assert "Traceback" not in stderr and "internal error" not in stderr
    assert "\\u2713" in run("check", name)[1]  # the check mark, escaped


def test_the_rebuild_advice_is_quoted_for_the_shell(tmp_path: Path) -> None:
    name = "my spec $(touch pwned) 'q'.yaml"
    shutil.copy(SPECS / "resnet18.yaml", tmp_path / name)
    out = "out dir;x"
    assert run_resgen("build", name, "-o", out, cwd=tmp_path).returncode == 0
    (tmp_path / "resnet18.yaml").write_text(
        (SPECS / "resnet18.yaml").read_text().replace("ResNet-18", "Changed"), encoding="utf-8"
    )
    shutil.copy(tmp_path / "resnet18.yaml", tmp_path / name)
    result = run_resgen("build", name, "-o", out, "--check", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    advice = next(line for line in result.stderr.splitlines() if "run: " in line)
    command = advice.split("run: ", 1)[1]
    assert shlex.split(command) == ["resgen", "build", name, "-o", out]
