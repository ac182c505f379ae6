"""The rows of the emulated ``pg_catalog`` and ``information_schema``, built from a
backend's introspected schema.

Every relation is declared once in :data:`PG_TABLES` / :data:`IS_TABLES` with
PostgreSQL 15's column names and types; :func:`build_rows` fills them. OIDs follow
PostgreSQL's conventions: built-in objects keep their real OIDs (``pg_catalog`` 11,
``public`` 2200, ``int4`` 23, ``pg_class`` 1259), user objects count from 16384.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.base import ColumnInfo, ForeignKey, SchemaInfo, TableInfo
from gateway.catalog_tables import IS_TABLES, PG_TABLES, SESSION_TABLES, WELL_KNOWN_OIDS
from gateway.pgtypes import BY_OID, TYPES, typmod_of

NS_CATALOG = 11
NS_PUBLIC = 2200
NS_INFO = 13184
NS_TOAST = 99
OWNER = 10
OWNER_NAME = "postgres"  # the bootstrap superuser every PostgreSQL has
DB_OWNER_ROLE = 6171  # pg_database_owner, owner of schema public since PostgreSQL 15
FIRST_USER_OID = 16384
UTF8 = 6

KEYWORDS = {
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary", "both",
    "case", "cast", "check", "collate", "column", "concurrently", "constraint", "create", "cross", "current_catalog",
    "current_date", "current_role", "current_schema", "current_time", "current_timestamp", "current_user",
    "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign",
    "freeze", "from", "full", "grant", "group", "having", "ilike", "in", "initially", "inner", "intersect", "into",
    "is", "isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime", "localtimestamp", "natural",
    "not", "notnull", "null", "offset", "on", "only", "or", "order", "outer", "overlaps", "placing", "primary",
    "references", "returning", "right", "select", "session_user", "similar", "some", "symmetric", "table",
    "tablesample", "then", "to", "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose",
    "when", "where", "window", "with",
}


def quote_ident(name: str) -> str:
    """PostgreSQL's ``quote_ident``: quoted unless all lower-case letters, digits, ``_``
    (not starting with a digit) and not a reserved word."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) and name not in KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


# --- rows -------------------------------------------------------------------------------------


@dataclass
class IndexInfo:
    """An index the backend has besides the primary key (from the connector or the
    backend's own catalog)."""

    name: str
    table: str
    columns: list[str]
    unique: bool = False


@dataclass
class Objects:
    """What the catalog knows besides the schema: names and OIDs assigned to it."""

    rel_oid: dict[str, int] = field(default_factory=dict)  # lower-case relation name -> oid
    rel_name: dict[int, str] = field(default_factory=dict)
    type_oid: dict[str, int] = field(default_factory=dict)  # lower-case spelling -> oid
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    helper: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


HELPER_TABLES: dict[str, str] = {
    "condef": "oid BIGINT, def VARCHAR",
    "indexdef": "oid BIGINT, def VARCHAR",
    "indexcol": "oid BIGINT, n INTEGER, name VARCHAR",
    "viewdef": "oid BIGINT, def VARCHAR",
    "typefmt": "oid BIGINT, typname VARCHAR, display VARCHAR",
    "classoids": "name VARCHAR, oid BIGINT",
}


def _type_row(t_name: str) -> tuple[Any, ...]:
    t = TYPES[t_name]
    elem = t.elem_oid
    typtype = "p" if t.category == "P" else "b"
    collation = 100 if t.category == "S" and not elem else 0
    return (t.oid, t.name, NS_CATALOG, OWNER, t.length, t.byval, typtype, t.category,
            t.name in ("bool", "text", "float8", "oid", "timestamptz", "interval"), True, ",", 0,
            "array_subscript_handler" if elem else "-", elem, t.array_oid, t.input_fn, t.output_fn,
            t.input_fn.replace("in", "recv", 1) if not elem else "array_recv",
            t.output_fn.replace("out", "send", 1) if not elem else "array_send", "-", "-", "-", t.align,
            "p" if t.length > 0 else ("m" if t.name == "numeric" else "x"), False, 0, -1, 0, collation, None, None,
            None)


