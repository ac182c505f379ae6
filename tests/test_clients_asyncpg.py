"""asyncpg against the running gateway, on both backends: fetch, fetchrow, prepared
statements with untyped ``$1`` (asyncpg declares no parameter types and reads every result
in binary), executemany, transactions, and the binary codecs of the common types. Answers
are compared with the same queries on PostgreSQL 15 holding the same Chinook."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from clients_support import BACKENDS, Endpoint, chinook_endpoint, scratch_endpoint, scratch_server  # noqa: F401
from refpg import pg_ref  # noqa: F401  (fixture)

asyncpg = pytest.importorskip("asyncpg")

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


async def connect(ep: Endpoint) -> Any:
    return await asyncpg.connect(host=ep.host, port=ep.port, user=ep.user, database=ep.dbname,
                                 password=ep.password, ssl=False, timeout=15)


def both(ep: Endpoint, ref: Any, fn: Callable[[Any], Awaitable[T]]) -> tuple[T, T]:
    """``fn(conn)`` on askgres and on PostgreSQL."""

    async def go(target: Endpoint) -> T:
        conn = await connect(target)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    return run(go(ep)), run(go(Endpoint.of(ref)))


@pytest.fixture(params=BACKENDS)
def ep(request: pytest.FixtureRequest) -> Endpoint:
    return chinook_endpoint(request, request.param)


def test_fetch(ep: Endpoint, pg_ref: Any) -> None:
    sql = 'SELECT "ArtistId", "Name" FROM "Artist" ORDER BY "ArtistId" LIMIT 5'
    got, want = both(ep, pg_ref, lambda c: c.fetch(sql))
    assert [tuple(r) for r in got] == [tuple(r) for r in want]
    assert list(got[0].keys()) == ["ArtistId", "Name"]


def test_fetchrow_untyped_parameter_and_types(ep: Endpoint, pg_ref: Any) -> None:
    sql = 'SELECT "TrackId", "Name", "Milliseconds", "UnitPrice", "Composer" FROM "Track" WHERE "TrackId" = $1'
    got, want = both(ep, pg_ref, lambda c: c.fetchrow(sql, 3))
    assert dict(got) == dict(want)
    assert isinstance(got["UnitPrice"], Decimal) and isinstance(got["Milliseconds"], int)


def test_fetchval_and_aggregate(ep: Endpoint, pg_ref: Any) -> None:
    sql = 'SELECT count(*) FROM "Invoice" WHERE "BillingCountry" = $1'
    got, want = both(ep, pg_ref, lambda c: c.fetchval(sql, "USA"))
    assert got == want == 91


def test_prepared_statement_reused(ep: Endpoint, pg_ref: Any) -> None:
    sql = 'SELECT "Name" FROM "Track" WHERE "GenreId" = $1 AND "Milliseconds" > $2 ORDER BY "TrackId" LIMIT 3'

    async def go(c: Any) -> tuple[list[str], list[str], list[list[str]]]:
        stmt = await c.prepare(sql)
        params = [t.name for t in stmt.get_parameters()]
        attrs = [a.name for a in stmt.get_attributes()]
        rows = [[r["Name"] for r in await stmt.fetch(g, 200000 + 1000 * g)] for g in range(1, 13)]
        return params, attrs, rows

    got, want = both(ep, pg_ref, go)
    assert got[0] == want[0] == ["int4", "int4"]  # inferred from the columns compared with
    assert got[1] == want[1] == ["Name"]
    assert got[2] == want[2]


def test_binary_codecs_round_trip(ep: Endpoint, pg_ref: Any) -> None:
    values = (
        2_147_483_000, -9_007_199_254_740_993, 3.25, Decimal("12345.67"), "héllo 'wörld'", True,
        dt.date(2024, 2, 29), dt.datetime(2009, 1, 1, 1, 2, 3, 4500), b"\x00\x01\xfe\xff",
    )
    sql = ("SELECT $1::int4 AS i4, $2::int8 AS i8, $3::float8 AS f8, $4::numeric AS n, $5::text AS t, "
           "$6::bool AS b, $7::date AS d, $8::timestamp AS ts, $9::bytea AS by")
    got, want = both(ep, pg_ref, lambda c: c.fetchrow(sql, *values))
    assert tuple(got) == tuple(want) == values
    assert list(got.keys()) == ["i4", "i8", "f8", "n", "t", "b", "d", "ts", "by"]


def test_binary_codecs_from_columns(ep: Endpoint, pg_ref: Any) -> None:
    sql = ('SELECT i."InvoiceId", i."InvoiceDate", i."Total", i."BillingCity", i."Total" > 10 AS big, '
           'CAST(i."InvoiceDate" AS date) AS day FROM "Invoice" i WHERE i."InvoiceId" IN (1, 98, 412) ORDER BY 1')
    got, want = both(ep, pg_ref, lambda c: c.fetch(sql))
    assert [tuple(r) for r in got] == [tuple(r) for r in want]
    assert isinstance(got[0]["InvoiceDate"], dt.datetime) and isinstance(got[0]["day"], dt.date)
    assert isinstance(got[0]["big"], bool)


def test_array_columns_and_parameters(ep: Endpoint, pg_ref: Any) -> None:
    """asyncpg looks array types up with its own introspection query (``any($1::oid[])``,
    reading ``oid[]`` columns) before it decodes them: array results and an array
    parameter come back as on PostgreSQL."""

    async def arrays(c: Any) -> list[Any]:
        return [
            # ordered in a subquery: SQLite before 3.44 has no ORDER BY inside aggregates
            await c.fetchval('SELECT array_agg(g) FROM (SELECT "GenreId" AS g FROM "Genre" WHERE "GenreId" < 4 '
                             "ORDER BY 1) AS s"),
            await c.fetchval('SELECT array_agg(n) FROM (SELECT "Name" AS n FROM "Genre" WHERE "GenreId" < 3 '
                             'ORDER BY "GenreId") AS s'),
            await c.fetchval("SELECT ARRAY[3, 1, 2]"),
            await c.fetchval("SELECT ARRAY['x', 'y']"),
            [tuple(r) for r in await c.fetch(
                'SELECT "GenreId", "Name" FROM "Genre" WHERE "GenreId" = any($1::int4[]) ORDER BY 1', [2, 5, 9])],
        ]

    got, want = both(ep, pg_ref, arrays)
    assert got == want
    assert got[:4] == [[1, 2, 3], ["Rock", "Jazz"], [3, 1, 2], ["x", "y"]]


def test_null_parameters_and_results(ep: Endpoint, pg_ref: Any) -> None:
    sql = 'SELECT "Composer", $1::text IS NULL AS p FROM "Track" WHERE "TrackId" = $2'
    got, want = both(ep, pg_ref, lambda c: c.fetchrow(sql, None, 63))
    assert tuple(got) == tuple(want) == (None, True)


def test_error_keeps_connection_usable(ep: Endpoint) -> None:
    async def go() -> Any:
        c = await connect(ep)
        try:
            with pytest.raises(asyncpg.PostgresError) as err:
                await c.fetch('SELECT "NoSuchColumn" FROM "Track"')
            return err.value.sqlstate, await c.fetchval("SELECT 41 + $1::int4", 1)
        finally:
            await c.close()

    state, value = run(go())
    assert state == "42703" and value == 42


# --- writes: a scratch database per backend --------------------------------------------


@pytest.fixture(params=BACKENDS)
def scratch(request: pytest.FixtureRequest) -> Endpoint:
    return scratch_endpoint(request, request.param)


CREATE = ('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price NUMERIC(10,2), ok BOOLEAN, '
          'day DATE, at TIMESTAMP, blob BYTEA, ratio DOUBLE PRECISION)')


def test_executemany_and_typed_readback(scratch: Endpoint) -> None:
    rows = [
        (i, f"item {i}", Decimal(i) / 4, i % 2 == 0, dt.date(2024, 1, i), dt.datetime(2024, 1, i, 12, 30), bytes([i, 0, 255]), i / 3)
        for i in range(1, 21)
    ]

    async def go() -> list[Any]:
        c = await connect(scratch)
        try:
            await c.execute("DROP TABLE IF EXISTS items")
            await c.execute(CREATE)
            await c.executemany(
                "INSERT INTO items (id, name, price, ok, day, at, blob, ratio) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", rows
            )
            return list(await c.fetch("SELECT id, name, price, ok, day, at, blob, ratio FROM items ORDER BY id"))
        finally:
            await c.close()

    got = run(go())
    assert len(got) == 20
    for r, want in zip(got, rows):
        assert r["id"] == want[0] and r["name"] == want[1] and r["price"] == want[2].quantize(Decimal("0.01"))
        assert r["ok"] is want[3] and r["day"] == want[4] and r["at"] == want[5] and r["blob"] == want[6]
        assert r["ratio"] == pytest.approx(want[7])


def test_transactions_commit_and_rollback(scratch: Endpoint) -> None:
    async def go() -> tuple[int, int, int]:
        c = await connect(scratch)
        try:
            await c.execute("DROP TABLE IF EXISTS tx")
            await c.execute("CREATE TABLE tx (id INTEGER PRIMARY KEY, v TEXT)")
            async with c.transaction():
                await c.execute("INSERT INTO tx VALUES ($1, $2)", 1, "kept")
            try:
                async with c.transaction():
                    await c.execute("INSERT INTO tx VALUES ($1, $2)", 2, "dropped")
                    assert await c.fetchval("SELECT count(*) FROM tx") == 2
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
            after_rollback = await c.fetchval("SELECT count(*) FROM tx")
            # a failed statement aborts the transaction block until ROLLBACK
            tr = c.transaction()
            await tr.start()
            with pytest.raises(asyncpg.PostgresError):
                await c.execute("INSERT INTO tx VALUES (1, 'duplicate')")
            with pytest.raises(asyncpg.InFailedSQLTransactionError):
                await c.fetchval("SELECT 1")
            await tr.rollback()
            other = await connect(scratch)
            try:
                seen_by_other = await other.fetchval("SELECT count(*) FROM tx")
            finally:
                await other.close()
            return after_rollback, await c.fetchval("SELECT count(*) FROM tx"), seen_by_other
        finally:
            await c.close()

    after_rollback, final, other = run(go())
    assert (after_rollback, final, other) == (1, 1, 1)
