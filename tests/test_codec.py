"""The sans-IO codec: raw bytes in, messages out; messages in, raw bytes out."""

from __future__ import annotations

import struct
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from connectors.base import Column
from gateway.api import Notice
from gateway.errors import PgError, ProtocolViolation
from gateway.protocol import Reader
from gateway.protocol.constants import TARGET_PORTAL, TARGET_STATEMENT
from gateway.protocol.copy import CopyDone, CopyOutResponse, CopyRowEncoder
from gateway.protocol.errors import ErrorResponse, NoticeResponse
from gateway.protocol.extended import (
    Bind,
    BindComplete,
    Close,
    CloseComplete,
    Describe,
    Execute,
    Flush,
    NoData,
    ParameterDescription,
    Parse,
    ParseComplete,
    PortalSuspended,
    Sync,
    expand_formats,
    peek_bound_execute,
)
from gateway.protocol.rows import CommandComplete, DataRow, EmptyQueryResponse, RowDescription, RowEncoder
from gateway.protocol.simple import Query, Terminate
from gateway.protocol.startup import (
    AuthenticationOk,
    AuthenticationSASL,
    AuthenticationSASLContinue,
    AuthenticationSASLFinal,
    BackendKeyData,
    CancelRequest,
    GSSENCRequest,
    NegotiateProtocolVersion,
    ParameterStatus,
    PasswordMessage,
    ReadyForQuery,
    SASLInitialResponse,
    SSLRequest,
    StartupMessage,
)
from gateway.protocol.types import decoder, encoder, name_of, oid_of, parse_array_text, typlen_of

# What libpq sends, spelled out byte by byte.
SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"
GSSENC_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x30"
STARTUP = (
    struct.pack("!ii", 4 + 4 + 32, 196608)
    + b"user\x00alice\x00database\x00chinook\x00\x00"
    + b"\x00" * 0
)


def _startup(**params: str) -> bytes:
    body = struct.pack("!i", 196608) + b"".join(k.encode() + b"\x00" + v.encode() + b"\x00" for k, v in params.items())
    body += b"\x00"
    return struct.pack("!i", len(body) + 4) + body


def _all(reader: Reader) -> list[object]:
    out = []
    while (msg := reader.read()) is not None:
        out.append(msg)
    return out


# --- framing --------------------------------------------------------------------------


def test_startup_packet_decodes_parameters() -> None:
    raw = _startup(user="alice", database="chinook", application_name="psql")
    r = Reader()
    r.feed(raw)
    msg = r.read()
    assert msg == StartupMessage(params={"user": "alice", "database": "chinook", "application_name": "psql"})
    assert not r.in_startup
    assert StartupMessage(params={"user": "alice", "database": "chinook", "application_name": "psql"}).encode() == raw


def test_ssl_and_gssenc_requests_keep_the_reader_in_startup_mode() -> None:
    r = Reader()
    r.feed(SSL_REQUEST)
    assert r.read() == SSLRequest()
    assert r.in_startup
    r.feed(GSSENC_REQUEST + _startup(user="bob"))
    assert r.read() == GSSENCRequest()
    assert r.read() == StartupMessage(params={"user": "bob"})
    assert SSLRequest().encode() == SSL_REQUEST
    assert GSSENCRequest().encode() == GSSENC_REQUEST


def test_cancel_request() -> None:
    raw = b"\x00\x00\x00\x10\x04\xd2\x16\x2e" + struct.pack("!ii", 1234, -5)
    r = Reader()
    r.feed(raw)
    assert r.read() == CancelRequest(pid=1234, secret=-5)
    assert CancelRequest(pid=1234, secret=-5).encode() == raw


def test_messages_split_at_every_byte_boundary() -> None:
    stream = _startup(user="u") + b"Q\x00\x00\x00\x0dselect 1\x00" + b"S\x00\x00\x00\x04" + b"X\x00\x00\x00\x04"
    r = Reader()
    got: list[object] = []
    for i in range(len(stream)):
        r.feed(stream[i : i + 1])
        got += _all(r)
    assert got == [StartupMessage(params={"user": "u"}), Query("select 1"), Sync(), Terminate()]
    assert r.buffered == 0


