"""DuckDB DDL from introspected tables: how the Chinook demo copies SQLite into DuckDB.

DuckDB drops two things a SQLite (or PostgreSQL) schema says: the length of a ``VARCHAR``
and the names of constraints (``CONSTRAINT "PK_Track" PRIMARY KEY`` is accepted, the name
forgotten). A DuckDB file may keep them in a schema of its own, :data:`META_SCHEMA`, which
askgres reads into its catalog (``format_type``, ``information_schema``, psql's ``\\d``,
``\\di``) and hides from clients: the demo writes it (:func:`duckdb_meta_statements`); any
other DuckDB file can have the same two tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from connectors.base import ColumnInfo, TableInfo

META_SCHEMA = "askgres_meta"
"""``askgres_meta.declared_types(table_name, column_name, declared)``: the declared type of a
column DuckDB keeps as plain ``VARCHAR`` (``NVARCHAR(200)``); ``askgres_meta.constraint_names
(table_name, kind, columns, name)``: ``kind`` ``p`` (primary key) or ``f`` (foreign key),
``columns`` the constrained columns, comma-separated."""

_NAME = r'(?:\[([^\]]+)\]|"((?:[^"]|"")+)"|`([^`]+)`|(\w+))'
_CONSTRAINT = re.compile(r"CONSTRAINT\s+" + _NAME + r"\s+(PRIMARY\s+KEY|FOREIGN\s+KEY)\s*\(([^)]*)\)", re.IGNORECASE)


def constraint_names(ddl: str) -> list[tuple[str, tuple[str, ...], str]]:
    """The named primary and foreign keys of a ``CREATE TABLE`` statement, as (kind ``p`` or
    ``f``, columns in lower case, name)."""
    out = []
    for m in _CONSTRAINT.finditer(ddl):
        name = next(g for g in m.groups()[:4] if g)
        cols = tuple(c.strip().strip('[]"`').lower() for c in m.group(6).split(",") if c.strip())
        out.append(("p" if m.group(5).upper().startswith("PRIMARY") else "f", cols, name))
    return out


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_meta_statements(tables: Iterable[TableInfo], ddl: dict[str, str]) -> list[str]:
    """Statements that keep in :data:`META_SCHEMA` what DuckDB drops from ``tables`` (as
    introspected from the source) and their ``CREATE TABLE`` texts ``ddl`` (by table name)."""
    types, names = [], []
    for t in tables:
        for c in t.columns:
            if duckdb_type(c) == "VARCHAR" and "(" in c.type:
                types.append(f"({_lit(t.name)}, {_lit(c.name)}, {_lit(c.type)})")
        for kind, cols, name in constraint_names(ddl.get(t.name, "")):
            names.append(f"({_lit(t.name)}, {_lit(kind)}, {_lit(','.join(cols))}, {_lit(name)})")
    out = [
        f"CREATE SCHEMA {META_SCHEMA}",
        f"CREATE TABLE {META_SCHEMA}.declared_types (table_name VARCHAR, column_name VARCHAR, declared VARCHAR)",
        f"CREATE TABLE {META_SCHEMA}.constraint_names (table_name VARCHAR, kind VARCHAR, columns VARCHAR, name VARCHAR)",
    ]
    if types:
        out.append(f"INSERT INTO {META_SCHEMA}.declared_types VALUES " + ", ".join(types))
    if names:
        out.append(f"INSERT INTO {META_SCHEMA}.constraint_names VALUES " + ", ".join(names))
    return out

# PostgreSQL type name -> DuckDB type; numeric keeps its declared precision.
_DUCKDB_TYPES = {
    "bool": "BOOLEAN", "int2": "SMALLINT", "int4": "INTEGER", "int8": "BIGINT", "float4": "REAL",
    "float8": "DOUBLE", "text": "VARCHAR", "varchar": "VARCHAR", "bytea": "BLOB", "date": "DATE",
    "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ", "time": "TIME", "interval": "INTERVAL",
    "uuid": "UUID", "json": "JSON",
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duckdb_type(col: ColumnInfo) -> str:
    """The DuckDB type for a column: ``NUMERIC(10,2)`` -> ``DECIMAL(10,2)``, ``NVARCHAR(160)`` ->
    ``VARCHAR``, ``DATETIME`` -> ``TIMESTAMP``."""
    if col.pg_type == "numeric":
        decl = col.type.upper().strip()
        params = decl[decl.index("("):] if "(" in decl else "(18,3)"
        return "DECIMAL" + params.replace(" ", "")
    return _DUCKDB_TYPES.get(col.pg_type, "VARCHAR")


def duckdb_create_table(table: TableInfo) -> str:
    """``CREATE TABLE`` with the table's columns, NOT NULLs, primary and foreign keys."""
    lines = [
        f"{_q(c.name)} {duckdb_type(c)}" + ("" if c.nullable else " NOT NULL") for c in table.columns
    ]
    if table.primary_key:
        lines.append(f"PRIMARY KEY ({', '.join(map(_q, table.primary_key))})")
    for fk in table.foreign_keys:
        lines.append(
            f"FOREIGN KEY ({', '.join(map(_q, fk.columns))}) "
            f"REFERENCES {_q(fk.ref_table)} ({', '.join(map(_q, fk.ref_columns))})"
        )
    return f"CREATE TABLE {_q(table.name)} (\n    " + ",\n    ".join(lines) + "\n)"


def insert_order(tables: list[TableInfo]) -> list[TableInfo]:
    """Tables (views left out) ordered so that each comes after the tables it references."""
    pending = {t.name: t for t in tables if t.kind == "table"}
    ordered: list[TableInfo] = []
    while pending:
        ready = [
            t for t in pending.values()
            if all(fk.ref_table == t.name or fk.ref_table not in pending for fk in t.foreign_keys)
        ]
        if not ready:  # a reference cycle between tables: DuckDB cannot declare it; keep order
            ready = list(pending.values())[:1]
        for t in sorted(ready, key=lambda t: t.name):
            ordered.append(pending.pop(t.name))
    return ordered
