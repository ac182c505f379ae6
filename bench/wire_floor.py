"""The floor: the least a Python server on asyncio (uvloop) can do per pgbench transaction.

A measuring stick for the gateway's overhead, not a server: it speaks just enough of the
PostgreSQL protocol for pgbench's point-select script (trust startup; Parse, Bind,
Describe, Execute, Sync; a simple query ending in ``= <id>``) and answers Execute, or the
simple query, by running the one statement it knows on the same SQLite file with Python's
``sqlite3``.
No validation, no catalog, no types beyond text, no transactions, no errors: whatever
askgres does per transaction beyond this is the price of being a gateway. Its figures
say how close to PostgreSQL a pure-Python wire layer can get on a machine.

    python -m bench.wire_floor CHINOOK.sqlite PORT [PROCESSES]

``bench.pgbench_modes --floor 1,2`` runs it beside PostgreSQL and askgres.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from connectors.sqlite import MMAP_BYTES

POINT_SELECT_SQLITE = 'SELECT "Name" FROM "Track" WHERE "TrackId" = ?'

_I32 = struct.Struct("!i")
_I16 = struct.Struct("!h")


def _msg(code: bytes, body: bytes) -> bytes:
    return code + _I32.pack(len(body) + 4) + body


_READY = _msg(b"Z", b"I")
_ROW_DESCRIPTION = _msg(b"T", _I16.pack(1) + b"Name\0" + struct.pack("!ihihih", 0, 0, 25, -1, -1, 0))
_PARAMETERS = _msg(b"t", _I16.pack(1) + _I32.pack(0))
_STARTUP = b"".join(
    [_msg(b"R", _I32.pack(0))]
    + [_msg(b"S", k + b"\0" + v + b"\0") for k, v in (
        (b"server_version", b"15.0"), (b"client_encoding", b"UTF8"), (b"DateStyle", b"ISO, MDY"),
        (b"integer_datetimes", b"on"), (b"standard_conforming_strings", b"on"))]
    + [_msg(b"K", struct.pack("!ii", os.getpid(), 0)), _READY]
)


class FloorProtocol(asyncio.Protocol):
    """One client: frames arrive in ``data_received``, answers go out in one write."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.buf = b""
        self.started = False
        self.params: list[int] = []
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        buf = self.buf + data
        out: list[bytes] = []
        if not self.started:
            if len(buf) < 8 or len(buf) < _I32.unpack_from(buf)[0]:
                self.buf = buf
                return
            n, code = struct.unpack_from("!ii", buf)
            buf = buf[n:]
            if code == 80877103:  # SSLRequest: no
                self.transport.write(b"N")
                self.buf = buf
                return
            self.started = True
            out.append(_STARTUP)
        pos, end = 0, len(buf)
        while end - pos >= 5:
            code, n = buf[pos:pos + 1], _I32.unpack_from(buf, pos + 1)[0]
            if end - pos < n + 1:
                break
            body = buf[pos + 5:pos + 1 + n]
            pos += n + 1
            if code == b"P":
                out.append(b"1\0\0\0\4")
            elif code == b"B":
                out.append(self._bind(body))
            elif code == b"D":
                out.append(_ROW_DESCRIPTION if body[:1] == b"P" else _PARAMETERS + _ROW_DESCRIPTION)
            elif code == b"E":
                out.append(self._execute())
            elif code == b"S":
                out.append(_READY)
            elif code == b"Q":
                out.append(self._query(body))
            elif code == b"X":
                self.transport.close()
                return
        self.buf = buf[pos:]
        if out:
            self.transport.write(b"".join(out))

    def _bind(self, body: bytes) -> bytes:
        i = body.index(b"\0") + 1
        i = body.index(b"\0", i) + 1
        i += 2 + 2 * _I16.unpack_from(body, i)[0]
        count = _I16.unpack_from(body, i)[0]
        i += 2
        params = []
        for _ in range(count):
            n = _I32.unpack_from(body, i)[0]
            params.append(int(body[i + 4:i + 4 + n]))
            i += 4 + n
        self.params = params
        return b"2\0\0\0\4"

    def _query(self, body: bytes) -> bytes:
        """A simple query: the point select with its id in the text (``... = 42;``), run;
        anything else gets an empty answer."""
        try:
            self.params = [int(body.rstrip(b"\0").rstrip(b"; \n").rsplit(b"=", 1)[1])]
        except (IndexError, ValueError):
            return b"I\0\0\0\4" + _READY
        return _ROW_DESCRIPTION + self._execute() + _READY

    def _execute(self) -> bytes:
        rows = self.db.execute(POINT_SELECT_SQLITE, self.params).fetchall()
        parts = []
        for (name,) in rows:
            value = str(name).encode()
            parts.append(b"D" + struct.pack("!ihi", 10 + len(value), 1, len(value)) + value)
        tag = f"SELECT {len(rows)}".encode() + b"\0"
        parts.append(_msg(b"C", tag))
        return b"".join(parts)


async def _serve(db_path: str, sock: socket.socket) -> None:
    def protocol() -> FloorProtocol:
        db = sqlite3.connect(db_path, check_same_thread=False)
        db.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # as askgres's SQLite connections read
        return FloorProtocol(db)

    server = await asyncio.get_running_loop().create_server(protocol, sock=sock)
    await server.serve_forever()


def serve(db_path: str, port: int, processes: int = 1) -> None:
    """Listen on 127.0.0.1:``port`` with ``processes`` processes (SO_REUSEPORT)."""
    from gateway.server import event_loop_factory  # uvloop, as the gateway uses

    for _ in range(processes - 1):
        if os.fork() == 0:
            break
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(_serve(db_path, sock))


@contextlib.contextmanager
def floor_server(db_path: Path, port: int, processes: int = 1) -> Iterator[int]:
    """Run the floor server in a child process group until it listens; yields its pid."""
    from bench.common import wait_listening

    with tempfile.TemporaryDirectory(prefix="askgres-floor-") as tmp:
        log = Path(tmp) / "floor.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.wire_floor", str(db_path), str(port), str(processes)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=str(Path(__file__).resolve().parent.parent),
            )
        try:
            wait_listening("127.0.0.1", port, proc, 30.0, log, what="the floor server")
            yield proc.pid
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)
