"""The shadow catalog: PostgreSQL's ``pg_catalog`` and ``information_schema`` for a
SQLite or DuckDB database, answered by an in-memory DuckDB.

One :class:`ShadowCatalog` per served database holds tables with PostgreSQL 15's
catalog columns (schema ``pgc`` for ``pg_catalog``, ``pgis`` for
``information_schema``, ``pgx`` for helper tables), filled from
``Backend.introspect()``, and DuckDB macros for the functions clients call
(``format_type``, ``pg_get_indexdef``, ``pg_table_is_visible``...; named ``pgc_*``).
DuckDB's own ``pg_catalog`` views are not used: their OIDs and type names are DuckDB's.

A statement goes to the catalog when it names a catalog relation or calls a catalog
function (:func:`references_catalog`); :func:`to_catalog_sql` rewrites it for the
shadow: relation names, ``OPERATOR(pg_catalog.~)`` (case-insensitive, so psql's
``\\d album`` pattern finds ``Album``), ``::regclass``/``::regtype``/``::oid`` casts,
0-based ``int2vector`` subscripts, ``'{...}'`` array literals.
Per-session relations (``pg_settings``, ``pg_stat_activity``) are temporary tables of
each session's cursor.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb
import structlog
from sqlglot import exp

from connectors.base import Column, Result, SchemaInfo
from gateway import catalog_data as cd
from gateway import catalog_tables as ct
from gateway.catalog_macros import MACROS, PRIVILEGE_FUNCS
from gateway.catalog_rewrite import references_catalog, to_catalog_sql
from gateway.errors import (
    DataException,
    InvalidTextRepresentation,
    PgError,
    SyntaxError_,
    UndefinedColumn,
    UndefinedFunction,
    UndefinedObject,
    UndefinedTable,
)
from gateway.pgtypes import normalize

__all__ = ["ShadowCatalog", "references_catalog", "to_catalog_sql", "run_catalog", "insert_rows"]

log = structlog.get_logger("askgres.catalog")

_EMPTY_RELATIONS = {
    "pg_publication", "pg_publication_rel", "pg_publication_namespace", "pg_policy", "pg_statistic_ext",
    "pg_trigger", "pg_inherits", "pg_rewrite", "pg_event_trigger", "pg_foreign_table", "pg_partitioned_table",
    "pg_subscription",
}


class ShadowCatalog:
    """The catalog of one database: an in-memory DuckDB. Thread-safe through cursors."""

    def __init__(self, *, database: str, schema: SchemaInfo, databases: list[str], users: list[str],
                 indexes: Iterable[cd.IndexInfo] = (), names: cd.ConstraintNames | None = None) -> None:
        self.database = database
        self.schema = schema
        self.objects = cd.build_rows(schema, databases=databases, database=database, users=users, indexes=indexes,
                                     names=names)
        self.db = duckdb.connect(":memory:")
        self._lock = threading.Lock()
        self._build()

    def _build(self) -> None:
        con = self.db
        con.execute("CREATE SCHEMA pgc; CREATE SCHEMA pgis; CREATE SCHEMA pgx;")
        for schema, tables in (("pgc", ct.PG_TABLES), ("pgis", ct.IS_TABLES)):
            for name, cols in tables.items():
                ddl = ", ".join(f'"{c}" {ct.duck_type(t)}' for c, t in cols)
                con.execute(f'CREATE TABLE {schema}."{name}" ({ddl})')
                insert_rows(con, f'{schema}."{name}"', [(c, ct.duck_type(t)) for c, t in cols],
                            self.objects.rows.get(name) or [])
        for name, ddl in cd.HELPER_TABLES.items():
            con.execute(f"CREATE TABLE pgx.{name} ({ddl})")
            spec = [tuple(part.split()) for part in ddl.split(", ")]
            insert_rows(con, f"pgx.{name}", [(c, t) for c, t in spec], self.objects.helper.get(name) or [])
        con.execute("CREATE TABLE pgx.keywords (word VARCHAR, catcode VARCHAR, barelabel BOOLEAN, catdesc VARCHAR, "
                    "baredesc VARCHAR)")
        insert_rows(con, "pgx.keywords", [("word", "VARCHAR"), ("catcode", "VARCHAR"), ("barelabel", "BOOLEAN"),
                                          ("catdesc", "VARCHAR"), ("baredesc", "VARCHAR")],
                    [(k, "R", True, "reserved", "can be bare label") for k in sorted(cd.KEYWORDS)])
        con.execute("INSERT INTO pgx.typefmt SELECT oid, typname, pgc_q FROM (SELECT oid, typname, "
                    "CASE WHEN regexp_full_match(typname, '[a-z_][a-z0-9_$]*') THEN typname "
                    "ELSE '\"' || typname || '\"' END AS pgc_q FROM pgc.pg_type WHERE typtype = 'c')")
        for stmt in MACROS.split(";\n"):
            if stmt.strip():
                con.execute(stmt)
        for name in PRIVILEGE_FUNCS:
            con.execute(f"CREATE MACRO pgc_{name}(p_a, p_b := NULL, p_c := NULL, p_d := NULL) AS true")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            cur = self.db.cursor()
        for name, cols in ct.SESSION_TABLES.items():
            ddl = ", ".join(f'"{c}" {ct.duck_type(t)}' for c, t in cols)
            cur.execute(f'CREATE TEMP TABLE "{name}" ({ddl})')
        return cur

    def close(self) -> None:
        with self._lock:
            self.db.close()

    # -- name resolution for literal casts --------------------------------------------------
    def regclass(self, text: str) -> int:
        if text.strip().isdigit():
            return int(text)
        name = _parse_qualified(text)
        oid = self.objects.rel_oid.get(name) or self.objects.rel_oid.get(name.split(".", 1)[-1])
        if oid is None:
            raise UndefinedTable(f'relation "{text}" does not exist')
        return oid

    def regtype(self, text: str) -> int:
        if text.strip().isdigit():
            return int(text)
        low = text.strip().lower().removeprefix("pg_catalog.")
        oid = self.objects.type_oid.get(low) or self.objects.type_oid.get(normalize(low) if low else "")
        if oid is None or (normalize(low) == "text" and low not in ("text",) and low not in self.objects.type_oid):
            table = self.objects.rel_oid.get(_parse_qualified(text))
            if table is not None:
                return table + 1
            raise UndefinedObject(f'type "{text}" does not exist')
        return oid

    def regproc(self, name: str) -> int:
        procs = {r[1]: r[0] for r in self.objects.rows.get("pg_proc", [])}
        if name.isdigit():
            return int(name)
        if name not in procs:
            raise UndefinedFunction(f'function "{name}" does not exist')
        return int(procs[name])

    def regnamespace(self, text: str) -> int:
        names = {r[1]: r[0] for r in self.objects.rows["pg_namespace"]}
        if text.strip().isdigit():
            return int(text)
        oid = names.get(text.strip().strip('"'))
        if oid is None:
            raise UndefinedObject(f'schema "{text}" does not exist', sqlstate="3F000")
        return oid

    def regrole(self, text: str) -> int:
        roles = {r[0]: r[12] for r in self.objects.rows["pg_roles"]}
        if text.strip().isdigit():
            return int(text)
        oid = roles.get(text.strip().strip('"'))
        if oid is None:
            raise UndefinedObject(f'role "{text}" does not exist')
        return oid


def _arrow_type(duck: str) -> Any:
    import pyarrow as pa

    if duck.endswith("[]"):
        return pa.list_(_arrow_type(duck[:-2]))
    return {
        "BIGINT": pa.int64(), "INTEGER": pa.int32(), "SMALLINT": pa.int16(), "BOOLEAN": pa.bool_(),
        "FLOAT": pa.float32(), "DOUBLE": pa.float64(), "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
        "BLOB": pa.binary(), "DECIMAL(18,3)": pa.decimal128(18, 3),
    }.get(duck, pa.string())


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, cols: Sequence[tuple[str, str]],
                rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows through an Arrow table (``executemany`` and long VALUES lists are
    slow in DuckDB). ``cols`` are (name, DuckDB type)."""
    if not rows:
        return
    import pyarrow as pa

    names = [c for c, _ in cols]
    arrays = []
    for i, (_, duck) in enumerate(cols):
        if duck == "INTERVAL":
            arrays.append(pa.array([None] * len(rows), type=pa.string()))
            continue
        arrays.append(pa.array([r[i] for r in rows], type=_arrow_type(duck)))
    batch = pa.Table.from_arrays(arrays, names=names)
    view = f"askgres_rows_{threading.get_ident()}"
    con.register(view, batch)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM {view}")
    finally:
        con.unregister(view)


