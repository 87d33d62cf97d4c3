"""`extends` cannot be used to read files (issue 13, section 1), and its paths never crash.

A spec from a stranger's pull request may name any path as its base. Whatever it names, resgen
reads only .yaml/.yml/.json regular files inside the allowed root, and a refusal quotes nothing
from the file. Each case runs the real CLI, in text and in GitHub-annotation form.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import resgen
from resgen.cli import main
from resgen.diagnostics import ResgenError
from tests.conftest import run_resgen

SECRET = "TOP-SECRET-7f3a"  # must never appear in anything resgen prints
BASE = "name: base\nblock: {type: basic}\nstages:\n  - {depth: 1, width: 16}\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """tmp/secrets/ (outside the root) beside tmp/repo/ (the root: the spec's folder and cwd)."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "creds.env").write_text(f"TOKEN={SECRET}\n")
    (secrets / "creds.yaml").write_text(f"name: {SECRET}\nstages: oops {SECRET}\n")
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "notes.txt").write_text(f"{SECRET}: 1\n")
    (repo / "base.yaml").write_text(BASE)
    (repo / "dir.yaml").mkdir()
    (repo / "leaves.yaml").symlink_to(secrets / "creds.yaml")
    (repo / "renamed.yaml").symlink_to(repo / "notes.txt")
    (repo / "etc.yaml").symlink_to("/etc/passwd")
    (repo / "environ.yaml").symlink_to("/proc/self/environ")
    os.mkfifo(repo / "fifo.yaml")
    return repo


REFUSED = {
    # outside the root, or not a spec suffix (or both)
    "../secrets/creds.env": "only .yaml, .yml and .json files can be bases",
    "../secrets/creds.yaml": "outside the folder",
    "sub/../../secrets/creds.yaml": "outside the folder",
    "/etc/shadow": "only .yaml",
    "/etc/passwd": "only .yaml",
    "/proc/self/environ": "only .yaml",
    "/dev/zero": "only .yaml",
    "/nonexistent/x.yaml": "outside the folder",  # refused before looking: no existence probe
    "notes.txt": "only .yaml",
    # symlinks that leave the root or lead to another kind of file
    "leaves.yaml": "a symlink in it leads outside",
    "etc.yaml": "a symlink in it leads outside",
    "environ.yaml": "a symlink in it leads outside",
    "renamed.yaml": "a symlink to a file that is not .yaml",
    # not regular files
    "dir.yaml": "it is a directory",
    "fifo.yaml": "it is a FIFO",
    "sub/": "only .yaml",
}


@pytest.mark.parametrize("reference", sorted(REFUSED))
@pytest.mark.parametrize("output", ["text", "github"])
def test_a_base_outside_the_rules_is_refused_and_quoted_nowhere(
    project: Path, reference: str, output: str
) -> None:
    (project / "child.yaml").write_text(f"extends: {reference}\nname: child\n")
    result = run_resgen(
        "check", "child.yaml", "-f", output, cwd=project, env={"LEAK": SECRET}, timeout=30
    )
    shown = result.stdout + result.stderr
    assert result.returncode == 1, shown
    assert "extends-refused" in shown and REFUSED[reference] in shown, shown
    assert reference.rstrip("/") in shown  # the diagnostic names the path
    assert SECRET not in shown
    assert "Traceback" not in shown and "internal error" not in shown


def test_refusal_in_every_command_and_in_the_api(project: Path) -> None:
    (project / "child.yaml").write_text("extends: ../secrets/creds.yaml\nname: child\n")
    for argv in (["info"], ["draw", "-o", "-"], ["resolve"], ["diff", "resnet18"],
                 ["build", "-o", "out"], ["probe"]):  # fmt: skip
        result = run_resgen(*argv, "child.yaml", cwd=project)
        assert result.returncode == 1, (argv, result.stderr)
        assert "extends-refused" in result.stderr and SECRET not in result.stderr, argv
    assert not (project / "out").exists()
    with pytest.raises(ResgenError) as exc:
        resgen.load_spec({"extends": str(project.parent / "secrets" / "creds.yaml"), "name": "m"})
    assert [d.code for d in exc.value.diagnostics] == ["extends-refused"]


def test_extends_root_widens_the_root_on_purpose(project: Path) -> None:
    (project.parent / "secrets" / "shared.yaml").write_text(BASE)
    (project / "child.yaml").write_text("extends: ../secrets/shared.yaml\nname: child\n")
    refused = run_resgen("check", "child.yaml", cwd=project)
    assert refused.returncode == 1 and "extends-refused" in refused.stderr
    widened = run_resgen("check", "child.yaml", "--extends-root", "../secrets", cwd=project)
    assert widened.returncode == 0, widened.stderr
    for command in (["resolve"], ["info"], ["draw", "-o", "-"], ["build", "-o", "out"]):
        again = run_resgen(*command, "child.yaml", "--extends-root", "..", cwd=project)
        assert again.returncode == 0, (command, again.stderr)
    spec = resgen.load_spec(project / "child.yaml", extends_root=project.parent).spec
    assert spec.name == "child"
    # A wider root still reads only spec files.
    (project / "child.yaml").write_text("extends: ../secrets/creds.env\nname: child\n")
    still = run_resgen("check", "child.yaml", "--extends-root", "..", cwd=project)
    assert still.returncode == 1 and SECRET not in still.stderr
    bad_root = run_resgen("check", "child.yaml", "--extends-root", "nowhere", cwd=project)
    assert bad_root.returncode == 2 and "not a directory" in bad_root.stderr


