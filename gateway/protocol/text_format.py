"""The text format: how PostgreSQL prints values (DataRow in text format, COPY) and reads
them (Bind parameters in text format)."""

from __future__ import annotations

import json
import math
import re
import struct
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.errors import DataException, InvalidTextRepresentation
from gateway.protocol.coerce import (
    as_bytes,
    as_date,
    as_datetime,
    as_decimal,
    as_int,
    bad_text,
    json_text,
    parse_bool,
)

Decoder = Callable[[bytes], Any]

_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000

# --- output ----------------------------------------------------------------------------


def float_text(v: float, *, single: bool = False) -> str:
    """PostgreSQL's float output (shortest exact digits, exponent outside
    [-4, DBL_DIG/FLT_DIG))."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    if single:
        f32 = struct.unpack("!f", struct.pack("!f", v))[0]
        for p in range(1, 10):
            s = f"{f32:.{p - 1}e}"
            if struct.unpack("!f", struct.pack("!f", float(s)))[0] == f32:
                break
        d = Decimal(s)
        limit = 6
    else:
        d = Decimal(repr(v))
        limit = 15
    sign, digits, exp = d.normalize().as_tuple()
    assert isinstance(exp, int)
    exp10 = len(digits) - 1 + exp
    neg = "-" if sign else ""
    if exp10 < -4 or exp10 >= limit:
        mant = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
        return f"{neg}{mant}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return format(d.normalize(), "f")


def numeric_text(d: Decimal) -> str:
    if d.is_nan():
        return "NaN"
    if d.is_infinite():
        return "Infinity" if d > 0 else "-Infinity"
    return format(d, "f")


def interval_text(td: timedelta) -> str:
    total = td // _US
    sign = "-" if total < 0 else ""
    days, rem = divmod(abs(total), _DAY_US)
    parts = []
    if days:
        parts.append(f"{sign}{days} day{'' if days == 1 and not sign else 's'}")
    if rem or not days:
        secs, us = divmod(rem, 1_000_000)
        h, secs = divmod(secs, 3600)
        m, s = divmod(secs, 60)
        frac = f".{us:06d}".rstrip("0") if us else ""
        parts.append(f"{sign}{h:02d}:{m:02d}:{s:02d}{frac}")
    return " ".join(parts)


def _trim_fraction(iso: str) -> str:
    """PostgreSQL prints ``01:02:03.0045``, Python ``01:02:03.004500``."""
    if "." in iso[-7:]:
        iso = iso.rstrip("0").rstrip(".")
    return iso


def _naive_text(v: datetime | time) -> str:
    return _trim_fraction(v.isoformat(sep=" ") if isinstance(v, datetime) else v.isoformat())


def timestamp_text(v: datetime) -> str:
    if v.tzinfo is not None:
        return timestamptz_text(v)
    return _naive_text(v)


def timestamptz_text(v: datetime) -> str:
    if v.tzinfo is not None:
        v = v.astimezone(timezone.utc).replace(tzinfo=None)
    return _naive_text(v) + "+00"


def to_text(v: Any) -> str:
    """The text of any value, the way PostgreSQL would print it for its natural type."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return float_text(v)
    if isinstance(v, Decimal):
        return numeric_text(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(v).hex()
    if isinstance(v, datetime):
        return timestamp_text(v)
    if isinstance(v, time):
        return _naive_text(v.replace(tzinfo=None))
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return interval_text(v)
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str)
    return str(v)



def _text_of_int(v: Any) -> str:
    try:
        return str(as_int(v))
    except (InvalidTextRepresentation, DataException):
        return to_text(v)


def _text_of_float(single: bool) -> Callable[[Any], str]:
    def enc(v: Any) -> str:
        if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
            return float_text(float(v), single=single)
        return to_text(v)

    return enc


def _text_of_numeric(v: Any) -> str:
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return numeric_text(as_decimal(v))
    return to_text(v)


def _text_of_bool(v: Any) -> str:
    if isinstance(v, str):
        b = parse_bool(v)
        return v if b is None else ("t" if b else "f")
    return "t" if v else "f"


def _text_of_date(v: Any) -> str:
    return as_date(v).isoformat() if isinstance(v, date) else to_text(v)


def _text_of_timestamp(v: Any) -> str:
    if isinstance(v, datetime):
        return timestamp_text(v)
    if isinstance(v, date):
        return f"{v.isoformat()} 00:00:00"
    return to_text(v)