def test_absurd_lengths_and_unknown_types_are_refused_at_once() -> None:
    r = Reader(startup=False)
    r.feed(b"Q\x7f\xff\xff\xff")  # 2 GB: refused before any body arrives
    with pytest.raises(ProtocolViolation) as e:
        r.read()
    assert e.value.sqlstate == "08P01" and e.value.severity == "FATAL"

    r = Reader(startup=False)
    r.feed(b"Q\x00\x00\x00\x02")
    with pytest.raises(ProtocolViolation, match="invalid message length 2"):
        r.read()

    r = Reader(startup=False)
    r.feed(b"\x01")  # no body needed to know this type does not exist
    with pytest.raises(ProtocolViolation, match="invalid frontend message type 1"):
        r.read()

    r = Reader()
    r.feed(b"GET / HTTP/1.1\r\n")  # an HTTP client: length 0x47455420 > 10000
    with pytest.raises(ProtocolViolation, match="invalid length of startup packet"):
        r.read()

    r = Reader()
    r.feed(b"\x00\x00\x00\x02")
    with pytest.raises(ProtocolViolation):
        r.read()


def test_truncated_body_is_a_protocol_violation_and_is_consumed() -> None:
    r = Reader(startup=False)
    # the length covers "selec" but not the terminating NUL
    r.feed(b"Q\x00\x00\x00\x09selec" + b"S\x00\x00\x00\x04")
    with pytest.raises(ProtocolViolation, match="invalid string") as e:
        r.read()
    assert e.value.context["message_type"] == b"Q"
    assert r.read() == Sync()  # the stream stays in step

    r = Reader(startup=False)
    r.feed(b"E\x00\x00\x00\x06p\x00")  # Execute without its max_rows
    with pytest.raises(ProtocolViolation, match="insufficient data"):
        r.read()

    r = Reader(startup=False)
    r.feed(b"S\x00\x00\x00\x05x")  # Sync with a stray byte
    with pytest.raises(ProtocolViolation, match="invalid message format"):
        r.read()


def test_invalid_utf8_in_a_query_is_an_error_not_fatal() -> None:
    r = Reader(startup=False)
    r.feed(b"Q\x00\x00\x00\x07\xff\xfe\x00")
    with pytest.raises(PgError) as e:
        r.read()
    assert e.value.sqlstate == "22021" and e.value.severity == "ERROR"


def test_startup_packet_without_terminator() -> None:
    body = struct.pack("!i", 196608) + b"user\x00u\x00"
    r = Reader()
    r.feed(struct.pack("!i", len(body) + 4) + body)
    with pytest.raises(ProtocolViolation):
        r.read()


# --- extended query, as psycopg sends it ----------------------------------------------


def test_extended_frontend_messages_from_raw_bytes() -> None:
    parse = b"P\x00\x00\x00\x1fs1\x00select $1, $2\x00\x00\x02\x00\x00\x00\x17\x00\x00\x00\x00"
    bind = (
        b"B\x00\x00\x00\x22"
        + b"p1\x00s1\x00"
        + b"\x00\x02\x00\x01\x00\x00"  # 2 param formats: binary, text
        + b"\x00\x02"
        + b"\x00\x00\x00\x04\x00\x00\x00\x2a"  # int4 42 in binary
        + b"\xff\xff\xff\xff"  # NULL
        + b"\x00\x01\x00\x01"  # one result format: binary
    )
    describe = b"D\x00\x00\x00\x08Pp1\x00"
    execute = b"E\x00\x00\x00\x0bp1\x00\x00\x00\x00\x0a"
    close = b"C\x00\x00\x00\x08Ss1\x00"
    r = Reader(startup=False)
    r.feed(parse + bind + describe + execute + close + b"H\x00\x00\x00\x04" + b"S\x00\x00\x00\x04")
    msgs = _all(r)
    assert msgs == [
        Parse("s1", "select $1, $2", [23, 0]),
        Bind("p1", "s1", [1, 0], [b"\x00\x00\x00\x2a", None], [1]),
        Describe(b"P", "p1"),
        Execute("p1", 10),
        Close(b"S", "s1"),
        Flush(),
        Sync(),
    ]
    assert msgs[0].encode() == parse  # type: ignore[attr-defined]
    assert msgs[1].encode() == bind  # type: ignore[attr-defined]
    assert msgs[2].encode() == describe  # type: ignore[attr-defined]
    assert msgs[3].encode() == execute  # type: ignore[attr-defined]


def test_describe_with_a_bad_target() -> None:
    r = Reader(startup=False)
    r.feed(b"D\x00\x00\x00\x07X\x00\x00"[:8])
    with pytest.raises(ProtocolViolation):
        r.read()


