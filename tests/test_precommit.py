"""The pre-commit hooks, run by the real pre-commit against a temporary project, offline.

The hook repository is a git copy of this project's working tree, referenced by path and rev as a
user's `.pre-commit-config.yaml` would reference GitHub; pre-commit installs resgen from it into
an isolated environment (`language: python`) with pip, as it would for a user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# What a hook repository needs to `pip install .`: the package, its data and its metadata.
HOOK_REPO_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml")
HOOK_REPO_DIRS = ("resgen", "templates", "specs")

SPEC = """\
name: tiny
input: {channels: 3, size: 32}
stem: {type: conv7, width: 8}
block: {type: basic}
stages:
  - {depth: 1, width: 8}
  - {depth: 1, width: 16, stride: 2}
head: {classes: 10}
"""


def _env(tmp_path: Path) -> dict[str, str]:
    dropped = {"PYTHONPATH", "VIRTUAL_ENV", "RESGEN_DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),  # a cold cache: a real install
        PRE_COMMIT_COLOR="never",
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _git(cwd: Path, env: dict[str, str], *args: str) -> str:
    result = _run(["git", *args], cwd, env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _make_hook_repo(path: Path, env: dict[str, str]) -> str:
    """Commit a copy of this project's working tree; return the commit to use as `rev`."""
    path.mkdir()
    for name in HOOK_REPO_FILES:
        shutil.copy2(ROOT / name, path / name)
    for name in HOOK_REPO_DIRS:
        shutil.copytree(ROOT / name, path / name, ignore=shutil.ignore_patterns("__pycache__"))
    _git(path, env, "init", "-q")
    _git(path, env, "add", ".")
    _git(path, env, "commit", "-q", "-m", "resgen")
    return _git(path, env, "rev-parse", "HEAD")


def _pre_commit(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "pre_commit", "run", "--all-files"], project, env)


def _config(hooks_uri: str, rev: str, build_args: str = "") -> str:
    return (
        "repos:\n"
        f"  - repo: {hooks_uri}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: resgen-check\n"
        "      - id: resgen-build\n" + (f"        args: {build_args}\n" if build_args else "")
    )


def test_hooks_check_build_and_catch_drift(tmp_path: Path) -> None:
    env = _env(tmp_path)
    hooks = tmp_path / "hooks"
    rev = _make_hook_repo(hooks, env)
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    (project / "specs" / "tiny.yaml").write_text(SPEC)
    (project / ".pre-commit-config.yaml").write_text(_config(hooks.as_uri(), rev))
    _git(project, env, "init", "-q")
    _git(project, env, "add", ".")

    # A valid spec passes resgen-check; resgen-build writes its model. (pre-commit fails a run
    # only when a hook changes tracked files, and the new file is not tracked yet.)
    first = _pre_commit(project, env)
    log = first.stdout + first.stderr
    assert first.returncode == 0, log
    assert "resgen check....." in log and "resgen build....." in log
    generated = project / "generated" / "tiny.py"
    assert "class Tiny(nn.Module):" in generated.read_text()
    _git(project, env, "add", ".")

    # A hand edit of the generated file is drift: the hook regenerates it and the run fails.
    good = generated.read_text()
    generated.write_text(good.replace("num_classes: int = 10", "num_classes: int = 11"))
    drift = _pre_commit(project, env)
    log = drift.stdout + drift.stderr
    assert drift.returncode == 1, log
    assert "files were modified by this hook" in log
    assert generated.read_text() == good
    assert _pre_commit(project, env).returncode == 0

    # An invalid spec: resgen-check reports the diagnostic at its line, and both hooks fail.
    (project / "specs" / "tiny.yaml").write_text(SPEC.replace("width: 16", "widht: 16"))
    bad = _pre_commit(project, env)
    log = bad.stdout + bad.stderr
    assert bad.returncode == 1, log
    assert "specs/tiny.yaml:7:16: error[unknown-key]: unknown key 'widht' in stage 2" in log
    assert "resgen check....." in log and "Failed" in log
    (project / "specs" / "tiny.yaml").write_text(SPEC)

    # The read-only variant for CI (`--check`) also catches a missing file, and writes nothing.
    (project / ".pre-commit-config.yaml").write_text(
        _config(hooks.as_uri(), rev, build_args="[specs, -o, generated, --check]")
    )
    generated.unlink()
    missing = _pre_commit(project, env)
    log = missing.stdout + missing.stderr
    assert missing.returncode == 1, log
    assert "1 generated file out of date" in log
    assert not generated.exists()
