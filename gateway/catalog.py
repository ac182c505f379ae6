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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import sqlglot
import structlog
from sqlglot import exp

from connectors.base import Column, Result, SchemaInfo
from gateway import catalog_data as cd
from gateway.errors import (
    DataException,
    FeatureNotSupported,
    InvalidTextRepresentation,
    PgError,
    SyntaxError_,
    UndefinedColumn,
    UndefinedFunction,
    UndefinedObject,
    UndefinedTable,
)
from gateway.pgtypes import normalize
from gateway.translate import post_transform, to_backend

log = structlog.get_logger("askgres.catalog")

_MACROS = """
CREATE MACRO pgc_quote_ident(p_s) AS CASE WHEN regexp_full_match(p_s, '[a-z_][a-z0-9_$]*') THEN p_s
    ELSE '"' || replace(p_s, '"', '""') || '"' END;
CREATE MACRO pgc_format_type(p_t, p_m) AS COALESCE((SELECT CASE
    WHEN p_m IS NULL OR p_m < 0 THEN pgm_f.display
    WHEN pgm_f.typname IN ('varchar', 'bpchar') THEN pgm_f.display || '(' || CAST(p_m - 4 AS VARCHAR) || ')'
    WHEN pgm_f.typname = 'numeric' THEN 'numeric(' || CAST((p_m - 4) >> 16 AS VARCHAR) || ','
        || CAST((p_m - 4) & 65535 AS VARCHAR) || ')'
    WHEN pgm_f.typname IN ('timestamp', 'timestamptz', 'time', 'timetz')
        THEN regexp_replace(pgm_f.display, ' ', '(' || CAST(p_m AS VARCHAR) || ') ')
    ELSE pgm_f.display END FROM pgx.typefmt pgm_f WHERE pgm_f.oid = p_t), CASE WHEN p_t IS NULL THEN NULL ELSE '???' END);
CREATE MACRO pgc_pg_get_userbyid(p_r) AS COALESCE((SELECT pgm_r.rolname FROM pgc.pg_roles pgm_r WHERE pgm_r.oid = p_r),
    'unknown (OID=' || CAST(p_r AS VARCHAR) || ')');
CREATE MACRO pgc_pg_table_is_visible(p_r) AS (SELECT pgm_c.relnamespace IN (11, 2200) FROM pgc.pg_class pgm_c WHERE pgm_c.oid = p_r);
CREATE MACRO pgc_pg_type_is_visible(p_r) AS (SELECT pgm_t.typnamespace IN (11, 2200) FROM pgc.pg_type pgm_t WHERE pgm_t.oid = p_r);
CREATE MACRO pgc_pg_function_is_visible(p_r) AS true;
CREATE MACRO pgc_pg_get_expr(p_e, p_r, p_p := false) AS p_e;
CREATE MACRO pgc_pg_get_constraintdef(p_c, p_p := false) AS (SELECT pgm_x.def FROM pgx.condef pgm_x WHERE pgm_x.oid = p_c);
CREATE MACRO pgc_pg_get_indexdef(p_i, p_n := 0, p_p := false) AS CASE WHEN p_n IS NULL OR p_n = 0
    THEN (SELECT pgm_x.def FROM pgx.indexdef pgm_x WHERE pgm_x.oid = p_i)
    ELSE (SELECT pgm_x.name FROM pgx.indexcol pgm_x WHERE pgm_x.oid = p_i AND pgm_x.n = p_n) END;
CREATE MACRO pgc_pg_get_viewdef(p_v, p_p := false) AS (SELECT pgm_x.def FROM pgx.viewdef pgm_x WHERE pgm_x.oid = p_v);
CREATE MACRO pgc_pg_get_triggerdef(p_t, p_p := false) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_ruledef(p_t, p_p := false) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_partkeydef(p_t) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_statisticsobjdef_columns(p_t) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_function_result(p_f) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_function_arguments(p_f) AS '';
CREATE MACRO pgc_pg_get_function_identity_arguments(p_f) AS '';
CREATE MACRO pgc_pg_get_functiondef(p_f) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_serial_sequence(p_t, p_c) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_partition_constraintdef(p_t) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_describe_object(p_a, p_b, p_c) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_encoding_to_char(p_e) AS CASE WHEN p_e = 6 THEN 'UTF8' WHEN p_e = 0 THEN 'SQL_ASCII' ELSE '' END;
CREATE MACRO pgc_pg_char_to_encoding(p_e) AS CASE WHEN upper(p_e) IN ('UTF8', 'UTF-8', 'UNICODE') THEN 6 ELSE -1 END;
CREATE MACRO pgc_current_schemas(p_b) AS CASE WHEN p_b THEN ['pg_catalog', 'public'] ELSE ['public'] END;
CREATE MACRO pgc_obj_description(p_o, p_c := NULL) AS (SELECT pgm_d.description FROM pgc.pg_description pgm_d
    WHERE pgm_d.objoid = p_o AND pgm_d.objsubid = 0
      AND (p_c IS NULL OR pgm_d.classoid = (SELECT pgm_x.oid FROM pgx.classoids pgm_x WHERE pgm_x.name = p_c)) LIMIT 1);
CREATE MACRO pgc_col_description(p_o, p_n) AS (SELECT pgm_d.description FROM pgc.pg_description pgm_d
    WHERE pgm_d.objoid = p_o AND pgm_d.objsubid = p_n LIMIT 1);
CREATE MACRO pgc_shobj_description(p_o, p_c) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_relation_size(p_o, p_f := 'main') AS (SELECT CAST(pgm_c.relpages AS BIGINT) * 8192 FROM pgc.pg_class pgm_c
    WHERE pgm_c.oid = p_o);
CREATE MACRO pgc_pg_table_size(p_o) AS pgc_pg_relation_size(p_o);
CREATE MACRO pgc_pg_total_relation_size(p_o) AS pgc_pg_relation_size(p_o) + 8192;
CREATE MACRO pgc_pg_indexes_size(p_o) AS CAST(8192 AS BIGINT);
CREATE MACRO pgc_pg_database_size(p_d) AS (SELECT CAST(sum(pgm_c.relpages) AS BIGINT) * 8192 + 7000000 FROM pgc.pg_class pgm_c);
CREATE MACRO pgc_pg_size_pretty(p_b) AS CASE WHEN p_b IS NULL THEN NULL
    WHEN abs(p_b) < 10240 THEN CAST(p_b AS VARCHAR) || ' bytes'
    WHEN abs(p_b) < 10485760 THEN CAST(CAST(round(p_b / 1024.0) AS BIGINT) AS VARCHAR) || ' kB'
    WHEN abs(p_b) < 10737418240 THEN CAST(CAST(round(p_b / 1048576.0) AS BIGINT) AS VARCHAR) || ' MB'
    WHEN abs(p_b) < 10995116277760 THEN CAST(CAST(round(p_b / 1073741824.0) AS BIGINT) AS VARCHAR) || ' GB'
    ELSE CAST(CAST(round(p_b / 1099511627776.0) AS BIGINT) AS VARCHAR) || ' TB' END;
CREATE MACRO pgc_pg_partition_ancestors(p_r) AS CAST(p_r AS BIGINT);
CREATE MACRO pgc_tf_pg_partition_ancestors(p_r) AS TABLE SELECT CAST(p_r AS BIGINT) AS relid, 1 AS depth;
CREATE MACRO pgc_pg_partition_root(p_r) AS CAST(p_r AS BIGINT);
CREATE MACRO pgc_pg_relation_is_publishable(p_r) AS false;
CREATE MACRO pgc_array_upper(p_a, p_d) AS CASE WHEN p_a IS NULL OR len(p_a) = 0 THEN NULL ELSE len(p_a) END;
CREATE MACRO pgc_array_lower(p_a, p_d) AS CASE WHEN p_a IS NULL OR len(p_a) = 0 THEN NULL ELSE 1 END;
CREATE MACRO pgc_regclass_out(p_r) AS COALESCE((SELECT CASE WHEN pgm_c.relnamespace IN (11, 2200)
    THEN pgc_quote_ident(pgm_c.relname) ELSE pgm_n.nspname || '.' || pgc_quote_ident(pgm_c.relname) END
    FROM pgc.pg_class pgm_c JOIN pgc.pg_namespace pgm_n ON pgm_n.oid = pgm_c.relnamespace WHERE pgm_c.oid = p_r), CAST(p_r AS VARCHAR));
CREATE MACRO pgc_regtype_out(p_t) AS COALESCE((SELECT pgm_x.display FROM pgx.typefmt pgm_x WHERE pgm_x.oid = p_t), CAST(p_t AS VARCHAR));
CREATE MACRO pgc_regnamespace_out(p_n) AS COALESCE((SELECT pgm_n.nspname FROM pgc.pg_namespace pgm_n WHERE pgm_n.oid = p_n),
    CAST(p_n AS VARCHAR));
CREATE MACRO pgc_regrole_out(p_r) AS COALESCE((SELECT pgm_r.rolname FROM pgc.pg_roles pgm_r WHERE pgm_r.oid = p_r), CAST(p_r AS VARCHAR));
CREATE MACRO pgc_regproc_out(p_p) AS CAST(p_p AS VARCHAR);
CREATE MACRO pgc_to_regclass(p_s) AS (SELECT pgm_c.oid FROM pgc.pg_class pgm_c
    WHERE lower(pgm_c.relname) = lower(trim(regexp_replace(p_s, '^(public|pg_catalog)\\.', ''), '"')) ORDER BY pgm_c.oid LIMIT 1);
CREATE MACRO pgc_to_regtype(p_s) AS (SELECT pgm_x.oid FROM pgx.typefmt pgm_x WHERE pgm_x.typname = lower(p_s) OR pgm_x.display = lower(p_s)
    ORDER BY pgm_x.oid LIMIT 1);
CREATE MACRO pgc_to_regnamespace(p_s) AS (SELECT pgm_n.oid FROM pgc.pg_namespace pgm_n WHERE pgm_n.nspname = p_s);
CREATE MACRO pgc_pg_is_other_temp_schema(p_n) AS false;
CREATE MACRO pgc_pg_collation_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_conversion_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_opclass_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_operator_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_ts_config_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_get_constraintdef_columns(p_o) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_tablespace_location(p_t) AS '';
CREATE MACRO pgc_pg_stat_get_numscans(p_o) AS CAST(0 AS BIGINT);
CREATE MACRO pgc_pg_column_is_updatable(p_r, p_n, p_c) AS true;
CREATE MACRO pgc_pg_relation_is_updatable(p_r, p_c) AS 28;
CREATE MACRO pgc__pg_expandarray(p_a) AS unnest(list_transform(range(1, len(p_a) + 1),
    lambda pgm_i: struct_pack(x := p_a[pgm_i], n := pgm_i)));
CREATE MACRO pgc_tf__pg_expandarray(p_a) AS TABLE SELECT unnest(p_a) AS x, unnest(range(1, len(p_a) + 1)) AS n;
CREATE MACRO pgc_pg_get_keywords() AS TABLE SELECT word, catcode, barelabel, catdesc, baredesc FROM pgx.keywords;
"""