def test_bind_with_a_negative_parameter_length() -> None:
    r = Reader(startup=False)
    body = b"\x00\x00" + b"\x00\x00" + b"\x00\x01" + b"\xff\xff\xff\xfe" + b"\x00\x00"
    r.feed(b"B" + struct.pack("!i", len(body) + 4) + body)
    with pytest.raises(ProtocolViolation, match="invalid parameter length"):
        r.read()


def test_format_expansion() -> None:
    assert expand_formats([], 3, what="parameter") == [0, 0, 0]
    assert expand_formats([1], 3, what="parameter") == [1, 1, 1]
    assert expand_formats([1, 0], 2, what="parameter") == [1, 0]
    with pytest.raises(PgError) as e:
        expand_formats([1, 0], 3, what="parameter")
    assert e.value.sqlstate == "08P01" and e.value.severity == "ERROR"
    with pytest.raises(PgError) as e:
        expand_formats([2], 1, what="parameter")
    assert e.value.sqlstate == "22023"


def test_sasl_messages() -> None:
    raw = b"p\x00\x00\x00\x19SCRAM-SHA-256\x00\x00\x00\x00\x03abc"
    r = Reader(startup=False)
    r.feed(raw)
    msg = r.read()
    assert isinstance(msg, PasswordMessage)
    assert SASLInitialResponse.of(msg) == SASLInitialResponse("SCRAM-SHA-256", b"abc")
    assert SASLInitialResponse("SCRAM-SHA-256", b"abc").encode() == raw


# --- backend messages, byte for byte --------------------------------------------------


def test_startup_backend_messages() -> None:
    assert AuthenticationOk().encode() == b"R\x00\x00\x00\x08\x00\x00\x00\x00"
    assert AuthenticationSASL().encode() == b"R\x00\x00\x00\x17\x00\x00\x00\x0aSCRAM-SHA-256\x00\x00"
    assert AuthenticationSASLContinue(b"r=x").encode() == b"R\x00\x00\x00\x0b\x00\x00\x00\x0br=x"
    assert AuthenticationSASLFinal(b"v=y").encode() == b"R\x00\x00\x00\x0b\x00\x00\x00\x0cv=y"
    assert ParameterStatus("TimeZone", "UTC").encode() == b"S\x00\x00\x00\x11TimeZone\x00UTC\x00"
    assert BackendKeyData(7, -1).encode() == b"K\x00\x00\x00\x0c\x00\x00\x00\x07\xff\xff\xff\xff"
    assert ReadyForQuery("I").encode() == b"Z\x00\x00\x00\x05I"
    assert ReadyForQuery("E").encode() == b"Z\x00\x00\x00\x05E"
    assert NegotiateProtocolVersion(0, ["_pq_.x"]).encode() == b"v\x00\x00\x00\x13\x00\x00\x00\x00\x00\x00\x00\x01_pq_.x\x00"


def test_result_messages() -> None:
    rd = RowDescription.of([Column("a", "int4"), Column("b", "text")], [0, 1])
    assert rd.encode() == (
        b"T\x00\x00\x00\x2e\x00\x02"
        + b"a\x00" + b"\x00\x00\x00\x00" + b"\x00\x00" + b"\x00\x00\x00\x17" + b"\x00\x04" + b"\xff\xff\xff\xff" + b"\x00\x00"
        + b"b\x00" + b"\x00\x00\x00\x00" + b"\x00\x00" + b"\x00\x00\x00\x19" + b"\xff\xff" + b"\xff\xff\xff\xff" + b"\x00\x01"
    )
    assert DataRow([b"1", None]).encode() == b"D\x00\x00\x00\x0f\x00\x02\x00\x00\x00\x011\xff\xff\xff\xff"
    assert RowEncoder([Column("a", "int4"), Column("b", "text")]).encode((1, None)) == DataRow([b"1", None]).encode()
    assert RowEncoder([Column("a", "int4")], [1]).encode((42,)) == DataRow([b"\x00\x00\x00\x2a"]).encode()
    assert CommandComplete("SELECT 1").encode() == b"C\x00\x00\x00\x0dSELECT 1\x00"
    assert EmptyQueryResponse().encode() == b"I\x00\x00\x00\x04"
    assert ParseComplete().encode() == b"1\x00\x00\x00\x04"
    assert BindComplete().encode() == b"2\x00\x00\x00\x04"
    assert CloseComplete().encode() == b"3\x00\x00\x00\x04"
    assert NoData().encode() == b"n\x00\x00\x00\x04"
    assert PortalSuspended().encode() == b"s\x00\x00\x00\x04"
    assert ParameterDescription([23, 25]).encode() == b"t\x00\x00\x00\x0e\x00\x02\x00\x00\x00\x17\x00\x00\x00\x19"


