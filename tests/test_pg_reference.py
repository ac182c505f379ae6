"""The reference PostgreSQL 15 that benchmarks and differential tests compare with."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from bench.pg_reference import SHARED_CHINOOK, pg_reference, pg_type

pytestmark = pytest.mark.skipif(
    not Path("/usr/lib/postgresql/15/bin/postgres").exists(), reason="PostgreSQL 15 server binaries not installed"
)


def _sqlite_source(tmp_path: Path) -> Path:
    try:
        from connectors.chinook import build_demo
    except ImportError:
        build_demo = None
    if build_demo is not None:
        return next(Path(db.path) for db in build_demo(tmp_path) if db.kind == "sqlite")
    if SHARED_CHINOOK.exists():
        return SHARED_CHINOOK
    pytest.skip("no Chinook SQLite (connectors.chinook not written yet and ../shared/data absent)")


def _psql(dsn: str, sql: str) -> list[list[str]]:
    out = subprocess.run(
        ["psql", "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql],
        capture_output=True, text=True, check=True,
    ).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def test_type_mapping() -> None:
    assert pg_type("NVARCHAR(160)") == "VARCHAR(160)"
    assert pg_type("INTEGER") == "INT"
    assert pg_type("NUMERIC(10,2)") == "NUMERIC(10,2)"
    assert pg_type("DATETIME") == "TIMESTAMP"
    assert pg_type("whatever") == "TEXT"


def test_loads_chinook_with_keys_and_stops_clean(tmp_path: Path) -> None:
    src = _sqlite_source(tmp_path)
    con = sqlite3.connect(src)
    tables = sorted(r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"))
    counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    con.close()
    with pg_reference(src) as pg:
        root = pg.socket_dir
        got = sorted(r[0] for r in _psql(pg.dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        assert got == tables
        for t in tables:
            assert int(_psql(pg.dsn, f'SELECT count(*) FROM "{t}"')[0][0]) == counts[t], t
        pks = dict(_psql(pg.dsn, "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'p'"))
        assert pks['"Track"'] == "PK_Track"
        fks = {tuple(r) for r in _psql(pg.dsn, "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint WHERE contype = 'f'")}
        assert ('"Album"', '"Artist"') in fks and ('"Employee"', '"Employee"') in fks
        assert _psql(pg.dsn, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\"Invoice\"'::regclass AND attname = 'Total'") == [["numeric(10,2)"]]
        assert _psql(pg.dsn, "SHOW server_version")[0][0].startswith("15.")
    assert not root.exists()
