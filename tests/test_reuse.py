"""What the engine reuses between statements for speed, and when it must not: Parse
results of a session (gateway.parsecache) and plans shared by statements that differ only
in their constants (gateway.literals)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import InFailedTransaction, PgError
from tests.engine_support import EngineHarness, rows_of

BACKENDS = ["small", "small_duckdb"]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[EngineHarness]:
    h = EngineHarness(tmp_path)
    yield h
    asyncio.run(h.aclose())


# --- Parse results --------------------------------------------------------------------------


@pytest.mark.parametrize("db", BACKENDS)
def test_repeated_parse_is_reused_until_ddl(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        sql = 'SELECT "Name" FROM "Artist" WHERE "ArtistId" = $1'
        first = await s.prepare(sql, [None])
        again = await s.prepare(sql, [None])
        assert again is first and first.param_types == ["int4"]
        assert rows_of(await s.execute(again, [3])) == [("Aerosmith",)]
        typed = await s.prepare(sql, ["int8"])  # other declared types: parsed on its own
        assert typed is not first and typed.param_types == ["int8"]

        await s.run_simple('ALTER TABLE "Artist" ADD COLUMN "Country" TEXT')
        after = await s.prepare(sql, [None])
        assert after is not first
        star = await s.prepare('SELECT * FROM "Artist" WHERE "ArtistId" = $1', [None])
        assert [c.name for c in star.columns or []] == ["ArtistId", "Name", "Country"]

    asyncio.run(go())


def test_reused_parse_still_refused_in_an_aborted_transaction(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session("small")
        sql = 'SELECT "Title" FROM "Album" WHERE "AlbumId" = $1'
        await s.prepare(sql, [None])
        await s.run_simple("BEGIN")
        with pytest.raises(PgError):
            await s.run_simple('SELECT * FROM "NoSuchTable"')
        with pytest.raises(InFailedTransaction):
            await s.prepare(sql, [None])
        await s.run_simple("ROLLBACK")
        p = await s.prepare(sql, [None])
        assert rows_of(await s.execute(p, [5])) == [("Big Ones",)]

    asyncio.run(go())


def test_statements_with_session_functions_are_parsed_each_time(harness: EngineHarness) -> None:
    async def go() -> None:
        s = harness.session("small")
        a = await s.prepare("SELECT current_setting('application_name') AS app", [])
        b = await s.prepare("SELECT current_setting('application_name') AS app", [])
        assert a is not b
        await s.run_simple("SET application_name = 'reuse'")
        assert rows_of(await s.execute(b, [])) == [("reuse",)]

    asyncio.run(go())


# --- plans shared by statements that differ in their constants ----------------------------


def _plans(h: EngineHarness, db: str) -> list[str]:
    return [key[0] for key in h.engine.dbs[db].plans]


@pytest.mark.parametrize("db", BACKENDS)
def test_same_statement_with_other_constants_gives_other_answers(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)

        async def one(sql: str) -> list[tuple[object, ...]]:
            return rows_of((await s.run_simple(sql))[0])

        q = 'SELECT "Name" FROM "Artist" WHERE "ArtistId" = {} OR "Name" = {}'
        assert await one(q.format(1, "'Accept'")) == [("AC/DC",), ("Accept",)]
        assert await one(q.format(3, "'Led Zeppelin'")) == [("Aerosmith",), ("Led Zeppelin",)]
        assert await one(q.format(99, "'it''s -- not a comment'")) == []
        assert await one(q.format(4, "'/* nor this */'")) == [("Alanis Morissette",)]
        assert 'SELECT "Name" FROM "Artist" WHERE "ArtistId" = $1 OR "Name" = $2' in _plans(harness, db)
        # IN lists, BETWEEN and LIMIT take other values too
        assert await one('SELECT "ArtistId" FROM "Artist" WHERE "ArtistId" IN (2, 5) ORDER BY 1') == [(2,), (5,)]
        assert await one('SELECT "ArtistId" FROM "Artist" WHERE "ArtistId" IN (6, 7) ORDER BY 1') == [(6,), (7,)]
        assert await one('SELECT "ArtistId" FROM "Artist" WHERE "ArtistId" BETWEEN 2 AND 3 ORDER BY 1 LIMIT 5') \
            == [(2,), (3,)]
        assert await one('SELECT "ArtistId" FROM "Artist" WHERE "ArtistId" BETWEEN 4 AND 7 ORDER BY 1 LIMIT 2') \
            == [(4,), (5,)]
        # comments keep their digits and quotes: only the constants of the statement change
        assert await one('SELECT "Title" FROM "Album" WHERE "AlbumId" = 5 -- AlbumId = 6, \'x\'') == [("Big Ones",)]
        assert await one('SELECT "Title" FROM "Album" /* = 7 */ WHERE "AlbumId" = 6') == [("Jagged Little Pill",)]

    asyncio.run(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_constants_that_shape_a_statement_stay_constants(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)

        async def one(sql: str) -> list[tuple[object, ...]]:
            return rows_of((await s.run_simple(sql))[0])

        assert await one("SELECT 1 AS a, 'x' AS b") == [(1, "x")]
        assert await one("SELECT 2 AS a, 'y' AS b") == [(2, "y")]
        out = (await s.run_simple("SELECT '1'::int + 1 AS n"))[0]
        assert rows_of(out) == [(2,)] and out.columns is not None and out.columns[0].pg_type in ("int4", "int8")
        assert await one("SELECT '41'::int + 1 AS n") == [(42,)]
        assert await one("SELECT CAST('7' AS integer) * 2 AS n") == [(14,)]
        assert await one("SELECT E'a\\\\b' AS e, E'it\\'s' AS q") == [("a\\b", "it's")]
        assert await one("SELECT $$dollar 'quoted' -- 5$$ AS d") == [("dollar 'quoted' -- 5",)]
        assert await one("SELECT $t$x$t$ AS d WHERE 1 = 1") == [("x",)]
        assert await one('SELECT "ArtistId", count(*) FROM "Album" GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1') \
            == [(7, 3)]
        assert await one('SELECT "Title" FROM "Album" ORDER BY 1 LIMIT 1') == [("Audioslave",)]
        assert await one("SELECT count(*) FROM \"Invoice\" WHERE \"InvoiceDate\" < DATE '2010-01-01'") == [(3,)]
        assert await one("SELECT count(*) FROM \"Invoice\" WHERE \"InvoiceDate\" < DATE '2011-01-01'") == [(5,)]
        assert await one("SELECT count(*) FROM \"Invoice\" WHERE \"InvoiceDate\" >= '2010-03-06T00:00:00Z'") \
            == [(3,)]
        assert await one("SELECT count(*) FROM \"Album\" WHERE \"Title\" LIKE 'r%'") == [(1,)]
        assert await one("SELECT count(*) FROM \"Album\" WHERE \"Title\" LIKE 'R%'") == [(1,)]
        plans = _plans(harness, db)
        assert not any("$" in p and ("GROUP BY" in p or "::" in p or "CAST" in p or "DATE $" in p) for p in plans)
        assert not any(p.startswith("SELECT $1") for p in plans)

    asyncio.run(go())


@pytest.mark.parametrize("db", BACKENDS)
def test_known_statement_shapes_skip_straight_to_their_plan(harness: EngineHarness, db: str) -> None:
    async def go() -> None:
        s = harness.session(db)
        q = 'SELECT "Name" FROM "Artist" WHERE "ArtistId" = {};'
        assert rows_of((await s.run_simple(q.format(1)))[0]) == [("AC/DC",)]
        assert s.simple_plans.get('SELECT "Name" FROM "Artist" WHERE "ArtistId" = $1', harness.engine.dbs[db].generation)
        assert rows_of((await s.run_simple(q.format(2)))[0]) == [("Accept",)]
        assert rows_of((await s.run_simple(q.format(3).rstrip(";") + "  "))[0]) == [("Aerosmith",)]
        # the same shape twice in one query is two statements, not one
        both = await s.run_simple(q.format(4) + " " + q.format(5))
        assert [rows_of(o) for o in both] == [[("Alanis Morissette",)], [("Apocalyptica",)]]
        # an aborted transaction refuses it like any statement
        await s.run_simple("BEGIN")
        with pytest.raises(PgError):
            await s.run_simple('SELECT * FROM "NoSuchTable"')
        with pytest.raises(InFailedTransaction):
            await s.run_simple(q.format(6))
        await s.run_simple("ROLLBACK")
        # a schema change makes it plan again
        await s.run_simple('ALTER TABLE "Artist" ADD COLUMN "Country" TEXT')
        assert rows_of((await s.run_simple(q.format(7)))[0]) == [("Led Zeppelin",)]
        ts = "SELECT count(*) FROM \"Invoice\" WHERE \"InvoiceId\" > {} AND \"InvoiceDate\" >= '{}'"
        assert rows_of((await s.run_simple(ts.format(0, "2010-01-01")))[0]) == [(3,)]
        assert rows_of((await s.run_simple(ts.format(0, "2011-12-19T00:00:00Z")))[0]) == [(1,)]

    asyncio.run(go())
