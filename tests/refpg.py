"""The reference PostgreSQL 15 with Chinook, as a pytest fixture for differential tests.

Import the fixture into a test module (``from refpg import pg_ref``); it is skipped where
the PostgreSQL 15 server binaries are missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.pg_reference import SHARED_CHINOOK, PgInfo, available, pg_reference


def chinook_source(tmp: Path) -> Path:
    """The canonical Chinook file when ../shared is there (no download), else the demo."""
    if SHARED_CHINOOK.exists():
        return SHARED_CHINOOK
    from connectors.chinook import build_demo

    return next(Path(db.path) for db in build_demo(tmp) if db.kind == "sqlite")


@pytest.fixture(scope="module")
def pg_ref(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgInfo]:
    if not available():
        pytest.skip("PostgreSQL 15 server binaries not installed (apt-get install postgresql-15)")
    src = chinook_source(tmp_path_factory.mktemp("pgref-demo"))
    with pg_reference(src) as info:
        yield info
