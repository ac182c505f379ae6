"""Result-column types for SQLite, whose Python driver reports none.

``sqlite3`` gives a result column's name only. The types come from two places:

1. the declared types of the columns a SELECT projects, resolved with sqlglot against the
   database's schema (``a.Title`` -> ``NVARCHAR(160)`` -> ``varchar``; ``COUNT(*)`` -> ``int8``;
   ``CAST(x AS REAL)`` -> ``float8``), cached per SQL text and schema version;
2. the Python values of the rows, for expressions and whenever the values do not fit the
   declared type (SQLite is dynamically typed: an INTEGER column may hold text).

Values are converted to fit their column type: ``DATETIME`` text becomes ``datetime``,
``BOOLEAN`` 0/1 becomes ``bool``, so that the wire layer can encode by type.
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import sqlglot
from sqlglot import exp

from connectors.base import Column
from connectors.types import INT_TYPES, pg_type_name, pg_type_of_values

_INT_RANGE = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
_CACHE_SIZE = 512
# How long the schema version read by one query is trusted by the next ones (a schema
# change through askgres is noticed at once: see DeclaredTypes.changed).
_RECHECK_S = 1.0

_TABLES_SQL = "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"


class DeclaredTypes:
    """Declared types of a query's result columns, for one database (shared by its
    connections; thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._checked = 0.0  # time.monotonic() of the last schema version check
        self._tables: dict[str, list[tuple[str, str]]] = {}  # lower name -> [(column, decl)]
        self._cache: OrderedDict[str, list[str | None] | None] = OrderedDict()

    def changed(self) -> None:
        """The schema may have changed (a connection ran DDL): check its version again
        at the next query instead of trusting the last check for a while."""
        self._checked = 0.0

    def for_query(self, conn: sqlite3.Connection, sql: str, ncols: int) -> list[str | None]:
        """Declared type per result column (``None`` where unknown). The schema version
        is read at most once a second (reading it is a statement of its own, with the
        file locking and checks that cost as much as a point select), or after
        :meth:`changed`; a type gone stale meanwhile only costs the value-based guess that
        :func:`describe` falls back on."""
        now = time.monotonic()
        if self._version is not None and now - self._checked <= _RECHECK_S:
            known = self._cache.get(sql)  # a statement run again: no lock (one dict read under the GIL)
            if known is not None:
                return known if len(known) == ncols else [None] * ncols
        version = None
        if self._version is None or now - self._checked > _RECHECK_S:
            version = conn.execute("PRAGMA schema_version").fetchone()[0]
        with self._lock:
            if version is not None:
                self._checked = now
                if version != self._version:
                    self._load(conn, version)
            found = self._cache.get(sql)
            if found is None and sql not in self._cache:
                found = self._resolve(sql)
                self._cache[sql] = found
                if len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(sql)
        if found is None or len(found) != ncols:
            return [None] * ncols
        return found

    def _load(self, conn: sqlite3.Connection, version: int) -> None:
        # PRAGMA table_info, not pragma_table_info(): read-only connections' authorizer allows it.
        tables: dict[str, list[tuple[str, str]]] = {}
        for (table,) in conn.execute(_TABLES_SQL).fetchall():
            quoted = '"' + str(table).replace('"', '""') + '"'
            info = conn.execute(f"PRAGMA table_info({quoted})").fetchall()
            tables[str(table).lower()] = [(str(r[1]), str(r[2] or "")) for r in info]
        self._tables = tables
        self._version = version
        self._cache.clear()

    def _resolve(self, sql: str) -> list[str | None] | None:
        try:
            tree = sqlglot.parse_one(sql, read="sqlite")
        except sqlglot.errors.SqlglotError:
            return None
        while isinstance(tree, exp.SetOperation):  # UNION: the first branch names the columns
            tree = tree.left
        if not isinstance(tree, exp.Select):
            return None
        sources = _sources(tree)
        out: list[str | None] = []
        for proj in tree.expressions:
            expr = proj.unalias()
            if isinstance(expr, exp.Star):
                for table in sources.values():
                    out.extend(decl for _, decl in self._tables.get(table, []))
            elif isinstance(expr, exp.Column) and isinstance(expr.this, exp.Star):
                out.extend(decl for _, decl in self._tables.get(sources.get(expr.table.lower(), ""), []))
            else:
                out.append(self._expr_decl(expr, sources))
        return out

    def _expr_decl(self, expr: exp.Expression, sources: dict[str, str]) -> str | None:
        if isinstance(expr, exp.Paren):
            return self._expr_decl(expr.this, sources)
        if isinstance(expr, exp.Column):
            return self._column_decl(expr, sources)
        if isinstance(expr, exp.Cast):
            return expr.to.sql(dialect="sqlite")
        if isinstance(expr, exp.Count):
            return "BIGINT"
        if isinstance(expr, exp.Avg):
            return "DOUBLE"
        if isinstance(expr, (exp.Max, exp.Min)) and isinstance(expr.this, exp.Column):
            return self._column_decl(expr.this, sources)
        return None

    def _column_decl(self, col: exp.Column, sources: dict[str, str]) -> str | None:
        name = col.name.lower()
        if col.table:
            candidates = [sources.get(col.table.lower(), "")]
        else:
            candidates = list(sources.values())
        for table in candidates:
            for cname, decl in self._tables.get(table, []):
                if cname.lower() == name:
                    return decl or None
        return None