def test_row_encoder_refuses_a_row_of_the_wrong_width() -> None:
    with pytest.raises(PgError):
        RowEncoder([Column("a", "int4")]).encode((1, 2))


def test_error_and_notice_fields() -> None:
    err = PgError("boom", detail="d", hint="h", sqlstate="42P01")
    raw = ErrorResponse.of(err).encode()
    assert raw == b"E\x00\x00\x00\x26SERROR\x00VERROR\x00C42P01\x00Mboom\x00Dd\x00Hh\x00\x00"
    assert ErrorResponse.decode(raw[5:]) == ErrorResponse("ERROR", "42P01", "boom", "d", "h")
    notice = NoticeResponse.of(Notice("answered", detail="SELECT 1"))
    assert notice.encode() == b"N\x00\x00\x00\x30SNOTICE\x00VNOTICE\x00C00000\x00Manswered\x00DSELECT 1\x00\x00"


def test_copy_messages() -> None:
    assert CopyOutResponse(0, [0, 0]).encode() == b"H\x00\x00\x00\x0b\x00\x00\x02\x00\x00\x00\x00"
    enc = CopyRowEncoder([Column("a", "int4"), Column("b", "text"), Column("c", "bool")])
    assert enc.encode((1, "x\ty\\z\n", None)) == b"d\x00\x00\x00\x13" + b"1\tx\\ty\\\\z\\n\t\\N\n"
    assert enc.encode((2, "", True)) == b"d\x00\x00\x00\x092\t\tt\n"
    assert CopyDone().encode() == b"c\x00\x00\x00\x04"


# --- types ------------------------------------------------------------------------------


def test_type_table() -> None:
    expected = {
        "bool": 16, "bytea": 17, "char": 18, "name": 19, "int8": 20, "int2": 21, "int4": 23, "regproc": 24,
        "text": 25, "oid": 26, "json": 114, "float4": 700, "float8": 701, "bpchar": 1042, "varchar": 1043,
        "date": 1082, "time": 1083, "timestamp": 1114, "timestamptz": 1184, "interval": 1186, "numeric": 1700,
        "uuid": 2950, "jsonb": 3802, "_int4": 1007, "_text": 1009,
    }
    for name, oid in expected.items():
        assert oid_of(name) == oid, name
        assert name_of(oid) == name
    assert oid_of("integer") == 23 and oid_of("character varying(20)") == 1043 and oid_of("text[]") == 1009
    assert oid_of("no such type") == 25
    assert typlen_of("int8") == 8 and typlen_of("text") == -1 and typlen_of("bool") == 1 and typlen_of("name") == 64


TEXT_OUT = [
    ("bool", True, b"t"), ("bool", 0, b"f"), ("bool", "true", b"t"),
    ("int4", 42, b"42"), ("int8", -(2**40), b"-1099511627776"), ("int4", 3.0, b"3"),
    ("float8", 1.5, b"1.5"), ("float8", 100.0, b"100"), ("float8", 1e15, b"1e+15"), ("float8", 1e-5, b"1e-05"),
    ("float8", float("nan"), b"NaN"), ("float8", float("-inf"), b"-Infinity"), ("float4", 0.1, b"0.1"),
    ("numeric", Decimal("1.50"), b"1.50"), ("numeric", Decimal("1E+3"), b"1000"), ("numeric", 0.99, b"0.99"),
    ("text", "héllo", "héllo".encode()), ("varchar", 7, b"7"), ("text", True, b"true"),
    ("date", date(2024, 2, 29), b"2024-02-29"), ("date", datetime(2024, 2, 29, 10), b"2024-02-29"),
    ("timestamp", datetime(2009, 1, 1), b"2009-01-01 00:00:00"),
    ("timestamp", datetime(2009, 1, 1, 1, 2, 3, 4500), b"2009-01-01 01:02:03.0045"),
    ("timestamp", "2009-01-01 00:00:00", b"2009-01-01 00:00:00"),
    ("timestamptz", datetime(2009, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))), b"2009-01-01 10:00:00+00"),
    ("time", time(13, 5, 7), b"13:05:07"),
    ("interval", timedelta(days=2, hours=1), b"2 days 01:00:00"), ("interval", timedelta(seconds=1.5), b"00:00:01.5"),
    ("bytea", b"\x01\xab", b"\\x01ab"),
    ("uuid", uuid.UUID(int=1), b"00000000-0000-0000-0000-000000000001"),
    ("json", {"a": [1, 2]}, b'{"a": [1, 2]}'), ("jsonb", '{"a":1}', b'{"a":1}'),
    ("_int4", [1, None, 3], b"{1,NULL,3}"), ("_text", ["a b", 'q"', "", "NULL"], b'{"a b","q\\"","","NULL"}'),
]


