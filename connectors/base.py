"""The one small Protocol every backend implements.

The gateway and the ask pipeline import only this module; ``connectors.sqlite`` and
``connectors.duckdb`` implement it. Types are reported as PostgreSQL type names
(``int4``, ``int8``, ``float8``, ``numeric``, ``text``, ``bool``, ``date``, ``timestamp``,
``bytea``, ...) so that the wire layer can pick OIDs without knowing the backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "duckdb"]

STREAM_AFTER = 10_000
"""A result longer than this many rows is streamed: read from the backend as the client
takes it (:attr:`Result.rows` is then an iterator)."""


@dataclass(frozen=True)
class Column:
    """A result column: its name and its PostgreSQL type name (``text`` when unknown)."""

    name: str
    pg_type: str = "text"


@dataclass
class Result:
    """What one statement returned.

    ``columns`` is ``None`` for statements that return no rows (INSERT, CREATE...).
    ``rowcount`` is the number of rows affected for DML, or of rows returned for queries.
    ``truncated`` is true when ``max_rows`` cut the result short.
    ``rows`` is an iterator for a long result that the connector streams (``rowcount`` -1):
    it reads the backend as it is consumed, once; use :meth:`all_rows` to hold them all.
    """

    columns: list[Column] | None
    rows: list[tuple[Any, ...]] | Iterator[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = 0
    truncated: bool = False

    def all_rows(self) -> list[tuple[Any, ...]]:
        """The rows in a list (a streamed result is read to its end)."""
        if not isinstance(self.rows, list):
            self.rows = list(self.rows)
        return self.rows


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass
class ColumnInfo:
    name: str
    type: str  # the backend's declared type, e.g. NVARCHAR(160)
    pg_type: str  # PostgreSQL type name, e.g. varchar / int4
    nullable: bool = True
    primary_key: bool = False
    samples: list[str] = field(default_factory=list)  # a few distinct values (text columns)
    description: str = ""


@dataclass
class TableInfo:
    name: str
    columns: list[ColumnInfo]
    primary_key: tuple[str, ...] = ()
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    row_count: int = 0
    kind: Literal["table", "view"] = "table"
    description: str = ""

    def column(self, name: str) -> ColumnInfo | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


@dataclass
class SchemaInfo:
    """Everything introspection found; the ask pipeline indexes it."""

    database: str
    dialect: Dialect
    tables: list[TableInfo]

    def table(self, name: str) -> TableInfo | None:
        low = name.lower()
        return next((t for t in self.tables if t.name.lower() == low), None)

    def fingerprint(self) -> str:
        """A stable hash of tables, columns and keys: changes when the schema changes."""
        import hashlib

        h = hashlib.sha256()
        for t in sorted(self.tables, key=lambda t: t.name):
            h.update(t.name.encode())
            for c in t.columns:
                h.update(f"|{c.name}:{c.type}:{c.primary_key}".encode())
            for fk in t.foreign_keys:
                h.update(f"|fk{fk.columns}->{fk.ref_table}{fk.ref_columns}".encode())
        return h.hexdigest()[:16]


class Connection(Protocol):
    """One client session's connection to a backend database. Not thread-safe: the
    gateway runs one call at a time per connection, in an executor thread."""

    read_only: bool

    def execute(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
    ) -> Result:
        """Run one statement in the backend's own dialect with ``?``-style parameters.

        Raises :class:`gateway.errors.QueryCanceled` (57014) when ``timeout`` seconds pass
        or :meth:`interrupt` is called, and a :class:`gateway.errors.PgError` subclass
        with the right SQLSTATE for backend errors.
        """
        ...

    def interrupt(self) -> None:
        """Cancel the statement running now, from any thread. A no-op when idle."""
        ...

    def close(self) -> None:
        """Release the connection. Idempotent."""
        ...


class Backend(Protocol):
    """One database served by the gateway (a SQLite or DuckDB file)."""

    name: str
    dialect: Dialect
    read_only: bool

    def connect(self, *, read_only: bool = False) -> Connection:
        """A new connection; ``read_only=True`` gives one that can never write
        (used for generated SQL), whatever the backend's own setting."""
        ...

    def introspect(self, *, samples: int = 3) -> SchemaInfo:
        """Tables, columns, types, keys, row counts, and up to ``samples`` distinct values
        per text column."""
        ...

    def close(self) -> None:
        """Close every shared handle. Idempotent."""
        ...
