"""The SQLite and DuckDB connectors on small databases made here: typed results, parameters,
DML row counts, errors with SQLSTATE, time limits and cancel, read-only sessions, introspection."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.base import Backend, Connection
from connectors.duckdb import DuckdbBackend
from connectors.registry import open_all, open_backends
from connectors.sqlite import SqliteBackend
from gateway.config import DatabaseConfig, Settings
from gateway.errors import PgError, QueryCanceled, ReadOnlyTransaction

KINDS = ["sqlite", "duckdb"]

SCHEMA = [
    """CREATE TABLE artist (
        id INTEGER PRIMARY KEY,
        name VARCHAR(50) NOT NULL UNIQUE,
        born DATE,
        active BOOLEAN,
        rating NUMERIC(5,2),
        country TEXT
    )""",
    """CREATE TABLE album (
        id INTEGER PRIMARY KEY,
        artist_id INTEGER NOT NULL REFERENCES artist (id),
        title TEXT NOT NULL,
        price DOUBLE,
        released TIMESTAMP,
        cover BLOB
    )""",
    "CREATE VIEW album_titles AS SELECT title FROM album",
]
ARTISTS = [
    (1, "Miles", dt.date(1926, 5, 26), True, Decimal("9.50"), "US"),
    (2, "Nina", dt.date(1933, 2, 21), False, Decimal("8.25"), "US"),
    (3, "Fela", None, True, None, "Nigeria"),
]
ALBUMS = [
    (1, 1, "Kind of Blue", 9.99, dt.datetime(1959, 8, 17, 10, 30), b"\x00\x01"),
    (2, 1, "Bitches Brew", 12.5, dt.datetime(1970, 3, 30), None),
    (3, 2, "Pastel Blues", 7.0, None, None),
]
LONG_QUERY = (
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000000) "
    "SELECT count(*) FROM r"
)


def make_backend(kind: str, path: Path, *, read_only: bool = False) -> Backend:
    if kind == "sqlite":
        return SqliteBackend("music", path, read_only=read_only)
    return DuckdbBackend("music", path, read_only=read_only)


@pytest.fixture(params=KINDS)
def db_path(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    """A small music database of each kind, made through the connector itself."""
    kind: str = request.param
    path = tmp_path / f"music.{kind}"
    backend = make_backend(kind, path)
    conn = backend.connect()
    for stmt in SCHEMA:
        conn.execute(stmt)
    for row in ARTISTS:
        conn.execute("INSERT INTO artist VALUES (?, ?, ?, ?, ?, ?)", row)
    for album in ALBUMS:
        conn.execute("INSERT INTO album VALUES (?, ?, ?, ?, ?, ?)", album)
    conn.close()
    backend.close()
    return kind, path


@pytest.fixture
def backend(db_path: tuple[str, Path]) -> Iterator[Backend]:
    b = make_backend(*db_path)
    yield b
    b.close()


@pytest.fixture
def conn(backend: Backend) -> Iterator[Connection]:
    c = backend.connect()
    yield c
    c.close()


def types_of(result: object) -> dict[str, str]:
    cols = getattr(result, "columns")
    return {c.name: c.pg_type for c in cols}


def test_result_columns_carry_postgres_types(conn: Connection, backend: Backend) -> None:
    r = conn.execute(
        "SELECT ar.id, ar.name, ar.born, ar.active, ar.rating, al.price, al.released, al.cover, al.title "
        "FROM album AS al JOIN artist AS ar ON ar.id = al.artist_id WHERE al.id = ?",
        [1],
    )
    assert types_of(r) == {
        "id": "int4", "name": "varchar", "born": "date", "active": "bool", "rating": "numeric",
        "price": "float8", "released": "timestamp", "cover": "bytea",
        "title": "text" if backend.dialect == "sqlite" else "varchar",  # DuckDB's TEXT is VARCHAR
    }
    row = r.rows[0]
    assert row[:4] == (1, "Miles", dt.date(1926, 5, 26), True)
    assert float(row[4]) == 9.5 and row[5] == 9.99
    assert row[6] == dt.datetime(1959, 8, 17, 10, 30)
    assert bytes(row[7]) == b"\x00\x01" and row[8] == "Kind of Blue"
    assert r.rowcount == 1 and not r.truncated


def test_expression_columns_are_typed(conn: Connection) -> None:
    r = conn.execute(
        "SELECT count(*) AS n, avg(price) AS mean, max(released) AS latest, 'x' AS s, 1.5 AS f FROM album"
    )
    t = types_of(r)
    assert t["n"] == "int8" and t["mean"] == "float8" and t["latest"] == "timestamp" and t["s"] in ("text", "varchar")
    assert t["f"] in ("float8", "numeric")
    assert r.rows[0][0] == 3 and r.rows[0][2] == dt.datetime(1970, 3, 30)


def test_star_and_parameters(conn: Connection) -> None:
    r = conn.execute("SELECT * FROM artist WHERE country = ? AND id > ? ORDER BY id", ["US", 1])
    assert [c.name for c in r.columns or []] == ["id", "name", "born", "active", "rating", "country"]
    assert types_of(r)["born"] == "date"
    assert [row[1] for row in r.rows] == ["Nina"]
    none = conn.execute("SELECT name FROM artist WHERE id = ?", [99])
    assert none.rows == [] and none.columns is not None and none.columns[0].pg_type == "varchar"


def test_dml_rowcount_and_statements_without_rows(conn: Connection) -> None:
    created = conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    assert created.columns is None and created.rowcount == 0
    ins = conn.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y'), (3, 'z')")
    assert ins.columns is None and ins.rowcount == 3
    upd = conn.execute("UPDATE t SET b = ? WHERE a >= ?", ["w", 2])
    assert upd.rowcount == 2
    dele = conn.execute("DELETE FROM t WHERE a = 1")
    assert dele.rowcount == 1
    ret = conn.execute("INSERT INTO t VALUES (7, 'q') RETURNING a, b")
    assert ret.rows == [(7, "q")] and ret.rowcount == 1 and [c.name for c in ret.columns or []] == ["a", "b"]
    assert conn.execute("SELECT count(*) FROM t").rows == [(3,)]


def test_max_rows_truncates(conn: Connection) -> None:
    r = conn.execute("SELECT id FROM album ORDER BY id", max_rows=2)
    assert r.rows == [(1,), (2,)] and r.truncated and r.rowcount == 2
    whole = conn.execute("SELECT id FROM album ORDER BY id", max_rows=3)
    assert len(whole.rows) == 3 and not whole.truncated
    zero = conn.execute("SELECT id FROM album", max_rows=0)
    assert zero.rows == [] and zero.truncated


def test_explicit_transactions(conn: Connection, backend: Backend) -> None:
    conn.execute("BEGIN")
    conn.execute("INSERT INTO artist (id, name) VALUES (10, 'Tony')")
    assert conn.execute("SELECT count(*) FROM artist").rows == [(4,)]
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM artist").rows == [(3,)]
    conn.execute("BEGIN")
    conn.execute("INSERT INTO artist (id, name) VALUES (11, 'Alice')")
    conn.execute("COMMIT")
    other = backend.connect()
    try:
        assert other.execute("SELECT name FROM artist WHERE id = 11").rows == [("Alice",)]
    finally:
        other.close()


ERRORS = [
    ("SELECT * FROM nope", "42P01", 'relation "nope" does not exist'),
    ("SELECT nope FROM artist", "42703", 'column "nope" does not exist'),
    ("SELEC 1", "42601", "syntax error"),
    ("INSERT INTO artist (id, name) VALUES (1, 'Dup')", "23505", "duplicate key"),
    ("INSERT INTO artist (id, name) VALUES (20, 'Miles')", "23505", "duplicate key"),
    ("INSERT INTO artist (id, name) VALUES (21, NULL)", "23502", ""),
    ("INSERT INTO album (id, artist_id, title) VALUES (9, 99, 'Orphan')", "23503", ""),
    ("SELECT 1; SELECT 2", "42601", "multiple commands"),
    ("SELECT nofunc(1)", "42883", "nofunc"),
    ("CREATE TABLE artist (x INTEGER)", "42P07", "already exists"),
]


@pytest.mark.parametrize(("sql", "sqlstate", "words"), ERRORS, ids=[e[1] + ":" + e[0][:18] for e in ERRORS])
def test_errors_carry_sqlstate(conn: Connection, sql: str, sqlstate: str, words: str) -> None:
    with pytest.raises(PgError) as info:
        conn.execute(sql)
    assert info.value.sqlstate == sqlstate, info.value.message
    assert words.lower() in info.value.message.lower()
    assert conn.execute("SELECT count(*) FROM artist").rows == [(3,)]  # still usable


def test_duckdb_data_errors(tmp_path: Path) -> None:
    b = DuckdbBackend("d", tmp_path / "d.duckdb")
    c = b.connect()
    try:
        with pytest.raises(PgError) as conv:
            c.execute("SELECT CAST('abc' AS INTEGER)")
        assert conv.value.sqlstate == "22P02"
        with pytest.raises(PgError) as div:
            c.execute("SELECT 1 // 0")
        assert div.value.sqlstate == "22012"
        with pytest.raises(PgError) as params:
            c.execute("SELECT ?")
        assert params.value.sqlstate == "08P01"
    finally:
        c.close()
        b.close()


def test_timeout_cancels_a_long_query(conn: Connection) -> None:
    started = time.monotonic()
    with pytest.raises(QueryCanceled) as info:
        conn.execute(LONG_QUERY, timeout=0.5)
    elapsed = time.monotonic() - started
    assert info.value.sqlstate == "57014" and "statement timeout" in info.value.message
    assert 0.4 < elapsed < 3.0
    assert conn.execute("SELECT count(*) FROM album").rows == [(3,)]
    # a finished statement's timer never reaches the next one
    assert conn.execute("SELECT 1 AS one", timeout=0.05).rows == [(1,)]
    time.sleep(0.1)
    assert conn.execute("SELECT 2 AS two").rows == [(2,)]


def test_interrupt_from_another_thread(conn: Connection) -> None:
    timer = threading.Timer(0.3, conn.interrupt)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(QueryCanceled) as info:
            conn.execute(LONG_QUERY)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 3.0
    assert info.value.sqlstate == "57014" and "user request" in info.value.message
    assert conn.execute("SELECT count(*) FROM album").rows == [(3,)]


def test_interrupt_when_idle_is_a_no_op(conn: Connection) -> None:
    conn.interrupt()
    assert conn.execute("SELECT count(*) FROM artist").rows == [(3,)]


def test_interrupt_one_session_leaves_the_other_running(backend: Backend) -> None:
    a, b = backend.connect(), backend.connect()
    errors: list[BaseException] = []

    def long() -> None:
        try:
            a.execute(LONG_QUERY)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors.append(e)

    t = threading.Thread(target=long)
    t.start()
    time.sleep(0.3)
    assert b.execute("SELECT count(*) FROM album").rows == [(3,)]
    a.interrupt()
    t.join(5)
    assert not t.is_alive() and len(errors) == 1 and isinstance(errors[0], QueryCanceled)
    a.close()
    b.close()


WRITES = [
    "INSERT INTO artist (id, name) VALUES (30, 'Nope')",
    "UPDATE artist SET name = 'x'",
    "DELETE FROM album",
    "CREATE TABLE sneaky (a INTEGER)",
    "DROP TABLE album",
    "ALTER TABLE artist ADD COLUMN z INTEGER",
]


@pytest.mark.parametrize("sql", WRITES)
def test_read_only_session_refuses_writes(backend: Backend, sql: str) -> None:
    ro = backend.connect(read_only=True)
    try:
        assert ro.read_only
        with pytest.raises(ReadOnlyTransaction) as info:
            ro.execute(sql)
        assert info.value.sqlstate == "25006" and "read-only" in info.value.message
        assert ro.execute("SELECT count(*) FROM artist").rows == [(3,)]
    finally:
        ro.close()
    rw = backend.connect()
    try:
        assert rw.execute("SELECT count(*) FROM album").rows == [(3,)]
        assert rw.execute("SELECT name FROM artist WHERE id = 1").rows == [("Miles",)]
        rw.execute("INSERT INTO artist (id, name) VALUES (40, 'Still writable')")  # the backend is not read-only
    finally:
        rw.close()


def test_read_only_session_cannot_escape(backend: Backend, tmp_path: Path) -> None:
    ro = backend.connect(read_only=True)
    escapes = [f"ATTACH '{tmp_path / 'other.db'}' AS other", "PRAGMA query_only = 0", "SET threads = 1"]
    if backend.dialect == "duckdb":
        escapes += [f"COPY artist TO '{tmp_path / 'out.csv'}'", "CALL checkpoint()"]
    try:
        for sql in escapes:
            with pytest.raises(PgError) as info:
                ro.execute(sql)
            assert info.value.sqlstate in ("25006", "42601"), (sql, info.value.message)
        ro.execute("BEGIN")
        assert ro.execute("SELECT count(*) FROM artist").rows == [(3,)]
        ro.execute("COMMIT")
        if backend.dialect == "duckdb":  # EXPLAIN ANALYZE runs its statement: rolled back
            ro.execute("EXPLAIN ANALYZE INSERT INTO artist (id, name) VALUES (50, 'ghost')")
        with pytest.raises(ReadOnlyTransaction):
            ro.execute("INSERT INTO artist (id, name) VALUES (51, 'ghost')")
        assert ro.execute("SELECT count(*) FROM artist").rows == [(3,)]
    finally:
        ro.close()
    assert not (tmp_path / "out.csv").exists()


def test_read_only_session_survives_cancel_and_errors(backend: Backend) -> None:
    ro = backend.connect(read_only=True)
    try:
        with pytest.raises(QueryCanceled):
            ro.execute(LONG_QUERY, timeout=0.3)
        assert ro.execute("SELECT count(*) FROM album").rows == [(3,)]
        ro.execute("BEGIN")
        with pytest.raises(PgError) as info:
            ro.execute("SELECT * FROM nope")
        assert info.value.sqlstate == "42P01"
        ro.execute("ROLLBACK")
        assert ro.execute("SELECT count(*) FROM artist").rows == [(3,)]
    finally:
        ro.close()


def test_read_only_backend_refuses_writes(db_path: tuple[str, Path]) -> None:
    b = make_backend(*db_path, read_only=True)
    c = b.connect()
    try:
        assert b.read_only and c.read_only
        with pytest.raises(ReadOnlyTransaction) as info:
            c.execute("INSERT INTO artist (id, name) VALUES (60, 'x')")
        assert info.value.sqlstate == "25006"
        assert c.execute("SELECT count(*) FROM artist").rows == [(3,)]
    finally:
        c.close()
        b.close()


def test_read_only_backend_needs_an_existing_file(tmp_path: Path) -> None:
    for kind in KINDS:
        with pytest.raises(FileNotFoundError):
            make_backend(kind, tmp_path / f"missing.{kind}", read_only=True)


def test_introspection(backend: Backend) -> None:
    schema = backend.introspect(samples=2)
    assert schema.database == "music" and schema.dialect == backend.dialect
    assert sorted(t.name for t in schema.tables) == ["album", "album_titles", "artist"]
    artist, album, view = schema.table("artist"), schema.table("ALBUM"), schema.table("album_titles")
    assert artist is not None and album is not None and view is not None
    assert [c.name for c in artist.columns] == ["id", "name", "born", "active", "rating", "country"]
    assert artist.primary_key == ("id",) and album.primary_key == ("id",)
    assert [(fk.columns, fk.ref_table, fk.ref_columns) for fk in album.foreign_keys] == [
        (("artist_id",), "artist", ("id",))
    ]
    assert (artist.row_count, album.row_count, view.row_count) == (3, 3, 3)
    assert (artist.kind, view.kind) == ("table", "view")
    pg = {c.name: c.pg_type for c in artist.columns}
    assert pg == {"id": "int4", "name": "varchar", "born": "date", "active": "bool", "rating": "numeric",
                  "country": "text" if backend.dialect == "sqlite" else "varchar"}
    name = artist.column("name")
    ident = artist.column("id")
    assert name is not None and ident is not None
    assert not name.nullable and ident.primary_key and not ident.nullable
    assert name.type.upper().startswith("VARCHAR")
    assert len(name.samples) == 2 and set(name.samples) <= {"Miles", "Nina", "Fela"}
    country = artist.column("country")
    assert country is not None and sorted(country.samples) == ["Nigeria", "US"]  # distinct
    assert ident.samples == []  # only text columns get samples
    assert backend.introspect(samples=0).table("artist") is not None
    assert schema.fingerprint() == backend.introspect().fingerprint()


def test_fingerprint_follows_schema_changes(backend: Backend) -> None:
    before = backend.introspect(samples=0).fingerprint()
    c = backend.connect()
    c.execute("CREATE TABLE extra (a INTEGER PRIMARY KEY)")
    c.close()
    after = backend.introspect(samples=0)
    assert after.table("extra") is not None and after.fingerprint() != before


def test_duckdb_comments_become_descriptions(tmp_path: Path) -> None:
    b = DuckdbBackend("d", tmp_path / "c.duckdb")
    c = b.connect()
    c.execute("CREATE TABLE sale (id INTEGER PRIMARY KEY, amount DECIMAL(10,2), note VARCHAR)")
    c.execute("COMMENT ON TABLE sale IS 'One row per sale'")
    c.execute("COMMENT ON COLUMN sale.amount IS 'In euros'")
    c.close()
    t = b.introspect().table("sale")
    b.close()
    assert t is not None and t.description == "One row per sale"
    amount = t.column("amount")
    assert amount is not None and amount.description == "In euros" and amount.pg_type == "numeric"


def test_sqlite_values_override_declared_types(tmp_path: Path) -> None:
    """SQLite is dynamically typed: a column's values win when they do not fit its declaration."""
    b = SqliteBackend("s", tmp_path / "s.sqlite")
    c = b.connect()
    c.execute("CREATE TABLE t (n INTEGER, d DATETIME, big INTEGER, f)")
    c.execute("INSERT INTO t VALUES ('not a number', 'yesterday', 5000000000, 1.5)")
    r = c.execute("SELECT n, d, big, f FROM t")
    assert types_of(r) == {"n": "text", "d": "text", "big": "int8", "f": "float8"}
    assert r.rows == [("not a number", "yesterday", 5000000000, 1.5)]
    c.close()


