"""Long results are streamed: read from SQLite or DuckDB as the client takes them, never
held whole in the gateway's memory, with the statement's errors, time limit and cancel still
applied to the rows read late.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.base import STREAM_AFTER
from connectors.duckdb import DuckdbBackend
from connectors.sqlite import SqliteBackend
from gateway.errors import PgError

psycopg = pytest.importorskip("psycopg")


def _series(n: int) -> str:
    return (f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) "
            "SELECT g, g * 2 AS twice, 'row ' || g AS label FROM s")


def _backend(kind: str, tmp_path: Path) -> Any:
    return SqliteBackend("s", tmp_path / "s.sqlite") if kind == "sqlite" else DuckdbBackend("d", tmp_path / "d.duckdb")


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_connector_streams_past_the_first_chunk(tmp_path: Path, kind: str) -> None:
    backend = _backend(kind, tmp_path)
    conn = backend.connect()
    try:
        n = STREAM_AFTER * 2 + 7
        res = conn.execute(_series(n))
        assert not isinstance(res.rows, list) and res.rowcount == -1
        assert res.columns is not None and [c.pg_type for c in res.columns][2] in ("text", "varchar")
        rows = list(res.rows)
        assert len(rows) == n and rows[-1] == (n, 2 * n, f"row {n}")
        short = conn.execute(_series(5))  # a short result stays a list
        assert isinstance(short.rows, list) and short.rowcount == 5
        capped = conn.execute(_series(n), max_rows=10)  # the ask pipeline's row limit: a list, truncated
        assert isinstance(capped.rows, list) and capped.truncated and len(capped.rows) == 10
        assert conn.execute("SELECT 41 + 1").rows == [(42,)]  # the connection goes on
    finally:
        conn.close()
        backend.close()


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
@pytest.mark.parametrize("read_only", [False, True])
def test_a_statement_run_before_a_stream_is_read_leaves_its_rows(tmp_path: Path, kind: str, read_only: bool) -> None:
    """A suspended portal: another statement runs on the connection before the streamed
    rows are all taken (DuckDB's cursor holds one result: the rest is read into memory
    first); the rows still arrive whole and in order, and a read-only connection's
    transaction ends (a write by another connection is seen by the next read)."""
    backend = _backend(kind, tmp_path)
    writer = backend.connect()
    writer.execute("CREATE TABLE t (x integer)")
    conn = backend.connect(read_only=read_only)
    try:
        n = STREAM_AFTER + 2345
        res = conn.execute(_series(n))
        assert not isinstance(res.rows, list)
        head = [next(res.rows) for _ in range(STREAM_AFTER + 100)]  # past the first chunk
        assert conn.execute("SELECT count(*) FROM t").rows == [(0,)]
        writer.execute("INSERT INTO t VALUES (1)")
        assert conn.execute("SELECT count(*) FROM t").rows == [(1,)]
        rows = head + list(res.rows)
        assert [r[0] for r in rows] == list(range(1, n + 1))
        assert conn.execute("SELECT 41 + 1").rows == [(42,)]
        dropped = conn.execute(_series(n))  # a result dropped half read: the next statement goes on
        assert next(iter(dropped.rows)) == (1, 2, "row 1")
        del dropped
        assert conn.execute("SELECT count(*) FROM t").rows == [(1,)]
    finally:
        conn.close()
        writer.close()
        backend.close()


def test_connector_error_in_a_late_chunk(tmp_path: Path) -> None:
    conn = SqliteBackend("s", tmp_path / "s.sqlite").connect()
    try:
        late = STREAM_AFTER + 500
        res = conn.execute(f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {late + 10}) "
                           f"SELECT g, 1 / askgres_divisor(g - {late}) FROM s")
        seen = 0
        with pytest.raises(PgError) as err:
            for _ in res.rows:
                seen += 1
        assert err.value.sqlstate == "22012" and STREAM_AFTER <= seen < late
        assert conn.execute("SELECT 1").rows == [(1,)]
    finally:
        conn.close()


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    pytest.skip("no /proc/<pid>/status here")


@pytest.mark.slow
@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_gateway_streams_a_long_result_in_bounded_memory(gateway_factory: Any, db: str) -> None:
    """A million rows through psycopg's row-by-row mode: all arrive, and the gateway's peak
    memory grows by far less than the rows would take held whole (~150 MB)."""
    gw = gateway_factory()
    n = 1_000_000
    series = _series(n) if db == "chinook" else (  # DuckDB computes a recursive CTE whole
        f"SELECT g, g * 2 AS twice, 'row ' || g AS label FROM generate_series(1, {n}) AS s(g)")
    with psycopg.connect(gw.dsn(db), autocommit=True) as conn:
        conn.execute("SELECT 1")
        before = _peak_rss_kib(gw.proc.pid)
        count = total = 0
        last: Any = None
        with conn.cursor() as cur:
            for row in cur.stream(series):
                count += 1
                total += row[1]
                last = row
        after = _peak_rss_kib(gw.proc.pid)
        assert count == n and total == n * (n + 1) and last == (n, 2 * n, f"row {n}")
        assert after - before < 60 * 1024, f"peak RSS grew by {(after - before) // 1024} MB"
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)


@pytest.mark.slow
@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_gateway_cursor_over_a_long_result_in_bounded_memory(gateway_factory: Any, db: str) -> None:
    """A million rows through a server-side cursor (psycopg's named cursor: DECLARE, then
    FETCH FORWARD 5000 until none are left): read as FETCH asks, not when declared."""
    gw = gateway_factory()
    n = 1_000_000
    with psycopg.connect(gw.dsn(db)) as conn:
        conn.execute("SELECT 1")
        before = _peak_rss_kib(gw.proc.pid)
        count = total = 0
        with conn.cursor(name="big") as cur:
            cur.itersize = 5000
            cur.execute(f"SELECT g, 'row ' || g AS label FROM generate_series(1, {n}) AS s(g)")
            for row in cur:
                count += 1
                total += row[0]
        after = _peak_rss_kib(gw.proc.pid)
        assert count == n and total == n * (n + 1) // 2
        assert after - before < 60 * 1024, f"peak RSS grew by {(after - before) // 1024} MB"


@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_gateway_cursor_moves_over_a_long_result(gateway: Any, db: str) -> None:
    """FETCH in every direction over a streamed result: a SCROLL cursor keeps every row it
    read; one without SCROLL forgets rows far behind it (then 55000, as PostgreSQL answers
    a NO SCROLL cursor)."""
    n = STREAM_AFTER * 3
    query = f"SELECT g FROM generate_series(1, {n}) AS s(g)"

    def values(cur: Any, sql: str) -> list[int]:
        cur.execute(sql)
        return [r[0] for r in cur.fetchall()]

    with psycopg.connect(gateway.dsn(db)) as conn, conn.cursor() as cur:
        cur.execute(f"DECLARE s SCROLL CURSOR FOR {query}")
        assert values(cur, "FETCH 3 FROM s") == [1, 2, 3]
        assert values(cur, "FETCH ABSOLUTE 25000 FROM s") == [25000]
        assert values(cur, "FETCH BACKWARD 2 FROM s") == [24999, 24998]
        assert values(cur, "FETCH FIRST FROM s") == [1]
        assert values(cur, "FETCH ABSOLUTE -1 FROM s") == [n]
        assert values(cur, "FETCH RELATIVE -29999 FROM s") == [1]
        assert values(cur, "FETCH LAST FROM s") == [n] and values(cur, "FETCH NEXT FROM s") == []
        cur.execute(f"DECLARE f CURSOR FOR {query}")
        assert values(cur, "FETCH FORWARD 5 FROM f") == [1, 2, 3, 4, 5]
        assert values(cur, "FETCH BACKWARD 2 FROM f") == [4, 3]  # still held
        cur.execute("MOVE FORWARD 25000 IN f")
        assert values(cur, "FETCH 2 FROM f") == [25004, 25005]
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            cur.execute("FETCH ABSOLUTE 1 FROM f")
        conn.rollback()
        cur.execute(f"DECLARE h CURSOR WITH HOLD FOR {query}")  # read whole when declared
        conn.commit()
        assert values(cur, "FETCH ALL FROM h") == list(range(1, n + 1))
        cur.execute("CLOSE h")


@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_gateway_error_after_rows_were_sent(gateway: Any, db: str) -> None:
    """PostgreSQL sends the rows it has, then the error; the connection stays usable."""
    late = STREAM_AFTER + 500
    with psycopg.connect(gateway.dsn(db), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute(f"SELECT g, 1 / (g - {late}) FROM generate_series(1, {late + 10}) AS s(g)").fetchall()
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)


@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_gateway_portal_suspended_in_a_long_result(gateway: Any, db: str) -> None:
    """A named cursor of psycopg (DECLARE ... FETCH) and a portal read a chunk at a time
    while other statements run between the chunks: every row arrives once, in order."""
    n = STREAM_AFTER * 2 + 11
    with psycopg.connect(gateway.dsn(db)) as conn:
        with conn.cursor(name="long") as cur:
            cur.execute(f"SELECT g FROM generate_series(1, {n}) AS s(g) ORDER BY g")
            seen: list[int] = []
            while chunk := cur.fetchmany(7000):
                seen += [r[0] for r in chunk]
                assert conn.execute("SELECT count(*) FROM \"Genre\"").fetchone() == (25,)
        assert seen == list(range(1, n + 1))


@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_gateway_copy_out_of_a_long_result(gateway: Any, db: str) -> None:
    """COPY (query) TO STDOUT of a streamed result: every row, then the tag with the count."""
    n = STREAM_AFTER * 2 + 3
    with psycopg.connect(gateway.dsn(db), autocommit=True) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY (SELECT g, 'r' || g AS label FROM generate_series(1, {n}) AS s(g)) TO STDOUT") as copy:
                data = b"".join(bytes(chunk) for chunk in copy)
            assert cur.rowcount == n
        lines = data.decode().splitlines()
        assert len(lines) == n and lines[0] == "1\tr1" and lines[-1] == f"{n}\tr{n}"
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