@pytest.mark.parametrize(("type_name", "value", "raw"), TEXT_OUT)
def test_text_output(type_name: str, value: object, raw: bytes) -> None:
    assert encoder(type_name, 0)(value) == raw


BINARY_OUT = [
    ("bool", True, b"\x01"),
    ("int2", -2, b"\xff\xfe"),
    ("int4", 42, b"\x00\x00\x00\x2a"),
    ("int8", 1, b"\x00" * 7 + b"\x01"),
    ("float4", 1.5, b"\x3f\xc0\x00\x00"),
    ("float8", 1.5, b"\x3f\xf8\x00\x00\x00\x00\x00\x00"),
    ("numeric", Decimal("12345.678"), bytes.fromhex("0003000100000003000109291a7c")),
    ("numeric", Decimal("-0.000012"), bytes.fromhex("0001fffe4000000604b0")),
    ("numeric", Decimal("0"), bytes.fromhex("0000000000000000")),
    ("numeric", Decimal("0.00"), bytes.fromhex("0000000000000002")),
    ("numeric", Decimal("1E+10"), bytes.fromhex("00010002000000000064")),
    ("numeric", Decimal("NaN"), bytes.fromhex("00000000c0000000")),
    ("numeric", 0.99, bytes.fromhex("0001ffff0000000226ac")),
    ("text", "ab", b"ab"),
    ("date", date(2000, 1, 2), b"\x00\x00\x00\x01"),
    ("date", date(1999, 12, 31), b"\xff\xff\xff\xff"),
    ("timestamp", datetime(2000, 1, 1, 0, 0, 1), struct.pack("!q", 1_000_000)),
    ("timestamp", "2000-01-01 00:00:01", struct.pack("!q", 1_000_000)),
    ("timestamptz", datetime(2000, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), struct.pack("!q", 0)),
    ("time", time(0, 0, 2), struct.pack("!q", 2_000_000)),
    ("interval", timedelta(days=1, seconds=1), struct.pack("!qii", 1_000_000, 1, 0)),
    ("bytea", b"\x00\x01", b"\x00\x01"),
    ("uuid", "00000000-0000-0000-0000-000000000001", b"\x00" * 15 + b"\x01"),
    ("jsonb", {"a": 1}, b'\x01{"a": 1}'),
    ("_int4", [1, None], struct.pack("!iiIii", 1, 1, 23, 2, 1) + struct.pack("!ii", 4, 1) + struct.pack("!i", -1)),
]


@pytest.mark.parametrize(("type_name", "value", "raw"), BINARY_OUT)
def test_binary_output(type_name: str, value: object, raw: bytes) -> None:
    assert encoder(type_name, 1)(value) == raw


def test_binary_output_out_of_range() -> None:
    with pytest.raises(PgError) as e:
        encoder("int2", 1)(70000)
    assert e.value.sqlstate == "22003"
    with pytest.raises(PgError) as e:
        encoder("int4", 1)("abc")
    assert e.value.sqlstate == "22P02"


ROUND_TRIP = [
    ("bool", False), ("int2", -32768), ("int4", 2**31 - 1), ("int8", -(2**63)), ("float8", 0.1), ("float4", 0.5),
    ("numeric", Decimal("-98765.43210")), ("numeric", Decimal("0.0001")), ("numeric", Decimal("100000000")),
    ("numeric", Decimal("3.14159265358979323846264338327950288")),
    ("text", "a'b\"c"), ("varchar", "x"), ("bytea", b"\x00\xff\\"), ("date", date(1969, 7, 20)),
    ("timestamp", datetime(2024, 5, 6, 7, 8, 9, 123456)),
    ("timestamptz", datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)),
    ("time", time(23, 59, 59, 999999)), ("uuid", uuid.uuid4()), ("_int8", [1, 2, None]), ("_text", ["a", "b c"]),
]


@pytest.mark.parametrize(("type_name", "value"), ROUND_TRIP)
@pytest.mark.parametrize("fmt", [0, 1])
def test_parameters_round_trip(type_name: str, value: object, fmt: int) -> None:
    raw = encoder(type_name, fmt)(value)
    assert decoder(oid_of(type_name), fmt)(raw) == value


