"""Several server processes on one port (setting ``workers``, :mod:`gateway.workers`):
connections spread over the workers, session ids stay distinct, a CancelRequest reaches
the session in another worker, a dead worker is replaced, SIGTERM stops them all, a port
in use is refused, questions are answered in every worker, and the model lock and the
index writers hold across processes."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import SERVE_CMD, ROOT, cancelled, to_toml
from fixtures_chinook import base_model, chinook_demo  # noqa: F401  (fixtures)

psycopg = pytest.importorskip("psycopg")
asyncpg = pytest.importorskip("asyncpg")

LONG_QUERY = (
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 200000000) SELECT count(*) FROM r"
)
CANCEL_CODE = 80877102


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _workers(gw: Any) -> dict[int, int]:
    state = json.loads((gw.data_dir / "run" / "workers.json").read_text())
    assert state["supervisor"] == gw.proc.pid
    return {int(k): int(v) for k, v in state["workers"].items()}


def _worker_of_sessions(gw: Any, n: int) -> list[int]:
    """Open ``n`` connections at once; the worker each landed in (session id modulo 2)."""

    def one(_: int) -> tuple[int, int]:
        with gw.connect() as c:
            pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
            count = c.execute('SELECT count(*) FROM "Album"').fetchone()[0]
            time.sleep(0.2)  # keep the connection open while the others connect
            return pid, count

    with ThreadPoolExecutor(n) as pool:
        got = list(pool.map(one, range(n)))
    assert all(count == 347 for _, count in got)
    pids = [pid for pid, _ in got]
    assert len(set(pids)) == n, "session ids must be distinct across workers"
    return [(pid - 1000) % 2 for pid in pids]


def _wait_listening(gw: Any, counts: dict[int, int], timeout_s: float = 120) -> None:
    """Until worker ``i`` has logged ``server.listening`` ``counts[i]`` times (the port
    answers as soon as one worker listens; a busy machine starts the other later)."""
    deadline = time.monotonic() + timeout_s
    while True:
        seen = [e["worker"] for e in gw.log_events("server.listening")]
        if all(seen.count(i) >= n for i, n in counts.items()):
            return
        assert time.monotonic() < deadline, gw.tail()
        time.sleep(0.2)


@pytest.fixture
def two_workers(gateway_factory: Any) -> Any:
    gw = gateway_factory(workers=2)
    _wait_listening(gw, {0: 1, 1: 1})
    return gw


@pytest.mark.timeout(300)
def test_connections_spread_over_the_workers(two_workers: Any) -> None:
    gw = two_workers
    workers = _workers(gw)
    assert sorted(workers) == [0, 1]
    assert gw.proc.pid not in workers.values() and all(_alive(p) for p in workers.values())
    listening = gw.log_events("server.listening")
    assert sorted(e["worker"] for e in listening) == [0, 1] and {e["port"] for e in listening} == {gw.port}
    landed = _worker_of_sessions(gw, 16)
    assert set(landed) == {0, 1}, f"16 connections all went to one worker: {landed}"


@pytest.mark.timeout(300)
def test_cancel_reaches_a_session_whichever_worker_takes_the_request(two_workers: Any) -> None:
    """Each CancelRequest arrives on a new connection, in either worker; the session is
    cancelled either way (57014) and goes on."""
    gw = two_workers
    for _ in range(4):
        with gw.connect() as c:
            error, elapsed = cancelled(c, LONG_QUERY, after_s=0.3)
            assert error.sqlstate == "57014" and elapsed < 15
            assert c.execute('SELECT count(*) FROM "Genre"').fetchone() == (25,)
    requests = gw.log_events("server.cancel_request")
    assert sum(1 for e in requests if e["found"]) == 4


@pytest.mark.timeout(300)
def test_a_dead_worker_is_replaced_and_sigterm_stops_all(two_workers: Any) -> None:
    gw = two_workers
    before = _workers(gw)
    with gw.connect() as survivor:
        victim_index = 1 - (survivor.execute("SELECT pg_backend_pid()").fetchone()[0] - 1000) % 2
        os.kill(before[victim_index], signal.SIGKILL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            now = _workers(gw)
            if now[victim_index] != before[victim_index] and _alive(now[victim_index]):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"worker {victim_index} was not replaced:\n{gw.tail()}")
        # the other worker's connection was never interrupted
        assert survivor.execute('SELECT count(*) FROM "Genre"').fetchone() == (25,)
    _wait_listening(gw, {victim_index: 2})
    assert set(_worker_of_sessions(gw, 16)) == {0, 1}
    assert any(e["worker"] == victim_index for e in gw.log_events("workers.died"))

    workers = _workers(gw)
    assert gw.stop() == 0
    assert not any(_alive(p) for p in workers.values()), "a worker outlived the supervisor"
    assert not (gw.data_dir / "run" / "workers.json").exists()
    with pytest.raises(OSError):
        socket.create_connection((gw.host, gw.port), timeout=2).close()


@pytest.mark.timeout(120)
def test_a_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        config = tmp_path / "askgres.toml"
        config.write_text(to_toml({"data_dir": str(tmp_path / "data"), "workers": 2, "learner": {"auto": False}}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASKGRES_")}
        proc = subprocess.run([*SERVE_CMD, "serve", "--config", str(config), "--port", str(port)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=100)
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


@pytest.mark.timeout(120)
def test_a_cancel_request_is_passed_to_the_worker_that_has_the_session(tmp_path: Path, chinook_demo: Path) -> None:
    """Deterministically: worker 0 holds the session, the CancelRequest goes to worker 1
    (here on its own port), which does not know the key and passes it on."""
    from connectors.registry import open_backends
    from fixtures_chinook import seed_demo
    from gateway.config import load_settings
    from gateway.engine import GatewayEngine
    from gateway.server import Server
    from gateway.workers import WorkerSpec

    seed_demo(chinook_demo, tmp_path / "data")
    settings = load_settings(None, port=0, data_dir=tmp_path / "data")
    run_dir = tmp_path / "run"
    run_dir.mkdir()

    async def main() -> None:
        servers = []
        for index in (0, 1):
            engine = GatewayEngine(settings, open_backends(settings), sessions=(index, 2))
            servers.append(Server(settings, engine=engine, worker=WorkerSpec(index, 2, run_dir)))
        ports = [await s.start() for s in servers]
        try:
            conn = await asyncpg.connect(host="127.0.0.1", port=ports[0], user="tester", database="chinook", ssl=False)
            pid = conn.get_server_pid()
            assert (pid - 1000) % 2 == 0
            secret = next(s for p, s in servers[0]._keys if p == pid)
            running = asyncio.create_task(conn.fetchval(LONG_QUERY))
            session = servers[0].engine.sessions[pid]  # type: ignore[attr-defined]
            deadline = time.monotonic() + 30
            while not session._busy and time.monotonic() < deadline:  # the query has begun (a loaded machine: later)
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            _, writer = await asyncio.open_connection("127.0.0.1", ports[1])
            writer.write(struct.pack("!iiii", 16, CANCEL_CODE, pid, secret))
            await writer.drain()
            writer.close()
            with pytest.raises(asyncpg.exceptions.QueryCanceledError):
                await asyncio.wait_for(running, timeout=30)
            assert await conn.fetchval('SELECT count(*) FROM "Genre"') == 25
            await conn.close()
        finally:
            for s in servers:
                await s.stop()
            for s in servers:
                for backend in s.engine.backends.values():  # type: ignore[attr-defined]
                    backend.close()

    asyncio.run(main())


def _complete_in_thread(gen: Any) -> tuple[threading.Thread, list[str]]:
    """``gen.complete`` of a short prompt, in a thread."""
    out: list[str] = []

    def run() -> None:
        out.extend(gen.complete("-- SQLite\nSELECT", max_tokens=4, stop=[";"]))

    t = threading.Thread(target=run)
    t.start()
    return t, out


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_completion_waits_for_the_machine_wide_model_lock(tmp_path: Path, base_model: Path) -> None:
    """While another process holds ``DATA_DIR/run/llm.lock``, a completion waits."""
    from gateway.config import load_settings
    from nl2sql.llm import load_llama, process_lock_path

    settings = load_settings(None, data_dir=tmp_path / "data")
    gen = load_llama(settings, base_model, version="base")
    lock = process_lock_path(settings)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, filelock; l = filelock.FileLock(sys.argv[1]); l.acquire(); "
         "print('held', flush=True); time.sleep(3)", str(lock)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        thread, out = _complete_in_thread(gen)
        thread.join(timeout=1.0)
        assert thread.is_alive() and not out, "the completion ran while another process held the lock"
        thread.join(timeout=120)
        assert not thread.is_alive() and len(out) == 1
        assert time.monotonic() - t0 >= 1.5
    finally:
        holder.kill()
        holder.wait()


def _sync_examples(root: str, store_path: str, queue: Any) -> None:
    from nl2sql.embed import Embedder
    from nl2sql.examples import ExampleIndex
    from nl2sql.store import Store

    index = ExampleIndex(Path(root), Embedder(), Store(Path(store_path)))
    queue.put(index.sync(force=True))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_processes_mirror_the_same_pairs_without_duplicates(tmp_path: Path) -> None:
    """Workers each mirror the approved pairs into the one LanceDB table: under the write
    lock, each pair is stored once however many processes wrote it."""
    import lancedb

    from nl2sql.examples import TABLE
    from nl2sql.store import Store

    store = Store(tmp_path / "state.db")
    now = time.time()
    for i in range(5):
        store.insert("pairs", database="chinook", question=f"how many albums has artist {i}?",
                     sql=f'SELECT count(*) FROM "Album" WHERE "ArtistId" = {i}', source="admin",
                     status="approved", created_at=now, updated_at=now)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_sync_examples, args=(str(tmp_path / "index"), str(tmp_path / "state.db"), queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
        assert p.exitcode == 0
    assert [queue.get(timeout=5), queue.get(timeout=5)] == [True, True]
    keys = lancedb.connect(str(tmp_path / "index")).open_table(TABLE).to_arrow().column("key").to_pylist()
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 5


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_questions_are_answered_in_every_worker(two_workers: Any) -> None:
    """Each worker has its own pipeline and model (one completion at a time on the machine)."""
    gw = two_workers
    answered: dict[int, tuple[list[Any], list[str]]] = {}
    for _ in range(40):
        if len(answered) == 2:
            break
        with gw.connect() as c:
            worker = (c.execute("SELECT pg_backend_pid()").fetchone()[0] - 1000) % 2
            if worker in answered:
                continue
            seen: list[str] = []
            c.add_notice_handler(lambda diag, seen=seen: seen.append(diag.message_primary or ""))
            rows = c.execute("-- ask: how many genres are there?").fetchall()
            answered[worker] = (rows, seen)
    assert sorted(answered) == [0, 1]
    for rows, seen in answered.values():
        assert rows and seen and seen[-1].startswith("SQL: SELECT")
