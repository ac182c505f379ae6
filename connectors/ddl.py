"""DuckDB DDL from introspected tables: how the Chinook demo copies SQLite into DuckDB."""

from __future__ import annotations

from connectors.base import ColumnInfo, TableInfo

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