_PRIVILEGE_FUNCS = (
    "has_table_privilege", "has_schema_privilege", "has_database_privilege", "has_column_privilege",
    "has_function_privilege", "has_sequence_privilege", "has_any_column_privilege", "has_type_privilege",
    "has_language_privilege", "has_tablespace_privilege", "has_server_privilege",
    "has_foreign_data_wrapper_privilege", "pg_has_role",
)

SCALAR_MACROS = {m for m in re.findall(r"CREATE MACRO pgc_(\w+)\(", _MACROS) if not m.startswith("tf_")}
SCALAR_MACROS |= set(_PRIVILEGE_FUNCS)
SCALAR_MACROS -= {"pg_get_keywords"}
TABLE_MACROS = {"pg_partition_ancestors", "pg_get_keywords", "_pg_expandarray"}
CATALOG_TABLE_FUNCTIONS = TABLE_MACROS | {"pg_show_all_settings"}
CATALOG_FUNCTIONS = SCALAR_MACROS | TABLE_MACROS
_REG_TYPES = {"regclass", "regtype", "regnamespace", "regproc", "regprocedure", "regrole", "regoper", "oid"}
_SCALAR_IN_FROM = {"string_to_array", "regexp_split_to_array", "current_schemas", "parse_ident"}
_RENAMED = {"json_build_object": "json_object", "jsonb_build_object": "json_object", "json_agg": "json_group_array",
            "jsonb_agg": "json_group_array", "to_json": "to_json", "row_to_json": "to_json"}