@dataclass
class ConstraintNames:
    """Constraint names the backend keeps (SQLite's ``CONSTRAINT name`` clauses); the
    others get PostgreSQL's defaults (``Album_pkey``, ``Album_ArtistId_fkey``)."""

    primary: dict[str, str] = field(default_factory=dict)  # lower table -> name
    foreign: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)  # (table, cols) lower -> name


def build_rows(schema: SchemaInfo, *, databases: list[str], database: str, users: list[str],
               indexes: Iterable[IndexInfo] = (), names: ConstraintNames | None = None) -> Objects:
    """All rows of the emulated catalog for one database."""
    ob = Objects()
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in [*PG_TABLES, *IS_TABLES]}
    helper: dict[str, list[tuple[Any, ...]]] = {name: [] for name in HELPER_TABLES}
    ob.rows, ob.helper = rows, helper

    rows["pg_namespace"] = [
        (NS_CATALOG, "pg_catalog", OWNER, None), (NS_TOAST, "pg_toast", OWNER, None),
        (NS_PUBLIC, "public", DB_OWNER_ROLE, None), (NS_INFO, "information_schema", OWNER, None),
    ]
    for name, t in TYPES.items():
        rows["pg_type"].append(_type_row(name))
        helper["typefmt"].append((t.oid, t.name, t.display))
        ob.type_oid[name] = t.oid
        ob.type_oid[t.display] = t.oid
    for alias, real in (("integer", "int4"), ("int", "int4"), ("bigint", "int8"), ("smallint", "int2"),
                        ("boolean", "bool"), ("varchar", "varchar"), ("real", "float4"), ("decimal", "numeric")):
        ob.type_oid[alias] = TYPES[real].oid
    rows["pg_am"] = [(2, "heap", "heap_tableam_handler", "t"), (403, "btree", "bthandler", "i"),
                     (405, "hash", "hashhandler", "i")]
    rows["pg_tablespace"] = [(1663, "pg_default", OWNER, None, None), (1664, "pg_global", OWNER, None, None)]
    rows["pg_collation"] = [(100, "default", NS_CATALOG, OWNER, "d", True, -1, None, None, None, None),
                            (950, "C", NS_CATALOG, OWNER, "c", True, -1, "C", "C", None, None),
                            (951, "POSIX", NS_CATALOG, OWNER, "c", True, -1, "POSIX", "POSIX", None, None)]
    rows["pg_language"] = [(12, "internal", OWNER, False, False, 0, 0, 2246, None),
                           (13, "c", OWNER, False, False, 0, 0, 2247, None),
                           (14, "sql", OWNER, False, True, 0, 0, 2248, None),
                           (13582, "plpgsql", OWNER, True, True, 13579, 13580, 13581, None)]
    rows["pg_extension"] = [(13583, "plpgsql", OWNER, NS_CATALOG, False, "1.0", None, None)]
    rows["pg_available_extensions"] = [("plpgsql", "1.0", "1.0", "PL/pgSQL procedural language")]
    role_names = [OWNER_NAME] + [u for u in users if u != OWNER_NAME]
    for i, role in enumerate(role_names):
        oid = OWNER if i == 0 else FIRST_USER_OID - 100 + i
        rows["pg_roles"].append((role, i == 0, True, i == 0, i == 0, True, i == 0, -1, "********", None, i == 0,
                                 None, oid))
        rows["pg_authid"].append((oid, role, i == 0, True, i == 0, i == 0, True, i == 0, i == 0, -1, None, None))
        rows["pg_user"].append((role, oid, i == 0, i == 0, i == 0, i == 0, "********", None, None))
    rows["pg_roles"].append(("pg_database_owner", False, True, False, False, False, False, -1, "********", None,
                             False, None, DB_OWNER_ROLE))
    rows["pg_authid"].append((DB_OWNER_ROLE, "pg_database_owner", False, True, False, False, False, False, False, -1,
                              None, None))
    rows["enabled_roles"] = [(r,) for r in role_names]
    rows["pg_database"] = [
        (16000 + i, name, OWNER, UTF8, "c", False, True, -1, 722, 1, 1663, "C.UTF-8", "C.UTF-8", None, None, None)
        for i, name in enumerate(sorted(databases))
    ]
    rows["information_schema_catalog_name"] = [(database,)]
    rows["schemata"] = [
        (database, "information_schema", OWNER_NAME, None, None, None, None),
        (database, "pg_catalog", OWNER_NAME, None, None, None, None),
        (database, "public", "pg_database_owner", None, None, None, None),
    ]
    rows["character_sets"] = [(None, None, "UTF8", "UCS", "UTF8", database, "pg_catalog", "C.UTF-8")]
    for name, oid in WELL_KNOWN_OIDS.items():
        helper["classoids"].append((name, oid))

    rows["pg_description"].append((NS_PUBLIC, 2615, 0, "standard public schema"))
    _user_objects(schema, ob, database=database, indexes=list(indexes), names=names or ConstraintNames())
    _catalog_relations(ob)
    return ob


