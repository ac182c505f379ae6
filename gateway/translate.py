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

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import ParseError, TokenError

from connectors.base import Dialect
from gateway.errors import FeatureNotSupported, PgError, SyntaxError_
from gateway.pgtypes import normalize


class AskSQLite(SQLite):
    """SQLite output that keeps PostgreSQL's declared type names in DDL (so that
    introspection gives them back: ``VARCHAR(20)``, ``BOOLEAN``, ``NUMERIC(10,2)``), and
    quotes identifiers with backticks: SQLite reads a double-quoted name that matches no
    column as a string literal (``SELECT "NoSuchColumn"`` would return text, not 42703)."""

    class Generator(SQLite.Generator):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._identifier_start = "`"
            self._identifier_end = "`"
            self._escaped_identifier_end = "``"

        TYPE_MAPPING = {
            **SQLite.Generator.TYPE_MAPPING,
            exp.DType.VARCHAR: "VARCHAR",
            exp.DType.NVARCHAR: "NVARCHAR",
            exp.DType.CHAR: "CHAR",
            exp.DType.NCHAR: "NCHAR",
            exp.DType.DECIMAL: "NUMERIC",
            exp.DType.BOOLEAN: "BOOLEAN",
            exp.DType.BIGINT: "BIGINT",
            exp.DType.SMALLINT: "SMALLINT",
            exp.DType.DOUBLE: "DOUBLE",
            exp.DType.FLOAT: "REAL",
        }


class AskDuckDB(DuckDB):
    """DuckDB output; identical to sqlglot's for now, a place for overrides."""


WRITERS: dict[str, type[sqlglot.Dialect]] = {"sqlite": AskSQLite, "duckdb": AskDuckDB}

_MARK = "askgres_p"
_MARK_RE = re.compile(r"[:$@]" + _MARK + r"(\d+)")


_KEYWORD_ALIAS = re.compile(
    r"(\bAS\s+)(select|insert|update|delete|table|from|where|group|order|limit|offset|user|default|all|check|"
    r"column|to|end|when|then|else|case|primary|references|window|with|having|union|desc|asc|both|only)\b(?!\s*\()",
    re.IGNORECASE,
)