_EMPTY_RELATIONS = {
    "pg_publication", "pg_publication_rel", "pg_publication_namespace", "pg_policy", "pg_statistic_ext",
    "pg_trigger", "pg_inherits", "pg_rewrite", "pg_event_trigger", "pg_foreign_table", "pg_partitioned_table",
    "pg_subscription",
}


@dataclass
class IndexSpec:
    name: str
    table: str
    columns: list[str]
    unique: bool


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
        for schema, tables in (("pgc", cd.PG_TABLES), ("pgis", cd.IS_TABLES)):
            for name, cols in tables.items():
                ddl = ", ".join(f'"{c}" {cd.duck_type(t)}' for c, t in cols)
                con.execute(f'CREATE TABLE {schema}."{name}" ({ddl})')
                insert_rows(con, f'{schema}."{name}"', [(c, cd.duck_type(t)) for c, t in cols],
                            self.objects.rows.get(name) or [])
        for name, ddl in cd.HELPER_TABLES.items():
            con.execute(f"CREATE TABLE pgx.{name} ({ddl})")
            spec = [tuple(part.split()) for part in ddl.split(", ")]
            insert_rows(con, f"pgx.{name}", [(c, t) for c, t in spec], self.objects.helper.get(name) or [])
        con.execute("CREATE TABLE pgx.keywords (word VARCHAR, catcode VARCHAR, barelabel BOOLEAN, catdesc VARCHAR, "
                    "baredesc VARCHAR)")
        insert_rows(con, "pgx.keywords", [("word", "VARCHAR"), ("catcode", "VARCHAR"), ("barelabel", "BOOLEAN"),
                                          ("catdesc", "VARCHAR"), ("baredesc", "VARCHAR")],
                    [(k, "R", True, "reserved", "can be bare label") for k in sorted(cd._KEYWORDS)])
        con.execute("INSERT INTO pgx.typefmt SELECT oid, typname, pgc_q FROM (SELECT oid, typname, "
                    "CASE WHEN regexp_full_match(typname, '[a-z_][a-z0-9_$]*') THEN typname "
                    "ELSE '\"' || typname || '\"' END AS pgc_q FROM pgc.pg_type WHERE typtype = 'c')")
        for stmt in _MACROS.split(";\n"):
            if stmt.strip():
                con.execute(stmt)
        for name in _PRIVILEGE_FUNCS:
            con.execute(f"CREATE MACRO pgc_{name}(p_a, p_b := NULL, p_c := NULL, p_d := NULL) AS true")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            cur = self.db.cursor()
        for name, cols in cd.SESSION_TABLES.items():
            ddl = ", ".join(f'"{c}" {cd.duck_type(t)}' for c, t in cols)
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


