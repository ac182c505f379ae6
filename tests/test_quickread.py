"""Quick reads (gateway.quickread): short SELECTs on SQLite run on the event loop, under a
budget of VM instructions and rows; anything longer goes to the executor, keeps its time
limit and cancel, and is remembered as slow."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Result
from connectors.sqlite import SqliteBackend
from gateway import quickread
from gateway.errors import PgError, QueryCanceled
from tests.engine_support import EngineHarness, make_sqlite, rows_of

LONG_QUERY = ("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 100000000) "
              "SELECT count(*) FROM c")


class CountingExecutor(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[EngineHarness]:
    h = EngineHarness(tmp_path)
    yield h
    asyncio.run(h.aclose())


def _count_executor(h: EngineHarness) -> CountingExecutor:
    ex = CountingExecutor()
    h.engine.executor.shutdown(wait=True)
    h.engine.executor = ex
    return ex


def test_point_selects_skip_the_executor_and_long_reads_use_it(harness: EngineHarness) -> None:
    async def go() -> None:
        ex = _count_executor(harness)
        s = harness.session("small")
        assert rows_of((await s.run_simple('SELECT "Name" FROM "Artist" WHERE "ArtistId" = 1'))[0]) == [("AC/DC",)]
        opened = ex.submitted  # the first statement opens the connection in the executor
        for i, name in ((2, "Accept"), (7, "Led Zeppelin")):
            out = (await s.run_simple(f'SELECT "Name" FROM "Artist" WHERE "ArtistId" = {i}'))[0]
            assert rows_of(out) == [(name,)] and out.tag == "SELECT 1"
        prepared = await s.prepare('SELECT "Title" FROM "Album" WHERE "AlbumId" = $1', [None])
        before = ex.submitted
        out = await s.execute(prepared, [10])
        assert rows_of(out) == [("Led Zeppelin IV",)] and [c.pg_type for c in out.columns or []] == ["varchar"]
        assert ex.submitted == before
        assert ex.submitted <= opened + 1  # at most the Describe of the prepared statement

        # over the instruction budget: stopped, run again in the executor, remembered
        long = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300000) SELECT count(*) FROM c"
        before = ex.submitted
        assert rows_of((await s.run_simple(long))[0]) == [(300000,)]
        assert ex.submitted == before + 1
        assert any("300000" in sql for sql in harness.engine.quick._slow)
        assert rows_of((await s.run_simple(long))[0]) == [(300000,)]
        assert ex.submitted == before + 2

    asyncio.run(go())


def test_results_over_the_row_cap_come_whole_from_the_executor(harness: EngineHarness) -> None:
    async def go() -> None:
        ex = _count_executor(harness)
        s = harness.session("small")
        await s.run_simple("SELECT 1")
        n = quickread.MAX_ROWS + 50
        before = ex.submitted
        out = (await s.run_simple(f"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {n}) "
                                  "SELECT n FROM c"))[0]
        assert [r[0] for r in out.rows] == list(range(1, n + 1)) and out.tag == f"SELECT {n}"
        assert ex.submitted == before + 1

    asyncio.run(go())


def test_cancel_and_timeout_still_reach_long_reads(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session("small")
        await s.run_simple("SELECT 1")
        task = asyncio.create_task(s.run_simple(LONG_QUERY))
        await asyncio.sleep(0.3)
        s.cancel()
        with pytest.raises(QueryCanceled):
            await task
        await s.run_simple("SET statement_timeout = 200")
        t0 = time.monotonic()
        with pytest.raises(QueryCanceled, match="statement timeout"):
            await s.run_simple(LONG_QUERY)
        assert time.monotonic() - t0 < 10
        assert rows_of((await s.run_simple('SELECT count(*) FROM "Track"'))[0]) == [(10,)]

    asyncio.run(go())


def test_errors_of_quick_reads_keep_their_sqlstate(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session("small")
        await s.run_simple("SELECT 1")
        with pytest.raises(PgError) as e:
            await s.run_simple("SELECT abs(-9223372036854775807 - 1)")
        assert e.value.sqlstate == "22003"
        assert rows_of((await s.run_simple("SELECT 2"))[0]) == [(2,)]

    asyncio.run(go())


def test_quick_reads_on_a_read_only_database(tmp_path: Path) -> None:
    """A read-only connection's authorizer refuses pragmas that set something, but not the
    busy timeout that quick reads switch (each session's second SELECT used to fail)."""
    conn = SqliteBackend("q", make_sqlite(tmp_path / "q.sqlite"), read_only=True).connect()
    try:
        for _ in range(2):
            out = conn.try_quick_read('SELECT count(*) FROM "Album"', [], max_steps=100, max_rows=5, max_s=1.0)
            assert isinstance(out, Result) and out.rows == [(13,)]
            assert conn.execute('SELECT count(*) FROM "Artist"').rows == [(7,)]
        with pytest.raises(PgError) as info:
            conn.execute("PRAGMA busy_timeout = 1")
        assert info.value.sqlstate == "25006"
    finally:
        conn.close()


def test_connector_quick_read_budget_rows_and_locks(tmp_path: Path) -> None:
    path = make_sqlite(tmp_path / "q.sqlite")
    conn = SqliteBackend("q", path).connect()
    try:
        out = conn.try_quick_read('SELECT "Name" FROM "Artist" WHERE "ArtistId" = ?', [3],
                                  max_steps=10, max_rows=5, max_s=1.0)
        assert isinstance(out, Result) and out.rows == [("Aerosmith",)]
        assert conn.try_quick_read(LONG_QUERY, [], max_steps=10, max_rows=5, max_s=30.0) == "steps"
        assert conn.try_quick_read('SELECT * FROM "Album"', [], max_steps=100, max_rows=5, max_s=1.0) == "rows"

        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            t0 = time.monotonic()
            assert conn.try_quick_read('SELECT count(*) FROM "Album"', [], max_steps=100, max_rows=5,
                                       max_s=1.0) == "busy"
            assert time.monotonic() - t0 < 1.0  # no sleeping in the busy handler on the event loop
        finally:
            other.execute("ROLLBACK")
            other.close()
        # the ordinary path waits for locks again, and both paths give the same answer
        assert conn.execute('SELECT count(*) FROM "Album"').rows == [(13,)]
        out = conn.try_quick_read('SELECT count(*) FROM "Album"', [], max_steps=100, max_rows=5, max_s=1.0)
        assert isinstance(out, Result) and out.rows == [(13,)]
    finally:
        conn.close()


def test_result_types_follow_schema_changes(tmp_path: Path) -> None:
    """Declared result types are cached per schema version, read at most once a second:
    DDL through askgres is seen at once, DDL from elsewhere within a second."""
    path = make_sqlite(tmp_path / "t.sqlite")
    conn = SqliteBackend("t", path).connect()
    try:
        cols = conn.execute('SELECT * FROM "Artist" WHERE "ArtistId" = 1').columns or []
        assert [c.pg_type for c in cols] == ["int4", "varchar"]
        conn.execute('CREATE TABLE "Flags" ("id" INTEGER PRIMARY KEY, "on" BOOLEAN)')
        conn.execute('INSERT INTO "Flags" VALUES (1, 1)')
        out = conn.try_quick_read('SELECT "on" FROM "Flags"', [], max_steps=100, max_rows=5, max_s=1.0)
        assert isinstance(out, Result) and out.rows == [(True,)] and out.columns and out.columns[0].pg_type == "bool"

        other = sqlite3.connect(path)
        other.execute('CREATE TABLE "Later" ("at" DATETIME)')
        other.execute("INSERT INTO \"Later\" VALUES ('2024-05-01 10:00:00')")
        other.commit()
        other.close()
        time.sleep(1.1)
        later = conn.execute('SELECT "at" FROM "Later"')
        assert later.columns and later.columns[0].pg_type == "timestamp"
        assert later.rows[0][0].year == 2024
    finally:
        conn.close()


def test_answered_at_once_only_what_is_planned_and_quick(harness: EngineHarness) -> None:
    """Session.run_simple_now / execute_now (the wire layer's synchronous paths) answer a
    quick read whose plan is known, and leave everything else to the general path."""
    async def go() -> None:
        s = harness.session("small")
        point = 'SELECT "Name" FROM "Artist" WHERE "ArtistId" = {}'
        assert s.run_simple_now(point.format(1)) is None  # never planned
        await s.run_simple(point.format(1))
        out = s.run_simple_now(point.format(3))
        assert out is not None and rows_of(out) == [("Aerosmith",)] and out.tag == "SELECT 1"
        assert s.run_simple_now('UPDATE "Artist" SET "Name" = \'x\' WHERE "ArtistId" = 1') is None
        assert s.run_simple_now(LONG_QUERY) is None
        assert s.run_simple_now('SELECT "Name" FROM "Artist" WHERE "ArtistId" = abs(3)') is None  # a constant
        await s.run_simple("BEGIN")
        with pytest.raises(PgError):
            await s.run_simple("SELECT no_such_column FROM \"Artist\"")
        assert s.tx_status == "E"
        assert s.run_simple_now(point.format(3)) is None  # a failed transaction answers through the general path
        await s.run_simple("ROLLBACK")
        title = 'SELECT "Title" FROM "Album" WHERE "AlbumId" = $1'
        assert s.prepare_now(title, [None]) is None  # never prepared
        prepared = await s.prepare(title, [None])
        assert s.prepare_now(title, [None]) is prepared and s.prepare_now(title, ["int8"]) is None
        await s.run_simple("BEGIN")
        with pytest.raises(PgError):
            await s.run_simple("SELECT no_such_column FROM \"Artist\"")
        assert s.prepare_now(title, [None]) is None  # a failed transaction refuses it (prepare says why)
        await s.run_simple("ROLLBACK")
        first = s.execute_now(prepared, [10])
        assert first is not None and rows_of(first) == [("Led Zeppelin IV",)]

    asyncio.run(go())


@pytest.mark.parametrize("database", ["small", "small_duckdb"])
def test_an_integer_past_64_bits_compares_as_in_postgresql(harness: EngineHarness, database: str) -> None:
    """``WHERE id = 99999999999999999999`` finds nothing (PostgreSQL compares it as a
    numeric); it once failed as an internal error (XX000) when sqlite3 refused to bind it,
    on the general path and the quick one alike."""
    async def go() -> None:
        s = harness.session(database)
        for literal in ("99999999999999999999", "-99999999999999999999", "1", "99999999999999999999"):
            out = (await s.run_simple(f'SELECT "Name" FROM "Artist" WHERE "ArtistId" = {literal}'))[0]
            assert rows_of(out) == ([("AC/DC",)] if literal == "1" else [])
        prepared = await s.prepare('SELECT "Name" FROM "Artist" WHERE "ArtistId" = $1', ["numeric"])
        assert rows_of(await s.execute(prepared, [99999999999999999999])) == []

    asyncio.run(go())
