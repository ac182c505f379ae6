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

from bench.wire_python import InProcessHub, InProcessWriter
from gateway.connection import Connection
from gateway.protocol.extended import Bind, Describe, Execute, Flush, Parse, Sync
from gateway.protocol.simple import Query
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


class _Driven:
    """A Connection driven in-process over the harness's engine (start it in a running loop)."""

    def __init__(self, harness: EngineHarness) -> None:
        self.reader = asyncio.StreamReader()
        self.writer = InProcessWriter()
        self.conn = Connection(InProcessHub(harness.engine), self.reader, self.writer)  # type: ignore[arg-type]
        self.task = asyncio.create_task(self.conn.run())

    async def exchange(self, *msgs: Any) -> list[Reply]:
        """Send ``msgs`` in one piece; the answer up to ReadyForQuery."""
        self.writer.writes.clear()
        self.writer.ready.clear()
        self.reader.feed_data(b"".join(m.encode() for m in msgs))
        await asyncio.wait_for(self.writer.ready.wait(), timeout=30)
        replies, rest = split(b"".join(self.writer.writes))
        assert rest == b""
        return replies

    async def close(self) -> None:
        self.reader.feed_eof()
        await asyncio.wait_for(self.task, timeout=30)


def test_a_pipelined_batch_is_written_once(tmp_path: Path) -> None:
    harness = EngineHarness(tmp_path)

    async def go() -> None:
        driven = _Driven(harness)
        await driven.exchange(StartupMessage({"user": "tester", "database": "small"}))
        replies = await driven.exchange(*[m for i in (1, 2, 3) for m in _execution(i)], Sync())
        assert _types(replies) == b"12TDC" * 3 + b"Z"
        assert [_text(r) for r in replies if r.type == b"D"] == ["AC/DC", "Accept", "Aerosmith"]
        assert len(driven.writer.writes) == 1
        await driven.close()
        await harness.aclose()

    asyncio.run(go())


# --- Bind/Describe/Execute/Sync received together: the same answer as one by one -----------

_POINT_S = Parse("s1", 'SELECT "ArtistId", "Name" FROM "Artist" WHERE "ArtistId" = $1', [20])
_ABS_S = Parse("s2", 'SELECT abs($1::bigint) AS a, "Name" FROM "Artist" WHERE "ArtistId" = 1', [])


def _run(statement: str, *params: bytes | None, formats: list[int] | None = None, results: list[int] | None = None,
         describe: bool = True) -> list[Any]:
    bind = Bind("", statement, formats or [], list(params), results or [])
    return [bind, *([Describe(b"P", "")] if describe else []), Execute("", 0), Sync()]


# What drivers send, then what the handlers must refuse or treat specially.
_BATCHES: list[list[Any]] = [
    [_POINT_S, _ABS_S, Sync()],
    _run("s1", b"3"),  # text in, text out
    _run("s1", struct.pack("!q", 2), formats=[1], results=[1]),  # binary in and out
    _run("s1", b"4", results=[1, 0]),  # a format per column
    _run("s1", b"99", describe=False),  # no row, no Describe
    _run("s1", None),  # NULL parameter
    _run("s1", b"abc"),  # bad text for bigint (22P02, at Bind)
    _run("s1", b"1", b"2"),  # too many parameters (08P01, at Bind)
    _run("s1", b"1", results=[1, 1, 1]),  # result formats do not match the columns (08P01)
    _run("nope", b"1"),  # no such statement (26000)
    _run("s2", b"-9223372036854775808"),  # fails at execution (22003)
    [Query("BEGIN")],
    _run("s2", b"5"),
    [Execute("", 0), Sync()],  # the portal lives on in the transaction block: done, "SELECT 0"
    _run("s2", b"-9223372036854775808"),  # fails the transaction block ...
    _run("s1", b"1"),  # ... so this is refused (25P02)
    [Query("ROLLBACK")],
    _run("s1", b"5"),
    # an unnamed statement parsed before each run (what drivers send for a query not prepared)
    [Parse("", POINT, []), *_run("", b"2")],
    [Parse("", POINT, []), *_run("", b"3")],
    [Parse("", POINT, [20]), *_run("", b"4")],
    [Parse("", POINT, [20]), *_run("", b"5", results=[1])],
]