def _parse_qualified(text: str) -> str:
    """``public."Album"`` -> ``album`` (lower case: the catalog matches names case-insensitively)."""
    parts = re.findall(r'"((?:[^"]|"")*)"|([^."]+)', text.strip())
    names = [(q.replace('""', '"') if q else u.strip()) for q, u in parts]
    names = [n for n in names if n]
    if len(names) > 1 and names[0].lower() in ("public", "pg_catalog", "information_schema"):
        if names[0].lower() == "information_schema":
            return f"information_schema.{names[-1].lower()}"
        names = names[1:]
    return (names[-1] if names else text).lower()


# --- running ------------------------------------------------------------------------------

_DUCK_TO_PG = {
    "BOOLEAN": "bool", "TINYINT": "int2", "SMALLINT": "int2", "INTEGER": "int4", "BIGINT": "int8",
    "HUGEINT": "numeric", "UTINYINT": "int2", "USMALLINT": "int4", "UINTEGER": "int8", "UBIGINT": "numeric",
    "FLOAT": "float4", "DOUBLE": "float8", "VARCHAR": "text", "DATE": "date", "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz", "TIME": "time", "INTERVAL": "interval", "BLOB": "bytea",
    "UUID": "uuid", "JSON": "json", "NULL": "text", '"NULL"': "text",
}


