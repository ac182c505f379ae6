"""PostgreSQL types on the wire: name <-> OID and typlen (the table itself is
:mod:`gateway.pgtypes`, shared with the catalog), and the text and binary formats of the
common types.

``encoder(type_name, fmt)`` gives a function from a Python value to the bytes of one
DataRow field; ``decoder(oid, fmt)`` gives a function from the bytes of one Bind
parameter to a Python value. Values coming from SQLite are loosely typed (a ``DATETIME``
column holds strings, a ``NUMERIC`` one floats), so encoders coerce what they sensibly
can and fall back to the value's text.
"""

from __future__ import annotations

import json
import math
import re
import struct
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from gateway import pgtypes
from gateway.errors import DataException, InvalidTextRepresentation
from gateway.protocol.constants import FORMAT_BINARY
from gateway.protocol.framing import I16, I32, I64, U16, U32

Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes], Any]

TEXT_OID = 25
UNKNOWN_OID = 705

PG_EPOCH_DATE = date(2000, 1, 1)
PG_EPOCH = datetime(2000, 1, 1)
_PG_EPOCH_UTC = datetime(2000, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000

# --- names, OIDs, lengths ------------------------------------------------------------


def normalize(name: str) -> str:
    """Internal type name for any SQL spelling (``integer`` -> ``int4``); ``text`` when
    unknown. An exact internal name wins (``char`` is the one-byte ``"char"``, OID 18,
    as in ``pg_type``; SQL's ``CHAR(n)`` is ``bpchar``)."""
    if name in pgtypes.TYPES:
        return name
    return pgtypes.normalize(name)


def oid_of(name: str) -> int:
    return pgtypes.TYPES[normalize(name)].oid


def typlen_of(name: str) -> int:
    return pgtypes.TYPES[normalize(name)].length


def name_of(oid: int) -> str | None:
    """The internal type name of an OID, ``None`` when askgres does not know it."""
    t = pgtypes.BY_OID.get(oid)
    return t.name if t else None


def element_of(name: str) -> str | None:
    """For an array type (``_int4``) its element type (``int4``), else ``None``."""
    t = pgtypes.TYPES.get(name)
    if t is None or not t.elem_oid:
        return None
    return name_of(t.elem_oid)


# --- text output ---------------------------------------------------------------------


def _float_text(v: float, *, single: bool = False) -> str:
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


def _numeric_text(d: Decimal) -> str:
    if d.is_nan():
        return "NaN"
    if d.is_infinite():
        return "Infinity" if d > 0 else "-Infinity"
    return format(d, "f")


def _interval_text(td: timedelta) -> str:
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


def _timestamp_text(v: datetime) -> str:
    if v.tzinfo is not None:
        return _timestamptz_text(v)
    return _naive_text(v)


def _timestamptz_text(v: datetime) -> str:
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
        return _float_text(v)
    if isinstance(v, Decimal):
        return _numeric_text(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(v).hex()
    if isinstance(v, datetime):
        return _timestamp_text(v)
    if isinstance(v, time):
        return _naive_text(v.replace(tzinfo=None))
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return _interval_text(v)
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str)
    return str(v)


def _parse_bool(s: str) -> bool | None:
    low = s.strip().lower()
    if low in ("t", "true", "y", "yes", "on", "1"):
        return True
    if low in ("f", "false", "n", "no", "off", "0"):
        return False
    return None


def _as_bool(v: Any) -> bool:
    if isinstance(v, str):
        b = _parse_bool(v)
        if b is None:
            raise InvalidTextRepresentation(f'invalid input syntax for type boolean: "{v}"')
        return b
    return bool(v)


def _as_int(v: Any) -> int:
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, Decimal) and v == v.to_integral_value():
        return int(v)
    try:
        return int(str(v).strip())
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type integer: "{v}"') from None


def _as_float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise InvalidTextRepresentation(f'invalid input syntax for type double precision: "{v}"') from None


def _as_decimal(v: Any) -> Decimal:
    if isinstance(v, Decimal):
        return v
    if isinstance(v, float):
        return Decimal(repr(v)) if math.isfinite(v) else Decimal(str(v))
    try:
        return Decimal(str(v).strip())
    except InvalidOperation:
        raise InvalidTextRepresentation(f'invalid input syntax for type numeric: "{v}"') from None