def test_default_root_is_the_current_folder_when_it_holds_the_spec(tmp_path: Path) -> None:
    (tmp_path / "common").mkdir()
    (tmp_path / "specs").mkdir()
    (tmp_path / "common" / "base.yaml").write_text(BASE)
    (tmp_path / "specs" / "a.yaml").write_text("extends: ../common/base.yaml\nname: a\n")
    (tmp_path / "specs" / "b.yaml").write_text("extends: a.yaml\nname: b\n")  # a sibling
    assert run_resgen("check", "specs", cwd=tmp_path).returncode == 0
    # From specs/ (or from a folder that does not hold the spec), the root is specs/ itself.
    inner = run_resgen("check", ".", cwd=tmp_path / "specs")
    assert (
        inner.returncode == 1 and inner.stderr.count("extends-refused") == 2
    )  # a, and b through a
    (tmp_path / "elsewhere").mkdir()
    outside = run_resgen("check", str(tmp_path / "specs" / "b.yaml"), cwd=tmp_path / "elsewhere")
    assert outside.returncode == 1 and "extends-refused" in outside.stderr


def test_builtin_bases_keep_working(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("extends: resnet50d\nname: a\nstages: {3: {depth: 23}}\n")
    (tmp_path / "elsewhere").mkdir()
    result = run_resgen("check", str(tmp_path / "a.yaml"), cwd=tmp_path / "elsewhere")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "content",
    [
        f"name: x\x00{SECRET}\n".encode(),  # binary
        f"name: \xff\xfe{SECRET}\n".encode("latin-1"),  # not UTF-8
        b"\xff\xfe" + f"name: {SECRET}\n".encode("utf-16-le"),  # UTF-16
    ],
    ids=["nul", "latin1", "utf16"],
)
def test_a_binary_base_is_described_not_echoed(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "base.yaml").write_bytes(content)
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: child\n")
    for output in ("text", "github", "json"):
        result = run_resgen("check", "child.yaml", "-f", output, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        shown = result.stdout + result.stderr
        assert SECRET not in shown and "base.yaml" in shown, shown
        assert "Traceback" not in shown


def test_a_text_base_inside_the_root_is_reported_with_its_lines(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("name: base\nblock: {type: basik}\nstages: [{depth: 1}]\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: child\n")
    result = run_resgen("check", "child.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "base.yaml:2:15: error[invalid-value]" in result.stderr
    assert "  2 | block: {type: basik}" in result.stderr


@pytest.mark.parametrize("chain", ["direct", "through a base"])
def test_symlink_loops_in_an_extends_chain(tmp_path: Path, chain: str) -> None:
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    (tmp_path / "ping.yaml").symlink_to("pong.yaml")
    (tmp_path / "pong.yaml").symlink_to("ping.yaml")
    (tmp_path / "mid.yaml").write_text("extends: ping.yaml\nname: mid\n")
    target = "loop.yaml" if chain == "direct" else "mid.yaml"
    (tmp_path / "child.yaml").write_text(f"extends: {target}\nname: child\n")
    result = run_resgen("check", "child.yaml", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "symlink loop" in result.stderr and "error[unreadable]" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def _deny(monkeypatch: pytest.MonkeyPatch, name: str, where: str) -> None:
    """Make `os.open` (or `os.stat`) of files called `name` fail as for another user's file."""
    real = getattr(os, where)

    def denied(path: object, *args: object, **kwargs: object) -> object:
        if os.fspath(path).endswith(name):  # type: ignore[call-overload]
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))  # type: ignore[call-overload]
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, where, denied)


@pytest.mark.parametrize("where", ["open", "stat"])
def test_permission_denied_on_a_base(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    # Tests run as root here, where chmod 000 denies nothing: the denial is simulated in-process.
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: child\n")
    monkeypatch.chdir(tmp_path)
    _deny(monkeypatch, "base.yaml", where)
    assert main(["check", "child.yaml"]) == 1
    err = capsys.readouterr().err
    assert "child.yaml:1:10: error[unreadable]" in err and "permission denied" in err, err
    assert "hint: make the file" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_on_a_base_for_real(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "base.yaml").chmod(0)
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: child\n")
    result = run_resgen("check", "child.yaml", cwd=tmp_path)
    assert result.returncode == 1 and "permission denied" in result.stderr


@pytest.mark.parametrize(
    "key",
    [
        "²",
        "٣",
        "\uff11",
        "⑶",
        "3.0",
        "-1",
        "+2",
        " 2",
        "0",
        "5",
        "1" * 4000,
        10**30,
        0,
        -2,
        True,
        2.0,
    ],
    ids=repr,
)
def test_stage_patch_keys_are_plain_ascii_numbers(key: object) -> None:
    patch = {"extends": "resnet18", "name": "m", "stages": {key: {"depth": 3}}}
    with pytest.raises(ResgenError) as exc:
        resgen.load_spec(patch)
    (d,) = exc.value.diagnostics
    assert d.code == "extends-stage" and len(d.message) < 200, d.message


@pytest.mark.parametrize("key", ["3", "03", 3])
def test_a_plain_stage_number_patches_its_stage(key: object) -> None:
    patch = {"extends": "resnet18", "name": "m", "stages": {key: {"depth": 5}}}
    assert resgen.load_spec(patch).spec.stages[2].depth == 5
