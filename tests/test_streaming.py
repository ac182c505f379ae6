"""Long results are streamed: read from SQLite as the client takes them, never held whole
in the gateway's memory, with the statement's errors, time limit and cancel still applied
to the rows read late.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.sqlite import STREAM_AFTER, SqliteBackend
from gateway.errors import PgError

psycopg = pytest.importorskip("psycopg")


def _series(n: int) -> str:
    return (f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) "
            "SELECT g, g * 2 AS twice, 'row ' || g AS label FROM s")


def test_connector_streams_past_the_first_chunk(tmp_path: Path) -> None:
    conn = SqliteBackend("s", tmp_path / "s.sqlite").connect()
    try:
        n = STREAM_AFTER * 2 + 7
        res = conn.execute(_series(n))
        assert not isinstance(res.rows, list) and res.rowcount == -1
        assert res.columns is not None and [c.pg_type for c in res.columns] == ["int8", "int8", "text"]
        rows = list(res.rows)
        assert len(rows) == n and rows[-1] == (n, 2 * n, f"row {n}")
        short = conn.execute(_series(5))  # a short result stays a list
        assert isinstance(short.rows, list) and short.rowcount == 5
        capped = conn.execute(_series(n), max_rows=10)  # the ask pipeline's row limit: a list, truncated
        assert isinstance(capped.rows, list) and capped.truncated and len(capped.rows) == 10
        assert conn.execute("SELECT 41 + 1").rows == [(42,)]  # the connection goes on
    finally:
        conn.close()


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
def test_gateway_streams_a_long_result_in_bounded_memory(gateway_factory: Any) -> None:
    """A million rows through psycopg's row-by-row mode: all arrive, and the gateway's peak
    memory grows by far less than the rows would take held whole (~150 MB)."""
    gw = gateway_factory()
    n = 1_000_000
    with psycopg.connect(gw.dsn(), autocommit=True) as conn:
        conn.execute("SELECT 1")
        before = _peak_rss_kib(gw.proc.pid)
        count = total = 0
        last: Any = None
        with conn.cursor() as cur:
            for row in cur.stream(_series(n)):
                count += 1
                total += row[1]
                last = row
        after = _peak_rss_kib(gw.proc.pid)
        assert count == n and total == n * (n + 1) and last == (n, 2 * n, f"row {n}")
        assert after - before < 60 * 1024, f"peak RSS grew by {(after - before) // 1024} MB"
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)


def test_gateway_error_after_rows_were_sent(gateway: Any) -> None:
    """PostgreSQL sends the rows it has, then the error; the connection stays usable."""
    late = STREAM_AFTER + 500
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute(f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {late + 10}) "
                         f"SELECT g, 1 / (g - {late}) FROM s").fetchall()
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
