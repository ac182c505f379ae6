"""PostgreSQL SQL in, SQLite or DuckDB SQL out (sqlglot, ``read="postgres"``).

sqlglot does most of the work; the transforms here cover what it leaves to the
backend and what PostgreSQL clients rely on: ``$n`` parameters (order-aware, repeats
allowed) rewritten to ``?``, PostgreSQL's output column names (``count``, ``?column?``),
``E''`` strings, and for SQLite ``extract``, ``date_trunc``, interval arithmetic,
``left``/``right``, ``concat``, ``lpad``/``rpad``, ``generate_series``, ``serial``.
Identifiers keep their spelling: SQLite and DuckDB match names case-insensitively, so
``select * from album`` finds ``Album``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import NoReturn

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from connectors.base import Dialect
from gateway.casts import check_literal_cast
from gateway.dialects import INT_TYPES, ISO_STAMP, WRITERS, Typer, for_duckdb, for_sqlite, similar_to_regex
from gateway.errors import FeatureNotSupported, PgError, SyntaxError_
from gateway.params import PARAM_MARK
from gateway.pgtypes import normalize
from gateway.sqltree import post_transform

__all__ = ["ISO_STAMP", "post_transform", "parse", "to_backend", "statement_info", "command_tag"]

# sqlglot warns on stderr for every statement it keeps as an opaque Command (EXPLAIN...)
logging.getLogger("sqlglot").setLevel(logging.ERROR)

_MARK = PARAM_MARK
_MARK_RE = re.compile(r"[:$@]" + _MARK + r"(\d+)")


_KEYWORD_ALIAS = re.compile(
    r"(\bAS\s+)(select|insert|update|delete|table|from|where|group|order|limit|offset|user|default|all|check|"
    r"column|to|end|when|then|else|case|primary|references|window|with|having|union|desc|asc|both|only)\b(?!\s*\()",
    re.IGNORECASE,
)


_OID_ARRAY = re.compile(r"::\s*(?:pg_catalog\.)?(oid|regtype|regclass|regproc)\s*\[\s*\]", re.IGNORECASE)


def parse(sql: str) -> exp.Expr:
    """Parse one PostgreSQL statement; sqlglot errors become 42601 with the position."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except ParseError as first:
        # PostgreSQL accepts any keyword as a column alias after AS (``AS select``); sqlglot
        # reads ``::oid[]`` (asyncpg's type introspection) as subscripting: PostgreSQL's own
        # name for the array type, ``_oid``, parses
        retry = _KEYWORD_ALIAS.sub(lambda m: f'{m.group(1)}"{m.group(2).lower()}"', sql)
        retry = _OID_ARRAY.sub(lambda m: f"::_{m.group(1).lower()}", retry)
        if retry == sql:
            _parse_error(sql, first)
        try:
            tree = sqlglot.parse_one(retry, read="postgres")
        except (ParseError, TokenError):
            _parse_error(sql, first)
    except TokenError as e:
        raise SyntaxError_(f"syntax error: {e}") from e
    if tree is None:
        raise SyntaxError_("empty statement")
    return tree


def _parse_error(sql: str, e: ParseError) -> NoReturn:
    err = e.errors[0] if e.errors else {}
    near = (err.get("highlight") or "").strip()
    msg = f'syntax error at or near "{near}"' if near else "syntax error"
    raise SyntaxError_(msg, detail=str(e).splitlines()[0][:300],
                       context={"line": err.get("line"), "col": err.get("col"),
                                "position": _position(sql, err.get("line"), err.get("col"))}) from e


def _position(sql: str, line: int | None, col: int | None) -> int | None:
    if not line or col is None:
        return None
    lines = sql.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + max(col, 1) - 1 + 1


# --- statement facts ---------------------------------------------------------------------

_CREATE_KINDS = {"TABLE", "VIEW", "INDEX", "SCHEMA", "SEQUENCE", "FUNCTION", "DATABASE", "TYPE", "MACRO", "TRIGGER"}


@dataclass
class StatementInfo:
    """What a statement is: its command tag verb, whether it returns rows, whether it
    changes the schema (the catalog must be rebuilt) or data."""

    verb: str  # SELECT, INSERT, UPDATE, DELETE, CREATE TABLE, ...
    returns_rows: bool
    is_ddl: bool = False
    is_write: bool = False