def parse(sql: str) -> exp.Expr:
    """Parse one PostgreSQL statement; sqlglot errors become 42601 with the position."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except ParseError as first:
        # PostgreSQL accepts any keyword as a column alias after AS (``AS select``)
        retry = _KEYWORD_ALIAS.sub(lambda m: f'{m.group(1)}"{m.group(2).lower()}"', sql)
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


def post_transform(tree: exp.Expr, fn: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
    """Apply ``fn`` to every node, children first (sqlglot's ``transform`` does not visit
    the children of a node it replaced). Returns the new root."""
    stack: list[tuple[exp.Expr, bool]] = [(tree, False)]
    root = tree
    while stack:
        node, visited = stack.pop()
        if not visited:
            stack.append((node, True))
            stack.extend((child, False) for child in node.iter_expressions())
            continue
        new = fn(node)
        if new is not node:
            if node is root:
                root = new
            else:
                node.replace(new)
    return root


def _param_number(p: exp.Parameter) -> int | None:
    this = p.this
    if isinstance(this, exp.Literal) and not this.is_string:
        return int(this.this)
    if isinstance(this, (exp.Var, exp.Identifier)) and str(this.this).isdigit():
        return int(this.this)
    return None


def _mark_parameters(tree: exp.Expr) -> None:
    for p in list(tree.find_all(exp.Parameter)):
        n = _param_number(p)
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


Typer = Callable[[exp.Expr], "str | None"]
_INT_TYPES = {"int2", "int4", "int8"}


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
        return "int8" if a in _INT_TYPES and b in _INT_TYPES else None
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
        tree = _for_sqlite(tree)
    else:
        tree, pre = _for_duckdb(tree, typer or literal_type)
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
        return node

    return post_transform(tree, fix)


# --- SQLite ------------------------------------------------------------------------------

_STRFTIME_PART = {
    "YEAR": "%Y", "MONTH": "%m", "DAY": "%d", "HOUR": "%H", "MINUTE": "%M", "DOY": "%j", "DAYOFYEAR": "%j",
    "DOW": "%w", "DAYOFWEEK": "%w", "EPOCH": "%s", "WEEK": "%W",
}
_TRUNC_FORMAT = {
    "YEAR": "%Y-01-01 00:00:00", "MONTH": "%Y-%m-01 00:00:00", "DAY": "%Y-%m-%d 00:00:00",
    "HOUR": "%Y-%m-%d %H:00:00", "MINUTE": "%Y-%m-%d %H:%M:00", "SECOND": "%Y-%m-%d %H:%M:%S",
}
_INTERVAL_UNITS = {
    "YEAR": "years", "YEARS": "years", "MONTH": "months", "MONTHS": "months", "DAY": "days", "DAYS": "days",
    "HOUR": "hours", "HOURS": "hours", "MINUTE": "minutes", "MINUTES": "minutes", "SECOND": "seconds",
    "SECONDS": "seconds", "WEEK": "weeks", "WEEKS": "weeks",
}


def _fn(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _unit(node: exp.Expr) -> str:
    unit = node.args.get("unit")
    text = unit.name if isinstance(unit, (exp.Var, exp.Literal, exp.Identifier)) else str(unit or "")
    return text.upper().strip("'")


def _interval_modifier(iv: exp.Interval, sign: str) -> exp.Expr | None:
    """``INTERVAL '2' HOURS`` -> ``'+2 hours'`` (SQLite datetime modifier)."""
    value = iv.this
    unit = iv.args.get("unit")
    unit_name = unit.name.upper() if unit is not None else ""
    if isinstance(value, exp.Literal):
        text = str(value.this).strip()
        if not unit_name:
            parts = text.split()
            if len(parts) == 2:
                text, unit_name = parts[0], parts[1].upper()
        word = _INTERVAL_UNITS.get(unit_name)
        if word is None:
            return None
        if word == "weeks":
            try:
                text, word = str(float(text) * 7).removesuffix(".0"), "days"
            except ValueError:
                return None
        if text.startswith("-"):
            sign, text = ("+" if sign == "-" else "-"), text[1:]
        return exp.Literal.string(f"{sign}{text} {word}")
    return None


_ISO_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?")


def _sqlite_stamp(text: str) -> str | None:
    """``2009-01-01T00:00:00Z`` -> ``2009-01-01 00:00:00``: SQLite compares timestamps as
    text, stored the way its ``datetime()`` writes them (UTC, a space before the time)."""
    m = _ISO_STAMP.fullmatch(text.strip())
    if not m:
        return None
    import datetime as dt

    time_part = m.group(2) if m.group(2).count(":") == 2 else m.group(2) + ":00"
    try:
        stamp = dt.datetime.fromisoformat(f"{m.group(1)} {time_part}{'+00:00' if m.group(3) == 'Z' else (m.group(3) or '')}")
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return stamp.isoformat(sep=" ")


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In)


def _for_sqlite(tree: exp.Expr) -> exp.Expr:
    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Literal) and node.is_string and isinstance(node.parent, _COMPARISONS):
            stamp = _sqlite_stamp(str(node.this))
            if stamp is not None:
                return exp.Literal.string(stamp)
        if isinstance(node, exp.Extract):
            part = node.this.name.upper() if isinstance(node.this, (exp.Var, exp.Identifier)) else str(node.this).upper()
            value = node.expression
            if part == "QUARTER":
                month = exp.cast(_fn("STRFTIME", exp.Literal.string("%m"), value), "INTEGER")
                return exp.paren(exp.Div(this=exp.paren(exp.Add(this=month, expression=exp.Literal.number(2))),
                                         expression=exp.Literal.number(3), typed=True))
            if part == "SECOND":
                return exp.cast(_fn("STRFTIME", exp.Literal.string("%f"), value), "REAL")
            fmt = _STRFTIME_PART.get(part)
            if fmt is None:
                raise FeatureNotSupported(f"extract({part.lower()} from ...) is not supported on SQLite")
            return exp.cast(_fn("STRFTIME", exp.Literal.string(fmt), value), "INTEGER")
        if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
            unit = _unit(node)
            value = node.this
            if unit == "WEEK":
                return _fn("DATETIME", value, exp.Literal.string("weekday 0"), exp.Literal.string("-6 days"),
                           exp.Literal.string("start of day"))
            if unit == "QUARTER":
                year = _fn("STRFTIME", exp.Literal.string("%Y"), value)
                month = exp.cast(_fn("STRFTIME", exp.Literal.string("%m"), value), "INTEGER")
                qmonth = exp.Add(this=exp.Mul(this=exp.paren(exp.Div(this=exp.paren(exp.Sub(this=month, expression=exp.Literal.number(1))), expression=exp.Literal.number(3), typed=True)), expression=exp.Literal.number(3)), expression=exp.Literal.number(1))
                padded = _fn("PRINTF", exp.Literal.string("%s-%02d-01 00:00:00"), year, qmonth)
                return padded
            fmt = _TRUNC_FORMAT.get(unit)
            if fmt is None:
                raise FeatureNotSupported(f"date_trunc('{unit.lower()}', ...) is not supported on SQLite")
            return _fn("STRFTIME", exp.Literal.string(fmt), value)
        if isinstance(node, exp.Left):
            return _fn("SUBSTR", node.this, exp.Literal.number(1), node.expression)
        if isinstance(node, exp.Right):
            return _fn("SUBSTR", node.this, exp.Neg(this=node.expression))
        if isinstance(node, (exp.Concat, exp.ConcatWs)) and not isinstance(node, exp.ConcatWs):
            parts = [exp.Coalesce(this=exp.cast(a, "TEXT"), expressions=[exp.Literal.string("")]) for a in node.expressions]
            out: exp.Expr = parts[0] if parts else exp.Literal.string("")
            for p in parts[1:]:
                out = exp.DPipe(this=out, expression=p)
            return exp.paren(out)
        if isinstance(node, exp.Pad):
            return _pad(node)
        if isinstance(node, (exp.Add, exp.Sub)):
            sign = "+" if isinstance(node, exp.Add) else "-"
            left, right = node.this, node.expression
            if isinstance(right, exp.Interval):
                mod = _interval_modifier(right, sign)
                if mod is not None:
                    return _fn("DATETIME", left, mod)
            if isinstance(left, exp.Interval) and sign == "+":
                mod = _interval_modifier(left, "+")
                if mod is not None:
                    return _fn("DATETIME", right, mod)
        if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType):
            t = node.to.this
            if t in (exp.DType.TIMESTAMP, exp.DType.TIMESTAMPTZ, exp.DType.DATETIME):
                if isinstance(node.this, exp.Placeholder):  # the connector binds datetimes as ISO text
                    return node.this
                if isinstance(node.this, exp.Literal) and node.this.is_string:
                    stamp = _sqlite_stamp(str(node.this.this).replace(" ", "T", 1))
                    if stamp is not None:
                        return exp.Literal.string(stamp)
                return _fn("DATETIME", node.this)
            if t == exp.DType.TIME:
                return _fn("TIME", node.this)
            if t == exp.DType.BOOLEAN and isinstance(node.this, exp.Literal) and node.this.is_string:
                return exp.Literal.number(1 if node.this.this.strip().lower() in ("t", "true", "y", "yes", "on", "1") else 0)
        if isinstance(node, exp.ColumnDef):
            kind = node.args.get("kind")
            if isinstance(kind, exp.DataType) and kind.this in (exp.DType.SERIAL, exp.DType.BIGSERIAL, exp.DType.SMALLSERIAL):
                node.set("kind", exp.DataType.build("INTEGER"))
        return node

    tree = post_transform(tree, fix)
    _sqlite_generate_series(tree)
    return _sqlite_distinct_on_limit(tree)


def _sqlite_distinct_on_limit(tree: exp.Expr) -> exp.Expr:
    """sqlglot emulates ``DISTINCT ON`` with ROW_NUMBER() in a subquery but keeps the
    LIMIT inside it: move LIMIT/OFFSET (and the ORDER BY) out."""
    for select in list(tree.find_all(exp.Select)):
        distinct = select.args.get("distinct")
        if not (isinstance(distinct, exp.Distinct) and distinct.args.get("on") is not None):
            continue
        limit, offset, order = select.args.get("limit"), select.args.get("offset"), select.args.get("order")
        if limit is None and offset is None:
            continue
        inner = select.copy()
        inner.set("limit", None)
        inner.set("offset", None)
        outer = exp.select("*").from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("_d"))))
        names = {e.alias_or_name.lower() for e in select.expressions}
        if order is not None and all(isinstance(o.this, exp.Column) and o.this.name.lower() in names
                                     for o in order.expressions):
            outer.set("order", exp.Order(expressions=[exp.Ordered(this=exp.column(o.this.name),
                                                                  desc=o.args.get("desc"),
                                                                  nulls_first=o.args.get("nulls_first"))
                                                      for o in order.expressions]))
        outer.set("limit", limit)
        outer.set("offset", offset)
        if select is tree:
            return outer
        select.replace(outer)
    return tree


def _pad(node: exp.Pad) -> exp.Expr:
    value, length = node.this, node.expression
    fill = node.args.get("fill_pattern") or exp.Literal.string(" ")
    filler = _fn("REPLACE", _fn("HEX", _fn("ZEROBLOB", length)), exp.Literal.string("00"), fill)
    if node.args.get("is_left"):
        padded = _fn("SUBSTR", exp.DPipe(this=filler, expression=value), exp.Neg(this=length), length)
    else:
        padded = _fn("SUBSTR", exp.DPipe(this=value, expression=filler), exp.Literal.number(1), length)
    short = exp.GTE(this=_fn("LENGTH", value), expression=length)
    return exp.Case(ifs=[exp.If(this=short, true=_fn("SUBSTR", value, exp.Literal.number(1), length))], default=padded)


def _sqlite_generate_series(tree: exp.Expr) -> None:
    """``FROM generate_series(a, b[, step]) [AS s[(c)]]`` -> a recursive CTE subquery."""
    for table in list(tree.find_all(exp.Table)):
        fn = table.this
        if not isinstance(fn, (exp.Anonymous, exp.GenerateSeries)):
            continue
        name = fn.name.lower() if isinstance(fn, exp.Anonymous) else "generate_series"
        if name != "generate_series":
            continue
        if isinstance(fn, exp.GenerateSeries):
            args = [fn.args.get("start"), fn.args.get("end"), fn.args.get("step")]
        else:
            args = list(fn.expressions) + [None]
        start, end, step = args[0], args[1], args[2] or exp.Literal.number(1)
        if start is None or end is None:
            continue
        alias = table.args.get("alias")
        alias_name = alias.name if alias is not None and alias.name else "generate_series"
        cols = [c.name for c in alias.columns] if alias is not None and alias.columns else []
        col = cols[0] if cols else (alias_name if alias is not None and alias.name else "generate_series")
        cte_sql = exp.select(exp.alias_(exp.column("v"), exp.to_identifier(col, quoted=True))).from_(
            exp.Table(this=exp.to_identifier("_gs"))
        )
        seed = exp.select(exp.alias_(start.copy(), "v"))
        step_sel = exp.select(exp.Add(this=exp.column("v"), expression=step.copy())).from_("_gs").where(
            exp.LTE(this=exp.Add(this=exp.column("v"), expression=step.copy()), expression=end.copy())
        )
        recursive = exp.union(seed, step_sel, distinct=False)
        cte = exp.CTE(this=recursive, alias=exp.TableAlias(this=exp.to_identifier("_gs"), columns=[exp.to_identifier("v")]))
        cte_sql.set("with_", exp.With(expressions=[cte], recursive=True))
        sub = exp.Subquery(this=cte_sql, alias=exp.TableAlias(this=exp.to_identifier(alias_name)))
        table.replace(sub)


# --- DuckDB --------------------------------------------------------------------------------


def _for_duckdb(tree: exp.Expr, typer: Typer) -> tuple[exp.Expr, list[str]]:
    pre: list[str] = []

    def int_division(node: exp.Expr) -> exp.Expr:
        # DuckDB's ``/`` always divides as floats; PostgreSQL's divides integers as integers
        if isinstance(node, exp.Div) and typer(node.this) in _INT_TYPES and typer(node.expression) in _INT_TYPES:
            return exp.IntDiv(this=node.this, expression=node.expression)
        return node

    tree = post_transform(tree, int_division)
    tree = post_transform(tree, _array_literal)
    if isinstance(tree, exp.Create) and str(tree.args.get("kind") or "").upper() == "TABLE":
        table = tree.find(exp.Table)
        for col in tree.find_all(exp.ColumnDef):
            kind = col.args.get("kind")
            if isinstance(kind, exp.DataType) and kind.this in (exp.DType.SERIAL, exp.DType.BIGSERIAL, exp.DType.SMALLSERIAL):
                tname = table.name if table is not None else "t"
                seq = f"{tname}_{col.name}_seq"
                pre.append(f'CREATE SEQUENCE IF NOT EXISTS "{seq}"')
                col.set("kind", exp.DataType.build("BIGINT" if kind.this == exp.DType.BIGSERIAL else "INTEGER"))
                col.append("constraints", exp.ColumnConstraint(
                    kind=exp.DefaultColumnConstraint(this=_fn("nextval", exp.Literal.string(seq)))))
    return tree, pre


def parse_pg_array(text: str) -> list[str | None] | None:
    """The elements of a one-dimensional PostgreSQL array literal (``{a,"b c",NULL}``)."""
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    body = text[1:-1]
    out: list[str | None] = []
    i, n = 0, len(body)
    if not body.strip():
        return out
    while i <= n:
        while i < n and body[i].isspace():
            i += 1
        if i < n and body[i] == '"':
            j, buf = i + 1, []
            while j < n and body[j] != '"':
                if body[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(body[j])
                j += 1
            out.append("".join(buf))
            i = j + 1
            while i < n and body[i] != ",":
                i += 1
        else:
            j = body.find(",", i)
            j = n if j < 0 else j
            item = body[i:j].strip()
            if item.startswith("{"):
                return None  # multi-dimensional: not handled
            out.append(None if item.upper() == "NULL" else item)
            i = j
        i += 1
    return out


def _array_literal(node: exp.Expr) -> exp.Expr:
    """``'{a,b}'::text[]`` -> a DuckDB list (DuckDB cannot cast PostgreSQL's array text)."""
    if not (isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string):
        return node
    to = node.to
    if not (isinstance(to, exp.DataType) and to.this == exp.DType.ARRAY):
        return node
    items = parse_pg_array(str(node.this.this))
    if items is None:
        return node
    array = exp.Array(expressions=[exp.null() if v is None else exp.Literal.string(v) for v in items])
    return exp.Cast(this=array, to=to)


def error_from_backend(e: Exception) -> PgError:
    """Wrap a non-PgError raised while translating or running SQL."""
    if isinstance(e, PgError):
        return e
    return PgError(str(e))