def _text_of_timestamptz(v: Any) -> str:
    if isinstance(v, date):
        return timestamptz_text(as_datetime(v))
    if isinstance(v, str):  # SQLite keeps UTC text without an offset: PostgreSQL prints +00
        try:
            return timestamptz_text(datetime.fromisoformat(v.strip()))
        except ValueError:
            return v
    return to_text(v)


def _text_of_bytea(v: Any) -> str:
    return "\\x" + as_bytes(v).hex()


def _text_of_char(v: Any) -> str:
    return to_text(v)[:1]


PgErrorTypes = (InvalidTextRepresentation, DataException)

TEXT_OUT: dict[str, Callable[[Any], str]] = {
    "bool": _text_of_bool,
    "int2": _text_of_int,
    "int4": _text_of_int,
    "int8": _text_of_int,
    "oid": _text_of_int,
    "float4": _text_of_float(True),
    "float8": _text_of_float(False),
    "numeric": _text_of_numeric,
    "date": _text_of_date,
    "timestamp": _text_of_timestamp,
    "timestamptz": _text_of_timestamptz,
    "bytea": _text_of_bytea,
    "json": json_text,
    "jsonb": json_text,
    "char": _text_of_char,
}


def array_item_text(s: str) -> str:
    if s == "" or s.upper() == "NULL" or any(c in s for c in '{}",\\ \t\n\r'):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def text_of_array(elem: Callable[[Any], str]) -> Callable[[Any], str]:
    def enc(v: Any) -> str:
        if isinstance(v, str):  # PostgreSQL's array text (SQLite's array_agg): each item printed by type
            try:
                v = parse_array_text(v, text_str)
            except PgErrorTypes:
                return v
        if not isinstance(v, (list, tuple)):
            return to_text(v)
        items = []
        for item in v:
            if item is None:
                items.append("NULL")
            elif isinstance(item, (list, tuple)):
                items.append(enc(item))
            else:
                items.append(array_item_text(elem(item)))
        return "{" + ",".join(items) + "}"

    return enc



# --- input -----------------------------------------------------------------------------


def _text_int(bits: int, tname: str) -> Decoder:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def dec(b: bytes) -> int:
        s = b.decode()
        try:
            n = int(s.strip())
        except ValueError:
            raise bad_text(tname, s) from None
        if not lo <= n <= hi:
            raise DataException(f'value "{s}" is out of range for type {tname}', sqlstate="22003")
        return n

    return dec


def _text_float(b: bytes) -> float:
    s = b.decode()
    try:
        return float(s.strip())
    except ValueError:
        raise bad_text("double precision", s) from None


def _text_numeric(b: bytes) -> Decimal:
    s = b.decode()
    try:
        return Decimal(s.strip())
    except InvalidOperation:
        raise bad_text("numeric", s) from None


def _text_bool(b: bytes) -> bool:
    s = b.decode()
    v = parse_bool(s)
    if v is None:
        raise bad_text("boolean", s)
    return v


def _text_bytea(b: bytes) -> bytes:
    s = b.decode()
    if s.startswith("\\x"):
        try:
            return bytes.fromhex(s[2:])
        except ValueError:
            raise bad_text("bytea", s) from None
    out = bytearray()
    i = 0
    while i < len(b):
        c = b[i]
        if c == 0x5C:  # backslash: \\ or \ooo
            if b[i + 1 : i + 2] == b"\\":
                out.append(0x5C)
                i += 2
                continue
            octal = b[i + 1 : i + 4]
            if len(octal) == 3 and all(0x30 <= x <= 0x37 for x in octal):
                out.append(int(octal, 8))
                i += 4
                continue
            raise bad_text("bytea", s)
        out.append(c)
        i += 1
    return bytes(out)


def _text_datetime(parse: Callable[[str], Any], tname: str) -> Decoder:
    def dec(b: bytes) -> Any:
        s = b.decode().strip()
        try:
            return parse(s)
        except ValueError:
            raise InvalidTextRepresentation(f'invalid input syntax for type {tname}: "{s}"', sqlstate="22007") from None

    return dec