def _ident_parts(text: str) -> list[str]:
    """``parse_ident``: ``public."Album"`` -> ``['public', 'Album']``."""
    parts = re.findall(r'"((?:[^"]|"")*)"|([^."]+)', text.strip())
    return [q.replace('""', '"') if q else u.strip().lower() for q, u in parts if (q or u.strip())]


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


# --- routing -------------------------------------------------------------------------------


def _func_name(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return None


def references_catalog(tree: exp.Expr, *, user_tables: set[str] | None = None) -> bool:
    """Whether a statement must be answered by the catalog."""
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    user_tables = user_tables or set()
    for node in tree.walk():
        if isinstance(node, exp.Table):
            db = node.db.lower()
            name = node.name.lower()
            if db in ("pg_catalog", "information_schema"):
                return True
            if not db and name not in ctes and name not in user_tables and (
                    name in cd.PG_TABLES or name in cd.SESSION_TABLES):
                return True
            if isinstance(node.this, exp.Anonymous) and str(node.this.this).lower() in CATALOG_TABLE_FUNCTIONS:
                return True
        elif isinstance(node, exp.Anonymous):
            if str(node.this).lower() in CATALOG_FUNCTIONS or str(node.this).lower() in CATALOG_TABLE_FUNCTIONS:
                return True
        elif isinstance(node, exp.CurrentSchemas):
            return True
        elif isinstance(node, exp.Cast):
            if _type_name(node.to) in _REG_TYPES | {"int2vector", "oidvector"}:
                return True
        elif isinstance(node, exp.Operator):
            return True
    return False


def _type_name(to: exp.Expr | None) -> str:
    if isinstance(to, exp.ObjectIdentifier):
        return str(to.this).lower()
    if isinstance(to, exp.DataType):
        if to.this == exp.DType.USERDEFINED:
            kind = to.args.get("kind")
            if isinstance(kind, exp.Dot):
                return kind.expression.name.lower()
            if isinstance(kind, exp.Identifier):
                return kind.name.lower()
            return str(kind or "").lower()
        return to.sql("postgres").lower()
    return ""


# --- rewriting -----------------------------------------------------------------------------


def to_catalog_sql(tree: exp.Expr, shadow: ShadowCatalog) -> tuple[str, list[int], set[str]]:
    """The DuckDB SQL that answers ``tree`` on the shadow, the parameter order, and the
    per-session relations it reads."""
    tree = tree.copy()
    session_tables: set[str] = set()
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}

    for table in list(tree.find_all(exp.Table)):
        _rewrite_table(table, ctes, session_tables)
    tree = post_transform(tree, lambda n: _rewrite_node(n, shadow))
    out = to_backend(tree, "duckdb", output_names=False)
    return out.sql, out.param_order, session_tables