def test_text_parameter_input() -> None:
    assert decoder(16, 0)(b"yes") is True and decoder(16, 0)(b"off") is False
    assert decoder(1700, 0)(b" 1.50 ") == Decimal("1.50")
    assert decoder(701, 0)(b"Infinity") == float("inf")
    assert decoder(1184, 0)(b"2024-01-01 12:00:00+02") == datetime(2024, 1, 1, 10, tzinfo=timezone.utc)
    assert decoder(1114, 0)(b"2024-01-01T12:00:00") == datetime(2024, 1, 1, 12)
    assert decoder(17, 0)(b"\\x0001ff") == b"\x00\x01\xff"
    assert decoder(17, 0)(b"a\\\\b\\001") == b"a\\b\x01"
    assert decoder(0, 0)(b"whatever") == "whatever"  # unspecified type: text
    assert decoder(705, 1)(b"\x01") == b"\x01"
    assert decoder(3802, 1)(b'\x01{"a":1}') == '{"a":1}'
    assert parse_array_text('{{1,2},{3,NULL}}', decoder(23, 0)) == [[1, 2], [3, None]]


@pytest.mark.parametrize(
    ("oid", "fmt", "raw", "sqlstate"),
    [
        (23, 0, b"12x", "22P02"),
        (21, 0, b"40000", "22003"),
        (16, 0, b"maybe", "22P02"),
        (1082, 0, b"2024-13-01", "22007"),
        (1700, 0, b"1.2.3", "22P02"),
        (23, 1, b"\x00\x01", "22P03"),
        (1700, 1, b"\x00\x01", "22P03"),
        (2950, 0, b"not-a-uuid", "22P02"),
        (1007, 0, b"{1,2", "22P02"),
    ],
)
def test_bad_parameters(oid: int, fmt: int, raw: bytes, sqlstate: str) -> None:
    with pytest.raises(PgError) as e:
        decoder(oid, fmt)(raw)
    assert e.value.sqlstate == sqlstate


def test_bind_describe_execute_sync_is_recognised_whole_and_well_formed() -> None:
    bind = Bind("", "s1", [1], [b"\x00\x00\x00\x07", None], [0, 1])
    run = [bind, Describe(TARGET_PORTAL, ""), Execute("", 0), Sync()]
    data = b"X" + b"".join(m.encode() for m in run) + Query("SELECT 1").encode()
    found = peek_bound_execute(data, 1)
    assert found is not None
    assert (found.statement, found.params, found.describe) == ("s1", [b"\x00\x00\x00\x07", None], True)
    assert found.end == len(data) - len(Query("SELECT 1").encode())
    assert found.format_codes() == ([1], [0, 1])
    no_describe = b"".join(m.encode() for m in [bind, Execute("", 0), Sync()])
    assert peek_bound_execute(no_describe, 0) is not None
    assert peek_bound_execute(no_describe, 0).describe is False  # type: ignore[union-attr]
    # anything else is left to the message-by-message handlers
    whole = b"".join(m.encode() for m in run)
    others = [
        whole[:-1],  # Sync not all received
        whole[:10],  # Bind not all received
        b"".join(m.encode() for m in [Bind("p", "s1", [], [], []), Execute("p", 0), Sync()]),  # named portal
        b"".join(m.encode() for m in [bind, Execute("", 10), Sync()]),  # a row limit
        b"".join(m.encode() for m in [bind, Execute("", 0), Flush()]),  # no Sync
        b"".join(m.encode() for m in [bind, Describe(TARGET_STATEMENT, "s1"), Execute("", 0), Sync()]),
        b"B\x00\x00\x00\x0c\x00s1\x00\xff\xff\x00\x00" + whole[-15:],  # a negative format count
        b"B\x00\x00\x00\x0e\x00s1\x00\x00\x00\x00\x01\x00\x00" + whole[-15:],  # a parameter past the end
        b"B\x00\x00\x00\x0a\x00\xff\xfe\x00\x00\x00\x00\x00\x00" + whole[-15:],  # a name that is not UTF-8
        Query("SELECT 1").encode(),
    ]
    for data in others:
        assert peek_bound_execute(data, 0) is None, data
    reader = Reader(startup=False)
    reader.feed(whole + Sync().encode())
    assert reader.peek_bound_execute() is not None and reader.buffered == len(whole) + 5
    reader.skip_to(len(whole))
    assert isinstance(reader.read(), Sync) and reader.read() is None
