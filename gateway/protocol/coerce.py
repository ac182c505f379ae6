"""Coercion of loosely typed values (SQLite hands back strings for dates, floats for
numerics) to what a PostgreSQL type needs, shared by the text and binary formats, and the
errors a bad value raises (22P02, 22007, 22003, 22P03)."""

from __future__ import annotations

import json
import math
import uuid
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.errors import DataException, InvalidTextRepresentation


def parse_bool(s: str) -> bool | None:
    low = s.strip().lower()
    if low in ("t", "true", "y", "yes", "on", "1"):
        return True
    if low in ("f", "false", "n", "no", "off", "0"):
        return False
    return None


def as_bool(v: Any) -> bool:
    if isinstance(v, str):
        b = parse_bool(v)
        if b is None:
            raise InvalidTextRepresentation(f'invalid input syntax for type boolean: "{v}"')
        return b
    return bool(v)


def as_int(v: Any) -> int:
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


def as_float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise InvalidTextRepresentation(f'invalid input syntax for type double precision: "{v}"') from None


def as_decimal(v: Any) -> Decimal:
    """``v`` as a numeric. A float (SQLite keeps NUMERIC columns as REAL, and computes with
    them as such) is read to 15 significant digits, what a double holds exactly: the price
    0.99 times 3 is 2.97, as PostgreSQL's numeric says, not 2.9699999999999998."""
    if isinstance(v, Decimal):
        return v
    if isinstance(v, float):
        if v == 0:  # -0.0 (SQLite's ceil(-0.5)) is 0 to numeric
            return Decimal(0)
        return Decimal(format(v, ".15g")) if math.isfinite(v) else Decimal(str(v))
    try:
        return Decimal(str(v).strip())
    except InvalidOperation:
        raise InvalidTextRepresentation(f'invalid input syntax for type numeric: "{v}"') from None


def as_datetime(v: Any) -> datetime:
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


def as_date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return as_datetime(v).date()


def as_time(v: Any) -> time:
    if isinstance(v, time):
        return v
    if isinstance(v, datetime):
        return v.time()
    try:
        return time.fromisoformat(str(v).strip())
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type time: "{v}"', sqlstate="22007") from None


def as_bytes(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    return str(v).encode()


def as_uuid(v: Any) -> uuid.UUID:
    if isinstance(v, uuid.UUID):
        return v
    if isinstance(v, (bytes, bytearray)) and len(v) == 16:
        return uuid.UUID(bytes=bytes(v))
    try:
        return uuid.UUID(str(v))
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type uuid: "{v}"') from None


def json_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode()
    return json.dumps(v, default=str)



def bad_binary(tname: str) -> DataException:
    return DataException(f"incorrect binary data format for type {tname}", sqlstate="22P03")


def bad_text(tname: str, s: str) -> InvalidTextRepresentation:
    return InvalidTextRepresentation(f'invalid input syntax for type {tname}: "{s}"')
