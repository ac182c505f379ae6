"""Exact protocol exchanges with the real gateway over a raw socket: startup, SSL/GSSENC
refusal, protocol versions, EmptyQueryResponse, row-limited Execute (PortalSuspended),
discard-until-Sync, transaction status bytes, malformed input."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from gateway.protocol.extended import Bind, Close, Describe, Execute, Flush, Parse, Sync
from gateway.protocol.simple import Query, Terminate
from gateway.protocol.startup import SSLRequest, GSSENCRequest, StartupMessage
from wire_raw import RawClient, Reply

pytest.importorskip("psycopg")


def _types(replies: list[Reply]) -> bytes:
    return b"".join(r.type for r in replies)


@pytest.fixture
def raw(gateway: Any) -> Any:
    with RawClient(gateway.host, gateway.port) as c:
        c.startup()
        yield c


def test_startup_sequence(gateway: Any) -> None:
    with RawClient(gateway.host, gateway.port) as c:
        c.send(SSLRequest())
        assert c.sock.recv(1) == b"N"
        c.send(GSSENCRequest())
        assert c.sock.recv(1) == b"N"
        replies = c.startup()
    assert replies[0].type == b"R" and replies[0].payload == b"\x00\x00\x00\x00"  # AuthenticationOk
    status = {}
    for r in replies:
        if r.type == b"S":
            name, value, _ = r.payload.decode().split("\x00")
            status[name] = value
    for name in ("server_version", "server_encoding", "client_encoding", "DateStyle", "TimeZone",
                 "integer_datetimes", "standard_conforming_strings", "IntervalStyle", "application_name",
                 "is_superuser"):
        assert name in status, name
    assert status["server_version"].split(".")[0] == "15"
    keys = [r for r in replies if r.type == b"K"]
    assert len(keys) == 1 and len(keys[0].payload) == 8
    assert replies[-1].type == b"Z" and replies[-1].payload == b"I"


@pytest.mark.parametrize("version", [(2, 0), (4, 0)])
def test_other_protocol_versions_are_refused(gateway: Any, version: tuple[int, int]) -> None:
    with RawClient(gateway.host, gateway.port) as c:
        c.send(StartupMessage({"user": "tester", "database": "chinook"}, major=version[0], minor=version[1]))
        replies = c.read_to_eof()
    assert _types(replies) == b"E"
    assert replies[0].error.code == "0A000" and replies[0].error.severity == "FATAL"


def test_newer_minor_version_is_negotiated_down(gateway: Any) -> None:
    with RawClient(gateway.host, gateway.port) as c:
        c.send(StartupMessage({"user": "tester", "database": "chinook", "_pq_.future": "1"}, major=3, minor=2))
        replies = c.until_ready()
    assert replies[0].type == b"v"
    minor, n = struct.unpack("!ii", replies[0].payload[:8])
    assert (minor, n) == (0, 1) and replies[0].payload[8:] == b"_pq_.future\x00"
    assert replies[-1].payload == b"I"


def test_empty_query_response(raw: Any) -> None:
    raw.send(Query(""))
    assert _types(raw.until_ready()) == b"IZ"
    raw.send(Query(";"))
    assert _types(raw.until_ready()) == b"IZ"
    raw.send(Parse("", "", []), Bind("", "", [], [], []), Describe(b"P", ""), Execute("", 0), Sync())
    assert _types(raw.until_ready()) == b"12nIZ"


def test_simple_query_messages(raw: Any) -> None:
    raw.send(Query('SELECT "GenreId", "Name" FROM "Genre" WHERE "GenreId" < 3 ORDER BY 1; SELECT 7'))
    replies = raw.until_ready()
    assert _types(replies) == b"TDDCTDCZ"
    assert [r.payload for r in replies if r.type == b"C"] == [b"SELECT 2\x00", b"SELECT 1\x00"]
    assert replies[1].payload == b"\x00\x02\x00\x00\x00\x011\x00\x00\x00\x04Rock"


def test_portal_suspended_and_resumed(raw: Any) -> None:
    raw.send(
        Parse("", 'SELECT "GenreId" FROM "Genre" ORDER BY "GenreId" LIMIT 5', []),
        Bind("p", "", [], [], [1]),
        Describe(b"P", "p"),
        Execute("p", 2),
        Execute("p", 2),
        Execute("p", 2),
        Sync(),
    )
    replies = raw.until_ready()
    assert _types(replies) == b"12TDDsDDsDCZ"
    ints = [struct.unpack("!i", r.payload[6:])[0] if len(r.payload) == 10 else int(r.payload[6:]) for r in replies if r.type == b"D"]
    assert ints == [1, 2, 3, 4, 5]
    assert replies[-2].payload == b"SELECT 1\x00"  # the last Execute's rows, as PostgreSQL counts them
    # the portal is gone after the transaction ended
    raw.send(Execute("p", 0), Sync())
    replies = raw.until_ready()
    assert _types(replies) == b"EZ" and replies[0].error.code == "34000"


def test_named_statements_describe_and_close(raw: Any) -> None:
    raw.send(
        Parse("byid", 'SELECT "Name" FROM "Artist" WHERE "ArtistId" = $1', [23]),
        Describe(b"S", "byid"),
        Bind("", "byid", [1], [struct.pack("!i", 1)], []),
        Execute("", 0),
        Bind("", "byid", [0], [b"2"], []),
        Execute("", 0),
        Close(b"S", "byid"),
        Sync(),
    )
    replies = raw.until_ready()
    assert _types(replies) == b"1tT2DC2DC3Z"
    assert replies[1].payload == b"\x00\x01\x00\x00\x00\x17"  # ParameterDescription: int4
    rows = [r.payload for r in replies if r.type == b"D"]
    assert rows == [b"\x00\x01\x00\x00\x00\x05AC/DC", b"\x00\x01\x00\x00\x00\x06Accept"]
    raw.send(Bind("", "byid", [], [b"1"], []), Sync())
    replies = raw.until_ready()
    assert _types(replies) == b"EZ" and replies[0].error.code == "26000"


def test_inferred_parameter_types(raw: Any) -> None:
    raw.send(Parse("", 'SELECT "Title" FROM "Album" WHERE "AlbumId" = $1', [0]), Describe(b"S", ""), Sync())
    replies = raw.until_ready()
    assert _types(replies) == b"1tTZ"
    (oid,) = struct.unpack("!I", replies[1].payload[2:6])
    assert oid in (20, 21, 23)


def test_error_discards_until_sync(raw: Any) -> None:
    raw.send(
        Parse("", 'SELECT * FROM "NoSuchTable"', []),
        Bind("", "", [], [], []),
        Execute("", 0),
        Parse("", "SELECT 1", []),  # discarded
        Sync(),
        Parse("", "SELECT 2", []),
        Bind("", "", [], [], []),
        Execute("", 0),
        Sync(),
    )
    first = raw.until_ready()
    assert _types(first) == b"EZ" and first[0].error.code == "42P01"
    assert _types(raw.until_ready()) == b"12DCZ"


def test_bind_with_wrong_parameter_count(raw: Any) -> None:
    raw.send(Parse("", "SELECT $1::int", [23]), Bind("", "", [], [], []), Execute("", 0), Sync())
    replies = raw.until_ready()
    assert _types(replies) == b"1EZ" and replies[1].error.code == "08P01"
    raw.send(Query("SELECT 1"))
    assert _types(raw.until_ready()) == b"TDCZ"  # the connection is fine


def test_flush_sends_without_sync(raw: Any) -> None:
    raw.send(Parse("", "SELECT 1", []), Flush())
    assert _types(raw.until(b"1")) == b"1"
    raw.send(Sync())
    assert _types(raw.until_ready()) == b"Z"


def test_transaction_status_bytes(raw: Any) -> None:
    raw.send(Query("BEGIN"))
    assert raw.until_ready()[-1].payload == b"T"
    raw.send(Query('SELECT * FROM "NoSuchTable"'))
    assert raw.until_ready()[-1].payload == b"E"
    raw.send(Query("SELECT 1"))
    replies = raw.until_ready()
    assert replies[0].error.code == "25P02" and replies[-1].payload == b"E"
    raw.send(Query("ROLLBACK"))
    replies = raw.until_ready()
    assert replies[0].payload == b"ROLLBACK\x00" and replies[-1].payload == b"I"


def test_terminate(raw: Any) -> None:
    raw.send(Terminate())
    assert raw.read_to_eof() == []


# --- malformed input: an error to that client, a closed connection, everyone else served


MALFORMED = {
    "garbage": (False, b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"),
    "absurd length": (True, b"Q\x7f\xff\xff\xff"),
    "negative length": (True, b"Q\xff\xff\xff\xf0"),
    "truncated message": (True, b"Q\x00\x00\x00\x09selec" + Sync().encode()),
    "unknown type": (True, b"\x01\x00\x00\x00\x04"),
    "startup too long": (False, struct.pack("!i", 1 << 20) + b"\x00\x03\x00\x00"),
    "password after startup": (True, b"p\x00\x00\x00\x08abcd"),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_input_closes_only_that_connection(gateway: Any, case: str) -> None:
    after_startup, payload = MALFORMED[case]
    with gateway.connect() as bystander, RawClient(gateway.host, gateway.port) as c:
        if after_startup:
            c.startup()
        c.send(payload)
        replies = c.read_to_eof()
        assert _types(replies) == b"E", replies
        assert replies[0].error.code == "08P01" and replies[0].error.severity == "FATAL"
        assert bystander.execute('SELECT count(*) FROM "Genre"').fetchone() == (25,)
    with gateway.connect() as fresh:
        assert fresh.execute("SELECT 1").fetchone() == (1,)
    assert gateway.alive()


def test_client_gone_mid_message_and_mid_query(gateway: Any) -> None:
    with RawClient(gateway.host, gateway.port) as c:
        c.startup()
        c.send(b"Q\x00\x00\x01\x00SELECT")  # half a message, then gone
    with RawClient(gateway.host, gateway.port) as c:
        c.startup()
        c.send(Query("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 3000000) "
                     "SELECT count(*) FROM r"))
    with gateway.connect() as fresh:
        assert fresh.execute("SELECT 1").fetchone() == (1,)
    assert gateway.alive()


def test_error_is_flushed_without_sync(raw: Any) -> None:
    """Parse fails, the client sends Describe + Flush (asyncpg does): the error must arrive
    although the Flush is discarded with the rest until Sync."""
    raw.send(Parse("s", 'SELECT * FROM "NoSuchTable"', []), Describe(b"S", "s"), Flush())
    replies = raw.until(b"E")
    assert _types(replies) == b"E" and replies[0].error.code == "42P01"
    raw.send(Sync())
    assert _types(raw.until_ready()) == b"Z"


def test_notice_before_command_complete(raw: Any, gateway: Any) -> None:
    raw.send(Query("ROLLBACK"))
    replies = raw.until_ready()
    assert _types(replies) == b"NCZ"
    notice = replies[0].error
    assert (notice.severity, notice.code, notice.message) == ("WARNING", "25P01", "there is no transaction in progress")
    with gateway.connect() as c:
        seen: list[Any] = []
        c.add_notice_handler(lambda d: seen.append((d.severity, d.sqlstate)))  # d is valid only here
        c.execute("COMMIT")
        assert seen == [("WARNING", "25P01")]