def statement_info(tree: exp.Expr) -> StatementInfo:
    node = tree
    if isinstance(node, (exp.Select, exp.SetOperation, exp.Values)):
        return StatementInfo("SELECT", True)
    if isinstance(node, exp.Insert):
        return StatementInfo("INSERT", node.args.get("returning") is not None, is_write=True)
    if isinstance(node, exp.Update):
        return StatementInfo("UPDATE", node.args.get("returning") is not None, is_write=True)
    if isinstance(node, exp.Delete):
        return StatementInfo("DELETE", node.args.get("returning") is not None, is_write=True)
    if isinstance(node, exp.Merge):
        return StatementInfo("MERGE", False, is_write=True)
    if isinstance(node, exp.Create):
        kind = str(node.args.get("kind") or "TABLE").upper()
        if kind == "TABLE" and node.args.get("expression") is not None:
            return StatementInfo("SELECT", False, is_ddl=True, is_write=True)  # CREATE TABLE AS: tag SELECT n
        verb = f"CREATE {kind}" if kind in _CREATE_KINDS else "CREATE"
        return StatementInfo(verb, False, is_ddl=True, is_write=True)
    if isinstance(node, exp.Drop):
        kind = str(node.args.get("kind") or "TABLE").upper()
        return StatementInfo(f"DROP {kind}", False, is_ddl=True, is_write=True)
    if isinstance(node, exp.Alter):
        kind = str(node.args.get("kind") or "TABLE").upper()
        return StatementInfo(f"ALTER {kind}", False, is_ddl=True, is_write=True)
    if isinstance(node, exp.TruncateTable):
        return StatementInfo("TRUNCATE TABLE", False, is_write=True)
    if isinstance(node, exp.Describe):
        return StatementInfo("SELECT", True)
    if isinstance(node, exp.Command):
        word = str(node.this).upper()
        rest = str(node.expression or "").strip().upper()
        if word == "EXPLAIN":
            return StatementInfo("EXPLAIN", True)
        if word in ("CREATE", "DROP", "ALTER"):
            second = rest.split(" ", 1)[0] if rest else ""
            verb = f"{word} {second}" if second in _CREATE_KINDS else word
            return StatementInfo(verb, False, is_ddl=True, is_write=True)
        if word in ("ANALYZE", "VACUUM", "REINDEX", "CLUSTER", "COMMENT", "GRANT", "REVOKE"):
            return StatementInfo(word, False, is_ddl=word == "COMMENT")
        return StatementInfo(word, False)
    if isinstance(node, exp.Pragma):
        return StatementInfo("SELECT", True)
    return StatementInfo(type(node).__name__.upper(), False)


def command_tag(info: StatementInfo, rowcount: int) -> str:
    if info.verb == "INSERT":
        return f"INSERT 0 {rowcount}"
    if info.verb in ("SELECT", "UPDATE", "DELETE", "MERGE", "FETCH", "MOVE", "COPY"):
        return f"{info.verb} {rowcount}"
    return info.verb


# --- PostgreSQL output names --------------------------------------------------------------

_PG_FUNC_NAMES = {
    exp.CurrentTimestamp: "now",
    exp.CurrentDate: "current_date",
    exp.CurrentTime: "current_time",
    exp.CurrentUser: "current_user",
    exp.SessionUser: "session_user",
    exp.CurrentSchema: "current_schema",
    exp.CurrentDatabase: "current_database",
    exp.CurrentCatalog: "current_catalog",
    exp.Extract: "extract",
    exp.Case: "case",
    exp.Coalesce: "coalesce",
    exp.Greatest: "greatest",
    exp.Least: "least",
    exp.Nullif: "nullif",
    exp.Exists: "exists",
    exp.Array: "array",
    exp.TimestampTrunc: "date_trunc",
    exp.DateTrunc: "date_trunc",
    exp.Substring: "substring",
    exp.StrPosition: "strpos",
    exp.ArrayAgg: "array_agg",
    exp.GroupConcat: "string_agg",
    exp.Count: "count",
    exp.Interval: "interval",
    exp.CurrentVersion: "version",
}


