"""The SQL engine driven directly (no sockets) on small SQLite and DuckDB databases:
command tags, transaction status, extended-query typing, timeouts and cancel, utility
statements, cursors, COPY, questions."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Column
from engine_support import EngineHarness, rows_of
from gateway.api import AskAnswer, Notice, Outcome
from gateway.errors import (
    FeatureNotSupported,
    InFailedTransaction,
    PgError,
    QueryCanceled,
    SyntaxError_,
    UndefinedObject,
    UniqueViolation,
)

BACKENDS = ["small", "small_duckdb"]
LONG_QUERY = ("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 100000000) "
              "SELECT count(*) FROM c")


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[EngineHarness]:
    h = EngineHarness(tmp_path)
    yield h
    asyncio.run(h.aclose())


def arun(coro: Any) -> Any:
    return asyncio.run(coro)


async def simple(session: Any, sql: str) -> list[Outcome]:
    return list(await session.run_simple(sql))


# --- simple query -------------------------------------------------------------------------


@pytest.mark.parametrize("db", BACKENDS)
def test_command_tags(harness: EngineHarness, db: str) -> None:
    async def go() -> list[str]:
        s = harness.session(db)
        outs = await simple(s, """
            CREATE TABLE notes (id integer PRIMARY KEY, body text);
            INSERT INTO notes VALUES (1, 'a'), (2, 'b'), (3, 'c');
            UPDATE notes SET body = 'x' WHERE id > 1;
            DELETE FROM notes WHERE id = 3;
            SELECT * FROM notes ORDER BY id;
            SET application_name = 'tests';
            SHOW application_name;
            BEGIN;
            COMMIT;
            BEGIN;
            ROLLBACK;
            DROP TABLE notes
        """)
        return [o.tag for o in outs]

    assert arun(go()) == ["CREATE TABLE", "INSERT 0 3", "UPDATE 2", "DELETE 1", "SELECT 2", "SET", "SHOW", "BEGIN",
                          "COMMIT", "BEGIN", "ROLLBACK", "DROP TABLE"]


def test_empty_and_comment_only_queries(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session()
        for sql in ("", "   ", ";", "-- just a comment", "/* block */ ;"):
            outs = await simple(s, sql)
            assert len(outs) == 1 and outs[0].is_empty, sql
        outs = await simple(s, "SELECT 1; -- trailing comment")
        assert [o.tag for o in outs] == ["SELECT 1"]

    arun(go())


def test_statements_split_respecting_quotes(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session()
        outs = await simple(s, "SELECT 'a;b' AS x; SELECT $$c;d$$ AS y; SELECT \"Name\" FROM \"Artist\" WHERE "
                               "\"Name\" = 'AC/DC' -- ; not a split\n;")
        assert [rows_of(o) for o in outs] == [[("a;b",)], [("c;d",)], [("AC/DC",)]]

    arun(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_version_and_session_functions(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db, user="alice")
        out = (await simple(s, "SELECT version()"))[0]
        assert out.columns is not None and out.columns[0].name == "version"
        version = rows_of(out)[0][0]
        assert version.startswith("PostgreSQL 15.") and "askgres" in version and "on x86_64-pc-linux-gnu" in version
        out = (await simple(s, "SELECT pg_catalog.version() AS v, current_database(), current_schema(), current_user, "
                               "session_user, pg_backend_pid() AS pid, current_setting('TimeZone') AS tz"))[0]
        v, dbname, schema, user, suser, pid, tz = rows_of(out)[0]
        assert v == version and dbname == db and schema == "public" and user == suser == "alice"
        assert pid == s.pid and tz == "UTC"
        assert [c.name for c in out.columns or []][1:5] == ["current_database", "current_schema", "current_user",
                                                          "session_user"]

    arun(go())


def test_set_show_reset(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session()
        assert rows_of((await simple(s, "SHOW TRANSACTION ISOLATION LEVEL"))[0]) == [("read committed",)]
        out = (await simple(s, "SHOW standard_conforming_strings"))[0]
        assert out.columns == [Column("standard_conforming_strings", "text")] and rows_of(out) == [("on",)]
        await simple(s, "SET SESSION application_name TO 'my app'")
        assert s.parameter_status()["application_name"] == "my app"
        assert rows_of((await simple(s, "SELECT current_setting('application_name')"))[0]) == [("my app",)]
        await simple(s, "SET statement_timeout = '5s'")
        assert rows_of((await simple(s, "SHOW statement_timeout"))[0]) == [("5s",)]
        await simple(s, "SET TIME ZONE 'Europe/Paris'")
        assert rows_of((await simple(s, "SHOW TimeZone"))[0]) == [("Europe/Paris",)]
        await simple(s, "RESET application_name")
        assert s.parameter_status()["application_name"] == ""
        out = (await simple(s, "SELECT set_config('search_path', 'public', false)"))[0]
        assert rows_of(out) == [("public",)]
        assert rows_of((await simple(s, "SHOW search_path"))[0]) == [("public",)]
        with pytest.raises(UndefinedObject):
            await simple(s, "SET no_such_setting = 1")
        await simple(s, "SET my.custom = 'ok'")  # placeholders with a dot are allowed, as in PostgreSQL
        show_all = (await simple(s, "SHOW ALL"))[0]
        names = {r[0] for r in rows_of(show_all)}
        assert {"DateStyle", "TimeZone", "server_version", "search_path"} <= names
        await simple(s, "RESET ALL")
        assert rows_of((await simple(s, "SHOW TimeZone"))[0]) == [("UTC",)]

    arun(go())


def test_set_in_transaction_follows_commit_and_rollback(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session()
        await simple(s, "BEGIN; SET application_name = 'rolled'; ROLLBACK")
        assert s.parameter_status()["application_name"] == ""
        await simple(s, "BEGIN; SET LOCAL application_name = 'local'; SHOW application_name; COMMIT")
        assert s.parameter_status()["application_name"] == ""
        await simple(s, "BEGIN; SET application_name = 'kept'; COMMIT")
        assert s.parameter_status()["application_name"] == "kept"

    arun(go())


# --- transactions -------------------------------------------------------------------------


@pytest.mark.parametrize("db", BACKENDS)
def test_transaction_status_and_aborted_block(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        await simple(s, "CREATE TABLE t (id integer PRIMARY KEY)")
        assert s.tx_status == "I"
        await simple(s, "BEGIN")
        assert s.tx_status == "T"
        await simple(s, "INSERT INTO t VALUES (1)")
        with pytest.raises(UniqueViolation):
            await simple(s, "INSERT INTO t VALUES (1)")
        assert s.tx_status == "E"
        with pytest.raises(InFailedTransaction) as info:
            await simple(s, "SELECT 1")
        assert info.value.sqlstate == "25P02"
        assert s.tx_status == "E"
        outs = await simple(s, "COMMIT")
        assert outs[0].tag == "ROLLBACK" and s.tx_status == "I"
        assert rows_of((await simple(s, "SELECT count(*) FROM t"))[0]) == [(0,)]
        await simple(s, "START TRANSACTION")
        await simple(s, "INSERT INTO t VALUES (2)")
        assert (await simple(s, "COMMIT"))[0].tag == "COMMIT"
        assert rows_of((await simple(s, "SELECT count(*) FROM t"))[0]) == [(1,)]
        # a comment mentioning commit changes nothing
        await simple(s, "BEGIN")
        await simple(s, "SELECT 'commit' AS word -- commit")
        assert s.tx_status == "T"
        await simple(s, "ROLLBACK")
        assert s.tx_status == "I"

    arun(go())


def test_error_outside_transaction_stays_idle_and_reports_done(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session()
        with pytest.raises(PgError) as info:
            await simple(s, "SELECT 1; SELECT * FROM no_such_table; SELECT 3")
        assert info.value.sqlstate == "42P01"
        done = info.value.context["done"]
        assert [o.tag for o in done] == ["SELECT 1"]
        assert s.tx_status == "I"

    arun(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_several_statements_are_one_implicit_transaction(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        await simple(s, "CREATE TABLE u (id integer PRIMARY KEY)")
        with pytest.raises(UniqueViolation):
            await simple(s, "INSERT INTO u VALUES (1); INSERT INTO u VALUES (1)")
        assert s.tx_status == "I"
        assert rows_of((await simple(s, "SELECT count(*) FROM u"))[0]) == [(0,)]

    arun(go())


def test_savepoints_on_sqlite(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session("small")
        await simple(s, "CREATE TABLE sp (id integer PRIMARY KEY)")
        await simple(s, "BEGIN; INSERT INTO sp VALUES (1); SAVEPOINT a")
        with pytest.raises(UniqueViolation):
            await simple(s, "INSERT INTO sp VALUES (1)")
        assert s.tx_status == "E"
        await simple(s, "ROLLBACK TO SAVEPOINT a")
        assert s.tx_status == "T"
        await simple(s, "INSERT INTO sp VALUES (2); COMMIT")
        assert rows_of((await simple(s, "SELECT id FROM sp ORDER BY id"))[0]) == [(1,), (2,)]

    arun(go())


def test_savepoints_on_duckdb_when_nothing_needs_undoing(harness: EngineHarness) -> None:
    """DuckDB has no savepoints; psycopg wraps its catalog reads in them."""
    async def go() -> None:
        s = harness.session("small_duckdb")
        outs = await simple(s, 'BEGIN; SAVEPOINT "_pg3_1"; SELECT count(*) FROM "Album"; RELEASE SAVEPOINT "_pg3_1"')
        assert [o.tag for o in outs] == ["BEGIN", "SAVEPOINT", "SELECT 1", "RELEASE"]
        await simple(s, "SAVEPOINT a")
        with pytest.raises(PgError):
            await simple(s, "SELECT * FROM nope")
        assert s.tx_status == "E"
        assert (await simple(s, "ROLLBACK TO SAVEPOINT a"))[0].tag == "ROLLBACK"
        assert s.tx_status == "T"
        await simple(s, "CREATE TABLE sp (id integer)")
        await simple(s, "SAVEPOINT b; INSERT INTO sp VALUES (1)")
        with pytest.raises(FeatureNotSupported):
            await simple(s, "ROLLBACK TO SAVEPOINT b")
        await simple(s, "ROLLBACK")
        assert s.tx_status == "I"

    arun(go())


def test_read_only_transaction_refuses_writes(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session()
        await simple(s, "BEGIN READ ONLY")
        with pytest.raises(PgError) as info:
            await simple(s, "DELETE FROM \"Track\"")
        assert info.value.sqlstate == "25006"
        await simple(s, "ROLLBACK")
        assert rows_of((await simple(s, "SELECT count(*) FROM \"Track\""))[0]) == [(10,)]

    arun(go())


# --- extended query -----------------------------------------------------------------------


@pytest.mark.parametrize("db", BACKENDS)
def test_prepare_infers_parameter_types_and_columns(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        p = await s.prepare('SELECT "AlbumId", "Title" FROM "Album" WHERE "ArtistId" = $2 AND "Title" LIKE $1 '
                            'ORDER BY 1 LIMIT $3', [None, None, None])
        assert p.param_types == ["text", "int4", "int8"]
        assert p.columns is not None and [c.name for c in p.columns] == ["AlbumId", "Title"]
        assert p.columns[0].pg_type == "int4"
        out = await s.execute(p, ["%", 7, 2])
        assert rows_of(out) == [(10, "Led Zeppelin IV"), (11, "Physical Graffiti")]
        assert out.tag == "SELECT 2"
        # repeated parameters
        p2 = await s.prepare('SELECT count(*) FROM "Album" WHERE "ArtistId" = $1 OR "AlbumId" = $1', [None])
        assert p2.param_types == ["int4"]
        assert rows_of(await s.execute(p2, [3])) == [(3,)]
        # declared types win
        p3 = await s.prepare("SELECT $1::text AS x", ["int8"])
        assert p3.param_types == ["int8"]

    arun(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_session_functions_take_parameters(harness: EngineHarness, db: str) -> None:
    """``current_setting($1)`` as SQLAlchemy's reflection sends it: folded with each
    execution's Bind values, on the backend and in the shadow catalog."""
    async def go() -> None:
        s = harness.session(db)
        p = await s.prepare("SELECT current_setting($1) AS v", [None])
        assert p.columns is not None and [c.name for c in p.columns] == ["v"]
        assert rows_of(await s.execute(p, ["TimeZone"])) == [("UTC",)]
        assert rows_of(await s.execute(p, ["default_table_access_method"])) == [("heap",)]
        assert rows_of(await s.execute(p, [None])) == [(None,)]
        with pytest.raises(UndefinedObject):
            await s.execute(p, ["no_such_setting"])
        missing = await s.prepare("SELECT current_setting($1, $2) AS v", [None, "bool"])
        assert rows_of(await s.execute(missing, ["no_such_setting", True])) == [(None,)]
        with pytest.raises(UndefinedObject):
            await s.execute(missing, ["no_such_setting", False])
        am = await s.prepare("SELECT amname FROM pg_am WHERE amname = current_setting($1::varchar)", [None])
        assert rows_of(await s.execute(am, ["default_table_access_method"])) == [("heap",)]
        setter = await s.prepare("SELECT set_config($1, $2, false)", [None, None])
        assert rows_of(await s.execute(setter, ["application_name", "from bind"])) == [("from bind",)]
        assert s.parameter_status()["application_name"] == "from bind"
        assert rows_of((await simple(s, "SHOW default_table_access_method"))[0]) == [("heap",)]
        out = (await simple(s, "SELECT current_setting('no_such_setting', true) AS a, "
                               "current_setting('default_table_access_method') AS b"))[0]
        assert rows_of(out) == [(None, "heap")]
        with pytest.raises(UndefinedObject):
            await simple(s, "SELECT current_setting('no_such_setting', false)")

    arun(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_integer_casts_keep_big_integers_and_round_fractions(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        p = await s.prepare("SELECT $1::int8 AS i", [None])
        assert rows_of(await s.execute(p, [-9_007_199_254_740_993])) == [(-9_007_199_254_740_993,)]
        out = (await simple(s, "SELECT x::int8 AS i FROM (VALUES (1, 2.5), (2, -2.5), (3, 9007199254740993), "
                               "(4, NULL)) AS v(n, x) ORDER BY n"))[0]
        assert rows_of(out) == [(3,), (-3,), (9_007_199_254_740_993,), (None,)]

    arun(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_describe_does_not_execute(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        await simple(s, "CREATE TABLE d (id integer PRIMARY KEY, note varchar(20))")
        p = await s.prepare("INSERT INTO d (id, note) VALUES ($1, $2) RETURNING id, note", [None, None])
        assert p.param_types == ["int4", "text"]
        assert p.columns is not None and [c.name for c in p.columns] == ["id", "note"]
        assert rows_of((await simple(s, "SELECT count(*) FROM d"))[0]) == [(0,)]
        out = await s.execute(p, [1, "hello"])
        assert out.tag == "INSERT 0 1" and rows_of(out) == [(1, "hello")]
        upd = await s.prepare("UPDATE d SET note = $1 WHERE id = $2", [None, None])
        assert upd.columns is None and upd.param_types == ["text", "int4"]
        assert (await s.execute(upd, ["x", 1])).tag == "UPDATE 1"

    arun(go())


def test_sqlite_columns_typed_from_schema(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session("small")
        p = await s.prepare('SELECT "InvoiceId", "InvoiceDate", "Total", count(*) OVER () AS n FROM "Invoice"', [])
        assert [(c.name, c.pg_type) for c in p.columns or []] == [
            ("InvoiceId", "int4"), ("InvoiceDate", "timestamp"), ("Total", "numeric"), ("n", "int8")]
        empty = await s.prepare('SELECT "Composer" FROM "Track" WHERE false', [])
        assert [(c.name, c.pg_type) for c in empty.columns or []] == [("Composer", "varchar")]

    arun(go())


def test_prepare_rejects_several_statements(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session()
        with pytest.raises(SyntaxError_):
            await s.prepare("SELECT 1; SELECT 2", [])
        empty = await s.prepare("", [])
        assert empty.is_empty
        assert (await s.execute(empty, [])).is_empty

    arun(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_transaction_through_extended_protocol(harness: EngineHarness, db: str) -> None:
    """pgjdbc sends BEGIN/COMMIT as prepared statements."""
    async def go() -> None:
        s = harness.session(db)
        begin = await s.prepare("BEGIN", [])
        commit = await s.prepare("COMMIT", [])
        await s.execute(begin, [])
        assert s.tx_status == "T"
        bad = await s.prepare("SELECT 1", [])
        with pytest.raises(PgError):
            await s.prepare("SELECT * FROM nope", [])
        assert s.tx_status == "E"
        with pytest.raises(InFailedTransaction):
            await s.execute(bad, [])
        out = await s.execute(commit, [])
        assert out.tag == "ROLLBACK" and s.tx_status == "I"

    arun(go())


# --- timeouts and cancel ------------------------------------------------------------------


@pytest.mark.parametrize("db", BACKENDS)
def test_statement_timeout(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        await simple(s, "SET statement_timeout = 200")
        t0 = time.monotonic()
        with pytest.raises(QueryCanceled) as info:
            await simple(s, LONG_QUERY)
        assert info.value.sqlstate == "57014"
        assert time.monotonic() - t0 < 10
        assert rows_of((await simple(s, "SELECT 1"))[0]) == [(1,)]

    arun(go())


def test_settings_statement_timeout(tmp_path: Path) -> None:
    h = EngineHarness(tmp_path, statement_timeout_s=0.2)

    async def go() -> None:
        s = h.session()
        with pytest.raises(QueryCanceled):
            await simple(s, LONG_QUERY)
        await h.aclose()

    arun(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_cancel_interrupts_running_query(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        task = asyncio.create_task(simple(s, LONG_QUERY))
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        s.cancel()
        with pytest.raises(QueryCanceled):
            await task
        assert time.monotonic() - t0 < 5
        assert rows_of((await simple(s, "SELECT 2"))[0]) == [(2,)]

    arun(go())


def test_sessions_run_concurrently(harness: EngineHarness) -> None:
    """A long query in one session does not block another session."""
    async def go() -> None:
        slow = harness.session("small_duckdb")
        fast = harness.session("small_duckdb")
        task = asyncio.create_task(simple(slow, LONG_QUERY))
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        assert rows_of((await simple(fast, "SELECT count(*) FROM \"Album\""))[0]) == [(13,)]
        assert time.monotonic() - t0 < 2
        slow.cancel()
        with pytest.raises(QueryCanceled):
            await task

    arun(go())


# --- utility statements -----------------------------------------------------------------------


@pytest.mark.parametrize("db", BACKENDS)
def test_cursors(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        with pytest.raises(PgError) as info:
            await simple(s, "DECLARE c CURSOR FOR SELECT 1")
        assert info.value.sqlstate == "25P01"
        outs = await simple(s, 'BEGIN; DECLARE c CURSOR FOR SELECT "AlbumId" FROM "Album" ORDER BY 1; '
                               "FETCH 2 FROM c; FETCH NEXT IN c; MOVE 5 IN c; FETCH ALL FROM c")
        assert [o.tag for o in outs] == ["BEGIN", "DECLARE CURSOR", "FETCH 2", "FETCH 1", "MOVE 5", "FETCH 5"]
        assert rows_of(outs[2]) == [(1,), (2,)] and rows_of(outs[3]) == [(3,)]
        assert rows_of(outs[5]) == [(9,), (10,), (11,), (12,), (13,)]
        assert (await simple(s, "FETCH 1 FROM c"))[0].tag == "FETCH 0"
        assert (await simple(s, "CLOSE c"))[0].tag == "CLOSE CURSOR"
        with pytest.raises(PgError) as info:
            await simple(s, "FETCH 1 FROM c")
        assert info.value.sqlstate == "34000"
        await simple(s, "ROLLBACK")

    arun(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_copy_to_stdout(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        out = (await simple(s, 'COPY (SELECT "ArtistId", "Name" FROM "Artist" ORDER BY 1 LIMIT 2) TO STDOUT'))[0]
        assert out.copy_out and out.tag == "COPY 2" and rows_of(out) == [(1, "AC/DC"), (2, "Accept")]
        out = (await simple(s, 'COPY "Artist" ("Name") TO STDOUT'))[0]
        assert out.copy_out and out.tag == "COPY 7" and ("Led Zeppelin",) in rows_of(out)
        with pytest.raises(FeatureNotSupported):
            await simple(s, 'COPY "Artist" FROM STDIN')

    arun(go())


def test_refused_and_housekeeping_statements(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session()
        for sql in ("LISTEN news", "NOTIFY news, 'x'", "UNLISTEN *"):
            with pytest.raises(FeatureNotSupported) as info:
                await simple(s, sql)
            assert info.value.sqlstate == "0A000" and "not supported" in info.value.message
        await simple(s, "SET application_name = 'x'")
        outs = await simple(s, "DISCARD ALL")
        assert outs[0].tag == "DISCARD ALL" and s.parameter_status()["application_name"] == ""
        outs = await simple(s, "PREPARE q (int) AS SELECT \"Name\" FROM \"Artist\" WHERE \"ArtistId\" = $1; "
                               "EXECUTE q(7); DEALLOCATE q")
        assert [o.tag for o in outs] == ["PREPARE", "SELECT 1", "DEALLOCATE"]
        assert rows_of(outs[1]) == [("Led Zeppelin",)]

    arun(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_ddl_refreshes_schema_and_catalog(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        other = harness.session(db)
        before = rows_of((await simple(other, "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'"))[0])
        await simple(s, "CREATE TABLE Extra (id integer PRIMARY KEY, label varchar(10) NOT NULL)")
        after = rows_of((await simple(other, "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'"))[0])
        assert after[0][0] == before[0][0] + 1
        cols = rows_of((await simple(other, "SELECT column_name, data_type FROM information_schema.columns "
                                            "WHERE lower(table_name) = 'extra' ORDER BY ordinal_position"))[0])
        assert [c[0].lower() for c in cols] == ["id", "label"]
        assert cols[0][1] == "integer"
        p = await other.prepare("SELECT * FROM extra WHERE id = $1", [None])
        assert p.param_types == ["int4"]
        # DDL inside a transaction: the catalog follows the COMMIT or the ROLLBACK
        count = "SELECT count(*) FROM pg_catalog.pg_tables WHERE lower(tablename) IN ('t_commit', 't_rollback')"
        await simple(s, "BEGIN; CREATE TABLE t_rollback (a integer)")
        await simple(other, count)
        await simple(s, "ROLLBACK; BEGIN; CREATE TABLE t_commit (a integer)")
        await simple(other, count)
        await simple(s, "COMMIT")
        assert rows_of((await simple(other, count))[0]) == [(1,)]

    arun(go())


# --- questions ------------------------------------------------------------------------------


class RecordingAsker:
    """An Asker that answers from the database itself, counting its calls."""

    def __init__(self) -> None:
        self.questions: list[str] = []
        self.admin: list[str] = []

    async def answer(self, question: str, *, database: str, session_id: str, user: str,
                     cancel: threading.Event | None = None) -> AskAnswer:
        self.questions.append(question)
        return AskAnswer(question=question, sql='SELECT count(*) AS albums FROM "Album"',
                         columns=[Column("albums", "int8")], rows=[(13,)], summary="There are 13 albums.",
                         notices=[Notice("model: test")])

    def is_admin_sql(self, sql: str) -> bool:
        return "askgres." in sql.lower()

    async def admin_sql(self, sql: str, *, database: str, session_id: str, user: str, is_admin: bool) -> Outcome:
        self.admin.append(sql)
        return Outcome(tag="SELECT 1", columns=[Column("n", "int4")], rows=[(1,)])


def test_questions_simple_and_extended(tmp_path: Path) -> None:
    h = EngineHarness(tmp_path)
    asker = RecordingAsker()
    h.engine.asker = asker

    async def go() -> None:
        s = h.session()
        out = (await simple(s, "-- ask: how many albums are there?"))[0]
        assert out.tag == "SELECT 1" and rows_of(out) == [(13,)]
        assert [n.message for n in out.notices][:2] == ["There are 13 albums.", 'SQL: SELECT count(*) AS albums FROM "Album"']
        assert asker.questions == ["how many albums are there?"]
        # Parse/Describe/Execute: one call to the model
        p = await s.prepare("/* ask: how many albums? */", [])
        assert p.columns == [Column("albums", "int8")]
        out = await s.execute(p, [])
        assert rows_of(out) == [(13,)] and len(asker.questions) == 2
        # inside a transaction block
        await simple(s, "BEGIN")
        assert rows_of((await simple(s, "-- ask: how many albums?"))[0]) == [(13,)]
        assert s.tx_status == "T"
        await simple(s, "COMMIT")
        out = (await simple(s, "SELECT * FROM askgres.failures"))[0]
        assert asker.admin == ["SELECT * FROM askgres.failures"] and out.tag == "SELECT 1"
        await h.aclose()

    arun(go())


class ScriptedAsker(RecordingAsker):
    """Answers with the next of the given column lists and rows."""

    def __init__(self, answers: list[tuple[list[Column], list[tuple[Any, ...]]]]) -> None:
        super().__init__()
        self.answers = answers

    async def answer(self, question: str, *, database: str, session_id: str, user: str,
                     cancel: threading.Event | None = None) -> AskAnswer:
        self.questions.append(question)
        columns, rows = self.answers[len(self.questions) - 1]
        return AskAnswer(question=question, sql="SELECT ...", columns=columns, rows=rows, summary="")


def test_prepared_question_answered_again_in_the_described_type(tmp_path: Path) -> None:
    """A prepared question's later answers are sent in the types described at Parse where
    their values allow (a column of NULLs fits any type, numbers a numeric type that holds
    them, anything text); otherwise 0A000, as PostgreSQL says when a plan's result changes."""
    h = EngineHarness(tmp_path)
    h.engine.asker = ScriptedAsker([
        ([Column("total", "float8"), Column("who", "text")], [(1.5, "ann")]),  # Parse
        ([Column("total", "text"), Column("who", "text")], [(None, None)]),  # no rows summed
        ([Column("sum", "int8"), Column("who", "int8")], [(3, 7)]),  # other SQL, numbers
        ([Column("total", "text"), Column("who", "text")], [("many", "bob")]),  # text for float8
        ([Column("total", "float8")], [(1.0,)]),  # one column
    ])

    async def go() -> None:
        s = h.session()
        p = await s.prepare("/* ask: what did ann spend? */", [])
        assert p.columns == [Column("total", "float8"), Column("who", "text")]
        assert rows_of(await s.execute(p, [])) == [(1.5, "ann")]
        out = await s.execute(p, [])
        assert [c.pg_type for c in out.columns or []] == ["float8", "text"] and rows_of(out) == [(None, None)]
        out = await s.execute(p, [])
        assert [c.pg_type for c in out.columns or []] == ["float8", "text"] and rows_of(out) == [(3, "7")]
        for _ in range(2):
            with pytest.raises(PgError) as info:
                await s.execute(p, [])
            assert info.value.sqlstate == "0A000" and "cached plan must not change result type" in info.value.message
        assert rows_of((await simple(s, "SELECT 1"))[0]) == [(1,)]  # the session goes on
        await h.aclose()

    arun(go())


def test_sqlite_unknown_quoted_column_is_an_error(harness: EngineHarness) -> None:
    """SQLite would read ``"NoSuchColumn"`` as a string; PostgreSQL says 42703."""
    async def go() -> None:
        s = harness.session("small")
        with pytest.raises(PgError) as info:
            await simple(s, 'SELECT "NoSuchColumn" FROM "Track"')
        assert info.value.sqlstate == "42703"
        with pytest.raises(PgError):
            await s.prepare('SELECT "NoSuchColumn" FROM "Track"', [])

    arun(go())


def test_timestamp_parameters_keep_microseconds(harness: EngineHarness) -> None:
    import datetime as dt

    async def go() -> None:
        for db in BACKENDS:
            s = harness.session(db)
            await simple(s, "CREATE TABLE ts (id integer PRIMARY KEY, at timestamp)")
            p = await s.prepare("INSERT INTO ts VALUES ($1, $2::timestamp)", [None, None])
            stamp = dt.datetime(2009, 1, 1, 1, 2, 3, 4500)
            await s.execute(p, [1, stamp])
            got = rows_of((await simple(s, "SELECT at FROM ts"))[0])[0][0]
            assert got == stamp or got == str(stamp), db

    arun(go())


def test_questions_without_asker_are_refused(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session()
        with pytest.raises(FeatureNotSupported) as info:
            await simple(s, "-- ask: how many albums?")
        assert "not enabled" in info.value.message
        # a plain comment before SQL is not a question
        assert rows_of((await simple(s, "-- the count\nSELECT count(*) FROM \"Album\""))[0]) == [(13,)]

    arun(go())


# --- plan reuse for constants ---------------------------------------------------------------


def test_literal_templates() -> None:
    from gateway.literals import template, values_only
    from gateway.translate import parse

    assert template('SELECT "Name" FROM "Track" WHERE "TrackId" = 17 AND "Name" = \'it\'\'s\'') == (
        'SELECT "Name" FROM "Track" WHERE "TrackId" = $1 AND "Name" = $2', [17, "it's"])
    assert template("SELECT 1.5e3, x1 FROM t2") is not None
    assert template('SELECT "a1" FROM t') is None  # no constants
    assert template("SELECT date '2020-01-01'") is None  # typed literal
    assert template("SELECT $1") is None
    allowed = ['SELECT * FROM "Track" WHERE "TrackId" = $1 LIMIT $2', "INSERT INTO t VALUES ($1, $2)",
               "UPDATE t SET a = $1 WHERE b IN ($2, $3)", "SELECT * FROM t WHERE a BETWEEN $1 AND $2"]
    refused = ["SELECT $1", "SELECT a FROM t GROUP BY $1", "SELECT date_trunc($1, d) FROM t",
               "SELECT * FROM t WHERE $1 = $2", "SELECT * FROM t ORDER BY $1"]
    assert all(values_only(parse(sql), sql.count("$")) for sql in allowed)
    assert not any(values_only(parse(sql), sql.count("$")) for sql in refused)
    assert not values_only(parse("EXPLAIN SELECT $1"), 1)


@pytest.mark.parametrize("db", BACKENDS)
def test_statements_differing_in_constants_share_a_plan(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        names = [rows_of((await simple(s, f'SELECT "Name" FROM "Artist" WHERE "ArtistId" = {i}'))[0])
                 for i in (1, 2, 7)]
        assert names == [[("AC/DC",)], [("Accept",)], [("Led Zeppelin",)]]
        templates = [k[0] for k in harness.engine.dbs[db].plans]
        assert 'SELECT "Name" FROM "Artist" WHERE "ArtistId" = $1' in templates
        assert not any("= 7" in t for t in templates)
        # constants that shape the result stay constants
        out = (await simple(s, 'SELECT 1 AS one, "ArtistId" FROM "Album" GROUP BY 2 ORDER BY 2 LIMIT 2'))[0]
        assert rows_of(out) == [(1, 1), (1, 2)]
        assert rows_of((await simple(s, "SELECT count(*) FROM \"Album\" WHERE \"Title\" LIKE 'B%'"))[0]) == [(2,)]

    arun(go())


def test_close_during_a_running_query(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session("small")
        await simple(s, "BEGIN")
        task = asyncio.create_task(simple(s, LONG_QUERY))
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        await s.close()
        assert time.monotonic() - t0 < 5
        with pytest.raises(PgError):
            await task
        with pytest.raises(PgError) as info:
            await simple(s, "SELECT 1")
        assert info.value.sqlstate == "08003"

    arun(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_writes_postgres_style(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        outs = await simple(s, """
            CREATE TABLE kv (k integer PRIMARY KEY, v varchar(10), flag boolean DEFAULT false);
            INSERT INTO kv VALUES (1, 'a', true) ON CONFLICT DO NOTHING;
            INSERT INTO kv VALUES (1, 'b') ON CONFLICT (k) DO UPDATE SET v = excluded.v;
            SELECT k, v, flag FROM kv WHERE flag IS TRUE;
            TRUNCATE kv;
            SELECT count(*) FROM kv
        """)
        assert [o.tag for o in outs] == ["CREATE TABLE", "INSERT 0 1", "INSERT 0 1", "SELECT 1", "TRUNCATE TABLE",
                                         "SELECT 1"]
        assert rows_of(outs[3]) == [(1, "b", True)] and rows_of(outs[5]) == [(0,)]

    arun(go())


# --- PostgreSQL functions and operators ------------------------------------------------------

# (expression, PostgreSQL 15's answer as psql prints it (None: NULL), its type). SQLite runs
# them with Python functions on each connection (connectors/sqlite_functions.py), DuckDB
# with its own.
PG_EXPRESSIONS = [
    ("'abc' ~ 'b'", "t", "bool"),
    ("'abc' !~ 'z'", "t", "bool"),
    ("'abc' ~ 'B'", "f", "bool"),
    ("'abc' ~* 'B'", "t", "bool"),
    ("'abc' !~* 'B'", "f", "bool"),
    ("NULL::text ~ 'a'", None, "bool"),
    ("'a1' ~ '^[[:alpha:]][[:digit:]]$'", "t", "bool"),
    ("E'a\\n' ~ 'a$'", "f", "bool"),
    ("regexp_like('aBc', 'b', 'i')", "t", "bool"),
    ("regexp_replace('abcb', 'b', 'x')", "axcb", "text"),
    ("regexp_replace('abcb', 'b', 'x', 'g')", "axcx", "text"),
    ("regexp_replace('abcB', 'b', 'x', 'gi')", "axcx", "text"),
    ("regexp_replace('aXbX', 'x', '-', 'i')", "a-bX", "text"),
    ("regexp_replace('abc', '(b)', '[\\1]')", "a[b]c", "text"),
    ("regexp_replace(NULL, 'b', 'x')", None, "text"),
    ("md5('a')", "0cc175b9c0f1b6a831c399e269772661", "text"),
    ("md5('')", "d41d8cd98f00b204e9800998ecf8427e", "text"),
    ("split_part('a,b,c', ',', 2)", "b", "text"),
    ("split_part('a,b,c', ',', -1)", "c", "text"),
    ("split_part('a,b,c', ',', 5)", "", "text"),
    ("initcap('hello world')", "Hello World", "text"),
    ("initcap('hELLO wORLD don''t x2y')", "Hello World Don'T X2y", "text"),
    ("""'{"a":1}'::json->>'a'""", "1", "text"),
    ("""'{"a":1}'::json->'a'""", "1", "json"),
    ("""'{"a":1}'::jsonb->>'a'""", "1", "text"),
    ("""'{"a":"x"}'::json->'a'""", '"x"', "json"),
    ("""'{"a":"x"}'::jsonb->>'a'""", "x", "text"),
    ("""'{"a":{"b":[1,"x"]}}'::jsonb#>>'{a,b,1}'""", "x", "text"),
    ("""'{"a":{"b":[1,"x"]}}'::json#>'{a,b,0}'""", "1", "json"),
    ("'[1,2,3]'::json->1", "2", "json"),
    ("'[1,2,3]'::json->>-1", "3", "text"),
    ("'[1,2]'::jsonb->'1'", None, "jsonb"),
    ("""'{"a":true}'::json->>'a'""", "true", "text"),
    ("""'{"a":null}'::jsonb->>'a'""", None, "text"),
    ("""'{"a":1}'::json->>'b'""", None, "text"),
    ("""'{"a.b":1}'::json->>'a.b'""", "1", "text"),
    ("""'{"b": 2, "a": 1}'::json""", '{"b": 2, "a": 1}', "json"),
    ("""'{"b": 2, "a": 1}'::jsonb""", '{"a": 1, "b": 2}', "jsonb"),
    ("regexp_replace('abcabcabc', 'b', 'X', 1, 2)", "abcaXcabc", "text"),
    ("E'a\\nb' ~ 'a.b'", "t", "bool"),
]
# DuckDB's own answers that differ (kept as they are): its regular expressions are RE2's
# ("." does not match a newline), regexp_replace has no start/N, and it has no jsonb.
DUCKDB_DIFFERS = {"regexp_replace('abcabcabc', 'b', 'X', 1, 2)", "E'a\\nb' ~ 'a.b'",
                  """'{"b": 2, "a": 1}'::jsonb"""}


def pg_column_name(expr: str) -> str:
    """PostgreSQL's name for the column of ``SELECT expr`` (the cases above)."""
    if m := re.match(r"(\w+)\(", expr) or re.search(r"::(\w+)$", expr):
        return m.group(1)
    return "?column?"


def wire_text(outcome: Outcome) -> str | None:
    """The single value of ``outcome`` as a client receives it in text format."""
    from gateway.protocol.types import encoder

    assert outcome.columns is not None
    value = rows_of(outcome)[0][0]
    return None if value is None else encoder(outcome.columns[0].pg_type)(value).decode()


@pytest.mark.parametrize("db", BACKENDS)
def test_postgres_functions_and_operators(harness: EngineHarness, db: str) -> None:
    async def go() -> list[str]:
        s = harness.session(db)
        wrong = []
        for expr, expected, pg_type in PG_EXPRESSIONS:
            if db == "small_duckdb" and expr in DUCKDB_DIFFERS:
                continue
            out = (await simple(s, f"SELECT {expr}"))[0]
            assert out.columns is not None
            column = out.columns[0]
            got = (wire_text(out), column.name)
            if got != (expected, pg_column_name(expr)):
                wrong.append(f"{expr}: {got}, PostgreSQL {expected!r}")
            # DuckDB's types are its own (varchar, json for jsonb); SQLite's are typed here
            if db == "small" and column.pg_type != pg_type:
                wrong.append(f"{expr}: type {column.pg_type}, PostgreSQL {pg_type}")
        return wrong

    assert arun(go()) == []


@pytest.mark.parametrize("db", BACKENDS)
def test_regex_and_json_on_columns_and_parameters(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        out = (await simple(s, 'SELECT "Name" FROM "Artist" WHERE "Name" ~ \'^A[c-e]\' ORDER BY 1'))[0]
        assert rows_of(out) == [("Accept",), ("Aerosmith",)]
        out = (await simple(s, 'SELECT count(*) FROM "Album" WHERE "Title" ~* \'rock\' AND "Title" !~ \'Rock\''))[0]
        assert rows_of(out) == [(1,)]
        out = (await simple(s, 'SELECT regexp_replace("Name", \'[aeiou]\', \'\', \'g\') AS n FROM "Artist" '
                               'WHERE "ArtistId" = 7'))[0]
        assert rows_of(out) == [("Ld Zppln",)]
        p = await s.prepare('SELECT "Name" FROM "Artist" WHERE "Name" ~* $1 ORDER BY 1', [None])
        assert rows_of(await s.execute(p, ["^a[c-e]"])) == [("AC/DC",), ("Accept",), ("Aerosmith",)]
        p = await s.prepare("SELECT $1::json ->> $2 AS v", [None, None])
        assert p.columns is not None and p.columns[0].pg_type in ("text", "varchar")
        assert rows_of(await s.execute(p, ['{"k": [5], "n": "x"}', "n"])) == [("x",)]
        agg = await s.prepare('SELECT array_agg("ArtistId") AS ids FROM "Artist" WHERE "ArtistId" < 4', [])
        assert agg.columns is not None and agg.columns[0].pg_type == "_int4"
        assert wire_text(await s.execute(agg, [])) == "{1,2,3}"
        names = (await simple(s, 'SELECT array_agg("Composer") FROM "Track" WHERE "TrackId" < 3'))[0]
        assert wire_text(names) == '{"Angus Young, Malcolm Young, Brian Johnson",NULL}'

    arun(go())


def test_sqlite_function_errors_carry_postgres_sqlstates(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session("small")
        for sql, sqlstate in (("SELECT 'a' ~ '('", "2201B"), ("SELECT regexp_replace('a', 'a', 'b', 'z')", "22023"),
                              ("SELECT split_part('a', ',', 0)", "22023"), ("SELECT 'nonsense'::json", "22P02"),
                              ("SELECT regexp_like('a', 'a', 'g')", "22023")):
            with pytest.raises(PgError) as info:
                await simple(s, sql)
            assert info.value.sqlstate == sqlstate, sql
        assert rows_of((await simple(s, "SELECT md5('a') = '0cc175b9c0f1b6a831c399e269772661'"))[0]) == [(True,)]
        ordered = 'SELECT array_agg("Name" ORDER BY "Name" DESC) FROM "Artist" WHERE "ArtistId" < 3'
        if sqlite3.sqlite_version_info < (3, 44):  # aggregate(x ORDER BY y): not before SQLite 3.44
            with pytest.raises(FeatureNotSupported):
                await simple(s, ordered)
        else:
            assert wire_text((await simple(s, ordered))[0]) == "{Accept,AC/DC}"

    arun(go())