def _rewrite_table(table: exp.Table, ctes: set[str], session_tables: set[str]) -> None:
    fn = table.this
    db = table.db.lower()
    if not isinstance(fn, exp.Identifier):  # a table function
        if db in ("pg_catalog", "information_schema"):
            table.set("db", None)
        fname = str(fn.this).lower() if isinstance(fn, exp.Anonymous) else ""
        if fname == "pg_show_all_settings":
            alias = table.args.get("alias")
            session_tables.add("pg_settings")
            table.replace(exp.Table(this=exp.to_identifier("pg_settings"), db=exp.to_identifier("main"),
                                    catalog=exp.to_identifier("temp"),
                                    alias=alias or exp.TableAlias(this=exp.to_identifier("pg_show_all_settings"))))
            return
        if isinstance(fn, (exp.StringToArray, exp.Split, exp.CurrentSchemas)) or fname in _SCALAR_IN_FROM:
            # a function returning one array, used as a relation: one row, one column
            alias = table.args.get("alias")
            name = alias.name if alias is not None and alias.name else (fname or "array")
            cols = [c.name for c in alias.columns] if alias is not None and alias.columns else [name]
            sub = exp.select(exp.alias_(fn.copy(), exp.to_identifier(cols[0]))).subquery(
                exp.TableAlias(this=exp.to_identifier(name)))
            table.replace(sub)
            return
        if isinstance(fn, exp.Anonymous) and str(fn.this).lower() in TABLE_MACROS:
            fn.set("this", f"pgc_tf_{fname}" if fname in ("pg_partition_ancestors", "_pg_expandarray")
                   else f"pgc_{fname}")
            alias = table.args.get("alias")
            if table.args.get("ordinality") or (alias is not None and table.args.get("with_ordinality")):
                table.set("ordinality", None)
            for key in ("ordinality", "with_ordinality"):
                if table.args.get(key):
                    table.set(key, None)
        return
    name = table.name.lower()
    if db == "information_schema":
        if name not in cd.IS_TABLES:
            raise UndefinedTable(f'relation "information_schema.{table.name}" does not exist')
        table.set("db", exp.to_identifier("pgis"))
        table.set("this", exp.to_identifier(name))
        if table.args.get("alias") is None:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
        return
    if db == "pg_catalog" or (not db and name not in ctes and (name in cd.PG_TABLES or name in cd.SESSION_TABLES)):
        if name in cd.SESSION_TABLES:
            session_tables.add(name)
            table.set("catalog", exp.to_identifier("temp"))
            table.set("db", exp.to_identifier("main"))
        elif name in cd.PG_TABLES:
            table.set("db", exp.to_identifier("pgc"))
        else:
            raise UndefinedTable(f'relation "pg_catalog.{table.name}" does not exist')
        table.set("this", exp.to_identifier(name))
        if table.args.get("alias") is None:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
        return
    if db == "public":
        table.set("db", None)


_TEXT_TYPES = {"text", "varchar", "name", "bpchar", "char", "character varying"}