def _user_objects(schema: SchemaInfo, ob: Objects, *, database: str, indexes: list[IndexInfo],
                  names: ConstraintNames) -> None:
    rows, helper = ob.rows, ob.helper
    next_oid = FIRST_USER_OID
    tables = sorted(schema.tables, key=lambda t: t.name)
    table_oid: dict[str, int] = {}
    pk_index: dict[str, tuple[int, str]] = {}
    for t in tables:
        table_oid[t.name.lower()] = next_oid
        next_oid += 3  # the table, its row type, its array type (as PostgreSQL assigns them)
        if t.primary_key and t.kind == "table":
            pk_index[t.name.lower()] = (next_oid, names.primary.get(t.name.lower()) or f"{t.name}_pkey")
            next_oid += 2  # the index and its constraint
    extra_index_oid: dict[str, int] = {}
    for ix in indexes:
        extra_index_oid[ix.name] = next_oid
        next_oid += 1

    # PostgreSQL implements foreign keys with triggers on both tables; psql prints a
    # table's foreign keys only when relhastriggers says so
    with_fk = {t.name.lower() for t in tables if t.foreign_keys}
    with_fk |= {fk.ref_table.lower() for t in tables for fk in t.foreign_keys}
    for t in tables:
        oid = table_oid[t.name.lower()]
        ob.rel_oid[t.name.lower()] = oid
        ob.rel_name[oid] = t.name
        kind = "v" if t.kind == "view" else "r"
        has_index = t.name.lower() in pk_index or any(ix.table.lower() == t.name.lower() for ix in indexes)
        pages = max(1, t.row_count // 50) if t.row_count else 0
        rows["pg_class"].append(_class_row(oid, t.name, NS_PUBLIC, oid + 1, kind, len(t.columns), has_index,
                                           pages=pages, tuples=float(t.row_count if t.row_count else -1),
                                           triggers=t.name.lower() in with_fk))
        rows["pg_type"].append((oid + 1, t.name, NS_PUBLIC, OWNER, -1, False, "c", "C", False, True, ",", oid, "-",
                                0, oid + 2, "record_in", "record_out", "record_recv", "record_send", "-", "-", "-",
                                "d", "x", False, 0, -1, 0, 0, None, None, None))
        rows["pg_type"].append((oid + 2, f"_{t.name}", NS_PUBLIC, OWNER, -1, False, "b", "A", False, True, ",", 0,
                                "array_subscript_handler", oid + 1, 0, "array_in", "array_out", "array_recv",
                                "array_send", "-", "-", "array_typanalyze", "d", "x", False, 0, -1, 0, 0, None, None,
                                None))
        if t.description:
            rows["pg_description"].append((oid, 1259, 0, t.description))
        rows["tables"].append((database, "public", t.name, "VIEW" if kind == "v" else "BASE TABLE", None, None, None,
                               None, None, "YES" if kind == "r" else "NO", "NO", None))
        for priv in ("INSERT", "SELECT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"):
            rows["table_privileges"].append((OWNER_NAME, OWNER_NAME, database, "public", t.name, priv, "YES",
                                             "YES" if priv == "SELECT" else "NO"))
        if kind == "r":
            rows["pg_tables"].append(("public", t.name, OWNER_NAME, None, has_index, False, t.name.lower() in with_fk,
                                      False))
            rows["pg_stat_user_tables"].append((oid, "public", t.name, 0, 0, 0, 0, 0, 0, 0, 0, t.row_count, 0, 0, 0,
                                                None, None, None, None, 0, 0, 0, 0))
        else:
            rows["pg_views"].append(("public", t.name, OWNER_NAME, None))
            rows["views"].append((database, "public", t.name, None, "NONE", "NO", "NO", "NO", "NO", "NO"))
        for n, c in enumerate(t.columns, start=1):
            _column_rows(ob, t, c, oid, n, database)

    for t in tables:
        oid = table_oid[t.name.lower()]
        if t.name.lower() in pk_index:
            ix_oid, ix_name = pk_index[t.name.lower()]
            _index_rows(ob, t, oid, ix_oid, ix_name, list(t.primary_key), unique=True, primary=True)
            nums = [_attnum(t, c) for c in t.primary_key]
            rows["pg_constraint"].append(_con_row(ix_oid + 1, ix_name, "p", oid, ix_oid, 0, nums, None))
            cols = ", ".join(quote_ident(c) for c in t.primary_key)
            helper["condef"].append((ix_oid + 1, f"PRIMARY KEY ({cols})"))
            rows["table_constraints"].append((database, "public", ix_name, database, "public", t.name, "PRIMARY KEY",
                                              "NO", "NO", "YES", None))
            for pos, pk_col in enumerate(t.primary_key, start=1):
                rows["key_column_usage"].append((database, "public", ix_name, database, "public", t.name, pk_col, pos,
                                                 None))
                rows["constraint_column_usage"].append((database, "public", t.name, pk_col, database, "public",
                                                        ix_name))
            rows["constraint_table_usage"].append((database, "public", t.name, database, "public", ix_name))
        for fk in t.foreign_keys:
            fk_name = names.foreign.get((t.name.lower(), tuple(c.lower() for c in fk.columns)))
            next_oid = _fk_rows(ob, t, fk, oid, table_oid, pk_index, next_oid, database, fk_name,
                                {x.name.lower(): x for x in tables})
    for ix in indexes:
        owner = next((x for x in tables if x.name.lower() == ix.table.lower()), None)
        if owner is None:
            continue
        _index_rows(ob, owner, table_oid[owner.name.lower()], extra_index_oid[ix.name], ix.name, ix.columns,
                    unique=ix.unique, primary=False)


def _attnum(t: TableInfo, col: str) -> int:
    low = col.lower()
    return next((i for i, c in enumerate(t.columns, start=1) if c.name.lower() == low), 0)


def _class_row(oid: int, name: str, ns: int, reltype: int, kind: str, natts: int, has_index: bool, *,
               pages: int = 0, tuples: float = -1.0, am: int = 2, triggers: bool = False) -> tuple[Any, ...]:
    return (oid, name, ns, reltype, 0, OWNER, am if kind in ("r", "i") else 0, oid if kind in ("r", "i") else 0, 0,
            pages, tuples, 0, 0, has_index, False, "p", kind, natts, 0, kind == "v", triggers, False, False, False, True,
            "d" if kind == "r" else "n", False, 0, 0, 0, None, None, None)


def _column_rows(ob: Objects, t: TableInfo, c: ColumnInfo, rel: int, num: int, database: str) -> None:
    rows = ob.rows
    pg = c.pg_type if c.pg_type in TYPES else "text"
    ty = TYPES[pg]
    typmod = typmod_of(c.type, pg)
    notnull = (not c.nullable) or c.primary_key
    collation = 100 if ty.category == "S" else 0
    storage = "p" if ty.length > 0 else ("m" if pg == "numeric" else "x")
    rows["pg_attribute"].append((rel, c.name, ty.oid, -1, ty.length, num, 1 if ty.elem_oid else 0, -1, typmod,
                                 ty.byval, ty.align, storage, "", notnull, False, False, "", "",
                                 False, True, 0, collation, None, None, None, None))
    if c.description:
        rows["pg_description"].append((rel, 1259, num, c.description))
    length = typmod - 4 if pg in ("varchar", "bpchar") and typmod > 0 else None
    precision, scale, radix = _numeric_facts(pg, typmod)
    data_type = "ARRAY" if ty.elem_oid else ty.display
    rows["columns"].append((
        database, "public", t.name, c.name, num, None, "NO" if notnull else "YES", data_type, length,
        length * 4 if length else (1073741824 if pg == "text" or (pg in ("varchar", "bpchar") and not length) else None),
        precision, radix, scale, 6 if pg in ("timestamp", "timestamptz", "time", "timetz") else (0 if pg == "date" else None),
        None, None, None, None, None, None, None, None, None, None, None, database, "pg_catalog", pg, None, None, None,
        None, str(num), "NO", "NO", None, None, None, None, None, "NO", "NEVER", None, "YES" if t.kind == "table" else "NO",
    ))


def _numeric_facts(pg: str, typmod: int) -> tuple[int | None, int | None, int | None]:
    if pg == "int2":
        return 16, 0, 2
    if pg == "int4":
        return 32, 0, 2
    if pg == "int8":
        return 64, 0, 2
    if pg == "float4":
        return 24, None, 2
    if pg == "float8":
        return 53, None, 2
    if pg == "numeric":
        if typmod > 0:
            mod = typmod - 4
            return mod >> 16, mod & 0xFFFF, 10
        return None, None, 10
    return None, None, None


def _index_rows(ob: Objects, t: TableInfo, rel: int, oid: int, name: str, columns: list[str], *, unique: bool,
                primary: bool) -> None:
    rows, helper = ob.rows, ob.helper
    ob.rel_oid[name.lower()] = oid
    ob.rel_name[oid] = name
    nums = [_attnum(t, c) for c in columns]
    rows["pg_class"].append(_class_row(oid, name, NS_PUBLIC, 0, "i", len(columns), False, am=403))
    rows["pg_index"].append((oid, rel, len(nums), len(nums), unique, False, primary, False, True, False, True, False,
                             True, True, False, nums, [0] * len(nums), [1978] * len(nums), [0] * len(nums), None, None))
    cols = ", ".join(quote_ident(c) for c in columns)
    ddl = (f"CREATE {'UNIQUE ' if unique else ''}INDEX {quote_ident(name)} ON public.{quote_ident(t.name)} "
           f"USING btree ({cols})")
    helper["indexdef"].append((oid, ddl))
    for n, c in enumerate(columns, start=1):
        helper["indexcol"].append((oid, n, quote_ident(c)))
        col = t.column(c)
        ty = TYPES.get(col.pg_type if col else "text") or TYPES["text"]
        rows["pg_attribute"].append((oid, c, ty.oid, -1, ty.length, n, 0, -1, -1, ty.byval, ty.align, "p", "", False,
                                     False, False, "", "", False, True, 0, 0, None, None, None, None))
    rows["pg_indexes"].append(("public", t.name, name, None, ddl))


def _con_row(oid: int, name: str, kind: str, rel: int, index: int, frel: int, key: list[int],
             fkey: list[int] | None) -> tuple[Any, ...]:
    fk = kind == "f"
    return (oid, name, NS_PUBLIC, kind, False, False, True, rel, 0, index, 0, frel, "a" if fk else " ",
            "a" if fk else " ", "s" if fk else " ", True, 0, True, key, fkey, [96] * len(key) if fk else None,
            [96] * len(key) if fk else None, [96] * len(key) if fk else None, None, None, None)


_RI_TRIGGERS = (("a", 1654, 9, "ref"), ("a", 1655, 17, "ref"), ("c", 1644, 5, "own"), ("c", 1645, 17, "own"))


def _fk_rows(ob: Objects, t: TableInfo, fk: ForeignKey, rel: int, table_oid: dict[str, int],
             pk_index: dict[str, tuple[int, str]], next_oid: int, database: str, fk_name: str | None,
             tables: dict[str, TableInfo]) -> int:
    rows, helper = ob.rows, ob.helper
    ref_oid = table_oid.get(fk.ref_table.lower(), 0)
    name = fk_name or f"{t.name}_{'_'.join(fk.columns)}_fkey"
    ref_info = tables.get(fk.ref_table.lower())
    ref_name = ref_info.name if ref_info else fk.ref_table
    nums = [_attnum(t, c) for c in fk.columns]
    ref_cols = list(fk.ref_columns) or (list(ref_info.primary_key) if ref_info else [])
    ref_nums = [_attnum(ref_info, c) for c in ref_cols] if ref_info else list(range(1, len(ref_cols) + 1))
    pk = pk_index.get(fk.ref_table.lower())
    rows["pg_constraint"].append(_con_row(next_oid, name, "f", rel, pk[0] if pk else 0, ref_oid, nums, ref_nums))
    # the four internal triggers PostgreSQL creates for a foreign key
    for i, (side, func, tgtype, on) in enumerate(_RI_TRIGGERS, start=1):
        tg_rel, other = (ref_oid, rel) if on == "ref" else (rel, ref_oid)
        rows["pg_trigger"].append((next_oid + i, tg_rel, 0, f"RI_ConstraintTrigger_{side}_{next_oid + i}", func,
                                   tgtype, "O", True, other, pk[0] if pk else 0, next_oid, False, False, 0, [], b"",
                                   None, None, None))
    local = ", ".join(quote_ident(c) for c in fk.columns)
    remote = ", ".join(quote_ident(c) for c in ref_cols)
    helper["condef"].append((next_oid, f"FOREIGN KEY ({local}) REFERENCES {quote_ident(ref_name)}({remote})"))
    rows["table_constraints"].append((database, "public", name, database, "public", t.name, "FOREIGN KEY", "NO",
                                      "NO", "YES", None))
    rows["referential_constraints"].append((database, "public", name, database, "public",
                                            pk[1] if pk else None, "NONE", "NO ACTION", "NO ACTION"))
    for pos, c in enumerate(fk.columns, start=1):
        rows["key_column_usage"].append((database, "public", name, database, "public", t.name, c, pos, pos))
    for c in ref_cols:
        rows["constraint_column_usage"].append((database, "public", ref_name, c, database, "public", name))
    rows["constraint_table_usage"].append((database, "public", ref_name, database, "public", name))
    return next_oid + 1 + len(_RI_TRIGGERS)


def _catalog_relations(ob: Objects) -> None:
    """pg_class/pg_attribute rows for the catalog's own relations."""
    rows = ob.rows
    next_oid = 12100
    for schema_oid, tables in ((NS_CATALOG, {**PG_TABLES, **SESSION_TABLES}), (NS_INFO, IS_TABLES)):
        for name, cols in tables.items():
            oid = WELL_KNOWN_OIDS.get(name) if schema_oid == NS_CATALOG else None
            if oid is None:
                oid = next_oid
                next_oid += 1
            kind = "v" if schema_oid == NS_INFO or name in ("pg_roles", "pg_user", "pg_tables", "pg_views",
                                                            "pg_indexes", "pg_matviews", "pg_sequences",
                                                            "pg_settings", "pg_stat_activity", "pg_locks",
                                                            "pg_stat_user_tables", "pg_prepared_statements",
                                                            "pg_available_extensions", "pg_timezone_names") else "r"
            rows["pg_class"].append(_class_row(oid, name, schema_oid, 0, kind, len(cols), False))
            if schema_oid == NS_CATALOG:
                ob.rel_oid.setdefault(name, oid)
                ob.rel_oid.setdefault(f"pg_catalog.{name}", oid)
            else:
                ob.rel_oid.setdefault(f"information_schema.{name}", oid)
            ob.rel_name.setdefault(oid, name)
            for n, (col, pg) in enumerate(cols, start=1):
                ty = TYPES.get(pg) or TYPES["text"]
                rows["pg_attribute"].append((oid, col, ty.oid, -1, ty.length, n, 0, -1, -1, ty.byval, ty.align, "p",
                                             "", False, False, False, "", "", False, True, 0, 0, None, None, None,
                                             None))


def catalog_schema() -> SchemaInfo:
    """The catalog's own relations as a schema (for parameter types of catalog queries)."""
    tables = []
    for name, cols in [*PG_TABLES.items(), *SESSION_TABLES.items(), *IS_TABLES.items()]:
        tables.append(TableInfo(name, [ColumnInfo(c, t, t) for c, t in cols]))
    return SchemaInfo("pg_catalog", "duckdb", tables)


def type_display(oid: int) -> str | None:
    t = BY_OID.get(oid)
    return t.display if t else None


__all__ = ["build_rows", "quote_ident", "IndexInfo", "ConstraintNames", "catalog_schema"]
