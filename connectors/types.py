"""Backend type names -> PostgreSQL type names, shared by the SQLite and DuckDB connectors.

The wire layer picks OIDs from the PostgreSQL name alone (``int4``, ``varchar``, ``timestamp``...).
Two sources of type information exist: a declared type string (a SQLite column's declared
type, a DuckDB result type) and, when a backend has none, the Python values in the rows.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from connectors.base import Dialect

TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "name"})
INT_TYPES = frozenset({"int2", "int4", "int8"})
FLOAT_TYPES = frozenset({"float4", "float8", "numeric"})
TIME_TYPES = frozenset({"date", "timestamp", "timestamptz", "time", "timetz"})

# Exact base names (upper case, without parameters). Dialect-specific ones below override.
_EXACT: dict[str, str] = {
    "BOOL": "bool",
    "BOOLEAN": "bool",
    "LOGICAL": "bool",
    "TINYINT": "int2",
    "INT1": "int2",
    "UTINYINT": "int2",
    "SMALLINT": "int2",
    "INT2": "int2",
    "SHORT": "int2",
    "USMALLINT": "int4",
    "INTEGER": "int4",
    "INT": "int4",
    "INT4": "int4",
    "MEDIUMINT": "int4",
    "SIGNED": "int4",
    "UINTEGER": "int8",
    "BIGINT": "int8",
    "INT8": "int8",
    "LONG": "int8",
    "UBIGINT": "numeric",
    "HUGEINT": "numeric",
    "UHUGEINT": "numeric",
    "INT128": "numeric",
    "VARINT": "numeric",
    "BIGNUM": "numeric",
    "REAL": "float4",
    "FLOAT4": "float4",
    "FLOAT": "float4",
    "DOUBLE": "float8",
    "DOUBLE PRECISION": "float8",
    "FLOAT8": "float8",
    "DECIMAL": "numeric",
    "NUMERIC": "numeric",
    "MONEY": "numeric",
    "TEXT": "text",
    "STRING": "text",
    "CLOB": "text",
    "NTEXT": "text",
    "VARCHAR": "varchar",
    "NVARCHAR": "varchar",
    "CHARACTER VARYING": "varchar",
    "NATIONAL CHARACTER VARYING": "varchar",
    "VARYING CHARACTER": "varchar",
    "NATIVE CHARACTER": "varchar",
    "NCHAR": "varchar",
    "CHAR": "varchar",
    "CHARACTER": "varchar",
    "BPCHAR": "varchar",
    "BLOB": "bytea",
    "BYTEA": "bytea",
    "BINARY": "bytea",
    "VARBINARY": "bytea",
    "DATE": "date",
    "DATETIME": "timestamp",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP_US": "timestamp",
    "TIMESTAMP WITHOUT TIME ZONE": "timestamp",
    "TIMESTAMPTZ": "timestamptz",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIME": "time",
    "TIME WITHOUT TIME ZONE": "time",
    "TIMETZ": "timetz",
    "TIME WITH TIME ZONE": "timetz",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "JSON": "json",
    "JSONB": "jsonb",
    "BIT": "varbit",
    "BITSTRING": "varbit",
}

# SQLite stores REAL/FLOAT/DOUBLE as 8-byte floats, and INTEGER as up to 8 bytes.
_SQLITE_EXACT: dict[str, str] = {"REAL": "float8", "FLOAT": "float8", "FLOAT4": "float8"}

_PARAMS = re.compile(r"\s*\(.*\)\s*$", re.S)

# PostgreSQL has an array type for these.
_ARRAYABLE = frozenset(
    {"bool", "int2", "int4", "int8", "float4", "float8", "numeric", "text", "varchar", "bytea",
     "date", "timestamp", "timestamptz", "time", "interval", "uuid", "json", "jsonb"}
)


def pg_type_name(declared: str | None, dialect: Dialect) -> str | None:
    """The PostgreSQL type name for a backend's declared type, or ``None`` when the
    declaration says nothing (SQLite expressions and untyped columns).

    ``INTEGER`` -> ``int4``, ``NVARCHAR(160)`` -> ``varchar``, ``NUMERIC(10,2)`` -> ``numeric``,
    ``DATETIME`` -> ``timestamp``, DuckDB ``INTEGER[]`` -> ``_int4``. Unknown DuckDB types
    (STRUCT, MAP, UNION, ENUM...) are ``text``; unknown SQLite types follow SQLite's
    affinity rules (https://www.sqlite.org/datatype3.html#determination_of_column_affinity).
    """
    if declared is None:
        return None
    decl = " ".join(declared.strip().upper().split())
    if not decl:
        return None
    if decl.endswith("]"):  # DuckDB LIST / ARRAY: INTEGER[] or INTEGER[3]
        inner = pg_type_name(decl[: decl.rindex("[")], dialect)
        return f"_{inner}" if inner in _ARRAYABLE else "text"
    base = _PARAMS.sub("", decl)
    if dialect == "sqlite" and base in _SQLITE_EXACT:
        return _SQLITE_EXACT[base]
    if base in _EXACT:
        return _EXACT[base]
    if dialect == "duckdb":
        return "text"  # STRUCT(...), MAP(...), UNION(...), ENUM(...), unknown aliases
    # SQLite affinity rules, in SQLite's order.
    if "INT" in base:
        return "int8"
    if "CHAR" in base or "CLOB" in base or "TEXT" in base:
        return "text"
    if "BLOB" in base:
        return "bytea"
    if "REAL" in base or "FLOA" in base or "DOUB" in base:
        return "float8"
    return "numeric"


def pg_type_of_value(value: Any) -> str | None:
    """The PostgreSQL type name for one Python value (``None`` for ``None``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int8"
    if isinstance(value, float):
        return "float8"
    if isinstance(value, Decimal):
        return "numeric"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytea"
    if isinstance(value, dt.datetime):
        return "timestamptz" if value.tzinfo is not None else "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "timetz" if value.tzinfo is not None else "time"
    if isinstance(value, dt.timedelta):
        return "interval"
    if isinstance(value, uuid.UUID):
        return "uuid"
    return "text"


def pg_type_of_values(values: Iterable[Any]) -> str:
    """One PostgreSQL type name for a column of Python values: ``int8`` for ints,
    ``float8`` when ints and floats mix, ``text`` when nothing else fits or all are NULL."""
    kinds = {pg_type_of_value(v) for v in values}
    kinds.discard(None)
    if not kinds:
        return "text"
    if len(kinds) == 1:
        return kinds.pop() or "text"
    if kinds <= {"int8", "float8"}:
        return "float8"
    if kinds <= {"int8", "float8", "numeric"}:
        return "numeric"
    return "text"
