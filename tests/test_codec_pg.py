"""The codec's value formats against a real PostgreSQL 15: for each value, the bytes
PostgreSQL sends (text and binary result format) must be the bytes askgres sends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from gateway.protocol.types import decoder, encoder, oid_of

psycopg = pytest.importorskip("psycopg")
pg_reference_mod = pytest.importorskip("bench.pg_reference")

pytestmark = pytest.mark.skipif(not pg_reference_mod.available(), reason="PostgreSQL 15 binaries not installed")

CASES: list[tuple[str, str, Any]] = [
    ("true", "bool", True),
    ("(-2)::int2", "int2", -2),
    ("2147483647::int4", "int4", 2147483647),
    ("(-9007199254740993)::int8", "int8", -9007199254740993),
    ("1.5::float8", "float8", 1.5),
    ("1e15::float8", "float8", 1e15),
    ("123456789012345::float8", "float8", 123456789012345.0),
    ("0.00001::float8", "float8", 1e-05),
    ("(1.0/3)::float8", "float8", 1 / 3),
    ("'NaN'::float8", "float8", float("nan")),
    ("'-Infinity'::float8", "float8", float("-inf")),
    ("0.1::float4", "float4", 0.1),
    ("1e6::float4", "float4", 1e6),
    ("12345.678::numeric", "numeric", Decimal("12345.678")),
    ("(-0.000012)::numeric", "numeric", Decimal("-0.000012")),
    ("0.00::numeric", "numeric", Decimal("0.00")),
    ("10000000000::numeric", "numeric", Decimal("10000000000")),
    ("99999999.9999::numeric", "numeric", Decimal("99999999.9999")),
    ("1.50::numeric(10,2)", "numeric", Decimal("1.50")),
    ("'NaN'::numeric", "numeric", Decimal("NaN")),
    ("3.14159265358979323846264338327950288::numeric", "numeric", Decimal("3.14159265358979323846264338327950288")),
    ("'héllo'::text", "text", "héllo"),
    ("'ab'::varchar", "varchar", "ab"),
    ("'2024-02-29'::date", "date", date(2024, 2, 29)),
    ("'1969-07-20'::date", "date", date(1969, 7, 20)),
    ("'2009-01-01 00:00:00'::timestamp", "timestamp", datetime(2009, 1, 1)),
    ("'2009-01-01 01:02:03.0045'::timestamp", "timestamp", datetime(2009, 1, 1, 1, 2, 3, 4500)),
    ("'2009-01-01 12:00:00+02'::timestamptz", "timestamptz", datetime(2009, 1, 1, 10, tzinfo=timezone.utc)),
    ("'13:05:07.25'::time", "time", time(13, 5, 7, 250000)),
    ("'2 days 01:00:00'::interval", "interval", timedelta(days=2, hours=1)),
    ("'1.5 seconds'::interval", "interval", timedelta(seconds=1.5)),
    ("'\\x01ab00'::bytea", "bytea", b"\x01\xab\x00"),
    ("'00000000-0000-0000-0000-000000000001'::uuid", "uuid", uuid.UUID(int=1)),
    ("'{\"a\": [1, 2]}'::jsonb", "jsonb", {"a": [1, 2]}),
    ("'{\"a\":1}'::json", "json", '{"a":1}'),
    ("ARRAY[1, NULL, 3]::int4[]", "_int4", [1, None, 3]),
    ("ARRAY['a b', 'q\"', '', 'NULL']::text[]", "_text", ["a b", 'q"', "", "NULL"]),
    ("'x'::\"char\"", "char", "x"),
    ("'pg_class'::name", "name", "pg_class"),
]


@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    with pg_reference_mod.pg_reference(None, dbname="codec") as info:
        with psycopg.connect(info.dsn, options="-c TimeZone=UTC") as conn:
            yield conn.pgconn


def _raw(pgconn: Any, sql: str, fmt: int) -> bytes:
    res = pgconn.exec_params(f"SELECT {sql}".encode(), [], result_format=fmt)
    assert res.status == 2, res.error_message  # TUPLES_OK
    return bytes(res.get_value(0, 0))


@pytest.mark.parametrize(("sql", "type_name", "value"), CASES, ids=[c[0][:40] for c in CASES])
def test_same_bytes_as_postgresql(pg: Any, sql: str, type_name: str, value: Any) -> None:
    assert encoder(type_name, 0)(value) == _raw(pg, sql, 0), "text format"
    assert encoder(type_name, 1)(value) == _raw(pg, sql, 1), "binary format"


@pytest.mark.parametrize(("sql", "type_name", "value"), CASES, ids=[c[0][:40] for c in CASES])
def test_reads_what_postgresql_sends(pg: Any, sql: str, type_name: str, value: Any) -> None:
    """What a client sends as a parameter has the same format as what PostgreSQL sends
    as a result: decoding PostgreSQL's bytes must give the value back."""
    if type_name in ("json", "jsonb"):
        value = value if isinstance(value, str) else None
    for fmt in (0, 1):
        got = decoder(oid_of(type_name), fmt)(_raw(pg, sql, fmt))
        if value is None:
            continue
        if isinstance(value, (float, Decimal)) and value != value:
            assert got != got
        elif type_name == "float4":
            assert abs(got - value) < 1e-6 * max(1.0, abs(value))
        else:
            assert got == value, (fmt, got)
