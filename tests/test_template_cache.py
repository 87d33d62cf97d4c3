"""The compiled-template cache is gone: nothing on disk can change or break what resgen writes.

It saved about 30 ms of a 0.3 s build (benchmarks/bench_templates.py) and loaded marshalled code
from a user folder; these tests keep its old promise (the output never depends on a cache) and
add the new ones: no cache folder is read or written, wherever the environment points.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from resgen.codegen import emit
from resgen.resources import data_dir
from tests.conftest import ROOT, run_resgen

SPEC = str(ROOT / "specs" / "resnet50d.yaml")


def _build(out: Path, env: dict[str, str] | None = None, cwd: Path = ROOT) -> dict[str, bytes]:
    result = run_resgen("build", SPEC, "--deploy", "-o", str(out), env=env or {}, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_the_environment_has_no_bytecode_cache() -> None:
    assert emit.environment().bytecode_cache is None


def test_builds_read_and_write_no_cache_folder(tmp_path: Path) -> None:
    home, xdg, old = tmp_path / "home", tmp_path / "xdg", tmp_path / "old"
    for folder in (home, xdg, old, tmp_path / "cwd"):
        folder.mkdir()
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(xdg), "RESGEN_CACHE_DIR": str(old)}
    first = _build(tmp_path / "a", env)
    relative = _build(tmp_path / "b", {**env, "XDG_CACHE_HOME": "rel"}, cwd=tmp_path / "cwd")
    assert first == relative == _build(tmp_path / "a")
    assert set(first) == {"resnet50d.py", "resnet50d_deploy.py"}
    for folder in (home, xdg, old, tmp_path / "cwd"):
        assert _tree(folder) == [], folder  # no cache written, not even under a relative XDG path


def test_planted_cache_entries_are_never_loaded(tmp_path: Path) -> None:
    """Truncated, corrupted or hostile entries where the old cache lived change nothing."""
    expected = _build(tmp_path / "clean", {"RESGEN_CACHE_DIR": str(tmp_path / "none")})
    cache = tmp_path / "cache"
    folder = cache / "resgen" / f"jinja2-{jinja2.__version__}"
    folder.mkdir(parents=True)
    folder.chmod(0o777)  # writable by anyone: jinja2 would have loaded code from here
    # Real entries, as the old cache wrote them, then one truncated and the rest corrupted.
    loader = jinja2.FileSystemLoader(str(data_dir("templates")))
    filler = jinja2.Environment(
        loader=loader, bytecode_cache=jinja2.FileSystemBytecodeCache(str(folder))
    )
    for name in loader.list_templates():
        filler.get_template(name)
    entries = sorted(folder.iterdir())
    assert entries
    entries[0].write_bytes(entries[0].read_bytes()[:20])
    for entry in entries[1:]:
        entry.write_bytes(entry.read_bytes()[:12] + b"\xff" * 64)
    env = {"XDG_CACHE_HOME": str(cache), "RESGEN_CACHE_DIR": str(folder.parent), "HOME": str(cache)}
    assert _build(tmp_path / "planted", env) == expected