def _sources(select: exp.Select) -> dict[str, str]:
    """Alias (or name) -> table name of the plain tables in FROM and JOIN, lower case."""
    out: dict[str, str] = {}
    frm = select.args.get("from_") or select.args.get("from")
    items = [frm.this] if isinstance(frm, exp.From) else []
    items += [j.this for j in select.args.get("joins") or []]
    for item in items:
        if isinstance(item, exp.Table) and item.db.lower() in ("", "main"):
            out[item.alias_or_name.lower()] = item.name.lower()
    return out


def describe(
    names: Sequence[str], declared: Sequence[str | None], rows: list[tuple[Any, ...]]
) -> tuple[list[Column], list[tuple[Any, ...]]]:
    """Columns with PostgreSQL types, and the rows with values converted to fit them."""
    width = len(names)
    transposed: list[tuple[Any, ...]] = list(zip(*rows)) if rows else [()] * width
    columns: list[Column] = []
    changed = False
    for i, name in enumerate(names):
        pg, values = fit(_pg_name(declared[i]), transposed[i])
        if values is not transposed[i]:
            transposed[i] = values
            changed = True
        columns.append(Column(name, pg))
    if changed:
        rows = list(zip(*transposed))
    return columns, rows


def conform(columns: Sequence[Column], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """More rows of a result whose columns :func:`describe` typed from its first rows,
    converted the same way (a value that does not fit its column's type stays as it is,
    and the encoder writes its text)."""
    if not rows:
        return rows
    transposed = list(zip(*rows))
    changed = False
    for i, col in enumerate(columns):
        values = transposed[i]
        kinds = set(map(type, values))
        kinds.discard(_NONE)
        fitted = _fit_declared(col.pg_type, values, kinds) if kinds else None
        if fitted is not None and fitted[1] is not values:
            transposed[i] = fitted[1]
            changed = True
    return list(zip(*transposed)) if changed else rows


@functools.lru_cache(maxsize=1024)
def _pg_name(declared: str | None) -> str | None:
    return pg_type_name(declared, "sqlite")


@functools.lru_cache(maxsize=1024)
def needs_fit(declared: str | None) -> bool:
    """Whether :func:`describe` may convert a single value of a column declared so (a
    boolean's 0/1, the text of a date or time); any other single value stays as SQLite
    gives it."""
    return _pg_name(declared) in _CONVERTED


def fit(pg: str | None, values: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """A column's type and values: the declared type when the values fit it (converted
    where needed), else a type inferred from the values. Set-based, so that wide results
    cost little: SQLite gives only None, int, float, str and bytes."""
    kinds = set(map(type, values))
    kinds.discard(_NONE)
    if pg is not None:
        fitted = _fit_declared(pg, values, kinds)
        if fitted is not None:
            return fitted
    if not kinds:
        return "text", values
    if kinds == {int}:
        return _int_type(values, "int8"), values
    if kinds <= {int, float}:
        return "float8", values
    if kinds == {bytes}:
        return "bytea", values
    if kinds == {str}:
        return "text", values
    if len(kinds) == 1:
        return pg_type_of_values(values), values
    return "text", tuple(v if v is None or isinstance(v, str) else _to_text(v) for v in values)


_NONE = type(None)


def _int_type(values: tuple[Any, ...], declared: str) -> str:
    """The narrowest of int2/int4/int8 (not narrower than ``declared``) holding every value."""
    present = [v for v in values if v is not None] if None in values else values
    if not present:
        return declared
    lo, hi = min(present), max(present)
    for name in ("int2", "int4", "int8"):
        bound = _INT_RANGE[name]
        if bound >= _INT_RANGE[declared] and -bound <= lo and hi < bound:
            return name
    return "numeric"


def _fit_declared(pg: str, values: tuple[Any, ...], kinds: set[type]) -> tuple[str, tuple[Any, ...]] | None:
    if pg in INT_TYPES:
        return (_int_type(values, pg), values) if kinds <= {int} else None
    if pg in ("float4", "float8", "numeric"):
        return (pg, values) if kinds <= {int, float} else None
    if pg == "bool":
        if kinds <= {int} and set(values) <= {0, 1, None}:
            return "bool", tuple(None if v is None else bool(v) for v in values)
        return None
    if pg == "bytea":
        return (pg, values) if kinds <= {bytes} else None
    if not kinds <= {str}:
        return None
    parse = _PARSERS.get(pg)
    if parse is None:  # text, varchar, json, uuid, interval...: text values are fine
        return pg, values
    try:
        return pg, tuple(None if v is None else parse(v) for v in values)
    except ValueError:
        return "text", values


def _parse_timestamp(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is not None:
        raise ValueError("timestamp with a time zone in a timestamp column")
    return value


def _parse_timestamptz(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def _parse_time(text: str) -> dt.time:
    value = dt.time.fromisoformat(text)
    if value.tzinfo is not None:
        raise ValueError("time with a time zone in a time column")
    return value


_PARSERS: dict[str, Callable[[str], Any]] = {
    "date": dt.date.fromisoformat,
    "timestamp": _parse_timestamp,
    "timestamptz": _parse_timestamptz,
    "time": _parse_time,
}
_CONVERTED = frozenset({"bool", *_PARSERS})  # types whose single values describe() may convert


def _to_text(value: Any) -> str:
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)

