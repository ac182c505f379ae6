"""The server as a whole: 50 concurrent clients, cancel, authentication, unknown
databases, the loopback rule, max_connections, shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import SERVE_CMD, ROOT, cancelled, launch_gateway, to_toml
from gateway.protocol.simple import Query
from wire_raw import RawClient

psycopg = pytest.importorskip("psycopg")
asyncpg = pytest.importorskip("asyncpg")

LONG_QUERY = (
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 200000000) SELECT count(*) FROM r"
)


def test_fifty_concurrent_clients(gateway: Any) -> None:
    n_clients, n_queries = 50, 10
    barrier = threading.Barrier(n_clients)

    def client(i: int) -> list[Any]:
        db = "chinook" if i % 2 else "chinook_duckdb"
        with gateway.connect(db) as c:
            barrier.wait(timeout=60)
            out = []
            for j in range(n_queries):
                track = 1 + (i * n_queries + j) % 3503
                out.append(c.execute('SELECT "TrackId", "AlbumId" FROM "Track" WHERE "TrackId" = %s', (track,)).fetchone())
            return out

    started = time.perf_counter()
    with ThreadPoolExecutor(n_clients) as pool:
        results = list(pool.map(client, range(n_clients)))
    elapsed = time.perf_counter() - started
    for i, rows in enumerate(results):
        assert [r[0] for r in rows] == [1 + (i * n_queries + j) % 3503 for j in range(n_queries)]
    assert elapsed < 120
    assert gateway.alive()


@pytest.mark.timeout(120)
def test_cancel_interrupts_a_long_query(gateway: Any) -> None:
    with gateway.connect() as c:
        error, elapsed = cancelled(c, LONG_QUERY, after_s=0.5)
        assert error.sqlstate == "57014"
        assert elapsed < 15
        assert c.execute('SELECT count(*) FROM "Genre"').fetchone() == (25,)  # still usable


@pytest.mark.timeout(120)
def test_cancel_reaches_a_prepared_long_query_answered_as_it_arrived(gateway: Any) -> None:
    """A prepared statement's Bind/Describe/Execute/Sync is taken up as it arrives
    (Connection.take_now); a long read among such runs goes on in the executor, where a
    CancelRequest still stops it, and the connection goes on."""
    sql = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < %s) SELECT count(*) FROM c"
    with gateway.connect() as c:
        assert c.execute(sql, [10], prepare=True).fetchone() == (10,)
        timer = threading.Timer(0.5, c.cancel)
        timer.start()
        t0 = time.monotonic()
        try:
            with pytest.raises(psycopg.errors.QueryCanceled):
                c.execute(sql, [10**9], prepare=True)
        finally:
            timer.join()
        assert time.monotonic() - t0 < 15
        assert c.execute(sql, [20], prepare=True).fetchone() == (20,)


@pytest.mark.timeout(120)
def test_cancel_with_a_wrong_key_does_nothing(gateway: Any) -> None:
    from gateway.protocol.startup import CancelRequest

    with gateway.connect() as c:
        with RawClient(gateway.host, gateway.port) as other:
            other.send(CancelRequest(pid=c.info.backend_pid, secret=12345))
            assert other.read_to_eof() == []
        assert c.execute("SELECT 1").fetchone() == (1,)


# --- authentication ---------------------------------------------------------------------

USERS = {"alice": {"password": "s3cret", "admin": True}, "bob": {"password": "hunter2"}}


@pytest.fixture
def scram_gateway(gateway_factory: Any) -> Any:
    return gateway_factory(users=USERS)


def test_scram_success(scram_gateway: Any) -> None:
    out = scram_gateway.psql("-A", "-t", "-c", "SELECT 'in'", user="alice", password="s3cret").stdout
    assert out.strip() == "in"
    with scram_gateway.connect(user="alice", password="s3cret") as c:
        assert c.info.parameter_status("is_superuser") == "on"
    with scram_gateway.connect(user="bob", password="hunter2") as c:
        assert c.info.parameter_status("is_superuser") == "off"
        assert c.execute('SELECT count(*) FROM "Genre"').fetchone() == (25,)


def test_scram_wrong_password_and_unknown_user(scram_gateway: Any) -> None:
    proc = scram_gateway.psql("-c", "SELECT 1", user="alice", password="wrong", check=False)
    assert proc.returncode == 2
    assert 'password authentication failed for user "alice"' in proc.stderr

    async def attempt(user: str, password: str) -> Exception:
        try:
            conn = await asyncpg.connect(host=scram_gateway.host, port=scram_gateway.port, user=user,
                                         password=password, database="chinook", ssl=False)
        except Exception as e:  # noqa: BLE001 - the error is what we check
            return e
        await conn.close()
        raise AssertionError("logged in")

    for user, password in (("alice", "wrong"), ("mallory", "s3cret"), ("bob", "")):
        err = asyncio.run(attempt(user, password))
        assert getattr(err, "sqlstate", None) == "28P01", (user, err)


def test_unknown_database(gateway: Any, scram_gateway: Any) -> None:
    async def attempt(gw: Any, **kw: Any) -> Exception:
        try:
            conn = await asyncpg.connect(host=gw.host, port=gw.port, database="nosuchdb", ssl=False, **kw)
        except Exception as e:  # noqa: BLE001
            return e
        await conn.close()
        raise AssertionError("connected")

    assert asyncio.run(attempt(gateway, user="tester")).sqlstate == "3D000"  # type: ignore[attr-defined]
    assert asyncio.run(attempt(scram_gateway, user="alice", password="s3cret")).sqlstate == "3D000"  # type: ignore[attr-defined]
    proc = gateway.psql("-c", "SELECT 1", db="nosuchdb", check=False)
    assert proc.returncode == 2 and 'database "nosuchdb" does not exist' in proc.stderr


def test_refuses_non_loopback_without_users(tmp_path: Path) -> None:
    cfg = tmp_path / "askgres.toml"
    cfg.write_text(to_toml({"host": "0.0.0.0", "data_dir": str(tmp_path / "data")}))
    proc = subprocess.run([*SERVE_CMD, "serve", "--config", str(cfg), "--port", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "refusing to listen on '0.0.0.0' with no users configured" in proc.stderr


def test_non_loopback_with_users_is_allowed(gateway_factory: Any) -> None:
    gw = gateway_factory(host="0.0.0.0", users=USERS)
    with psycopg.connect(host="127.0.0.1", port=gw.port, user="bob", password="hunter2", dbname="chinook") as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_max_connections(gateway_factory: Any) -> None:
    gw = gateway_factory(max_connections=2)
    first, second = gw.connect(), gw.connect()
    with pytest.raises(psycopg.OperationalError, match="too many clients"):
        gw.connect()

    async def attempt() -> Exception:
        try:
            conn = await asyncpg.connect(host=gw.host, port=gw.port, user="tester", database="chinook", ssl=False)
        except Exception as e:  # noqa: BLE001
            return e
        await conn.close()
        raise AssertionError("connected")

    assert asyncio.run(attempt()).sqlstate == "53300"  # type: ignore[attr-defined]
    first.close()
    with gw.connect() as third:
        assert third.execute("SELECT 1").fetchone() == (1,)
    second.close()


# --- shutdown ---------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.timeout(120)
def test_signal_shuts_down_cleanly(gateway_factory: Any, sig: int) -> None:
    gw = gateway_factory(check_teardown=False)
    idle = RawClient(gw.host, gw.port)
    idle.startup()
    busy = RawClient(gw.host, gw.port)
    busy.startup()
    busy.send(Query(LONG_QUERY))
    time.sleep(0.3)  # let the long query start
    started = time.perf_counter()
    rc = gw.stop(sig, timeout=60)
    assert rc == 0, gw.tail()
    assert time.perf_counter() - started < 30
    for client in (idle, busy):
        replies = client.read_to_eof()
        codes = [r.error.code for r in replies if r.type == b"E"]
        assert codes[-1:] == ["57P01"], replies
        client.close()
    events = [e["event"] for e in gw.log_events()]
    assert "server.stopped" in events


# --- in-process ---------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_in_process_server(tmp_path: Path, chinook_demo: Path) -> None:
    """``Server`` inside an event loop: port 0 picks a free port; asyncpg (binary formats
    throughout) works; stop() tells connected clients 57P01."""
    from fixtures_chinook import seed_demo
    from gateway.config import load_settings
    from gateway.server import Server

    data_dir = tmp_path / "data"
    seed_demo(chinook_demo, data_dir)
    settings = load_settings(None, port=0, data_dir=data_dir)

    async def main() -> None:
        server = Server(settings)
        port = await server.start()
        assert port > 0 and port == server.port
        stopped = False
        try:
            conn = await asyncpg.connect(host="127.0.0.1", port=port, user="tester", database="chinook_duckdb", ssl=False)
            row = await conn.fetchrow('SELECT "InvoiceId", "Total", "InvoiceDate" FROM "Invoice" WHERE "InvoiceId" = $1', 1)
            assert tuple(row) == (1, Decimal("1.98"), datetime(2009, 1, 1))
            stmt = await conn.prepare('SELECT "Name", "GenreId" * 1.5 AS x FROM "Genre" WHERE "GenreId" <= $1 ORDER BY 1')
            assert [tuple(r) for r in await stmt.fetch(2)] == [("Jazz", Decimal("3.0")), ("Rock", Decimal("1.5"))]
            async with conn.transaction():
                cur = await conn.cursor('SELECT "TrackId" FROM "Track" ORDER BY 1')
                assert [r[0] for r in await cur.fetch(3)] == [1, 2, 3]
            await server.stop()
            stopped = True
            # the 57P01 ErrorResponse closes the client (asyncpg reads it in the background)
            for _ in range(100):
                if conn.is_closed():
                    break
                await asyncio.sleep(0.05)
            assert conn.is_closed()
            with pytest.raises((asyncpg.exceptions.AdminShutdownError, asyncpg.exceptions.InterfaceError)):
                await conn.fetchval("SELECT 1")
        finally:
            if not stopped:
                await server.stop()

    asyncio.run(main())


@pytest.mark.timeout(120)
def test_stalled_handshake_times_out(tmp_path: Path, chinook_demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that connects and never finishes startup is dropped with 08P01 (PostgreSQL's
    authentication_timeout), freeing its slot."""
    import gateway.handshake
    from fixtures_chinook import seed_demo
    from gateway.config import load_settings
    from gateway.protocol.startup import StartupMessage
    from gateway.server import Server

    monkeypatch.setattr(gateway.handshake, "STARTUP_TIMEOUT_S", 0.5)
    seed_demo(chinook_demo, tmp_path / "data")
    settings = load_settings(None, port=0, data_dir=tmp_path / "data", users=USERS, max_connections=1)

    async def main() -> None:
        server = Server(settings)
        port = await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(StartupMessage({"user": "alice", "database": "chinook"}).encode())
            # the server asks for SASL; the client goes silent
            data = await asyncio.wait_for(reader.read(), timeout=10)
            assert data.startswith(b"R") and b"SCRAM-SHA-256" in data
            assert b"C08P01\x00Mcanceling authentication due to timeout" in data
            writer.close()
            # the slot is free again (max_connections=1)
            conn = await asyncpg.connect(host="127.0.0.1", port=port, user="alice", password="s3cret",
                                         database="chinook", ssl=False)
            assert await conn.fetchval("SELECT 1") == 1
            await conn.close()
        finally:
            await server.stop()

    asyncio.run(main())
