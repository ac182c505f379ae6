"""Which statements the shadow catalog answers, and how they are rewritten for it.

:func:`references_catalog` routes a statement to the catalog when it names a catalog
relation or calls a catalog function; :func:`to_catalog_sql` rewrites it for the shadow's
DuckDB: relation names (``pg_catalog.pg_class`` -> ``pgc.pg_class``, session relations
to the cursor's temporary tables), ``OPERATOR(pg_catalog.~)`` (case-insensitive, so
psql's ``\\d album`` pattern finds ``Album``), ``::regclass``/``::regtype``/``::oid``
casts (names where PostgreSQL shows names, OIDs where it compares), 0-based
``int2vector`` subscripts, ``'{...}'`` array literals, functions to their ``pgc_`` macros.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

from gateway import catalog_tables as ct
from gateway.catalog_macros import CATALOG_FUNCTIONS, CATALOG_TABLE_FUNCTIONS, SCALAR_MACROS, TABLE_MACROS
from gateway.errors import FeatureNotSupported, UndefinedTable
from gateway.sqltree import fn, post_transform
from gateway.translate import to_backend

if TYPE_CHECKING:
    from gateway.catalog import ShadowCatalog

_REG_TYPES = {"regclass", "regtype", "regnamespace", "regproc", "regprocedure", "regrole", "regoper", "oid"}
_SCALAR_IN_FROM = {"string_to_array", "regexp_split_to_array", "current_schemas", "parse_ident"}
_RENAMED = {"json_build_object": "json_object", "jsonb_build_object": "json_object", "json_agg": "json_group_array",
            "jsonb_agg": "json_group_array", "to_json": "to_json", "row_to_json": "to_json"}

def _ident_parts(text: str) -> list[str]:
    """``parse_ident``: ``public."Album"`` -> ``['public', 'Album']``."""
    parts = re.findall(r'"((?:[^"]|"")*)"|([^."]+)', text.strip())
    return [q.replace('""', '"') if q else u.strip().lower() for q, u in parts if (q or u.strip())]


# --- routing -------------------------------------------------------------------------------


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
                    name in ct.PG_TABLES or name in ct.SESSION_TABLES):
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


def to_catalog_sql(tree: exp.Expr, shadow: "ShadowCatalog") -> tuple[str, list[int], set[str]]:
    """The DuckDB SQL that answers ``tree`` on the shadow, the parameter order, and the
    per-session relations it reads."""
    tree = tree.copy()
    session_tables: set[str] = set()
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}

    # ``alias.tableoid`` (a system column): the OID of the catalog relation behind alias
    tableoids = {(t.alias or t.name).lower(): ct.WELL_KNOWN_OIDS.get(t.name.lower(), 0)
                 for t in tree.find_all(exp.Table) if isinstance(t.this, exp.Identifier)}
    for col in list(tree.find_all(exp.Column)):
        if col.name.lower() == "tableoid" and col.table.lower() in tableoids:
            col.replace(exp.Literal.number(tableoids[col.table.lower()]))
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
        if name not in ct.IS_TABLES:
            raise UndefinedTable(f'relation "information_schema.{table.name}" does not exist')
        table.set("db", exp.to_identifier("pgis"))
        table.set("this", exp.to_identifier(name))
        if table.args.get("alias") is None:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
        return
    if db == "pg_catalog" or (not db and name not in ctes and (name in ct.PG_TABLES or name in ct.SESSION_TABLES)):
        if name in ct.SESSION_TABLES:
            session_tables.add(name)
            table.set("catalog", exp.to_identifier("temp"))
            table.set("db", exp.to_identifier("main"))
        elif name in ct.PG_TABLES:
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


def _rewrite_node(node: exp.Expr, shadow: "ShadowCatalog") -> exp.Expr:  # noqa: C901 - one rule each
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier) \
            and node.this.name.lower() in ("pg_catalog", "information_schema") and isinstance(node.expression, exp.Func):
        return _rewrite_node(node.expression, shadow)
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Paren) and isinstance(node.this.this, exp.Anonymous) \
            and str(node.this.this.this).lower() in ("_pg_expandarray", "pgc__pg_expandarray") \
            and node.this.this.expressions:
        # (information_schema._pg_expandarray(a)).n / .x: PostgreSQL's set-returning pairs
        arg = node.this.this.expressions[0]
        if node.expression.name.lower() == "n":
            return fn("unnest", fn("generate_series", exp.Literal.number(1), fn("len", arg)))
        return fn("unnest", arg)
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
        return fn("pgc_current_schemas", node.this or exp.false())
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
    if isinstance(node, exp.Bracket) and isinstance(node.this, exp.Column) and node.this.name in ct.VECTOR_COLUMNS:
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


def _rewrite_cast(node: exp.Cast, shadow: "ShadowCatalog") -> exp.Expr:
    kind = _type_name(node.to)
    value = node.this
    literal = value.this if isinstance(value, exp.Literal) else None
    if kind in ("regclass", "regtype", "regnamespace", "regrole"):
        if literal is not None:
            resolve = {"regclass": shadow.regclass, "regtype": shadow.regtype, "regnamespace": shadow.regnamespace,
                       "regrole": shadow.regrole}[kind]
            value = exp.Literal.number(resolve(str(literal)))
        elif not isinstance(value, (exp.Column, exp.Cast)) and kind in ("regclass", "regtype"):
            value = fn(f"pgc_to_{kind}", value)  # text -> oid
        if _display_context(node):
            return fn(f"pgc_{kind}_out", value)
        return value
    if kind in ("regproc", "regprocedure", "regoper"):
        if literal is not None and isinstance(value, exp.Literal) and value.is_string:
            name = str(literal).split(".")[-1].split("(")[0].strip().strip('"')
            if isinstance(node.parent, exp.Cast) and _type_name(node.parent.to) == "oid":
                return exp.Literal.number(shadow.regproc(name))
            return exp.Literal.string(name)  # regproc columns here hold function names
        return value
    if kind == "oid":
        return exp.Cast(this=value, to=exp.DataType.build("BIGINT"))
    if kind in ("name", "char", "text", "varchar", "bpchar"):
        return exp.Cast(this=value, to=exp.DataType.build("VARCHAR"))
    if kind == "int2vector":
        return exp.Cast(this=value, to=exp.DataType.build("SMALLINT[]", dialect="duckdb"))
    if kind in ("oidvector", "_oid", "_regtype", "_regclass", "_regproc"):  # ``::oid[]`` (gateway.translate.parse)
        return exp.Cast(this=value, to=exp.DataType.build("BIGINT[]", dialect="duckdb"))
    if isinstance(node.to, exp.DataType) and node.to.this == exp.DType.USERDEFINED:
        kind_node = node.to.args.get("kind")
        if isinstance(kind_node, exp.Dot):
            try:
                return exp.Cast(this=value, to=exp.DataType.build(kind_node.expression.name, dialect="postgres"))
            except sqlglot.errors.ParseError:
                return node
    return node
