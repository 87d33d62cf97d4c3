"""The compiled-template cache: a speed-up that can never change what resgen writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from resgen.codegen import emit
from tests.conftest import ROOT, run_resgen

SPEC = str(ROOT / "specs" / "resnet50d.yaml")


def _build(out: Path, **env: str) -> dict[str, bytes]:
    result = run_resgen("build", SPEC, "--deploy", "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_cached_builds_equal_uncached_ones(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = _build(tmp_path / "cold", RESGEN_CACHE_DIR=str(cache))
    entries = sorted(p.name for p in cache.rglob("*.cache"))
    assert entries, "the first build fills the cache"
    warm = _build(tmp_path / "warm", RESGEN_CACHE_DIR=str(cache))
    assert sorted(p.name for p in cache.rglob("*.cache")) == entries  # read, not rewritten anew
    off = _build(tmp_path / "off", RESGEN_NO_CACHE="1", RESGEN_CACHE_DIR=str(tmp_path / "none"))
    assert not (tmp_path / "none").exists()
    assert cold == warm == off
    assert set(cold) == {"resnet50d.py", "resnet50d_deploy.py"}
    assert cold["resnet50d.py"] == (ROOT / "generated" / "resnet50d.py").read_bytes()


def test_a_stale_or_broken_entry_is_never_used(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    expected = _build(tmp_path / "first", RESGEN_CACHE_DIR=str(cache))
    for entry in cache.rglob("*.cache"):
        entry.write_bytes(b"not bytecode")
    assert _build(tmp_path / "second", RESGEN_CACHE_DIR=str(cache)) == expected


def test_unwritable_cache_folder_means_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RESGEN_NO_CACHE", raising=False)
    monkeypatch.setenv("RESGEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(emit.os, "access", lambda path, mode: False)  # as for a read-only home
    assert emit.bytecode_cache() is None


def test_cache_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESGEN_NO_CACHE", raising=False)
    monkeypatch.delenv("RESGEN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = emit.bytecode_cache()
    assert cache is not None
    assert Path(cache.directory).parent == tmp_path / "resgen"  # type: ignore[attr-defined]
    monkeypatch.setenv("RESGEN_NO_CACHE", "1")
    assert emit.bytecode_cache() is None
    monkeypatch.delenv("RESGEN_NO_CACHE")
    monkeypatch.setenv("RESGEN_CACHE_DIR", str(tmp_path / "file"))
    (tmp_path / "file").write_text("a file, not a folder")
    assert emit.bytecode_cache() is None  # mkdir fails: build without a cache
