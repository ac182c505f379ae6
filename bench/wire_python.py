"""The Python askgres runs per point select, without sockets: a connection is driven
in-process on the demo's SQLite Chinook (WAL, memory-mapped, as ``askgres serve`` reads it)
with the bytes pgbench sends per transaction, and the time of the synchronous answer
(:meth:`gateway.connection.Connection.take_now`, what a transaction costs when the
connection was waiting for it) is taken, best of several rounds. What a pgbench run adds
to this is the socket calls and the event loop (see ``bench/wire_floor.py``).

    python -m bench.wire_python                  # prepared, extended and simple, 20000 each
    python -m bench.wire_python --modes prepared --profile   # and where the time goes (cProfile)

Prints a Markdown table (µs per transaction) and writes JSON to ``bench/out/``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from bench.common import machine, table, write_json
from bench.throughput import build_data
from gateway.auth import Authenticator
from gateway.connection import Connection
from gateway.protocol.extended import Bind, Describe, Execute, Parse, Sync
from gateway.protocol.simple import Query
from gateway.protocol.startup import StartupMessage

POINT = 'SELECT "Name" FROM "Track" WHERE "TrackId" = {}'
MODES = ("prepared", "extended", "simple")


class InProcessWriter:
    """What Connection needs of a StreamWriter, for driving one in-process: keeps what is
    written (``writes``) and sets ``ready`` at each ReadyForQuery."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.ready = asyncio.Event()
        self.transport = self

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        if data[-6:-1] == b"Z\x00\x00\x00\x05":
            self.ready.set()

    async def drain(self) -> None:
        return None

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 5) if name == "peername" else None

    def close(self) -> None:
        return None

    async def wait_closed(self) -> None:
        return None


class InProcessHub:
    """The server as a Connection sees it (:class:`gateway.connection.Hub`), over ``engine``."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.auth = Authenticator({})

    def admit(self, conn: Connection) -> tuple[int, int]:
        return (1, 1)

    def rekey(self, conn: Connection, pid: int) -> tuple[int, int]:
        return (pid, 1)

    def release(self, conn: Connection) -> None:
        return None

    def cancel(self, pid: int, secret: int) -> None:
        return None


def transaction(mode: str, track: int) -> bytes:
    """The bytes pgbench sends for one point select in ``mode``."""
    if mode == "simple":
        return Query(POINT.format(track)).encode()
    run = [Bind("", "p" if mode == "prepared" else "", [], [str(track).encode()], []), Describe(b"P", ""),
           Execute("", 0), Sync()]
    if mode == "extended":
        run.insert(0, Parse("", POINT.format("$1"), []))
    return b"".join(m.encode() for m in run)


async def measure(engine: Any, modes: list[str], n: int, rounds: int, profile: bool) -> dict[str, Any]:
    reader = asyncio.StreamReader()
    writer = InProcessWriter()
    conn = Connection(InProcessHub(engine), reader, writer)  # type: ignore[arg-type]
    task = asyncio.create_task(conn.run())

    async def exchange(data: bytes) -> None:
        writer.ready.clear()
        reader.feed_data(data)
        await asyncio.wait_for(writer.ready.wait(), timeout=60)
        while not conn._parked:  # back to waiting for input
            await asyncio.sleep(0.001)

    await exchange(StartupMessage({"user": "bench", "database": "chinook"}).encode())
    await exchange(Parse("p", POINT.format("$1"), []).encode() + Sync().encode())
    out: dict[str, Any] = {}
    for mode in modes:
        batch = [transaction(mode, 1 + i % 3503) for i in range(n)]
        await exchange(batch[0])  # plans it; from then on it is answered as it arrives
        if conn.take_now(batch[1]):
            raise RuntimeError(f"{mode}: not answered at once")
        best = float("inf")
        for _ in range(rounds):
            writer.writes.clear()
            t0 = time.perf_counter()
            for data in batch:
                conn.take_now(data)
            best = min(best, (time.perf_counter() - t0) / n)
        out[mode] = {"us_per_tx": round(best * 1e6, 1), "last_answer": writer.writes[-1]}
        if profile:
            prof = cProfile.Profile()
            prof.enable()
            for data in batch:
                conn.take_now(data)
            prof.disable()
            text = io.StringIO()
            pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(20)
            out[mode]["profile"] = text.getvalue()
    reader.feed_eof()
    await asyncio.wait_for(task, timeout=60)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("-n", "--transactions", type=int, default=20000, help="per round (default 20000)")
    p.add_argument("--rounds", type=int, default=5, help="the best round counts (default 5)")
    p.add_argument("--profile", action="store_true", help="also print cProfile's 20 heaviest functions")
    args = p.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        p.error(f"unknown modes: {', '.join(sorted(unknown))}")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    from gateway.config import load_settings
    from gateway.server import make_engine

    with tempfile.TemporaryDirectory(prefix="askgres-wirepy-") as tmp:
        data = Path(tmp) / "data"
        build_data(data)
        settings = load_settings(None, data_dir=data, log_level="warning")
        engine, backends = make_engine(settings)

        async def run() -> dict[str, Any]:
            try:
                return await measure(engine, modes, args.transactions, args.rounds, args.profile)
            finally:
                await engine.close()

        results = asyncio.run(run())
        for backend in backends.values():
            backend.close()
    info = machine()
    print(f"{info['date']} · {info['cpu']} · {info['cores']} cores · in-process, best of {args.rounds} rounds of "
          f"{args.transactions} point selects on Track")
    print(table(["mode", "µs of Python per transaction"], [[m, f"{results[m]['us_per_tx']:.1f}"] for m in modes]))
    for mode in modes:
        if "profile" in results[mode]:
            print(f"\n{mode}:\n{results[mode]['profile']}")
    path = write_json("wire_python", {"machine": info, "transactions": args.transactions, "rounds": args.rounds,
                                      "results": {m: {"us_per_tx": r["us_per_tx"]} for m, r in results.items()}})
    print(f"(JSON: {path})")


if __name__ == "__main__":
    main()