def test_sqlite_types_follow_schema_changes(tmp_path: Path) -> None:
    b = SqliteBackend("s", tmp_path / "s.sqlite")
    c = b.connect()
    c.execute("CREATE TABLE t (x INTEGER)")
    c.execute("INSERT INTO t VALUES (1)")
    assert types_of(c.execute("SELECT x FROM t")) == {"x": "int4"}
    c.execute("DROP TABLE t")
    c.execute("CREATE TABLE t (x DATE)")
    c.execute("INSERT INTO t VALUES ('2024-02-29')")
    r = c.execute("SELECT x FROM t")
    assert types_of(r) == {"x": "date"} and r.rows == [(dt.date(2024, 2, 29),)]
    c.close()


def test_closed_connection_refuses(conn: Connection) -> None:
    conn.close()
    conn.close()  # idempotent
    with pytest.raises(PgError):
        conn.execute("SELECT 1")


def test_registry_opens_configured_databases(db_path: tuple[str, Path], tmp_path: Path) -> None:
    kind, path = db_path
    settings = Settings(
        data_dir=tmp_path / "data",
        databases=[DatabaseConfig(name="music", kind=kind, path=path, read_only=True)],  # type: ignore[arg-type]
    )
    backends = open_backends(settings)
    try:
        assert list(backends) == ["music"] and backends["music"].dialect == kind and backends["music"].read_only
        c = backends["music"].connect()
        assert c.execute("SELECT count(*) FROM album").rows == [(3,)]
        c.close()
    finally:
        for b in backends.values():
            b.close()
    assert not (tmp_path / "data" / "demo").exists()  # configured databases: no demo built
    with pytest.raises(ValueError, match="twice"):
        open_all([DatabaseConfig(name="x", kind="sqlite", path=tmp_path / "a.sqlite")] * 2)