def pg_output_name(node: exp.Expr) -> str:
    """The column name PostgreSQL gives an unaliased select-list expression."""
    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Paren):
        return pg_output_name(node.this)
    if isinstance(node, exp.Cast):
        inner = pg_output_name(node.this)
        if inner != "?column?":
            return inner
        return normalize(node.to.sql("postgres")) if isinstance(node.to, exp.DataType) else "?column?"
    if isinstance(node, exp.Boolean):
        return "bool"
    if isinstance(node, exp.Window):
        return pg_output_name(node.this)
    if isinstance(node, exp.Subquery):
        inner = node.this
        if isinstance(inner, exp.Select) and inner.expressions:
            return pg_output_name(inner.expressions[0])
        return "?column?"
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
        return pg_output_name(node.expression)
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.RegexpLike) and node.args.get("flag") is not None:
        return "regexp_like"
    if isinstance(node, exp.Binary) and isinstance(node, exp.Func):
        # an operator (->, ~) or a call (power): named by its own spelling, not its operands'
        node = type(node)(this=exp.column("a"), expression=exp.column("b"))
    for cls, name in _PG_FUNC_NAMES.items():
        if isinstance(node, cls):
            return name
    if isinstance(node, exp.Func):
        text = node.sql("postgres")
        m = re.match(r"([A-Za-z_][A-Za-z_0-9]*)\s*\(", text)
        if m:
            return m.group(1).lower()
    return "?column?"


def add_pg_output_names(tree: exp.Expr) -> None:
    """Alias the outermost select list's unaliased expressions the way PostgreSQL names
    them, so that ``select count(*)`` gives a column ``count`` on every backend."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    new: list[exp.Expr] = []
    changed = False
    for e in select.expressions:
        if isinstance(e, (exp.Alias, exp.Column, exp.Star)) or (isinstance(e, exp.Dot) and not isinstance(e.expression, exp.Func)):
            new.append(e)
            continue
        name = pg_output_name(e)
        new.append(exp.alias_(e, exp.to_identifier(name, quoted=True)))
        changed = True
    if changed:
        select.set("expressions", new)


# --- parameters ----------------------------------------------------------------------------


def parameter_numbers(tree: exp.Expr) -> list[int]:
    """The ``$n`` numbers used in ``tree`` (1-based, repeats kept, in text order)."""
    marked = tree.copy()
    _mark_parameters(marked)
    return [int(m.group(1)) for m in _MARK_RE.finditer(marked.sql("duckdb"))]


def param_number(p: exp.Parameter) -> int | None:
    """``$n`` as ``n`` (``None``: not a numbered parameter)."""
    this = p.this
    if isinstance(this, exp.Literal) and not this.is_string:
        return int(this.this)
    if isinstance(this, (exp.Var, exp.Identifier)) and str(this.this).isdigit():
        return int(this.this)
    return None


def _mark_parameters(tree: exp.Expr) -> None:
    for p in list(tree.find_all(exp.Parameter)):
        n = param_number(p)
        if n is not None:
            p.replace(exp.Placeholder(this=f"{_MARK}{n}"))


# --- the translation -----------------------------------------------------------------------


@dataclass
class BackendSQL:
    """A statement ready for a backend: ``sql`` with ``?`` placeholders; the i-th ``?``
    takes the client's parameter ``param_order[i]`` (0-based). ``pre`` statements run
    first (a sequence for a ``serial`` column)."""

    sql: str
    param_order: list[int] = field(default_factory=list)
    pre: list[str] = field(default_factory=list)

    def bind(self, params: list[object] | tuple[object, ...]) -> list[object]:
        return [params[i] for i in self.param_order]




def literal_type(node: exp.Expr) -> str | None:
    """The type of a literal (the default :data:`Typer`, when no schema is known)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal) and not node.is_string:
        return "numeric" if any(c in str(node.this) for c in ".eE") else "int4"
    if isinstance(node, exp.Neg):
        return literal_type(node.this)
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Mod)):
        a, b = literal_type(node.this), literal_type(node.expression)
        return "int8" if a in INT_TYPES and b in INT_TYPES else None
    if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType):
        return normalize(node.to.sql("postgres"))
    return None


