"""Bad input never crashes the CLI: every command, every corpus spec, machine-readable outputs,
exit codes, internal errors, and the inputs built to exhaust time or memory."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

import resgen.pipeline
from resgen.api import compile_source
from resgen.cli import main
from tests.conftest import ROOT, SPECS, run_resgen
from tests.test_diagnostics import CASES, INVALID, _cwd

# Corpus specs whose report has a source line: one of each kind of mistake.
SAMPLES = [
    "yaml_syntax.yaml",
    "json_trailing_comma.json",
    "unknown_key_nested.yaml",
    "many_errors.yaml",
    "identity_two_stages.yaml",
    "groups_not_dividing.yaml",
    "alias_bomb.yaml",
    "extends_missing_builtin.yaml",
]
_HEADER = re.compile(
    r"^(?P<file>\S+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)\[(?P<code>[a-z-]+)\]"
)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with _cwd(ROOT):
        code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _headers(text: str) -> list[tuple[str, int, int, str]]:
    found = []
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            found.append((match["file"], int(match["line"]), int(match["col"]), match["code"]))
    return found


@pytest.mark.parametrize("name", SAMPLES)
def test_json_output_matches_text(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = f"tests/specs/invalid/{name}"
    code, _, text = _run(["check", spec], capsys)
    json_code, out, err = _run(["check", spec, "-f", "json"], capsys)
    assert code == json_code == 1
    assert err == ""  # machine output only, on stdout
    report = json.loads(out)
    (entry,) = report["files"]
    assert entry["file"] == spec and entry["ok"] is False
    got = [(d["file"], d["line"], d["column"], d["code"]) for d in entry["diagnostics"]]
    assert got == _headers(text)
    for d in entry["diagnostics"]:
        assert d["severity"] in ("error", "warning") and d["message"] and d["hint"]


@pytest.mark.parametrize("name", SAMPLES)
def test_github_annotations_match_text(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = f"tests/specs/invalid/{name}"
    _, _, text = _run(["check", spec], capsys)
    code, out, _ = _run(["check", spec, "-f", "github"], capsys)
    assert code == 1
    annotation = re.compile(
        r"^::(?P<sev>error|warning) file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),"
        r"title=resgen (?P<code>[a-z-]+)::(?P<message>.+)$"
    )
    got = []
    for line in out.splitlines():
        match = annotation.match(line)
        assert match, line  # one line per diagnostic: newlines in messages are %0A-escaped
        got.append((match["file"], int(match["line"]), int(match["col"]), match["code"]))
    assert got == _headers(text)


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_every_command_reports_bad_specs(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = path.relative_to(ROOT).as_posix()
    out_dir = tmp_path / "out"
    for args in (
        ["build", spec, "-o", str(out_dir)],
        ["build", spec, "-o", str(out_dir), "--check"],
        ["info", spec],
        ["info", spec, "-f", "json"],
        ["draw", spec, "-o", "-"],
        ["diff", spec, "resnet18"],
    ):
        code, out, err = _run(args, capsys)
        assert code == 1, (args, out, err)
        assert "internal error" not in err and "Traceback" not in err, (args, err)
        assert "error[" in err, (args, err)
    assert not out_dir.exists()  # a failed build writes nothing
    # `resolve` only merges and validates: a spec whose graph checks fail still resolves.
    code, out, err = _run(["resolve", spec], capsys)
    assert code in (0, 1) and "internal error" not in err and "Traceback" not in err


def test_internal_error_asks_for_a_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("the analysis fell over")

    monkeypatch.setattr(resgen.pipeline, "check", broken)
    monkeypatch.delenv("RESGEN_DEBUG", raising=False)
    code, _, err = _run(["check", "specs/resnet18.yaml"], capsys)
    assert code == 2
    assert "internal error: RuntimeError: the analysis fell over" in err
    assert "please report it" in err and "not in your spec" in err
    assert "Traceback" not in err and "RESGEN_DEBUG=1" in err
    monkeypatch.setenv("RESGEN_DEBUG", "1")
    code, _, err = _run(["check", "specs/resnet18.yaml"], capsys)
    assert code == 2 and "Traceback (most recent call last)" in err


def test_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["check", "specs/resnet18.yaml"], capsys)[0] == 0
    assert _run(["check", "tests/specs/invalid/unknown_key.yaml"], capsys)[0] == 1
    assert _run(["check", "tests/specs/invalid/no_such_file.yaml"], capsys)[0] == 1
    with pytest.raises(SystemExit) as usage:
        main(["check"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as usage:
        main(["check", "specs", "-f", "xml"])
    assert usage.value.code == 2


def test_no_traceback_from_a_subprocess_for_the_whole_corpus() -> None:
    for command in (("check",), ("build", "--check")):
        result = run_resgen(*command[:1], "tests/specs/invalid", *command[1:])
        assert result.returncode == 1
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr


# --- inputs built to exhaust time or memory -----------------------------------------------------

_MEASURE = """
import resource, sys, time
from pathlib import Path
from resgen.diagnostics import ResgenError
from resgen.spec.load import load_spec_file
start = time.perf_counter()
try:
    load_spec_file(Path(sys.argv[1]))
    print("ok")