def test_sqlite_connections_have_postgres_functions(tmp_path: Path) -> None:
    """Every SQLite connection, read-only ones and quick reads included, has the functions
    SQLite lacks (connectors/sqlite_functions.py); their errors keep PostgreSQL's SQLSTATE."""
    path = tmp_path / "music.sqlite"
    writer = SqliteBackend("music", path).connect()
    writer.execute("CREATE TABLE artist (id INTEGER PRIMARY KEY, name TEXT, country TEXT)")
    writer.execute("INSERT INTO artist VALUES (1, 'Miles', 'US'), (2, 'Nina', 'US'), (3, 'Fela', 'Nigeria')")
    writer.close()
    for read_only in (False, True):
        c = SqliteBackend("music", path, read_only=read_only).connect()
        try:
            r = c.execute("SELECT name FROM artist WHERE name REGEXP '^N' AND md5(name) IS NOT NULL "
                          "AND split_part(initcap(country), 's', 1) = 'U'")
            assert r.rows == [("Nina",)]
            quick = c.try_quick_read("SELECT initcap(split_part(name, 'l', 1)) FROM artist WHERE id = ?",
                                     [1], max_steps=100, max_rows=5, max_s=1.0)
            assert not isinstance(quick, str) and quick.rows == [("Mi",)]
            # Python regular expressions cannot be interrupted: never on the event loop
            regex = "SELECT regexp_replace(name, '[aeiou]', '', 'g') FROM artist WHERE id = ?"
            assert c.try_quick_read(regex, [1], max_steps=100, max_rows=5, max_s=1.0) == "steps"
            assert c.execute(regex, [1]).rows == [("Mls",)]
            assert c.execute("SELECT array_agg(id) FROM artist").rows == [("{1,2,3}",)]
            with pytest.raises(PgError) as info:
                c.execute("SELECT name FROM artist WHERE name REGEXP '('")
            assert info.value.sqlstate == "2201B" and "invalid regular expression" in info.value.message
            with pytest.raises(PgError) as info:
                c.try_quick_read("SELECT split_part(name, ',', 0) FROM artist", [], max_steps=100, max_rows=5,
                                 max_s=1.0)
            assert info.value.sqlstate == "22023"
            assert c.execute("SELECT count(*) FROM artist WHERE name REGEXP 'a'").rows == [(2,)]  # error forgotten
        finally:
            c.close()


def test_duckdb_to_char_with_two_backends_on_one_file(tmp_path: Path) -> None:
    """DuckDB shares a Python function among the connections to one file in a process: the
    second backend finds it registered, and it still works once the first has closed."""
    path = tmp_path / "d.duckdb"
    first = DuckdbBackend("a", path)
    second = DuckdbBackend("b", path)
    first.close()
    c = second.connect()
    try:
        res = c.execute("SELECT askgres_to_char(CAST(DATE '2024-03-05' AS VARCHAR), 'Mon DD, YYYY')")
        assert res.rows == [("Mar 05, 2024",)]
    finally:
        c.close()
        second.close()