def _display_context(node: exp.Expr) -> bool:
    """Whether a ``::regclass`` (regtype...) value is shown as a name here rather than
    used as an OID: a select-list result, text concatenation, a cast to text."""
    child, parent = node, node.parent
    while isinstance(parent, exp.Paren):
        child, parent = parent, parent.parent
    if isinstance(parent, exp.Cast):
        return _type_name(parent.to) in _TEXT_TYPES
    if isinstance(parent, (exp.DPipe, exp.Concat, exp.ConcatWs)):
        return True
    if isinstance(parent, exp.Alias):
        child, parent = parent, parent.parent
    if isinstance(parent, exp.Select) and any(e is child for e in parent.expressions):
        outer = parent.parent
        while isinstance(outer, (exp.Subquery, exp.Union, exp.Paren)):
            outer = outer.parent
        return not isinstance(outer, (exp.In, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Any, exp.All))
    return False


def _in_comparison(node: exp.Expr) -> bool:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return isinstance(parent, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between))


def _fn(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


_OPERATORS: dict[str, Callable[[exp.Expr, exp.Expr], exp.Expr]] = {
    "~": lambda a, b: exp.RegexpILike(this=a, expression=b),
    "~*": lambda a, b: exp.RegexpILike(this=a, expression=b),
    "!~": lambda a, b: exp.Not(this=exp.RegexpILike(this=a, expression=b)),
    "!~*": lambda a, b: exp.Not(this=exp.RegexpILike(this=a, expression=b)),
    "~~": lambda a, b: exp.Like(this=a, expression=b),
    "!~~": lambda a, b: exp.Not(this=exp.Like(this=a, expression=b)),
    "~~*": lambda a, b: exp.ILike(this=a, expression=b),
    "!~~*": lambda a, b: exp.Not(this=exp.ILike(this=a, expression=b)),
    "=": lambda a, b: exp.EQ(this=a, expression=b),
    "<>": lambda a, b: exp.NEQ(this=a, expression=b),
    "<": lambda a, b: exp.LT(this=a, expression=b),
    ">": lambda a, b: exp.GT(this=a, expression=b),
    "<=": lambda a, b: exp.LTE(this=a, expression=b),
    ">=": lambda a, b: exp.GTE(this=a, expression=b),
}


def _rewrite_node(node: exp.Expr, shadow: ShadowCatalog) -> exp.Expr:  # noqa: C901 - one rule each
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier) \
            and node.this.name.lower() in ("pg_catalog", "information_schema") and isinstance(node.expression, exp.Func):
        return _rewrite_node(node.expression, shadow)
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Paren) and isinstance(node.this.this, exp.Anonymous) \
            and str(node.this.this.this).lower() in ("_pg_expandarray", "pgc__pg_expandarray") \
            and node.this.this.expressions:
        # (information_schema._pg_expandarray(a)).n / .x: PostgreSQL's set-returning pairs
        arg = node.this.this.expressions[0]
        if node.expression.name.lower() == "n":
            return _fn("unnest", _fn("generate_series", exp.Literal.number(1), _fn("len", arg)))
        return _fn("unnest", arg)
    if isinstance(node, exp.Column) and node.args.get("db") is not None:
        if node.args["db"].name.lower() in ("pg_catalog", "information_schema"):
            node.set("db", None)
            node.set("catalog", None)
        return node
    if isinstance(node, exp.Anonymous):
        name = str(node.this).lower()
        if name in SCALAR_MACROS:
            node.set("this", f"pgc_{name}")
        elif name in _RENAMED:
            node.set("this", _RENAMED[name])
        elif name == "parse_ident" and node.expressions and isinstance(node.expressions[0], exp.Literal):
            parts = _ident_parts(str(node.expressions[0].this))
            return exp.Array(expressions=[exp.Literal.string(p) for p in parts])
        return node
    if isinstance(node, exp.CurrentSchemas):
        return _fn("pgc_current_schemas", node.this or exp.false())
    if isinstance(node, exp.RegexpLike):
        return exp.RegexpILike(this=node.this, expression=node.expression)
    if isinstance(node, exp.Operator):
        op = str(node.args.get("operator") or "").lower().removeprefix("pg_catalog.").strip()
        make = _OPERATORS.get(op)
        if make is None:
            raise FeatureNotSupported(f"operator {op} is not supported in catalog queries")
        return make(node.this, node.expression)
    if isinstance(node, exp.Collate):
        return node.this
    if isinstance(node, exp.Bracket) and isinstance(node.this, exp.Column) and node.this.name in cd.VECTOR_COLUMNS:
        if len(node.expressions) == 1:
            node.set("expressions", [exp.Add(this=node.expressions[0], expression=exp.Literal.number(1))])
        return node
    if isinstance(node, (exp.EQ, exp.NEQ)):
        for side in ("this", "expression"):
            value = node.args.get(side)
            if isinstance(value, exp.Literal) and value.is_string and re.fullmatch(r"\{.*\}", str(value.this)):
                items = [x.strip().strip('"') for x in str(value.this)[1:-1].split(",") if x.strip()]
                node.set(side, exp.Literal.string("[" + ", ".join(items) + "]"))
        return node
    if isinstance(node, exp.Cast):
        return _rewrite_cast(node, shadow)
    if isinstance(node, exp.DataType) and node.this == exp.DType.USERDEFINED:
        kind = node.args.get("kind")
        if isinstance(kind, exp.Dot) and kind.this.name.lower() == "pg_catalog":
            try:
                return exp.DataType.build(kind.expression.name, dialect="postgres")
            except sqlglot.errors.ParseError:
                return node
    return node


