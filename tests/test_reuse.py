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