def to_backend(tree: exp.Expr, dialect: Dialect, *, output_names: bool = True, typer: Typer | None = None) -> BackendSQL:
    """Translate a parsed PostgreSQL statement (not modified) for ``dialect``. ``typer``
    gives the PostgreSQL type of an expression where the schema knows it (integer
    division in DuckDB needs it)."""
    tree = tree.copy()
    if output_names:
        add_pg_output_names(tree)
    _mark_parameters(tree)
    pre: list[str] = []
    tree = _common(tree)
    if dialect == "sqlite":
        tree = for_sqlite(tree, typer or literal_type)
    else:
        tree, pre = for_duckdb(tree, typer or literal_type)
    try:
        sql = tree.sql(dialect=WRITERS[dialect], unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as e:
        raise FeatureNotSupported(f"not supported on {dialect}: {e}") from e
    order: list[int] = []

    def repl(m: re.Match[str]) -> str:
        order.append(int(m.group(1)) - 1)
        return "?"

    sql = _MARK_RE.sub(repl, sql)
    return BackendSQL(sql, order, pre)


def _common(tree: exp.Expr) -> exp.Expr:
    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and node.db.lower() == "public" and isinstance(node.this, exp.Identifier):
            node.set("db", None)  # PostgreSQL's default schema is the backend's only one
            node.set("catalog", None)
            return node
        if isinstance(node, exp.Column) and node.args.get("db") is not None and node.args["db"].name.lower() == "public":
            node.set("db", None)
            node.set("catalog", None)
            return node
        if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier) \
                and node.this.name.lower() == "pg_catalog" and isinstance(node.expression, exp.Func):
            try:  # pg_catalog.lower(x): the built-in, typed again for the generator
                return sqlglot.parse_one(node.expression.sql("postgres"), read="postgres")
            except ParseError:
                return node.expression
        if isinstance(node, exp.ByteString):  # E'...' escape strings: plain text once parsed
            return exp.Literal.string(str(node.this))
        if isinstance(node, (exp.Like, exp.ILike)) and not isinstance(node.parent, exp.Escape):
            pattern = node.expression
            if isinstance(pattern, exp.Literal) and pattern.is_string and "\\" in str(pattern.this):
                # PostgreSQL's LIKE escapes with a backslash by default; SQLite's and DuckDB's do not
                return exp.Escape(this=node.copy(), expression=exp.Literal.string("\\"))
        if isinstance(node, exp.Collate) and "default" in node.expression.sql().lower():
            return node.this
        if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType) and node.to.this == exp.DType.VARCHAR \
                and len(node.to.expressions) == 1 and str(node.to.expressions[0].this).isdigit():
            # an explicit cast to varchar(n) cuts the text to n characters (SQLite and DuckDB keep it whole)
            length = int(str(node.to.expressions[0].this))
            value = node.this
            if isinstance(value, exp.Literal) and value.is_string:
                node.set("this", exp.Literal.string(str(value.this)[:length]))
                return node
            return exp.Substring(this=exp.cast(value, "TEXT"), start=exp.Literal.number(1),
                                 length=exp.Literal.number(length))
        if isinstance(node, exp.Cast):
            return check_literal_cast(node)
        if isinstance(node, exp.GenerateSeries):
            step = node.args.get("step")
            if isinstance(step, exp.Literal) and not step.is_string and float(str(step.this)) == 0:
                raise PgError("step size cannot equal zero", sqlstate="22023")
        if isinstance(node, exp.SimilarTo):
            pattern = node.expression
            if not (isinstance(pattern, exp.Literal) and pattern.is_string) or node.args.get("escape") is not None:
                raise FeatureNotSupported("SIMILAR TO is supported with a constant pattern and no ESCAPE clause")
            return exp.RegexpLike(this=node.this, expression=exp.Literal.string(similar_to_regex(str(pattern.this))))
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "every" and len(node.expressions) == 1:
            return exp.LogicalAnd(this=node.expressions[0])  # every(x) is bool_and(x)
        if isinstance(node, exp.Select):
            _check_order_positions(node)
        return node

    return post_transform(tree, fix)


def _check_order_positions(select: exp.Select) -> None:
    """``ORDER BY 5`` past the select list: PostgreSQL's 42P10 (the backends word it otherwise)."""
    order = select.args.get("order")
    if order is None or any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
                            for e in select.expressions):
        return
    for item in order.expressions:
        key = item.this if isinstance(item, exp.Ordered) else item
        if isinstance(key, exp.Literal) and not key.is_string and str(key.this).isdigit() \
                and not 1 <= int(str(key.this)) <= len(select.expressions):
            raise PgError(f"ORDER BY position {key.this} is not in select list", sqlstate="42P10")