async def _answers(harness: EngineHarness, *, together: bool, batches: list[list[Any]] = _BATCHES) -> list[bytes]:
    """The answer to each batch, sent in one piece or a message at a time (each one read
    by the server before the next arrives)."""
    driven = _Driven(harness)
    writer = driven.writer
    answers = []
    for batch in [[StartupMessage({"user": "tester", "database": "small"})], *batches]:
        writer.writes.clear()
        writer.ready.clear()
        pieces = [b"".join(m.encode() for m in batch)] if together else [m.encode() for m in batch]
        for piece in pieces:
            driven.reader.feed_data(piece)
            await asyncio.sleep(0)
            while not together and batch[0].type and not driven.conn._parked:  # read and handled: waits for more
                await asyncio.sleep(0.001)
        await asyncio.wait_for(writer.ready.wait(), timeout=30)
        answers.append(b"".join(writer.writes))
    del answers[0]  # the startup answer (each session has its own BackendKeyData)
    await driven.close()
    return answers


def test_bind_execute_sync_received_together_is_answered_as_one_by_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs drivers send in one piece are answered without decoding message by
    message (Connection._run_bound); byte for byte what the handlers answer, errors too."""
    harness = EngineHarness(tmp_path)
    handled: list[bool] = []
    parsed: list[bool] = []
    run_bound, parse_now = Connection._run_bound, Connection._parse_now
    by_handlers = True

    def counted(self: Connection, run: Any) -> Any:
        result = run_bound(self, run)
        handled.append(result[0])
        return result

    def counted_parse(self: Connection, msg: Any, end: int) -> bool:
        if by_handlers:  # a Parse alone is taken up the same way: leave it to the handler here
            return False
        parsed.append(parse_now(self, msg, end))
        return parsed[-1]

    monkeypatch.setattr(Connection, "_run_bound", counted)
    monkeypatch.setattr(Connection, "_parse_now", counted_parse)

    async def go() -> tuple[list[bytes], list[bytes]]:
        nonlocal by_handlers
        one_by_one = await _answers(harness, together=False)
        assert handled == []
        by_handlers = False
        together = await _answers(harness, together=True)
        await harness.aclose()
        return one_by_one, together

    one_by_one, together = asyncio.run(go())
    assert together == one_by_one
    replies = [split(a)[0] for a in together]
    assert _types(replies[1]) == b"2TDCZ"
    assert [r.error.code for batch in replies for r in batch if r.type == b"E"] == [
        "22P02", "08P01", "08P01", "26000", "22003", "22003", "25P02"]
    assert replies[13][-1].payload == b"T" and replies[13][-2].payload == b"SELECT 0\x00"
    # taken where nothing needs the handlers: the well-formed runs of an existing statement
    assert handled == [True] * 5 + [False] * 4 + [True] * 5 + [True] * 4
    assert parsed.count(True) == 2  # the second Parse of each text and types
    assert [_text(r[3]) for r in replies[-4:-1]] == ["Accept", "Aerosmith", "Alanis Morissette"]


def _simple(raw: RawClient, sql: str) -> list[Reply]:
    raw.send(Query(sql))
    return raw.until_ready()


def test_simple_queries_answered_at_once_match_the_first_answer_and_respect_a_failed_transaction(
        raw: RawClient) -> None:
    """The first query of a shape is planned; the next ones (other constants) are answered
    without waiting (Session.run_simple_now) with the same RowDescription; a failed
    transaction block refuses them (25P02) until ROLLBACK."""
    sql = 'SELECT "ArtistId", "Name" FROM "Artist" WHERE "ArtistId" = {}'
    first = _simple(raw, sql.format(1))
    again = _simple(raw, sql.format(3))
    assert _types(first) == _types(again) == b"TDCZ"
    assert first[0] == again[0] and again[1].payload.endswith(b"Aerosmith")
    none = _simple(raw, sql.format(99999999999999999999))  # past 64 bits: no row
    assert _types(none) == b"TCZ" and none[1].payload == b"SELECT 0\x00"
    raw.send(Query("BEGIN"))
    raw.until_ready()
    failed = _simple(raw, "SELECT no_such_column FROM \"Artist\"")
    assert _types(failed) == b"EZ" and failed[1].payload == b"E"
    refused = _simple(raw, sql.format(3))
    assert _types(refused) == b"EZ" and refused[0].error.code == "25P02"
    raw.send(Query("ROLLBACK"))
    assert raw.until_ready()[-1].payload == b"I"
    assert _simple(raw, sql.format(3)) == again


def test_runs_answered_as_they_arrive_keep_their_order_around_a_long_read(raw: RawClient) -> None:
    """Runs that arrive while the connection waits are answered as they arrive (the
    server's protocol hands them to Connection.take_now); a long read among them goes to
    the executor, and what follows it, in the same packet or the next, waits its turn."""
    long = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300000) SELECT count(*)::text FROM c"
    raw.send(Parse("point", POINT, []), Parse("long", long, []), _ABS_S, Sync())
    assert _types(raw.until_ready()) == b"111Z"
    raw.send(*_run("point", b"1"), *_run("s2", b"-9223372036854775808"), *_run("long"), *_run("point", b"2"))
    raw.send(*_run("point", b"3"))
    raw.send(Query('SELECT "Name" FROM "Artist" WHERE "ArtistId" = 4'))
    first = raw.until_ready()
    assert _types(first) == b"2TDCZ" and _text(first[2]) == "AC/DC"
    failed = raw.until_ready()
    assert _types(failed) == b"2TEZ" and failed[2].error.code == "22003"
    answers = [raw.until_ready() for _ in range(4)]
    assert [_types(a) for a in answers] == [b"2TDCZ"] * 3 + [b"TDCZ"]
    assert [_text(a[2] if a[0].type == b"2" else a[1]) for a in answers] == [
        "300000", "Accept", "Aerosmith", "Alanis Morissette"]


def test_a_statement_parsed_again_keeps_what_its_binds_decode_to(tmp_path: Path) -> None:
    """The Parse drivers send before each run of a query they have not prepared, with no
    declared types (as pgbench -M extended): answered at once, and the unnamed statement
    stays the same object, so the Bind shapes found for it are reused."""
    harness = EngineHarness(tmp_path)

    async def go() -> None:
        driven = _Driven(harness)
        registry = driven.conn._registry
        await driven.exchange(StartupMessage({"user": "tester", "database": "small"}))
        statements = []
        for artist in (b"1", b"2", b"3"):
            replies = await driven.exchange(Parse("", POINT, []), *_run("", artist))
            assert _types(replies) == b"12TDCZ"
            statements.append(registry.statements[""])
        assert statements[1] is statements[0] and statements[2] is statements[0]
        assert len(statements[0].bind_shapes) == 1
        replies = await driven.exchange(Parse("", POINT, [20]), *_run("", b"4"))  # declared types: another one
        assert _types(replies) == b"12TDCZ" and registry.statements[""] is not statements[0]
        await driven.close()
        await harness.aclose()

    asyncio.run(go())


# --- a statement run over and over: the hot reader answers as the general way -----------

_HOT_PARSES = [
    _POINT_S,
    Parse("albums", 'SELECT "AlbumId", "Title" FROM "Album" WHERE "ArtistId" = $1 ORDER BY 1', []),
    Parse("invoice", 'SELECT "InvoiceDate", "Total", "Total" > $1 AS big FROM "Invoice" WHERE "InvoiceId" = $2', []),
    Parse("ratio", 'SELECT 100 / $1::int AS q', []),
    Parse("count", "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < $1) "
                   "SELECT count(*) FROM c", []),
    Parse("plus", 'SELECT $1::int + "ArtistId" AS n FROM "Artist" WHERE "ArtistId" <= 2 ORDER BY 1', []),
    Sync(),
]
_HOT_BATCHES: list[list[Any]] = [
    _HOT_PARSES,
    *[_run("s1", str(i).encode()) for i in (1, 2, 3, 99)],
    _run("s1", struct.pack("!q", 4), formats=[1], results=[1]),  # another Bind shape
    _run("s1", None),
    *[_run("albums", str(i).encode()) for i in (2, 7, 1, 99)],  # several rows, none
    *[_run("invoice", b"5", str(i).encode()) for i in (3, 4, 1)],  # a timestamp, numeric, a boolean expression
    *[_run("invoice", b"5", str(i).encode(), results=[1]) for i in (2, 6, 5)],  # in binary
    *[_run("ratio", v) for v in (b"4", b"0", b"7", b"0", b"3")],  # 22012 among quick reads
    [Query("CREATE TABLE flags (id integer PRIMARY KEY, ok boolean, day date); "
           "INSERT INTO flags VALUES (1, true, '2024-02-29'), (2, false, NULL), (3, NULL, '1999-12-31')")],
    [Parse("flag", "SELECT ok, day FROM flags WHERE id = $1", []), Sync()],
    *[_run("flag", str(i).encode(), results=r) for r in ([], [1]) for i in (1, 2, 3)],  # SQLite's 0/1 and text
    *[_run("count", v) for v in (b"10", b"300000", b"5")],  # turns out long: the executor from then on
    # SQLite computes in 64 bits: a value past an integer column's binary range, after a first row
    *[_run("plus", v, results=[1]) for v in (b"5", b"2147483646", b"6", b"2147483646", b"7")],
    [Query("BEGIN")],
    _run("s1", b"5"),
    [Execute("", 0), Sync()],  # the portal lives on in the transaction block
    _run("ratio", b"0"),  # fails the block ...
    _run("s1", b"6"),  # ... so this is refused (25P02)
    [Query("ROLLBACK")],
    [Query('ALTER TABLE "Artist" RENAME COLUMN "Name" TO "Called"')],
    _run("s1", b"2"),  # the column is gone: an error, as the general way reports it
    [Query('ALTER TABLE "Artist" RENAME COLUMN "Called" TO "Name"')],
    *[_run("s1", str(i).encode()) for i in (2, 7)],
]


def test_a_statement_run_over_and_over_is_answered_as_the_first_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A prepared read answered at once is read again by the session's hot reader
    (BindShape.hot, Session.hot_reader): byte for byte what the message handlers answer,
    with its types converted (timestamps), several rows, errors, a failed transaction
    block, a read that turns out long and a schema change; the handlers never use it."""
    hot_answers = []
    hot_answer = Connection._hot_answer

    def counted(self: Connection, *args: Any) -> Any:
        hot_answers.append(args[0].statement)
        return hot_answer(self, *args)

    monkeypatch.setattr(Connection, "_hot_answer", counted)

    async def answers(together: bool) -> list[bytes]:
        data = tmp_path / ("together" if together else "one_by_one")  # each its own database
        data.mkdir()
        harness = EngineHarness(data)
        out = await _answers(harness, together=together, batches=_HOT_BATCHES)
        await harness.aclose()
        return out

    one_by_one = asyncio.run(answers(False))
    assert hot_answers == []
    together = asyncio.run(answers(True))
    assert together == one_by_one
    replies = [split(a)[0] for a in together]
    assert [r.error.code for batch in replies for r in batch if r.type == b"E"] == [
        "22012", "22012", "22003", "22003", "22012", "25P02", "42703"]
    overflow = next(batch for batch in replies if any(r.type == b"E" and r.error.code == "22003" for r in batch))
    assert _types(overflow) == b"2TDEZ"  # the row that fits, then the error
    assert _types(replies[-1]) == b"2TDCZ" and replies[-1][2].payload.endswith(b"Led Zeppelin")
    assert [r.payload for r in replies[7] if r.type == b"C"] == [b"SELECT 2\x00"]  # albums of artist 2
    # the hot reader answered the runs after each statement's first quick one (not the long count)
    assert hot_answers.count("s1") >= 6 and hot_answers.count("albums") == 3
    assert hot_answers.count("flag") == 4 and hot_answers.count("invoice") == 4 and hot_answers.count("ratio") >= 2
    assert hot_answers.count("count") == 0 and hot_answers.count("plus") >= 2


def test_a_value_past_its_binary_range_is_an_error_and_the_connection_goes_on(raw: RawClient) -> None:
    """SQLite computes in 64 bits; a result column typed integer gets a value past 32 bits:
    in binary that is 22003 after the rows that fit, whether the run is answered as it
    arrives (Connection.take_now, the hot reader) or not, and the connection goes on (it
    was closed when the error came from a run answered as it arrived)."""
    raw.send(Parse("big", 'SELECT $1::int + "ArtistId" AS n FROM "Artist" WHERE "ArtistId" <= 2 ORDER BY 1', []),
             Sync())
    assert _types(raw.until_ready()) == b"1Z"
    answers = []
    for value in (b"5", b"2147483646", b"6", b"2147483646", b"7"):
        raw.send(*_run("big", value, results=[1]))
        answers.append(raw.until_ready())
    assert [_types(a) for a in answers] == [b"2TDDCZ", b"2TDEZ", b"2TDDCZ", b"2TDEZ", b"2TDDCZ"]
    assert answers[1][3].error.code == "22003" and answers[1][2].payload == struct.pack("!hii", 1, 4, 2147483647)
    raw.send(Query("SELECT 41 + 1"))
    assert _types(raw.until_ready()) == b"TDCZ"