def _rewrite_cast(node: exp.Cast, shadow: ShadowCatalog) -> exp.Expr:
    kind = _type_name(node.to)
    value = node.this
    literal = value.this if isinstance(value, exp.Literal) else None
    if kind in ("regclass", "regtype", "regnamespace", "regrole"):
        if literal is not None:
            resolve = {"regclass": shadow.regclass, "regtype": shadow.regtype, "regnamespace": shadow.regnamespace,
                       "regrole": shadow.regrole}[kind]
            value = exp.Literal.number(resolve(str(literal)))
        elif not isinstance(value, (exp.Column, exp.Cast)) and kind in ("regclass", "regtype"):
            value = _fn(f"pgc_to_{kind}", value)  # text -> oid
        if _display_context(node):
            return _fn(f"pgc_{kind}_out", value)
        return value
    if kind in ("regproc", "regprocedure", "regoper"):
        if literal is not None and isinstance(value, exp.Literal) and value.is_string:
            return exp.Literal.string(str(literal).split(".")[-1].split("(")[0])
        return value
    if kind == "oid":
        return exp.Cast(this=value, to=exp.DataType.build("BIGINT"))
    if kind in ("name", "char", "text", "varchar", "bpchar"):
        return exp.Cast(this=value, to=exp.DataType.build("VARCHAR"))
    if kind == "int2vector":
        return exp.Cast(this=value, to=exp.DataType.build("SMALLINT[]", dialect="duckdb"))
    if kind == "oidvector":
        return exp.Cast(this=value, to=exp.DataType.build("BIGINT[]", dialect="duckdb"))
    if isinstance(node.to, exp.DataType) and node.to.this == exp.DType.USERDEFINED:
        kind_node = node.to.args.get("kind")
        if isinstance(kind_node, exp.Dot):
            try:
                return exp.Cast(this=value, to=exp.DataType.build(kind_node.expression.name, dialect="postgres"))
            except sqlglot.errors.ParseError:
                return node
    return node


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
    named = cd.NAMED_TYPES.get(name)
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


def _array_text(value: list[Any], vector: bool) -> str:
    if vector:
        return " ".join("" if v is None else str(v) for v in value)
    out = []
    for v in value:
        if v is None:
            out.append("NULL")
            continue
        if isinstance(v, bool):
            out.append("t" if v else "f")
            continue
        s = str(v)
        if s == "" or re.search(r'[\s{},"\\]', s) or s.upper() == "NULL":
            s = '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out.append(s)
    return "{" + ",".join(out) + "}"


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
    array_cols = [i for i, c in enumerate(columns) if c.pg_type.startswith("_") or c.pg_type in ("int2vector",
                                                                                                   "oidvector")]
    if array_cols:
        fixed = []
        for row in rows:
            r = list(row)
            for i in array_cols:
                if isinstance(r[i], list):
                    r[i] = _array_text(r[i], columns[i].pg_type in ("int2vector", "oidvector"))
            fixed.append(tuple(r))
        rows = fixed
        columns = [Column(c.name, "text") if c.pg_type in ("_aclitem",) else c for c in columns]
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
