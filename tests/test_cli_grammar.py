"""One CLI grammar (issue 14, section 3): `-f/--format` is what to write, `-o/--output` is where.

Every behaviour runs the real CLI in a subprocess: the shared options on every command, -o FILE
for the commands that print a report, the 0.1 spellings (with their warnings), several specs and
folders for info, draw, resolve and probe, check's stdout/stderr split, resolve --defaults, and
the probe's laptop-sized defaults.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

import resgen
from resgen.cli.parser import COMMANDS
from tests.conftest import SPECS, run_resgen

BROKEN = "tests/golden/specs/broken_identity.yaml"

# A report command's arguments, and the exit code they give (diff: 1, the specs differ).
REPORTS: dict[str, tuple[list[str], int]] = {
    "check": (["check", "resnet18", BROKEN], 1),
    "info": (["info", "resnet18", "resnet20"], 0),
    "diff": (["diff", "resnet18", "resnet34"], 1),
    "resolve": (["resolve", "resnet50d", "--defaults"], 0),
    "list": (["list"], 0),
    "schema": (["schema"], 0),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder of two small specs."""
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in ("resnet20", "plain20"):
        shutil.copy(SPECS / f"{name}.yaml", specs)
    return specs


# --- the shared options -------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_format_and_output(command: str) -> None:
    result = run_resgen(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "-f {" in result.stdout and "--format {" in result.stdout
    assert "-o " in result.stdout and "--output " in result.stdout
    assert "--out " not in result.stdout  # the 0.1 spelling works but is not advertised


@pytest.mark.parametrize("command", sorted(REPORTS))
def test_output_file_holds_what_stdout_would(command: str, tmp_path: Path) -> None:
    args, code = REPORTS[command]
    fmt = ["-f", "json"] if command not in ("resolve",) else ["-f", "yaml"]
    printed = run_resgen(*args, *fmt)
    target = tmp_path / "report.out"
    written = run_resgen(*args, *fmt, "-o", str(target))
    assert printed.returncode == written.returncode == code, written.stderr
    assert written.stdout == "" and printed.stdout
    assert target.read_text(encoding="utf-8") == printed.stdout
    assert f"wrote {target}" in written.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["report.out"]  # no temporary file left


@pytest.mark.parametrize("command", sorted(REPORTS))
def test_output_folder_for_a_report_is_a_usage_error(command: str, tmp_path: Path) -> None:
    args, _ = REPORTS[command]
    result = run_resgen(*args, "-o", f"{tmp_path}/")
    assert result.returncode == 2
    assert "error[output-is-folder]" in result.stderr and "hint: name a file" in result.stderr
    assert not list(tmp_path.iterdir())


def test_no_output_file_when_nothing_was_reported(tmp_path: Path) -> None:
    result = run_resgen("info", "no_such_spec", "-o", str(tmp_path / "info.txt"))
    assert result.returncode == 1 and "error[no-such-spec]" in result.stderr
    assert not list(tmp_path.iterdir())


def test_an_unknown_format_is_a_usage_error() -> None:
    for command in ("check", "info", "diff", "resolve", "probe", "build", "draw", "list"):
        argv = [command, *(["resnet18"] * (command != "list")), *(["x"] * (command == "diff"))]
        result = run_resgen(*argv, "-f", "html")
        assert result.returncode == 2, command
        assert "argument -f/--format: invalid choice: 'html'" in result.stderr
        assert "Traceback" not in result.stderr


# --- the 0.1 spellings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fmt"),
    [
        (["check", "resnet18"], "json"),
        (["check", "resnet18"], "github"),
        (["info", "resnet18"], "markdown"),
        (["diff", "resnet18", "resnet34"], "json"),
        (["resolve", "resnet18"], "json"),
    ],
)
@pytest.mark.parametrize("flag", ["-o", "--output"])
def test_old_output_format_still_works_and_warns(args: list[str], fmt: str, flag: str) -> None:
    new = run_resgen(*args, "-f", fmt)
    old = run_resgen(*args, flag, fmt)
    assert old.returncode == new.returncode and old.stdout == new.stdout
    assert "warning" not in new.stderr
    assert f"warning: `{flag} {fmt}` as a format is deprecated" in old.stderr
    assert f"use `-f {fmt}`" in old.stderr and f"`-o ./{fmt}` writes one called {fmt}" in old.stderr


