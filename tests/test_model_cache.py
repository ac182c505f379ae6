"""The bundled base, its trimmed copies and its conversion are built once per machine and
hard-linked into each data folder: a second folder costs no disk and no assembly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nl2sql.models import bundled_gguf, cache_dir, shared_original
from nl2sql.vocab import trimmed_gguf


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ASKGRES_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ASKGRES_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "askgres"
    monkeypatch.setenv("ASKGRES_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_two_data_folders_share_one_base_file(tmp_path: Path, cache: Path) -> None:
    a, b = bundled_gguf(tmp_path / "a"), bundled_gguf(tmp_path / "b")
    assert a.parent == tmp_path / "a" / "models" / "base" and a != b
    assert os.path.samefile(a, b) and a.stat().st_nlink == 3  # the cached file and two links
    assert shared_original(a) is not None and shared_original(a).is_relative_to(cache)  # type: ignore[union-attr]
    # the cache can go: each data folder keeps its whole file
    for f in cache.rglob("*.gguf"):
        f.unlink()
    assert a.stat().st_nlink == 2 and a.stat().st_size > 100_000_000
    assert shared_original(a) is None
    # and comes back on the next assembly, which links the old folders no more
    c = bundled_gguf(tmp_path / "c")
    assert not os.path.samefile(a, c) and shared_original(c) is not None


def test_trimmed_copy_of_the_base_is_built_once(tmp_path: Path, cache: Path) -> None:
    a, b = bundled_gguf(tmp_path / "a"), bundled_gguf(tmp_path / "b")
    ta, tb = trimmed_gguf(a, ["Zyzzogeton"]), trimmed_gguf(b, ["Zyzzogeton"])
    assert ta.parent == a.parent and tb.parent == b.parent
    assert os.path.samefile(ta, tb) and ta.stat().st_nlink == 3
    assert ta.stat().st_size < 0.6 * a.stat().st_size


def test_unwritable_cache_assembles_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("ASKGRES_CACHE_DIR", str(blocker / "cache"))
    path = bundled_gguf(tmp_path / "d")
    assert path.is_file() and path.stat().st_nlink == 1 and path.stat().st_size > 100_000_000
    assert shared_original(path) is None
    assert trimmed_gguf(path, ["Zyzzogeton"]).parent == path.parent
