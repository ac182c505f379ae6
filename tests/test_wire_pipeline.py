"""Pipelined extended-protocol messages: answered in order, in one write per Sync (output
is buffered until ReadyForQuery, Flush or an error), with the real gateway over a raw
socket and, for the write count, a connection driven in-process."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.auth import Authenticator
from gateway.connection import Connection
from gateway.protocol.extended import Bind, Describe, Execute, Flush, Parse, Sync
from gateway.protocol.startup import StartupMessage
from tests.engine_support import EngineHarness
from wire_raw import RawClient, Reply, split


def _types(replies: list[Reply]) -> bytes:
    return b"".join(r.type for r in replies)


def _text(reply: Reply) -> str:
    assert reply.type == b"D"
    (n,) = struct.unpack_from("!h", reply.payload)
    assert n == 1
    (size,) = struct.unpack_from("!i", reply.payload, 2)
    return reply.payload[6 : 6 + size].decode()


POINT = 'SELECT "Name" FROM "Artist" WHERE "ArtistId" = $1'


def _execution(value: int) -> list[Any]:
    return [Parse("", POINT, []), Bind("", "", [], [str(value).encode()], []), Describe(b"P", ""), Execute("", 0)]


@pytest.fixture
def raw(gateway: Any) -> Iterator[RawClient]:
    with RawClient(gateway.host, gateway.port) as c:
        c.startup()
        yield c


def test_pipelined_executions_are_answered_in_order(raw: RawClient) -> None:
    ids = [1, 3, 2, 5]
    raw.send(*[m for i in ids for m in _execution(i)], Sync())
    replies = raw.until_ready()
    assert _types(replies) == b"12TDC" * len(ids) + b"Z"
    assert [_text(r) for r in replies if r.type == b"D"] == ["AC/DC", "Aerosmith", "Accept", "Alice In Chains"]
    assert [r.payload for r in replies if r.type == b"C"] == [b"SELECT 1\x00"] * len(ids)


def test_error_mid_pipeline_skips_to_sync_and_the_next_batch_runs(raw: RawClient) -> None:
    raw.send(*_execution(1), Bind("", "no_such_statement", [], [], []), Execute("", 0), *_execution(2), Sync(),
             *_execution(3), Sync())
    first = raw.until_ready()
    assert _types(first) == b"12TDCEZ"
    assert first[5].error.code == "26000"
    second = raw.until_ready()
    assert _types(second) == b"12TDCZ" and _text(second[3]) == "Aerosmith"


def test_flush_sends_what_is_buffered_without_sync(raw: RawClient) -> None:
    raw.send(*_execution(2), Flush())
    replies = raw.until(b"C")
    assert _types(replies) == b"12TDC" and _text(replies[3]) == "Accept"
    raw.send(Sync())
    assert _types(raw.until_ready()) == b"Z"


# --- one write per batch, in-process ------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.ready = asyncio.Event()
        self.transport = self

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        if data.endswith((b"Z\x00\x00\x00\x05I", b"Z\x00\x00\x00\x05T", b"Z\x00\x00\x00\x05E")):
            self.ready.set()

    async def drain(self) -> None:
        return None

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 5) if name == "peername" else None

    def close(self) -> None:
        return None

    async def wait_closed(self) -> None:
        return None


class _Hub:
    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.auth = Authenticator({})

    @property
    def engine(self) -> Any:
        return self._engine

    def admit(self, conn: Connection) -> tuple[int, int]:
        return (1, 1)

    def rekey(self, conn: Connection, pid: int) -> tuple[int, int]:
        return (pid, 1)

    def release(self, conn: Connection) -> None:
        return None

    def cancel(self, pid: int, secret: int) -> None:
        return None


def test_a_pipelined_batch_is_written_once(tmp_path: Path) -> None:
    harness = EngineHarness(tmp_path)

    async def go() -> None:
        reader = asyncio.StreamReader()
        writer = _Writer()
        conn = Connection(_Hub(harness.engine), reader, writer)  # type: ignore[arg-type]
        task = asyncio.create_task(conn.run())

        async def exchange(*msgs: Any) -> list[Reply]:
            writer.writes.clear()
            writer.ready.clear()
            reader.feed_data(b"".join(m.encode() for m in msgs))
            await asyncio.wait_for(writer.ready.wait(), timeout=30)
            replies, rest = split(b"".join(writer.writes))
            assert rest == b""
            return replies

        await exchange(StartupMessage({"user": "tester", "database": "small"}))
        replies = await exchange(*[m for i in (1, 2, 3) for m in _execution(i)], Sync())
        assert _types(replies) == b"12TDC" * 3 + b"Z"
        assert [_text(r) for r in replies if r.type == b"D"] == ["AC/DC", "Accept", "Aerosmith"]
        assert len(writer.writes) == 1
        reader.feed_eof()
        await asyncio.wait_for(task, timeout=30)
        await harness.aclose()

    asyncio.run(go())
