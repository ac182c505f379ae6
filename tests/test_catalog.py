"""The emulated catalog, driven through the engine (no sockets) on small SQLite and DuckDB
databases.

``tests/fixtures/psql15_describe_queries.json`` holds the queries psql 15 sends for
``\\l``, ``\\dt``, ``\\d "Album"``, ``\\dn``, ``\\d+``, ``\\di``... (captured with ``psql -E``
from a real PostgreSQL 15; ``{oid}`` marks the relation OID psql found first).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine_support import EngineHarness, rows_of
from gateway.errors import PgError

BACKENDS = ["small", "small_duckdb"]
PSQL = json.loads((Path(__file__).parent / "fixtures" / "psql15_describe_queries.json").read_text())


def psql_queries(command: str) -> list[str]:
    return next(r["queries"] for r in PSQL if r["command"] == command)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[EngineHarness]:
    h = EngineHarness(tmp_path)
    yield h
    asyncio.run(h.aclose())


async def q(session: Any, sql: str) -> list[tuple[Any, ...]]:
    return rows_of((await session.run_simple(sql))[-1])


async def describe(session: Any, command: str, *, pattern: str | None = None) -> list[list[tuple[Any, ...]]]:
    """Run psql's queries for ``command`` the way psql does: the first finds the OID."""
    queries = psql_queries(command)
    first = queries[0]
    if pattern is not None:
        first = first.replace("'^(Album)$'", f"'{pattern}'")
    found = await q(session, first)
    assert found, f"{command}: no relation found"
    oid = found[0][0]
    results = [found]
    for sql in queries[1:]:
        results.append(await q(session, sql.replace("{oid}", str(oid))))
    return results


