"""bench/wire_floor.py, the measuring stick of the pgbench tables: it must really answer
pgbench's point select (the right row, in every query mode), and its CPU per transaction
must be counted, or the README's floor figures mean nothing."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fixtures_chinook import chinook_demo, demo_backends

from bench.common import POINT_SELECT, Target, run_pgbench, write_script
from bench.pg_reference import free_port
from bench.wire_floor import FloorProtocol, floor_server
from connectors.chinook import SQLITE_FILE

__all__ = ["chinook_demo", "demo_backends"]

pytestmark = pytest.mark.skipif(shutil.which("pgbench") is None, reason="pgbench is not installed")


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_floor_server_runs_pgbench_point_selects(chinook_demo: Path, tmp_path: Path, mode: str) -> None:
    script = write_script(tmp_path, POINT_SELECT)
    db = chinook_demo / SQLITE_FILE
    port = free_port()
    with floor_server(db, port, 1) as pid:
        res = run_pgbench(Target("floor", "127.0.0.1", port, "floor", "chinook", pid=pid), script,
                          clients=2, mode=mode, duration_s=1)
    assert res.error is None and res.transactions and res.transactions > 10
    assert res.server_cpu_us is not None and res.server_cpu_us > 0


def test_floor_answers_the_row_sqlite_has(chinook_demo: Path) -> None:
    db = sqlite3.connect(chinook_demo / SQLITE_FILE)
    try:
        proto = FloorProtocol(db)
        proto.params = [3]
        (name,) = db.execute('SELECT "Name" FROM "Track" WHERE "TrackId" = 3').fetchone()
        out = proto._execute()
        value = name.encode()
        assert out.startswith(b"D") and value in out and b"SELECT 1\0" in out
        proto.params = [999999]
        assert proto._execute().startswith(b"C") and b"SELECT 0\0" in proto._execute()
        simple = proto._query(b'SELECT "Name" FROM "Track" WHERE "TrackId" = 3;\0')
        assert simple.startswith(b"T") and value in simple and simple.endswith(b"Z\0\0\0\5I")
    finally:
        db.close()


def test_wire_python_measures_answers_given_at_once(demo_backends: dict[str, Any], tmp_path: Path) -> None:
    """bench/wire_python.py times Connection.take_now on the demo: each mode must be
    answered at once (it raises otherwise) and with the right row."""
    import asyncio

    from bench.wire_python import MODES, measure
    from gateway.config import Settings
    from gateway.engine import GatewayEngine

    engine = GatewayEngine(Settings(data_dir=tmp_path / "data"), demo_backends)

    async def run() -> dict[str, Any]:
        try:
            return await measure(engine, list(MODES), 40, 1, False)
        finally:
            await engine.close()

    results = asyncio.run(run())
    (name,) = sqlite3.connect(demo_backends["chinook"].path).execute(  # type: ignore[attr-defined]
        'SELECT "Name" FROM "Track" WHERE "TrackId" = 40').fetchone()
    for mode in MODES:
        assert results[mode]["us_per_tx"] > 0
        assert name.encode() in results[mode]["last_answer"] and results[mode]["last_answer"].endswith(b"I")