def pg_type_of(name: str, duck: str) -> str:
    """The PostgreSQL type of a catalog result column from its name and DuckDB type."""
    named = ct.NAMED_TYPES.get(name)
    if named is not None:
        if named in ("oid", "xid", "regproc") and duck in ("BIGINT", "INTEGER"):
            return named if named != "regproc" else "int8"
        if named in ("name", "char", "regproc") and duck == "VARCHAR":
            return named
        if named in ("int2vector", "_int2") and duck == "SMALLINT[]":
            return named
        if named in ("oidvector", "_oid") and duck == "BIGINT[]":
            return named
        if named in ("_aclitem", "_text", "_char") and duck == "VARCHAR[]":
            return named
    if duck.startswith("DECIMAL"):
        return "numeric"
    if duck.endswith("[]"):
        inner = pg_type_of("", duck[:-2])
        return f"_{inner}"
    return _DUCK_TO_PG.get(duck, "text")


def run_catalog(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any], *,
                tree: exp.Expr | None = None) -> Result:
    """Run rewritten catalog SQL on a session's cursor; DuckDB errors become PgErrors."""
    try:
        cur.execute(sql, list(params))
        desc = cur.description
        rows = cur.fetchall() if desc else []
    except duckdb.Error as e:
        empty = _empty_fallback(tree, e)
        if empty is not None:
            return empty
        raise _map_duckdb_error(e) from e
    if not desc:
        return Result(columns=None, rowcount=0)
    columns = [Column(d[0], pg_type_of(d[0], str(d[1]))) for d in desc]
    # arrays stay Python lists (the wire layer encodes them, text or binary); the vector
    # types print as space-separated numbers, which is their own text format
    vector_cols = [i for i, c in enumerate(columns) if c.pg_type in ("int2vector", "oidvector")]
    if vector_cols:
        fixed = []
        for row in rows:
            r = list(row)
            for i in vector_cols:
                if isinstance(r[i], list):
                    r[i] = " ".join("" if v is None else str(v) for v in r[i])
            fixed.append(tuple(r))
        rows = fixed
    return Result(columns=columns, rows=rows, rowcount=len(rows))


def _empty_fallback(tree: exp.Expr | None, error: Exception) -> Result | None:
    """A query over relations that are always empty here (publications, policies...)
    that DuckDB cannot bind still has a known answer: no rows."""
    if tree is None or not isinstance(error, (duckdb.BinderException, duckdb.CatalogException,
                                              duckdb.ConversionException)):
        return None
    selects = [tree] if isinstance(tree, exp.Select) else list(tree.find_all(exp.Select)) if isinstance(
        tree, exp.SetOperation) else []
    branches = [s for s in selects if s.parent is None or isinstance(s.parent, exp.SetOperation)]
    if not branches:
        return None
    for s in branches:
        from_ = s.args.get("from_")
        names = [t.name.lower() for t in ([from_.this] if from_ else []) + [j.this for j in s.args.get("joins") or []]
                 if isinstance(t, exp.Table)]
        joins_inner = all((j.side or "").upper() != "LEFT" for j in s.args.get("joins") or [])
        if not (any(n in _EMPTY_RELATIONS for n in names) and joins_inner):
            return None
    first = branches[0]
    names = [e.alias_or_name or "?column?" for e in first.expressions]
    log.info("catalog.empty_fallback", error=str(error).splitlines()[0][:200])
    return Result(columns=[Column(n or "?column?", "text") for n in names], rows=[], rowcount=0)


def _map_duckdb_error(e: duckdb.Error) -> PgError:
    msg = str(e).splitlines()[0]
    text = re.sub(r"^[A-Za-z ]+Error: ", "", msg)
    text = text.replace("pgc_", "").replace("pgc.", "pg_catalog.").replace("pgis.", "information_schema.")
    if isinstance(e, duckdb.ParserException):
        return SyntaxError_(text)
    if isinstance(e, duckdb.CatalogException):
        if "Function" in msg or "function" in msg:
            return UndefinedFunction(text)
        return UndefinedTable(text)
    if isinstance(e, duckdb.BinderException):
        if "function" in msg.lower():
            return UndefinedFunction(text)
        return UndefinedColumn(text)
    if isinstance(e, duckdb.ConversionException):
        return InvalidTextRepresentation(text)
    if isinstance(e, duckdb.InterruptException):
        from gateway.errors import QueryCanceled

        return QueryCanceled("canceling statement due to user request")
    return DataException(text) if isinstance(e, duckdb.InvalidInputException) else PgError(text)
