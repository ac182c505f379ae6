"""The binary format of the common types (DataRow in binary format, Bind parameters in
binary format), NUMERIC's base-10000 digits included."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from gateway.errors import DataException
from gateway.protocol.coerce import (
    as_bool,
    as_bytes,
    as_date,
    as_datetime,
    as_decimal,
    as_float,
    as_int,
    as_time,
    as_uuid,
    bad_binary,
    json_text,
)
from gateway.protocol.framing import I16, I32, I64, U16, U32
from gateway.protocol.text_format import to_text

Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes], Any]

PG_EPOCH_DATE = date(2000, 1, 1)
PG_EPOCH = datetime(2000, 1, 1)
PG_EPOCH_UTC = datetime(2000, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)

# --- output ----------------------------------------------------------------------------


def _pack_int(st: struct.Struct, tname: str) -> Encoder:
    def enc(v: Any) -> bytes:
        try:
            return st.pack(as_int(v))
        except struct.error:
            raise DataException(f"value {v} is out of range for type {tname}", sqlstate="22003") from None

    return enc


def numeric_binary(d: Decimal) -> bytes:
    """NUMERIC in PostgreSQL's binary format: ndigits, weight, sign, dscale and base-10000
    digits."""
    if d.is_nan():
        return I16.pack(0) + I16.pack(0) + U16.pack(0xC000) + U16.pack(0)
    if d.is_infinite():
        return I16.pack(0) + I16.pack(0) + U16.pack(0xF000 if d < 0 else 0xD000) + U16.pack(0)
    sign, digit_tuple, exp = d.as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    dscale = max(0, -exp)
    if exp > 0:
        digits += "0" * exp
        exp = 0
    split = len(digits) + exp  # digits before the decimal point
    if split < 0:
        digits = "0" * -split + digits
        split = 0
    int_part, frac_part = digits[:split], digits[split:]
    int_part = "0" * (-len(int_part) % 4) + int_part
    frac_part = frac_part + "0" * (-len(frac_part) % 4)
    groups = [int(int_part[i : i + 4]) for i in range(0, len(int_part), 4)]
    groups += [int(frac_part[i : i + 4]) for i in range(0, len(frac_part), 4)]
    weight = len(int_part) // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    head = I16.pack(len(groups)) + I16.pack(weight) + U16.pack(0x4000 if sign else 0) + U16.pack(dscale)
    return head + b"".join(I16.pack(g) for g in groups)


def numeric_from_binary(data: bytes) -> Decimal:
    if len(data) < 8:
        raise bad_binary("numeric")
    ndigits, weight = I16.unpack_from(data, 0)[0], I16.unpack_from(data, 2)[0]
    sign, dscale = U16.unpack_from(data, 4)[0], U16.unpack_from(data, 6)[0]
    if sign == 0xC000:
        return Decimal("NaN")
    if sign == 0xD000:
        return Decimal("Infinity")
    if sign == 0xF000:
        return Decimal("-Infinity")
    if len(data) != 8 + 2 * ndigits or sign not in (0, 0x4000):
        raise bad_binary("numeric")
    groups = [I16.unpack_from(data, 8 + 2 * i)[0] for i in range(ndigits)]
    s = "".join(f"{g:04d}" for g in groups)
    point = (weight + 1) * 4
    if point <= 0:
        int_part, frac = "0", "0" * -point + s
    else:
        s = s + "0" * max(0, point - len(s))
        int_part, frac = s[:point].lstrip("0") or "0", s[point:]
    frac = (frac + "0" * dscale)[:dscale]
    text = ("-" if sign == 0x4000 else "") + int_part + ("." + frac if dscale else "")
    return Decimal(text)


def _date_binary(v: Any) -> bytes:
    return I32.pack((as_date(v) - PG_EPOCH_DATE).days)


def _time_binary(v: Any) -> bytes:
    t = as_time(v)
    return I64.pack(((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond)


def _timestamp_binary(v: Any) -> bytes:
    dt = as_datetime(v)
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return I64.pack((dt - PG_EPOCH) // _US)


def _timestamptz_binary(v: Any) -> bytes:
    dt = as_datetime(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return I64.pack((dt - PG_EPOCH_UTC) // _US)


def _interval_binary(v: Any) -> bytes:
    if not isinstance(v, timedelta):
        raise DataException(f"cannot send {v!r} as a binary interval", sqlstate="22P03")
    return I64.pack((v - timedelta(days=v.days)) // _US) + I32.pack(v.days) + I32.pack(0)


def _float_binary(st: struct.Struct) -> Encoder:
    def enc(v: Any) -> bytes:
        return st.pack(as_float(v))

    return enc


F4 = struct.Struct("!f")
F8 = struct.Struct("!d")

BINARY_OUT: dict[str, Encoder] = {
    "bool": lambda v: b"\x01" if as_bool(v) else b"\x00",
    "int2": _pack_int(I16, "smallint"),
    "int4": _pack_int(I32, "integer"),
    "int8": _pack_int(I64, "bigint"),
    "oid": _pack_int(U32, "oid"),
    "regproc": _pack_int(U32, "regproc"),
    "regclass": _pack_int(U32, "regclass"),
    "regtype": _pack_int(U32, "regtype"),
    "regnamespace": _pack_int(U32, "regnamespace"),
    "xid": _pack_int(U32, "xid"),
    "cid": _pack_int(U32, "cid"),
    "float4": _float_binary(F4),
    "float8": _float_binary(F8),
    "numeric": lambda v: numeric_binary(as_decimal(v)),
    "bytea": as_bytes,
    "date": _date_binary,
    "time": _time_binary,
    "timestamp": _timestamp_binary,
    "timestamptz": _timestamptz_binary,
    "interval": _interval_binary,
    "uuid": lambda v: as_uuid(v).bytes,
    "json": lambda v: json_text(v).encode(),
    "jsonb": lambda v: b"\x01" + json_text(v).encode(),
    "char": lambda v: to_text(v).encode()[:1],
}



# --- input -----------------------------------------------------------------------------


def _unpack(st: struct.Struct, tname: str) -> Decoder:
    def dec(b: bytes) -> Any:
        if len(b) != st.size:
            raise bad_binary(tname)
        return st.unpack(b)[0]

    return dec


def _binary_date(b: bytes) -> date:
    days = _unpack(I32, "date")(b)
    if days >= 0x7FFFFFFF:
        return date.max
    if days <= -0x80000000:
        return date.min
    return PG_EPOCH_DATE + timedelta(days=days)


def _binary_time(b: bytes) -> time:
    us = _unpack(I64, "time")(b)
    secs, us = divmod(us, 1_000_000)
    return time(secs // 3600, secs // 60 % 60, secs % 60, us)


def _binary_timestamp(b: bytes) -> datetime:
    return PG_EPOCH + _unpack(I64, "timestamp")(b) * _US


def _binary_timestamptz(b: bytes) -> datetime:
    return PG_EPOCH_UTC + _unpack(I64, "timestamptz")(b) * _US


def _binary_interval(b: bytes) -> timedelta:
    if len(b) != 16:
        raise bad_binary("interval")
    us, days, months = I64.unpack_from(b)[0], I32.unpack_from(b, 8)[0], I32.unpack_from(b, 12)[0]
    return timedelta(days=days + 30 * months, microseconds=us)


def _binary_jsonb(b: bytes) -> str:
    if not b or b[0] != 1:
        raise bad_binary("jsonb")
    return b[1:].decode()


def _binary_uuid(b: bytes) -> uuid.UUID:
    if len(b) != 16:
        raise bad_binary("uuid")
    return uuid.UUID(bytes=b)


def _binary_bool(b: bytes) -> bool:
    if len(b) != 1:
        raise bad_binary("boolean")
    return b != b"\x00"


BINARY_IN: dict[str, Decoder] = {
    "bool": _binary_bool,
    "int2": _unpack(I16, "smallint"),
    "int4": _unpack(I32, "integer"),
    "int8": _unpack(I64, "bigint"),
    "oid": _unpack(U32, "oid"),
    "float4": _unpack(F4, "real"),
    "float8": _unpack(F8, "double precision"),
    "numeric": numeric_from_binary,
    "bytea": bytes,
    "date": _binary_date,
    "time": _binary_time,
    "timestamp": _binary_timestamp,
    "timestamptz": _binary_timestamptz,
    "interval": _binary_interval,
    "uuid": _binary_uuid,
    "jsonb": _binary_jsonb,
}