except ResgenError as exc:
    print(exc.diagnostics[0].code)
print(time.perf_counter() - start)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""


def _measure(path: Path) -> tuple[str, float, float]:
    """Load a spec in a fresh interpreter; return its first code, seconds and peak MiB."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    code, seconds, peak = result.stdout.split()
    return code, float(seconds), int(peak) / 1024


def _bomb(levels: int, width: int) -> str:
    lines = ['name: &k0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"k{i}: &k{i} [" + ", ".join([f"*k{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [9, 30])
def test_alias_bomb_is_refused_quickly_in_bounded_memory(levels: int, tmp_path: Path) -> None:
    # 9 levels of 9 expand to 3.9e8 nodes; 30 levels of 10 to 1e30: the cost must not care.
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(levels, 9 if levels == 9 else 10))
    baseline = _measure(SPECS / "resnet18.yaml")
    code, seconds, peak = _measure(path)
    assert code == "too-many-nodes"
    # Generous bounds that only an expansion could break: expanding even 1e8 nodes takes
    # gigabytes and minutes. (Loading a real spec in the same way is the baseline.)
    assert peak < baseline[2] + 100, (peak, baseline)
    assert seconds < 10, seconds


def test_oversized_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.write(b"name: big\n")
        handle.seek(200_000_000)  # a sparse 200 MB file: reading it all would show in the peak
        handle.write(b"\n")
    baseline = _measure(SPECS / "resnet18.yaml")
    code, _, peak = _measure(path)
    assert code == "file-too-large"
    assert peak < baseline[2] + 50, (peak, baseline)


def test_limits_are_warnings_and_cheap(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Every field at its maximum: validation accepts it, the count warns, nothing allocates."""
    spec = tmp_path / "max.yaml"
    spec.write_text(
        "name: widest\n"
        "input: {channels: 65536, size: 16384}\n"
        "stem: {type: deep, widths: [65536, 65536, 65536]}\n"
        "block: {type: bottleneck, expansion: 64, base_width: 65536, groups: 65536}\n"
        "stages:\n"
        "  - {depth: 2, width: 65536, stride: 64, dilation: 64}\n"
        "  - {depth: 2, width: 65536, stride: 64}\n"
        "head: {classes: 1000000}\n"
    )
    code, _, err = _run(["check", str(spec)], capsys)
    assert code == 0
    assert "warning[huge-model]" in err
    code, out, err = _run(["info", str(spec), "-f", "json"], capsys)
    assert code == 0 and json.loads(out)


# --- files that must work ----------------------------------------------------------------------


def _text_without_hash(source: str) -> str:
    return re.sub(r"\(sha256 [0-9a-f]{64}\)", "(sha256 ...)", source)


@pytest.mark.parametrize(
    "transform",
    [
        lambda b: b"\xef\xbb\xbf" + b,
        lambda b: b.replace(b"\n", b"\r\n"),
        lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n"),
    ],
    ids=["bom", "crlf", "bom-crlf"],
)
def test_bom_and_crlf_specs_build_the_same_model(transform: object, tmp_path: Path) -> None:
    assert callable(transform)
    original = (SPECS / "resnet50.yaml").read_bytes()
    path = tmp_path / "resnet50.yaml"
    path.write_bytes(transform(original))
    with _cwd(tmp_path):
        got = compile_source("resnet50.yaml")
    (tmp_path / "plain.yaml").write_bytes(original)
    with _cwd(tmp_path):
        want = compile_source("plain.yaml").replace("from plain.yaml", "from resnet50.yaml")
    assert _text_without_hash(got) == _text_without_hash(want)


def test_yaml_merge_keys_override_without_duplicate_errors(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(
        "name: merged\n"
        "block: {type: basic}\n"
        "stages:\n"
        "  - &stage {depth: 2, width: 64}\n"
        "  - {<<: *stage, width: 128, stride: 2}\n"
        "  - {<<: [*stage], width: 256, stride: 2}\n"
    )
    with _cwd(tmp_path):
        source = compile_source("merge.yaml")
    assert "BasicBlock(64, 128, 128, stride=2, downsample=True)" in source
    assert "BasicBlock(128, 256, 256, stride=2, downsample=True)" in source


def test_bytes_corpus_has_no_stale_expected_files() -> None:
    from tests.test_diagnostics import BYTES

    expected = {p.name.removesuffix(".expected") for p in (INVALID / "bytes").iterdir()}
    assert expected == set(BYTES)


def test_corpus_is_large_and_every_case_has_an_expected_file() -> None:
    assert len(CASES) >= 45
    for path in CASES:
        assert path.with_name(path.name + ".expected").is_file(), path.name
    orphans = [
        p.name
        for p in INVALID.glob("*.expected")
        if not (INVALID / p.name.removesuffix(".expected")).is_file()
    ]
    assert not orphans
    assert os.path.isdir(INVALID / "bytes")