@pytest.mark.parametrize("db", BACKENDS)
def test_every_captured_psql_query_runs(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        failures = []
        oid = (await q(s, "SELECT oid FROM pg_catalog.pg_class WHERE relname = 'Album'"))[0][0]
        for record in PSQL:
            for sql in record["queries"]:
                try:
                    await s.run_simple(sql.replace("{oid}", str(oid)))
                except PgError as e:
                    failures.append(f"{record['command']}: {e.sqlstate} {e.message}\n{sql[:300]}")
        assert not failures, "\n\n".join(failures)

    asyncio.run(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_psql_list_commands(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        databases = await q(s, psql_queries("\\l")[0])
        assert [r[0] for r in databases] == ["small", "small_duckdb"]
        assert all(r[2] == "UTF8" for r in databases)
        tables = await q(s, psql_queries("\\dt")[0])
        assert [(r[0], r[1], r[2]) for r in tables] == [
            ("public", "Album", "table"), ("public", "Artist", "table"), ("public", "Invoice", "table"),
            ("public", "Track", "table")]
        schemas = await q(s, psql_queries("\\dn")[0])
        assert [r[0] for r in schemas] == ["public"]
        indexes = await q(s, psql_queries("\\di")[0])
        assert ("Album_pkey", "Album") in {(r[1], r[4]) for r in indexes}
        assert ("IFK_AlbumArtistId", "Album") in {(r[1], r[4]) for r in indexes}
        assert await q(s, psql_queries("\\dv")[0]) == []

    asyncio.run(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_psql_describe_album(harness: EngineHarness, db: str) -> None:
    """``\\d Album``: psql folds the name to ``^(album)$``; askgres matches it
    case-insensitively against the backend's ``Album``."""
    async def go() -> None:
        s = harness.session(db)
        found, info, columns, indexes, fks, referenced, *_ = await describe(s, '\\d "Album"', pattern="^(album)$")
        assert [(r[1], r[2]) for r in found] == [("public", "Album")]
        relkind, relhasindex, relhastriggers = info[0][1], info[0][2], info[0][4]
        assert (relkind, relhasindex, relhastriggers) == ("r", True, True)
        varchar = "character varying(160)" if db == "small" else "character varying"
        assert [(r[0], r[1], r[3]) for r in columns] == [
            ("AlbumId", "integer", True), ("Title", varchar, True), ("ArtistId", "integer", True)]
        primary = [r for r in indexes if r[1]]
        assert [(r[0], r[5], r[6]) for r in primary] == [
            ("Album_pkey", 'CREATE UNIQUE INDEX "Album_pkey" ON public."Album" USING btree ("AlbumId")',
             'PRIMARY KEY ("AlbumId")')]
        assert any(r[0] == "IFK_AlbumArtistId" and 'USING btree ("ArtistId")' in r[5] for r in indexes)
        assert [(r[1], r[2], r[3]) for r in fks] == [
            ("Album_ArtistId_fkey", 'FOREIGN KEY ("ArtistId") REFERENCES "Artist"("ArtistId")', '"Album"')]
        assert [(r[1], r[2]) for r in referenced] == [
            ('"Track"', 'FOREIGN KEY ("AlbumId") REFERENCES "Album"("AlbumId")')]

    asyncio.run(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_information_schema(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        tables = await q(s, "SELECT table_name, table_type FROM information_schema.tables "
                            "WHERE table_schema = 'public' ORDER BY 1")
        assert tables == [("Album", "BASE TABLE"), ("Artist", "BASE TABLE"), ("Invoice", "BASE TABLE"),
                          ("Track", "BASE TABLE")]
        cols = await q(s, "SELECT column_name, data_type, is_nullable, numeric_precision, numeric_scale "
                          "FROM information_schema.columns WHERE table_name = 'Track' ORDER BY ordinal_position")
        assert [c[0] for c in cols] == ["TrackId", "Name", "AlbumId", "Composer", "Milliseconds", "UnitPrice"]
        assert cols[0][1:3] == ("integer", "NO") and cols[3][1:3] == ("character varying", "YES")
        assert cols[5][1] == "numeric" and cols[5][3:] == (10, 2)
        keys = await q(s, "SELECT tc.constraint_type, kcu.column_name FROM information_schema.table_constraints tc "
                          "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name "
                          "WHERE tc.table_name = 'Track' ORDER BY 1, 2")
        assert keys == [("FOREIGN KEY", "AlbumId"), ("PRIMARY KEY", "TrackId")]
        schemata = {r[0] for r in await q(s, "SELECT schema_name FROM information_schema.schemata")}
        assert {"public", "pg_catalog", "information_schema"} <= schemata

    asyncio.run(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_types_and_reg_casts(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        assert await q(s, "SELECT oid, typname FROM pg_type WHERE typname IN ('int4', 'varchar', 'bool') "
                          "ORDER BY oid") == [(16, "bool"), (23, "int4"), (1043, "varchar")]
        assert await q(s, "SELECT format_type(1043, 164), pg_catalog.format_type(1700, 655366), "
                          "format_type(23, NULL)") == [("character varying(160)", "numeric(10,2)", "integer")]
        assert await q(s, "SELECT 'int4'::regtype::oid, 'character varying'::regtype::oid") == [(23, 1043)]
        album = (await q(s, "SELECT 'Album'::regclass::oid"))[0][0]
        assert await q(s, f"SELECT relname FROM pg_class WHERE oid = 'public.\"Album\"'::regclass") == [("Album",)]
        assert await q(s, f"SELECT {album}::regclass::text AS name") == [('"Album"',)]
        assert await q(s, "SELECT atttypid::regtype FROM pg_attribute WHERE attrelid = 'Album'::regclass "
                          "AND attnum = 1") == [("integer",)]
        with pytest.raises(PgError) as info:
            await q(s, "SELECT 'nope'::regclass")
        assert info.value.sqlstate == "42P01"
        out = (await s.run_simple("SELECT current_schemas(true), current_schemas(false)"))[0]
        assert [c.pg_type for c in out.columns or []] == ["_text", "_text"]
        assert rows_of(out) == [(["pg_catalog", "public"], ["public"])]  # the wire layer writes {pg_catalog,public}
        assert await q(s, "SELECT pg_get_userbyid(10), has_table_privilege('Album', 'select'), "
                          "pg_table_is_visible('Album'::regclass)") == [("postgres", True, True)]

    asyncio.run(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_session_relations(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db, user="carol")
        other = harness.session(db, user="dave")
        await s.run_simple("SET application_name = 'cat-test'")
        assert await q(s, "SELECT setting FROM pg_settings WHERE name = 'application_name'") == [("cat-test",)]
        assert await q(other, "SELECT setting FROM pg_settings WHERE name = 'application_name'") == [("",)]
        activity = await q(s, "SELECT usename, application_name FROM pg_stat_activity ORDER BY pid")
        assert ("carol", "cat-test") in activity and ("dave", "") in activity

    asyncio.run(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_catalog_prepared_with_parameters(harness: EngineHarness, db: str) -> None:
    """Drivers (pgjdbc, asyncpg) query the catalog with bound parameters."""
    async def go() -> None:
        s = harness.session(db)
        p = await s.prepare("SELECT typname, typlen FROM pg_catalog.pg_type WHERE oid = $1", [None])
        assert p.param_types == ["oid"]
        assert p.columns is not None and [c.name for c in p.columns] == ["typname", "typlen"]
        assert rows_of(await s.execute(p, [23])) == [("int4", 4)]
        p = await s.prepare("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = $1 AND c.relkind = $2 ORDER BY 1", [None, None])
        assert [r[0] for r in rows_of(await s.execute(p, ["public", "r"]))] == ["Album", "Artist", "Invoice", "Track"]

    asyncio.run(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_pgjdbc_primary_keys_query(harness: EngineHarness, db: str) -> None:
    """pgjdbc's DatabaseMetaData.getPrimaryKeys expands pg_index.indkey with
    information_schema._pg_expandarray."""
    sql = ("SELECT result.TABLE_CAT, result.TABLE_SCHEM, result.TABLE_NAME, result.COLUMN_NAME, result.KEY_SEQ, "
           "result.PK_NAME FROM (SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, ct.relname AS TABLE_NAME, "
           "a.attname AS COLUMN_NAME, (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, "
           "ci.relname AS PK_NAME, information_schema._pg_expandarray(i.indkey) AS KEYS, a.attnum AS A_ATTNUM "
           "FROM pg_catalog.pg_class ct JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid) "
           "JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid) "
           "JOIN pg_catalog.pg_index i ON ( a.attrelid = i.indrelid) "
           "JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid) WHERE true AND ct.relname = E'Track' "
           "AND i.indisprimary ) result where result.A_ATTNUM = (result.KEYS).x "
           "ORDER BY result.table_name, result.pk_name, result.key_seq")

    async def go() -> None:
        s = harness.session(db)
        assert await q(s, sql) == [(None, "public", "Track", "TrackId", 1, "Track_pkey")]
        rows = await q(s, "SELECT k.x, k.n FROM pg_index i, information_schema._pg_expandarray(i.indkey) k "
                          "WHERE i.indrelid = 'Track'::regclass AND i.indisprimary")
        assert rows == [(1, 1)]

    asyncio.run(go())


def test_cursor_catalog_and_describe(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session("small")
        await s.run_simple('BEGIN; DECLARE "tracks" CURSOR FOR SELECT "TrackId" FROM "Track"')
        assert s.describe_cursor("tracks") is not None and [c.name for c in s.describe_cursor("tracks") or []] == [
            "TrackId"]
        assert s.describe_cursor("nope") is None
        assert await q(s, "SELECT name, is_holdable FROM pg_cursors") == [("tracks", False)]
        await s.run_simple("ROLLBACK")

    asyncio.run(go())