def test_a_path_that_looks_like_a_format_is_a_file(tmp_path: Path) -> None:
    result = run_resgen("info", "resnet18", "-o", "./json", cwd=tmp_path)
    assert result.returncode == 0 and "warning" not in result.stderr
    assert (tmp_path / "json").read_text(encoding="utf-8").count("ResNet18") == 1


def test_old_long_out_still_works_and_warns(tmp_path: Path) -> None:
    runs = {
        "build": (["build", "resnet20", "--out", str(tmp_path / "gen")], tmp_path / "gen"),
        "draw": (["draw", "resnet20", "--out", str(tmp_path / "r.dot")], tmp_path / "r.dot"),
        "schema": (["schema", "--out", str(tmp_path / "s.json")], tmp_path / "s.json"),
    }
    for command, (argv, made) in runs.items():
        result = run_resgen(*argv)
        assert result.returncode == 0, (command, result.stderr)
        assert "warning: `--out` is deprecated" in result.stderr and "use `-o`/`--output`" in (
            result.stderr
        )
        assert made.exists(), command


def test_build_into_a_folder_named_like_a_format(tmp_path: Path) -> None:
    """build's -o was always a folder, so `-o json` still is one; it says what -f would be."""
    first = run_resgen("build", "resnet20", "-o", "json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "json" / "resnet20.py").is_file()
    assert "warning: writing into a new folder json/" in first.stderr
    assert "that is `-f json`" in first.stderr
    again = run_resgen("build", "resnet20", "-o", "json", cwd=tmp_path)  # it exists now: meant
    assert again.returncode == 0 and "warning" not in again.stderr


def test_build_json_lists_every_file(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    built = run_resgen("build", "resnet20", "plain20", "no_such_spec", "-f", "json", "-o", str(out))
    assert built.returncode == 1 and "error[no-such-spec]" in built.stderr
    files = json.loads(built.stdout)["files"]
    assert [(f["file"], f["status"]) for f in files] == [
        (str(out / "resnet20.py"), "wrote"),
        (str(out / "plain20.py"), "wrote"),
    ]
    check = run_resgen("build", "resnet20", "-f", "json", "-o", str(out), "--check")
    assert check.returncode == 0
    assert json.loads(check.stdout)["files"][0]["status"] == "current"


# --- several specs ------------------------------------------------------------------------------


def test_info_takes_several_specs_and_folders(folder: Path) -> None:
    text = run_resgen("info", str(folder), "resnet18", "-f", "markdown")
    assert text.returncode == 0, text.stderr
    titles = [line for line in text.stdout.splitlines() if line.startswith("**")]
    assert [title.split(" ")[0] for title in titles] == ["**Plain20", "**ResNet20", "**ResNet18"]
    assert "\n\n**ResNet20" in text.stdout and "\n\n\n" not in text.stdout  # one blank line
    data = json.loads(run_resgen("info", str(folder), "resnet18", "-f", "json").stdout)
    assert list(data) == [str(folder / "plain20.yaml"), str(folder / "resnet20.yaml"),
                          "<builtin>/resnet18.yaml"]  # fmt: skip
    assert data["<builtin>/resnet18.yaml"]["params"] == 11_689_512
    one = json.loads(run_resgen("info", "resnet18", "-f", "json").stdout)
    assert one["params"] == 11_689_512  # one spec named alone: its object, as before


def test_info_reports_a_failing_spec_and_prints_the_others() -> None:
    result = run_resgen("info", "resnet20", "no_such_spec", BROKEN, "resnet18", "-f", "json")
    assert result.returncode == 1
    assert "error[no-such-spec]" in result.stderr and "error[shortcut-shape]" in result.stderr
    assert set(json.loads(result.stdout)) == {
        "<builtin>/resnet20.yaml",
        BROKEN,  # checked with errors: its numbers are still printed
        "<builtin>/resnet18.yaml",
    }


def test_resolve_takes_several_specs(folder: Path) -> None:
    result = run_resgen("resolve", str(folder), "resnet18")
    assert result.returncode == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    assert [d["name"] for d in documents] == ["plain20", "resnet20", "resnet18"]
    assert result.stdout.startswith(f"# {folder / 'plain20.yaml'}\nname: plain20\n")
    assert "---\n# <builtin>/resnet18.yaml\nname: resnet18\n" in result.stdout
    data = json.loads(run_resgen("resolve", "resnet18", "resnet20", "-f", "json").stdout)
    assert {key: value["name"] for key, value in data.items()} == {
        "<builtin>/resnet18.yaml": "resnet18",
        "<builtin>/resnet20.yaml": "resnet20",
    }
    failing = run_resgen("resolve", "no_such_spec", "resnet18")
    assert failing.returncode == 1 and "name: resnet18" in failing.stdout


def test_draw_takes_several_specs_into_a_folder(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "pics"
    result = run_resgen("draw", str(folder), "resnet18", "-f", "dot", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["plain20.dot", "resnet18.dot", "resnet20.dot"]
    here = run_resgen("draw", "resnet20", "plain20", "-f", "dot", "--detail", "stage", cwd=out)
    assert here.returncode == 0, here.stderr  # no -o: the current folder, as for one spec
    assert "wrote resnet20.dot (stage detail)" in here.stderr


def test_draw_several_specs_into_one_file_is_refused(tmp_path: Path) -> None:
    for out in (str(tmp_path / "both.svg"), "-"):
        result = run_resgen("draw", "resnet20", "plain20", "-o", out)
        assert result.returncode == 2
        assert "error[one-output]" in result.stderr and "names one drawing" in result.stderr
        assert "hint: give a folder (-o drawings/)" in result.stderr
        assert result.stdout == ""
    assert not list(tmp_path.iterdir())


def test_draw_reports_a_failing_spec_and_draws_the_others(tmp_path: Path) -> None:
    result = run_resgen("draw", "no_such_spec", "resnet20", "-f", "dot", "-o", f"{tmp_path}/")
    assert result.returncode == 1 and "error[no-such-spec]" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["resnet20.dot"]


def test_draw_format_and_output_agree(tmp_path: Path) -> None:
    clash = run_resgen("draw", "resnet20", "-o", str(tmp_path / "x.svg"), "-f", "dot")
    assert clash.returncode == 2 and "error[format-conflict]" in clash.stderr
    assert "hint: drop -f, or end the file name in .dot" in clash.stderr
    unnamed = run_resgen("draw", "resnet20", "-o", str(tmp_path / "drawing"), "-f", "dot")
    assert unnamed.returncode == 0  # -f names the format of a file without an extension
    assert (tmp_path / "drawing").read_text(encoding="utf-8").startswith('digraph "resnet20"')
    dot = run_resgen("draw", "resnet20", "-o", "-")
    assert dot.stdout.startswith('digraph "resnet20"')  # -o - prints the DOT text, as before


# --- check: results on stdout, diagnostics on stderr --------------------------------------------


def test_check_results_on_stdout_diagnostics_on_stderr() -> None:
    result = run_resgen("check", "specs/resnet18.yaml", BROKEN)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("specs/resnet18.yaml: ok (11,689,512 params")
    assert result.stdout.splitlines()[-1] == "checked 2 specs: 1 with errors"
    assert "error[" not in result.stdout
    assert f"{BROKEN}:" in result.stderr and "error[shortcut-shape]" in result.stderr
    assert ": ok (" not in result.stderr and "checked 2" not in result.stderr


# --- resolve --defaults -------------------------------------------------------------------------

# Spec families between them use every derived default: conv7/cifar/deep stems, basic and
# bottleneck blocks, groups, preact, plain stages, SE and ECA, group norm.
DERIVED = ("resnet18", "resnet50d", "resnet20", "plain20", "resnext50_32x4d",
           "preact_resnet164", "seresnet50", "ecaresnet50d", "resnet50_gn")  # fmt: skip


def test_resolve_defaults_prints_the_values_used() -> None:
    result = run_resgen("resolve", *DERIVED, "--defaults", "-f", "json")
    assert result.returncode == 0, result.stderr
    for spec in json.loads(result.stdout).values():
        stem, block = spec["stem"], spec["block"]
        assert spec["class_name"] and stem["pool"] in ("max", "none")
        assert stem.get("width") or stem["type"] == "deep"
        assert len(stem.get("widths") or [0, 0, 0]) == 3 and block["expansion"] in (1, 4)
        for stage in spec["stages"]:
            assert None not in (stage["block"], stage["groups"], stage["shortcut"]), spec["name"]


def _without_source(code: str) -> list[str]:
    """Generated code less the lines that name its source and the source's digest."""
    return [line for line in code.splitlines() if not ("sha256" in line or "resgen from" in line)]


def test_resolve_defaults_is_the_same_network() -> None:
    """Written out with every default, each spec compiles to the very same model."""
    data = json.loads(run_resgen("resolve", *DERIVED, "--defaults", "-f", "json").stdout)
    for name, spec in zip(DERIVED, data.values(), strict=True):
        same = [_without_source(resgen.compile_source(source)) for source in (name, spec)]
        assert same[0] == same[1], name
    resnet50d = data["<builtin>/resnet50d.yaml"]
    assert resnet50d["stem"] == {"type": "deep", "widths": [32, 32, 64], "pool": "max",
                                 "norm": True}  # fmt: skip
    assert resnet50d["block"]["expansion"] == 4 and resnet50d["class_name"] == "ResNet50d"
    plain20 = data["<builtin>/plain20.yaml"]
    assert {s["shortcut"] for s in plain20["stages"]} == {"none"}
    assert plain20["stem"] == {"type": "cifar", "width": 16, "pool": "none", "norm": True}


# --- probe: several specs, laptop defaults -------------------------------------------------------


def test_probe_defaults_suit_a_laptop() -> None:
    pytest.importorskip("torch")
    help_text = run_resgen("probe", "--help").stdout
    assert "default 8" in " ".join(help_text.split())
    assert "at most 64" in " ".join(help_text.split())
    result = run_resgen("probe", "resnet18", "resnet20", "-f", "json", timeout=600)
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)["runs"]
    assert [(r["spec"], r["batch"], r["size"]) for r in runs] == [
        ("resnet18", 8, [64, 64]),  # 224 px capped at 64
        ("resnet20", 8, [32, 32]),  # its own 32 px
    ]


def test_probe_takes_folders_and_a_size(folder: Path) -> None:
    pytest.importorskip("torch")
    result = run_resgen(
        "probe", str(folder), "no_such_spec", "--size", "16x24", "--batch", "2", "-f", "json",
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 1 and "error[no-such-spec]" in result.stderr
    runs = json.loads(result.stdout)["runs"]
    assert [(r["spec"], r["size"]) for r in runs] == [("plain20", [16, 24]), ("resnet20", [16, 24])]


def test_probe_old_output_format_still_works_and_warns() -> None:
    pytest.importorskip("torch")
    old = run_resgen("probe", "resnet20", "--batch", "2", "-o", "json", timeout=600)
    assert old.returncode == 0, old.stderr
    assert json.loads(old.stdout)["runs"][0]["batch"] == 2
    assert "warning: `-o json` as a format is deprecated" in old.stderr


def test_probe_size_mistakes_are_usage_errors() -> None:
    for size in ("0", "8x8x8", "big", "99999"):
        result = run_resgen("probe", "resnet20", "--size", size)
        assert result.returncode == 2 and "argument --size" in result.stderr, size
        assert "Traceback" not in result.stderr