def _as_datetime(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    try:
        return datetime.fromisoformat(str(v).strip())
    except ValueError:
        raise InvalidTextRepresentation(
            f'invalid input syntax for type timestamp: "{v}"', sqlstate="22007"
        ) from None


def _as_date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return _as_datetime(v).date()


def _as_time(v: Any) -> time:
    if isinstance(v, time):
        return v
    if isinstance(v, datetime):
        return v.time()
    try:
        return time.fromisoformat(str(v).strip())
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type time: "{v}"', sqlstate="22007") from None


def _as_bytes(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    return str(v).encode()


def _as_uuid(v: Any) -> uuid.UUID:
    if isinstance(v, uuid.UUID):
        return v
    if isinstance(v, (bytes, bytearray)) and len(v) == 16:
        return uuid.UUID(bytes=bytes(v))
    try:
        return uuid.UUID(str(v))
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type uuid: "{v}"') from None


def _json_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode()
    return json.dumps(v, default=str)


def _text_of_int(v: Any) -> str:
    try:
        return str(_as_int(v))
    except PgErrorTypes:
        return to_text(v)


def _text_of_float(single: bool) -> Callable[[Any], str]:
    def enc(v: Any) -> str:
        if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
            return _float_text(float(v), single=single)
        return to_text(v)

    return enc


def _text_of_numeric(v: Any) -> str:
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return _numeric_text(_as_decimal(v))
    return to_text(v)


def _text_of_bool(v: Any) -> str:
    if isinstance(v, str):
        b = _parse_bool(v)
        return v if b is None else ("t" if b else "f")
    return "t" if v else "f"


def _text_of_date(v: Any) -> str:
    return _as_date(v).isoformat() if isinstance(v, date) else to_text(v)


def _text_of_timestamp(v: Any) -> str:
    if isinstance(v, datetime):
        return _timestamp_text(v)
    if isinstance(v, date):
        return f"{v.isoformat()} 00:00:00"
    return to_text(v)


def _text_of_timestamptz(v: Any) -> str:
    if isinstance(v, date):
        return _timestamptz_text(_as_datetime(v))
    return to_text(v)


def _text_of_bytea(v: Any) -> str:
    return "\\x" + _as_bytes(v).hex()


def _text_of_char(v: Any) -> str:
    return to_text(v)[:1]


PgErrorTypes = (InvalidTextRepresentation, DataException)

_TEXT_OUT: dict[str, Callable[[Any], str]] = {
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
    "json": _json_text,
    "jsonb": _json_text,
    "char": _text_of_char,
}


def _array_item_text(s: str) -> str:
    if s == "" or s.upper() == "NULL" or any(c in s for c in '{}",\\ \t\n\r'):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def _text_of_array(elem: Callable[[Any], str]) -> Callable[[Any], str]:
    def enc(v: Any) -> str:
        if not isinstance(v, (list, tuple)):
            return to_text(v)
        items = []
        for item in v:
            if item is None:
                items.append("NULL")
            elif isinstance(item, (list, tuple)):
                items.append(enc(item))
            else:
                items.append(_array_item_text(elem(item)))
        return "{" + ",".join(items) + "}"

    return enc


def _text_out(name: str) -> Callable[[Any], str]:
    elem = element_of(name)
    if elem is not None:
        return _text_of_array(_text_out(elem))
    return _TEXT_OUT.get(name, to_text)


# --- binary output -------------------------------------------------------------------


def _pack_int(st: struct.Struct, tname: str) -> Encoder:
    def enc(v: Any) -> bytes:
        try:
            return st.pack(_as_int(v))
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
        raise _bad_binary("numeric")
    ndigits, weight = I16.unpack_from(data, 0)[0], I16.unpack_from(data, 2)[0]
    sign, dscale = U16.unpack_from(data, 4)[0], U16.unpack_from(data, 6)[0]
    if sign == 0xC000:
        return Decimal("NaN")
    if sign == 0xD000:
        return Decimal("Infinity")
    if sign == 0xF000:
        return Decimal("-Infinity")
    if len(data) != 8 + 2 * ndigits or sign not in (0, 0x4000):
        raise _bad_binary("numeric")
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
    return I32.pack((_as_date(v) - PG_EPOCH_DATE).days)


def _time_binary(v: Any) -> bytes:
    t = _as_time(v)
    return I64.pack(((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond)


def _timestamp_binary(v: Any) -> bytes:
    dt = _as_datetime(v)
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return I64.pack((dt - PG_EPOCH) // _US)


def _timestamptz_binary(v: Any) -> bytes:
    dt = _as_datetime(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return I64.pack((dt - _PG_EPOCH_UTC) // _US)


def _interval_binary(v: Any) -> bytes:
    if not isinstance(v, timedelta):
        raise DataException(f"cannot send {v!r} as a binary interval", sqlstate="22P03")
    return I64.pack((v - timedelta(days=v.days)) // _US) + I32.pack(v.days) + I32.pack(0)


def _float_binary(st: struct.Struct) -> Encoder:
    def enc(v: Any) -> bytes:
        return st.pack(_as_float(v))

    return enc


_F4 = struct.Struct("!f")
_F8 = struct.Struct("!d")

_BINARY_OUT: dict[str, Encoder] = {
    "bool": lambda v: b"\x01" if _as_bool(v) else b"\x00",
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
    "float4": _float_binary(_F4),
    "float8": _float_binary(_F8),
    "numeric": lambda v: numeric_binary(_as_decimal(v)),
    "bytea": _as_bytes,
    "date": _date_binary,
    "time": _time_binary,
    "timestamp": _timestamp_binary,
    "timestamptz": _timestamptz_binary,
    "interval": _interval_binary,
    "uuid": lambda v: _as_uuid(v).bytes,
    "json": lambda v: _json_text(v).encode(),
    "jsonb": lambda v: b"\x01" + _json_text(v).encode(),
    "char": lambda v: to_text(v).encode()[:1],
}


def _binary_of_array(elem_name: str) -> Encoder:
    elem_oid = oid_of(elem_name)
    elem = _binary_out(elem_name)

    def enc(v: Any) -> bytes:
        if not isinstance(v, (list, tuple)):
            raise DataException(f"cannot send {v!r} as a binary array", sqlstate="22P03")
        if not v:
            return I32.pack(0) + I32.pack(0) + U32.pack(elem_oid)
        has_null = any(x is None for x in v)
        out = [I32.pack(1), I32.pack(1 if has_null else 0), U32.pack(elem_oid), I32.pack(len(v)), I32.pack(1)]
        for x in v:
            if x is None:
                out.append(I32.pack(-1))
            else:
                b = elem(x)
                out.append(I32.pack(len(b)) + b)
        return b"".join(out)

    return enc


def _binary_out(name: str) -> Encoder:
    elem = element_of(name)
    if elem is not None:
        return _binary_of_array(elem)
    enc = _BINARY_OUT.get(name)
    if enc is not None:
        return enc
    text = _text_out(name)
    return lambda v: text(v).encode()


@lru_cache(maxsize=512)
def encoder(type_name: str, fmt: int = 0) -> Encoder:
    """The DataRow encoder of a column of type ``type_name`` in format ``fmt``
    (``None`` values are handled by the caller)."""
    name = normalize(type_name)
    if fmt == FORMAT_BINARY:
        return _binary_out(name)
    text = _text_out(name)
    return lambda v: text(v).encode()


# --- parameter input -----------------------------------------------------------------


def _bad_binary(tname: str) -> DataException:
    return DataException(f"incorrect binary data format for type {tname}", sqlstate="22P03")


def _bad_text(tname: str, s: str) -> InvalidTextRepresentation:
    return InvalidTextRepresentation(f'invalid input syntax for type {tname}: "{s}"')


def _text_int(bits: int, tname: str) -> Decoder:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def dec(b: bytes) -> int:
        s = b.decode()
        try:
            n = int(s.strip())
        except ValueError:
            raise _bad_text(tname, s) from None
        if not lo <= n <= hi:
            raise DataException(f'value "{s}" is out of range for type {tname}', sqlstate="22003")
        return n

    return dec


def _text_float(b: bytes) -> float:
    s = b.decode()
    try:
        return float(s.strip())
    except ValueError:
        raise _bad_text("double precision", s) from None


def _text_numeric(b: bytes) -> Decimal:
    s = b.decode()
    try:
        return Decimal(s.strip())
    except InvalidOperation:
        raise _bad_text("numeric", s) from None


def _text_bool(b: bytes) -> bool:
    s = b.decode()
    v = _parse_bool(s)
    if v is None:
        raise _bad_text("boolean", s)
    return v


def _text_bytea(b: bytes) -> bytes:
    s = b.decode()
    if s.startswith("\\x"):
        try:
            return bytes.fromhex(s[2:])
        except ValueError:
            raise _bad_text("bytea", s) from None
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
            raise _bad_text("bytea", s)
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
        raise _bad_text("uuid", s) from None


def _text_str(b: bytes) -> str:
    return b.decode()


_TEXT_IN: dict[str, Decoder] = {
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
            raise _bad_text("array", s)
        pos += 1
        out: list[Any] = []
        if pos < len(s) and s[pos] == "}":
            pos += 1
            return out
        while True:
            if pos >= len(s):
                raise _bad_text("array", s)
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
                raise _bad_text("array", s)
            if s[pos] == ",":
                pos += 1
                continue
            if s[pos] == "}":
                pos += 1
                return out
            raise _bad_text("array", s)

    result = parse()
    if s[pos:].strip():
        raise _bad_text("array", s)
    return result


def _unpack(st: struct.Struct, tname: str) -> Decoder:
    def dec(b: bytes) -> Any:
        if len(b) != st.size:
            raise _bad_binary(tname)
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
    return _PG_EPOCH_UTC + _unpack(I64, "timestamptz")(b) * _US


def _binary_interval(b: bytes) -> timedelta:
    if len(b) != 16:
        raise _bad_binary("interval")
    us, days, months = I64.unpack_from(b)[0], I32.unpack_from(b, 8)[0], I32.unpack_from(b, 12)[0]
    return timedelta(days=days + 30 * months, microseconds=us)


def _binary_jsonb(b: bytes) -> str:
    if not b or b[0] != 1:
        raise _bad_binary("jsonb")
    return b[1:].decode()


def _binary_uuid(b: bytes) -> uuid.UUID:
    if len(b) != 16:
        raise _bad_binary("uuid")
    return uuid.UUID(bytes=b)


def _binary_bool(b: bytes) -> bool:
    if len(b) != 1:
        raise _bad_binary("boolean")
    return b != b"\x00"


_BINARY_IN: dict[str, Decoder] = {
    "bool": _binary_bool,
    "int2": _unpack(I16, "smallint"),
    "int4": _unpack(I32, "integer"),
    "int8": _unpack(I64, "bigint"),
    "oid": _unpack(U32, "oid"),
    "float4": _unpack(_F4, "real"),
    "float8": _unpack(_F8, "double precision"),
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


def _binary_array(b: bytes) -> list[Any]:
    if len(b) < 12:
        raise _bad_binary("array")
    ndim, elem_oid = I32.unpack_from(b, 0)[0], U32.unpack_from(b, 8)[0]
    if ndim == 0:
        return []
    if not 0 < ndim <= 6 or len(b) < 12 + 8 * ndim:
        raise _bad_binary("array")
    dims = [I32.unpack_from(b, 12 + 8 * i)[0] for i in range(ndim)]
    elem = decoder(elem_oid, FORMAT_BINARY)
    pos = 12 + 8 * ndim
    flat: list[Any] = []
    for _ in range(math.prod(dims)):
        if pos + 4 > len(b):
            raise _bad_binary("array")
        n = I32.unpack_from(b, pos)[0]
        pos += 4
        if n == -1:
            flat.append(None)
            continue
        if n < 0 or pos + n > len(b):
            raise _bad_binary("array")
        flat.append(elem(b[pos : pos + n]))
        pos += n
    for size in reversed(dims[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat


@lru_cache(maxsize=512)
def decoder(oid: int, fmt: int = 0) -> Decoder:
    """The Bind-parameter decoder for type ``oid`` in format ``fmt``. Unknown types (and
    ``0``/``unknown``) decode to ``str`` in text format and stay ``bytes`` in binary."""
    name = name_of(oid)
    binary = fmt == FORMAT_BINARY
    if name is None or name == "unknown":
        return bytes if binary else _text_str
    elem = element_of(name)
    if elem is not None:
        if binary:
            return _binary_array
        elem_dec = decoder(oid_of(elem), 0)
        return lambda b: parse_array_text(b.decode(), elem_dec)
    if binary:
        return _BINARY_IN.get(name, _text_str)
    return _TEXT_IN.get(name, _text_str)