def _parse_date(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        return datetime.fromisoformat(s).date()


def _parse_timestamp(s: str) -> datetime:
    dt = datetime.fromisoformat(_fix_offset(s))
    return dt.replace(tzinfo=None)


def _parse_timestamptz(s: str) -> datetime:
    dt = datetime.fromisoformat(_fix_offset(s))
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _fix_offset(s: str) -> str:
    """PostgreSQL prints offsets as ``+00`` or ``+05:30``; ``fromisoformat`` wants
    ``+00:00``."""
    if len(s) > 3 and s[-3] in "+-" and s[-2:].isdigit() and s[-4:-3].isdigit():
        return s + ":00"
    return s


_INTERVAL_UNITS = {
    "microsecond": 1e-6, "millisecond": 1e-3, "second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600,
    "day": 86400, "week": 7 * 86400, "mon": 30 * 86400, "month": 30 * 86400, "year": 360 * 86400,
}
_INTERVAL_TOKEN = re.compile(
    r"\s*(?:(?P<time>[-+]?\d+:\d{1,2}(?::\d{1,2}(?:\.\d+)?)?)|(?P<num>[-+]?\d+(?:\.\d+)?)\s*(?P<unit>[a-z]+))"
)


def parse_interval(s: str) -> timedelta:
    """PostgreSQL's interval text (``2 days 01:00:00``, ``-00:00:01.5``, ``1 year 2 mons``,
    ``@ 3 hours ago``). A month counts 30 days and a year 360, as ``justify_days`` does."""
    text = s.strip().lower().removeprefix("@").strip()
    ago = text.endswith(" ago")
    text = text.removesuffix(" ago")
    pos, seconds = 0, 0.0
    while pos < len(text):
        m = _INTERVAL_TOKEN.match(text, pos)
        if m is None:
            raise ValueError(s)
        if m.group("time"):
            t = m.group("time")
            sign = -1 if t.startswith("-") else 1
            parts = t.lstrip("+-").split(":")
            h, mi = int(parts[0]), int(parts[1])
            sec = float(parts[2]) if len(parts) > 2 else 0.0
            seconds += sign * (h * 3600 + mi * 60 + sec)
        else:
            unit = m.group("unit").rstrip("s") or "s"
            factor = _INTERVAL_UNITS.get(unit)
            if factor is None:
                raise ValueError(s)
            seconds += float(m.group("num")) * factor
        pos = m.end()
    if not text:
        raise ValueError(s)
    return timedelta(seconds=-seconds if ago else seconds)


def _text_uuid(b: bytes) -> uuid.UUID:
    s = b.decode()
    try:
        return uuid.UUID(s.strip())
    except ValueError:
        raise bad_text("uuid", s) from None


def text_str(b: bytes) -> str:
    return b.decode()


TEXT_IN: dict[str, Decoder] = {
    "bool": _text_bool,
    "int2": _text_int(16, "smallint"),
    "int4": _text_int(32, "integer"),
    "int8": _text_int(64, "bigint"),
    "oid": _text_int(33, "oid"),
    "float4": _text_float,
    "float8": _text_float,
    "numeric": _text_numeric,
    "bytea": _text_bytea,
    "date": _text_datetime(_parse_date, "date"),
    "time": _text_datetime(time.fromisoformat, "time"),
    "timestamp": _text_datetime(_parse_timestamp, "timestamp"),
    "timestamptz": _text_datetime(_parse_timestamptz, "timestamp with time zone"),
    "interval": _text_datetime(parse_interval, "interval"),
    "uuid": _text_uuid,
}


def parse_array_text(s: str, elem: Decoder) -> list[Any]:
    """A one- or more-dimensional array literal (``{1,2,NULL}``, ``{"a b",c}``)."""
    pos = 0

    def parse() -> list[Any]:
        nonlocal pos
        if pos >= len(s) or s[pos] != "{":
            raise bad_text("array", s)
        pos += 1
        out: list[Any] = []
        if pos < len(s) and s[pos] == "}":
            pos += 1
            return out
        while True:
            if pos >= len(s):
                raise bad_text("array", s)
            if s[pos] == "{":
                out.append(parse())
            elif s[pos] == '"':
                pos += 1
                buf = []
                while pos < len(s) and s[pos] != '"':
                    if s[pos] == "\\":
                        pos += 1
                    if pos < len(s):
                        buf.append(s[pos])
                    pos += 1
                pos += 1
                out.append(elem("".join(buf).encode()))
            else:
                end = pos
                while end < len(s) and s[end] not in ",}":
                    end += 1
                item = s[pos:end].strip()
                out.append(None if item.upper() == "NULL" else elem(item.encode()))
                pos = end
            if pos >= len(s):
                raise bad_text("array", s)
            if s[pos] == ",":
                pos += 1
                continue
            if s[pos] == "}":
                pos += 1
                return out
            raise bad_text("array", s)

    result = parse()
    if s[pos:].strip():
        raise bad_text("array", s)
    return result

