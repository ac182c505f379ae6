"""What each backend needs beyond sqlglot's own SQLite and DuckDB output.

SQLite: ``extract``, ``date_trunc``, interval arithmetic, ``left``/``right``, ``concat``,
``lpad``/``rpad``, ``generate_series``, ``serial``, ISO timestamps compared as text,
``DISTINCT ON`` with ``LIMIT``, ``~*`` and regex flags, JSON casts and operators;
identifiers in backticks. The functions SQLite lacks (``regexp``, ``md5``...) are Python
functions on its connections (:mod:`connectors.sqlite_functions`). DuckDB: integer
division, PostgreSQL array literals, ``serial`` through a sequence, ``#>``/``#>>``.
Both: a JSON key, index or ``#>`` path as a JSON path (``$."a"[1]``); a division or
remainder by zero is an error (22012), as in PostgreSQL (SQLite answers ``NULL``, DuckDB
``inf`` for a non-integer division).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.sqlite import SQLite

from gateway.casts import compared_constant
from gateway.errors import FeatureNotSupported, InvalidTextRepresentation, PgError, UndefinedFunction
from gateway.protocol.text_format import interval_text, parse_interval
from gateway.sqltree import fn, post_transform

Typer = Callable[[exp.Expr], "str | None"]
INT_TYPES = {"int2", "int4", "int8"}
_FRACTIONAL = {"numeric", "float4", "float8"}
# aggregate(x ORDER BY y): SQLite reads it from 3.44 on
_SQLITE_AGGREGATE_ORDER = sqlite3.sqlite_version_info >= (3, 44)


def _sqlite_has_mod() -> bool:
    """Whether this SQLite has its math functions (``mod`` keeps the fraction)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("SELECT mod(1.5, 1)")
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()
    return True


_SQLITE_MOD = _sqlite_has_mod()


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


# --- JSON operators ---------------------------------------------------------------------

_JSON_TEXT_OPS = (exp.JSONExtractScalar, exp.JSONBExtractScalar)  # ->> #>>
_JSON_PATH_OPS = (exp.JSONBExtract, exp.JSONBExtractScalar)  # #> #>>
JSON_OPS = (exp.JSONExtract, *_JSON_TEXT_OPS, exp.JSONBExtract)


def json_key_path(key: str) -> str:
    """One object key as a JSON path step (SQLite's and DuckDB's ``."key"``)."""
    if '"' in key:
        raise FeatureNotSupported(f"a JSON key with a double quote is not supported here: {key!r}")
    return f'."{key}"'


def json_index_path(index: int) -> str:
    """One array index as a JSON path step (negative: from the end, as PostgreSQL's)."""
    return f"[{index}]" if index >= 0 else f"[#{index}]"


def json_path_step(step: str | int) -> str:
    """A ``#>`` path element: an integer is taken as an array index (PostgreSQL looks
    at the value: on an object it would be a key), anything else as a key."""
    if isinstance(step, int):
        return json_index_path(step)
    if re.fullmatch(r"\s*-?\d+\s*", step):
        return json_index_path(int(step))
    return json_key_path(step)


def static_json_path(node: exp.Expr, *, path_op: bool) -> str | None:
    """The JSON path (``$."a"[1]``) of a ``->``/``->>`` key or index, or of a ``#>``/``#>>``
    path, when the statement spells it out; ``None`` when it is known only at run time."""
    steps: list[str | int] = []
    if isinstance(node, exp.JSONPath):
        for part in node.expressions:
            if isinstance(part, exp.JSONPathRoot):
                continue
            if isinstance(part, exp.JSONPathKey) and not isinstance(part.this, exp.Expr):
                steps.append(str(part.this))
            elif isinstance(part, exp.JSONPathSubscript) and isinstance(part.this, int):
                steps.append(part.this)
            else:
                return None
        return "$" + "".join(json_key_path(s) if isinstance(s, str) else json_index_path(s) for s in steps)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return "$" + json_index_path(-int(str(node.this.this)))
    if isinstance(node, exp.Literal) and not node.is_string and str(node.this).isdigit():
        return "$" + json_index_path(int(str(node.this)))
    if isinstance(node, exp.Literal) and node.is_string:
        if not path_op:
            return "$" + json_key_path(str(node.this))
        items = parse_pg_array(str(node.this))
        if items is None:
            raise InvalidTextRepresentation(f'malformed array literal: "{node.this}"')
        if any(item is None for item in items):
            return None
        return "$" + "".join(json_path_step(item) for item in items if item is not None)
    if path_op and isinstance(node, exp.Array) and all(
            isinstance(e, exp.Literal) and e.is_string for e in node.expressions):
        return "$" + "".join(json_path_step(str(e.this)) for e in node.expressions)
    return None


def _json_sqlite(node: exp.Expr) -> exp.Expr:
    """``->``, ``->>``, ``#>``, ``#>>`` with SQLite's ``->`` (JSON text of the value at a
    path); the text operators take it through ``askgres_json_text``."""
    path_op = isinstance(node, _JSON_PATH_OPS)
    path = static_json_path(node.expression, path_op=path_op)
    rhs: exp.Expr = exp.Literal.string(path) if path is not None else fn(
        "ASKGRES_JSON_PATH" if path_op else "ASKGRES_JSON_STEP", node.expression)
    got = exp.JSONExtract(this=node.this, expression=rhs)
    return fn("ASKGRES_JSON_TEXT", got) if isinstance(node, _JSON_TEXT_OPS) else got


def _json_duckdb(node: exp.Expr) -> exp.Expr:
    """``#>`` and ``#>>`` with a path spelled out: DuckDB's ``->`` and ``->>``."""
    if not isinstance(node, _JSON_PATH_OPS):
        return node
    path = static_json_path(node.expression, path_op=True)
    if path is None:
        return node
    cls = exp.JSONExtractScalar if isinstance(node, _JSON_TEXT_OPS) else exp.JSONExtract
    return cls(this=node.this, expression=exp.Literal.string(path))


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


def _unit(node: exp.Expr) -> str:
    unit = node.args.get("unit")
    text = unit.name if isinstance(unit, (exp.Var, exp.Literal, exp.Identifier)) else str(unit or "")
    return text.upper().strip("'")


def _shifted(moment: exp.Expr, modifier: exp.Expr) -> exp.Expr:
    """``moment`` moved by an SQLite modifier. Months and years as PostgreSQL counts them
    (``askgres_add_months``: Jan 31 + 1 month is Feb 29; SQLite's modifier would overflow into
    March); anything else by ``DATETIME``."""
    if isinstance(modifier, exp.Literal) and modifier.is_string:
        m = re.fullmatch(r"([+-])(\d+) (months|years)", str(modifier.this))
        if m:
            n = int(m.group(2)) * (12 if m.group(3) == "years" else 1) * (-1 if m.group(1) == "-" else 1)
            return fn("ASKGRES_ADD_MONTHS", moment, exp.Literal.number(n) if n >= 0 else exp.Neg(
                this=exp.Literal.number(-n)))
    return fn("DATETIME", moment, modifier)


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


ISO_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?")


def sqlite_stamp(text: str) -> str | None:
    """``2009-01-01T00:00:00Z`` -> ``2009-01-01 00:00:00``: SQLite compares timestamps as
    text, stored the way its ``datetime()`` writes them (UTC, a space before the time)."""
    m = ISO_STAMP.fullmatch(text.strip())
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


COMPARED_TYPES = frozenset({"int2", "int4", "int8", "numeric", "float4", "float8", "bool", "date", "timestamp",
                            "timestamptz"})


def compared_parameters(
    tree: exp.Expr, typer: Typer, number: Callable[[exp.Parameter], int | None],
) -> list[tuple[int, str]]:
    """``($n, type)`` for each parameter compared with an expression of a type whose text
    constants SQLite compares otherwise than PostgreSQL (see :func:`compared_constant`)."""
    out = []
    for p in tree.find_all(exp.Parameter):
        n = number(p)
        other = _compared_with(p) if n is not None else None
        kind = typer(other) if other is not None else None
        if n is not None and kind in COMPARED_TYPES:
            out.append((n, str(kind)))
    return out


def _compared_with(node: exp.Expr) -> exp.Expr | None:
    """What a constant in a comparison is compared with: the other side, or the tested
    expression of BETWEEN and IN (``None``: the constant is that expression)."""
    parent = node.parent
    if isinstance(parent, (exp.Between, exp.In)):
        return None if node is parent.this else parent.this
    if isinstance(parent, _COMPARISONS):
        return parent.expression if node is parent.this else parent.this
    return None


def like_to_glob(pattern: str, escape: str | None) -> str:
    """A LIKE pattern as a GLOB pattern: GLOB is case-sensitive like PostgreSQL's LIKE,
    whatever SQLite's ``case_sensitive_like`` says."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if escape and c == escape and i + 1 < len(pattern):
            c = pattern[i + 1]
            out.append(f"[{c}]" if c in "*?[" else c)
            i += 2
            continue
        if c == "%":
            out.append("*")
        elif c == "_":
            out.append("?")
        elif c in "*?[":
            out.append(f"[{c}]")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _glob(node: exp.Expr) -> exp.Expr | None:
    like, escape = (node.this, node.expression) if isinstance(node, exp.Escape) else (node, None)
    if not isinstance(like, exp.Like) or not (isinstance(like.expression, exp.Literal) and like.expression.is_string):
        return None
    esc = str(escape.this) if isinstance(escape, exp.Literal) else None
    if escape is not None and esc is None:
        return None
    glob = exp.Glob(this=like.this, expression=exp.Literal.string(like_to_glob(str(like.expression.this), esc)))
    return exp.Not(this=glob) if like.args.get("negate") else glob


def _is_date(node: exp.Expr, typer: Typer) -> bool:
    if isinstance(node, exp.CurrentDate):
        return True
    if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType):
        return node.to.this == exp.DType.DATE
    return typer(node) == "date"


_TEXTS = {"text": "text", "varchar": "character varying", "bpchar": "character"}
_MOMENTS = ("date", "timestamp", "timestamptz")


def _interval_value(text: str) -> Any:
    try:
        return parse_interval(text)
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type interval: "{text}"') from None


def _interval_literal_text(iv: exp.Interval) -> str | None:
    """``INTERVAL '2' HOURS`` as PostgreSQL prints it (``02:00:00``)."""
    value, unit = iv.this, iv.args.get("unit")
    if not isinstance(value, exp.Literal):
        return None
    text = str(value.this) + (f" {unit.name}" if unit is not None else "")
    return interval_text(_interval_value(text))


def similar_to_regex(pattern: str) -> str:
    """A ``SIMILAR TO`` pattern as an anchored regular expression, as PostgreSQL's
    ``similar_to_escape`` writes it: ``%`` any text, ``_`` one character, ``\\`` escapes
    the next character; ``| * + ? {} () []`` are regular expression syntax; ``.``, ``^``
    and ``$`` stand for themselves."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append({"%": ".*", "_": ".", ".": "\\.", "^": "\\^", "$": "\\$"}.get(c, c))
        i += 1
    return "^(?:" + "".join(out) + ")$"


def _pg_template(node: exp.TimeToStr) -> str | None:
    """The template of ``to_char(x, 'Mon DD')`` as written (sqlglot keeps it as strftime's)."""
    fmt = node.args.get("format")
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return None
    written = exp.TimeToStr(this=exp.column("x"), format=fmt.copy()).sql("postgres")  # maps the template back
    m = re.fullmatch(r"TO_CHAR\(x, '((?:[^']|'')*)'\)", written, re.S)
    return m.group(1).replace("''", "'") if m else None


def _is_moment(node: exp.Expr, typer: Typer) -> bool:
    """A date or a timestamp."""
    if isinstance(node, (exp.CurrentTimestamp, exp.CurrentDate)):
        return True
    if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType):
        return node.to.this in (exp.DType.DATE, exp.DType.TIMESTAMP, exp.DType.TIMESTAMPTZ, exp.DType.DATETIME)
    return typer(node) in ("date", "timestamp", "timestamptz")


def _sqlite_array_elements(value: exp.Expr) -> exp.Select:
    """``SELECT value FROM json_each(askgres_json_array(value))``: the elements of an array
    value on SQLite, where an array parameter is bound as JSON and an array column holds
    PostgreSQL's array text (``connectors.sqlite_functions.askgres_json_array`` reads both)."""
    while isinstance(value, exp.Cast) and isinstance(value.to, exp.DataType) and value.to.this == exp.DType.ARRAY:
        value = value.this
    elements = exp.Table(this=fn("json_each", fn("askgres_json_array", value)))
    return exp.select("value").from_(elements)


def _sqlite_values_alias(node: exp.Values) -> exp.Expr:
    """``(VALUES ...) AS v(a, b)``: SQLite names VALUES columns column1, column2..."""
    alias = node.args["alias"]
    names = [c.name for c in alias.columns]
    inner = node.copy()
    inner.set("alias", None)
    select = exp.select(*[exp.alias_(exp.column(f"column{i}"), exp.to_identifier(n, quoted=True))
                          for i, n in enumerate(names, start=1)]).from_(
        exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("_v"))))
    return select.subquery(exp.TableAlias(this=exp.to_identifier(alias.name)))


def _may_be_zero(divisor: exp.Expr) -> bool:
    """Whether ``divisor`` is anything but a non-zero number written out."""
    if isinstance(divisor, exp.Paren):
        return _may_be_zero(divisor.this)
    if isinstance(divisor, exp.Literal) and not divisor.is_string:
        try:
            return float(str(divisor.this)) == 0
        except ValueError:
            return True
    return True


def _real_literal(node: exp.Expr) -> bool:
    """A number written with a point or an exponent (a REAL to SQLite already)."""
    return isinstance(node, exp.Literal) and not node.is_string and any(c in str(node.this) for c in ".eE")


def for_sqlite(tree: exp.Expr, typer: Typer) -> exp.Expr:
    def fix(node: exp.Expr) -> exp.Expr:  # noqa: C901 - one rule per construct
        if isinstance(node, exp.Div) and {typer(node.this), typer(node.expression)} & _FRACTIONAL \
                and not (_real_literal(node.this) or _real_literal(node.expression)):
            # a NUMERIC that holds a whole number is an INTEGER in SQLite: 10::numeric / 4 would be 2
            node.set("this", exp.cast(node.this, "REAL"))
        if isinstance(node, exp.Sub) and typer(node.this) in _MOMENTS and typer(node.expression) in _MOMENTS:
            a, b = node.this, node.expression
            if typer(a) == "date" and typer(b) == "date":  # days between two dates, an integer
                return exp.cast(exp.paren(exp.Sub(this=fn("JULIANDAY", a), expression=fn("JULIANDAY", b))), "INTEGER")
            return fn("ASKGRES_STAMP_DIFFERENCE", a, b)  # an interval
        if isinstance(node, exp.TimeToStr):  # to_char: PostgreSQL's template, which strftime does not read
            template = _pg_template(node)
            if template is not None:
                return fn("ASKGRES_TO_CHAR", node.this, exp.Literal.string(template))
        if isinstance(node, (exp.Sum, exp.Avg)) and typer(node.this) in _TEXTS:
            # SQLite sums text as 0; PostgreSQL has no such function
            raise UndefinedFunction(f"function {node.key}({_TEXTS[str(typer(node.this))]}) does not exist")
        if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType) and node.to.this == exp.DType.DECIMAL \
                and len(node.to.expressions) == 2:  # numeric(p, s) rounds to s places
            return fn("ROUND", exp.cast(node.this, "REAL"), node.to.expressions[1].this.copy())
        if isinstance(node, exp.Round):
            places = node.args.get("decimals")
            if places is None and typer(node.this) in ("float4", "float8"):
                return fn("ASKGRES_RINT", node.this)  # round(double) ties to even, as rint()
            if isinstance(places, exp.Neg) and isinstance(places.this, exp.Literal) and not places.this.is_string \
                    and str(places.this.this).isdigit():
                # SQLite rounds to no fewer than 0 places: round(1234.5, -2) is ROUND(x / 100.0) * 100
                scale = exp.Literal.number(10 ** int(str(places.this.this)))
                return exp.paren(exp.Mul(this=fn("ROUND", exp.Div(this=exp.paren(node.this),
                                                                   expression=exp.cast(scale, "REAL"))),
                                         expression=scale.copy()))
        if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType) and node.to.this == exp.DType.INTERVAL \
                and isinstance(node.this, exp.Literal) and node.this.is_string:
            return exp.Literal.string(interval_text(_interval_value(str(node.this.this))))
        if isinstance(node, exp.Interval) and not isinstance(node.parent, (exp.Add, exp.Sub)):
            text = _interval_literal_text(node)  # an interval on its own is its text in SQLite
            if text is not None:
                return exp.Literal.string(text)
        if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType) and node.to.this == exp.DType.ARRAY:
            return node.this  # arrays are PostgreSQL's array text in SQLite: '{1,2}'::int[] is that text
        if isinstance(node, exp.ArraySize):  # sqlglot's SQLite output drops the dimension
            return fn("ASKGRES_ARRAY_LENGTH", node.this, node.expression or exp.Literal.number(1))
        fractional_mod = isinstance(node, exp.Mod) and _SQLITE_MOD \
            and bool({typer(node.this), typer(node.expression)} & _FRACTIONAL)
        if isinstance(node, (exp.Div, exp.Mod)) and _may_be_zero(node.expression):
            # SQLite divides by zero into NULL; PostgreSQL raises 22012 (connectors.sqlite_functions)
            node.set("expression", fn("ASKGRES_DIVISOR", node.expression))
        if fractional_mod:  # SQLite's % takes the integer parts: 1.5 % 1 would be 0
            return fn("MOD", node.this, node.expression)
        if isinstance(node, exp.Values) and isinstance(node.args.get("alias"), exp.TableAlias) \
                and node.args["alias"].columns:
            return _sqlite_values_alias(node)
        if isinstance(node, JSON_OPS):
            return _json_sqlite(node)
        if isinstance(node, exp.RegexpILike):
            return fn("REGEXP_LIKE", node.this, node.expression, exp.Literal.string("i"))
        if isinstance(node, exp.RegexpLike) and node.args.get("flag") is not None:
            return fn("REGEXP_LIKE", node.this, node.expression, node.args["flag"])
        if isinstance(node, (exp.ArrayAgg, exp.GroupConcat)) and isinstance(node.this, exp.Order) \
                and not _SQLITE_AGGREGATE_ORDER:
            name = "array_agg" if isinstance(node, exp.ArrayAgg) else "string_agg"
            raise FeatureNotSupported(f"{name}(... ORDER BY ...) is not supported on SQLite databases "
                                      f"before SQLite 3.44 (this is {sqlite3.sqlite_version})",
                                      hint="Order the rows in a subquery instead.")
        if isinstance(node, exp.Ordered) and isinstance(node.parent, exp.OnConflict):
            return node.this  # ON CONFLICT (col): no NULLS LAST there
        if isinstance(node, exp.TruncateTable) and len(node.expressions) == 1:
            return exp.Delete(this=node.expressions[0])
        if isinstance(node, (exp.EQ, exp.NEQ)):
            any_all = node.expression
            values = any_all.this if isinstance(any_all, exp.Any) else (
                any_all.expressions[0] if isinstance(any_all, exp.Anonymous) and str(any_all.this).upper() == "ALL"
                and any_all.expressions else None)
            while isinstance(values, exp.Paren):
                values = values.this
            if values is not None:
                in_ = (exp.In(this=node.this, expressions=list(values.expressions)) if isinstance(values, exp.Array)
                       # an array value (a parameter, a column): its elements
                       else exp.In(this=node.this, query=exp.Subquery(this=_sqlite_array_elements(values))))
                if isinstance(node, exp.EQ) and isinstance(any_all, exp.Any):
                    return in_
                if isinstance(node, exp.NEQ) and not isinstance(any_all, exp.Any):
                    return exp.Not(this=in_)
        if isinstance(node, exp.UnixToTime):
            return fn("DATETIME", node.this, exp.Literal.string("unixepoch"))
        if isinstance(node, exp.Repeat):
            return fn("REPLACE", fn("HEX", fn("ZEROBLOB", node.args["times"])), exp.Literal.string("00"), node.this)
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "octet_length" and node.expressions:
            return fn("LENGTH", exp.cast(node.expressions[0], "BLOB"))
        if isinstance(node, (exp.Add, exp.Sub)) and not isinstance(node.expression, exp.Interval) \
                and not isinstance(node.this, exp.Interval) and _is_date(node.this, typer) \
                and typer(node.expression) in INT_TYPES:
            sign = "+" if isinstance(node, exp.Add) else "-"
            days = node.expression
            if isinstance(days, exp.Literal):
                modifier: exp.Expr = exp.Literal.string(f"{sign}{days.this} days")
            else:
                modifier = exp.DPipe(this=exp.DPipe(this=exp.Literal.string(sign), expression=days),
                                     expression=exp.Literal.string(" days"))
            return fn("DATE", node.this, modifier)
        if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType) \
                and node.to.this in (exp.DType.INT, exp.DType.BIGINT, exp.DType.SMALLINT):
            # PostgreSQL rounds a fractional value cast to an integer; SQLite truncates
            value = node.this
            if isinstance(value, exp.Literal) and not value.is_string and "." in str(value.this):
                from decimal import ROUND_HALF_UP, Decimal

                return exp.Literal.number(int(Decimal(str(value.this)).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
            if typer(value) not in INT_TYPES and not (isinstance(value, exp.Literal) and value.is_string):
                # round only a REAL: ROUND() answers a REAL, so an integer (or integer text)
                # beyond 2^53 would lose its low bits
                rounded = exp.Cast(this=fn("ROUND", value), to=node.to)
                return exp.Case(ifs=[exp.If(this=exp.EQ(this=fn("TYPEOF", value.copy()),
                                                        expression=exp.Literal.string("real")),
                                            true=rounded)],
                                default=exp.Cast(this=value.copy(), to=node.to.copy()))
        if isinstance(node, exp.Escape) or (isinstance(node, exp.Like) and not isinstance(node.parent, exp.Escape)):
            glob = _glob(node)
            if glob is not None:
                return glob
        if isinstance(node, exp.Literal) and node.is_string and isinstance(node.parent, _COMPARISONS):
            other = _compared_with(node)
            typed = compared_constant(str(node.this), typer(other)) if other is not None else None
            if typed is not None:
                return typed
            stamp = sqlite_stamp(str(node.this))
            if stamp is not None:
                return exp.Literal.string(stamp)
        if isinstance(node, exp.Cast) and isinstance(node.parent, _COMPARISONS) and isinstance(node.to, exp.DataType) \
                and node.to.this == exp.DType.DATE and isinstance(node.this, exp.Literal) and node.this.is_string:
            other = _compared_with(node)  # '2009-01-01'::date compared with a timestamp: its midnight
            if other is not None and typer(other) in ("timestamp", "timestamptz"):
                typed = compared_constant(str(node.this.this), typer(other))
                if typed is not None:
                    return typed
        if isinstance(node, exp.Extract):
            part = node.this.name.upper() if isinstance(node.this, (exp.Var, exp.Identifier)) else str(node.this).upper()
            value = node.expression
            if part == "QUARTER":
                month = exp.cast(fn("STRFTIME", exp.Literal.string("%m"), value), "INTEGER")
                return exp.paren(exp.Div(this=exp.paren(exp.Add(this=month, expression=exp.Literal.number(2))),
                                         expression=exp.Literal.number(3), typed=True))
            if part == "SECOND":
                return exp.cast(fn("STRFTIME", exp.Literal.string("%f"), value), "REAL")
            fmt = _STRFTIME_PART.get(part)
            if fmt is None:
                raise FeatureNotSupported(f"extract({part.lower()} from ...) is not supported on SQLite")
            return exp.cast(fn("STRFTIME", exp.Literal.string(fmt), value), "INTEGER")
        if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
            unit = _unit(node)
            value = node.this
            if unit == "WEEK":
                return fn("DATETIME", value, exp.Literal.string("weekday 0"), exp.Literal.string("-6 days"),
                           exp.Literal.string("start of day"))
            if unit == "QUARTER":
                year = fn("STRFTIME", exp.Literal.string("%Y"), value)
                month = exp.cast(fn("STRFTIME", exp.Literal.string("%m"), value), "INTEGER")
                qmonth = exp.Add(this=exp.Mul(this=exp.paren(exp.Div(this=exp.paren(exp.Sub(this=month, expression=exp.Literal.number(1))), expression=exp.Literal.number(3), typed=True)), expression=exp.Literal.number(3)), expression=exp.Literal.number(1))
                padded = fn("PRINTF", exp.Literal.string("%s-%02d-01 00:00:00"), year, qmonth)
                return padded
            fmt = _TRUNC_FORMAT.get(unit)
            if fmt is None:
                raise FeatureNotSupported(f"date_trunc('{unit.lower()}', ...) is not supported on SQLite")
            return fn("STRFTIME", exp.Literal.string(fmt), value)
        if isinstance(node, (exp.Left, exp.Right)):
            n = node.expression
            if not (isinstance(n, exp.Literal) and not n.is_string and str(n.this).isdigit()):
                # a negative length counts from the other end, as in PostgreSQL
                return fn("ASKGRES_LEFT" if isinstance(node, exp.Left) else "ASKGRES_RIGHT", node.this, n)
            if isinstance(node, exp.Left):
                return fn("SUBSTR", node.this, exp.Literal.number(1), n)
            if not int(str(n.this)):  # right(x, 0): empty text (NULL for NULL)
                return fn("SUBSTR", node.this, exp.Literal.number(1), exp.Literal.number(0))
            return fn("SUBSTR", node.this, exp.Neg(this=n))
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
                    return _shifted(left, mod)
            if isinstance(left, exp.Interval) and sign == "+":
                mod = _interval_modifier(left, "+")
                if mod is not None:
                    return _shifted(right, mod)
            # an interval that is not written out (a parameter: psycopg's timedelta): its seconds
            if typer(right) == "interval" and _is_moment(left, typer):
                return fn("DATETIME", left, fn("ASKGRES_INTERVAL_MODIFIER", right, exp.Literal.string(sign)))
            if typer(left) == "interval" and sign == "+" and _is_moment(right, typer):
                return fn("DATETIME", right, fn("ASKGRES_INTERVAL_MODIFIER", left, exp.Literal.string(sign)))
        if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType):
            t = node.to.this
            if t in (exp.DType.TIMESTAMP, exp.DType.TIMESTAMPTZ, exp.DType.DATETIME):
                if isinstance(node.this, exp.Placeholder):  # the connector binds datetimes as ISO text
                    return node.this
                if isinstance(node.this, exp.Literal) and node.this.is_string:
                    stamp = sqlite_stamp(str(node.this.this).replace(" ", "T", 1))
                    if stamp is not None:
                        return exp.Literal.string(stamp)
                return fn("DATETIME", node.this)
            if t == exp.DType.TIME:
                return fn("TIME", node.this)
            if t in (exp.DType.JSON, exp.DType.JSONB):  # SQLite would read the text as a number
                return fn("ASKGRES_JSONB" if t == exp.DType.JSONB else "ASKGRES_JSON", node.this)
            if t == exp.DType.BOOLEAN and isinstance(node.this, exp.Literal) and node.this.is_string:
                return exp.Boolean(this=node.this.this.strip().lower() in ("t", "true", "y", "yes", "on", "1"))
            if t in (exp.DType.TEXT, exp.DType.VARCHAR) and typer(node.this) == "bool":
                # a boolean as text is 'true' or 'false' (SQLite's would be 1 or 0)
                return exp.Case(ifs=[exp.If(this=node.this.copy(), true=exp.Literal.string("true")),
                                     exp.If(this=exp.Not(this=node.this.copy()), true=exp.Literal.string("false"))])
        if isinstance(node, exp.ColumnDef):
            kind = node.args.get("kind")
            if isinstance(kind, exp.DataType) and kind.this in (exp.DType.SERIAL, exp.DType.BIGSERIAL, exp.DType.SMALLSERIAL):
                node.set("kind", exp.DataType.build("INTEGER"))
        return node

    _sqlite_generate_series(tree, typer)  # first: it reads the series' PostgreSQL arguments
    tree = post_transform(tree, fix)
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
    filler = fn("REPLACE", fn("HEX", fn("ZEROBLOB", length)), exp.Literal.string("00"), fill)
    if node.args.get("is_left"):
        padded = fn("SUBSTR", exp.DPipe(this=filler, expression=value), exp.Neg(this=length), length)
    else:
        padded = fn("SUBSTR", exp.DPipe(this=value, expression=filler), exp.Literal.number(1), length)
    short = exp.GTE(this=fn("LENGTH", value), expression=length)
    return exp.Case(ifs=[exp.If(this=short, true=fn("SUBSTR", value, exp.Literal.number(1), length))], default=padded)


def _sqlite_generate_series(tree: exp.Expr, typer: Typer) -> None:
    """``FROM generate_series(a, b[, step]) [AS s[(c)]]`` -> a recursive CTE subquery."""
    for table in list(tree.find_all(exp.Table)):
        func = table.this
        if not isinstance(func, (exp.Anonymous, exp.GenerateSeries)):
            continue
        name = func.name.lower() if isinstance(func, exp.Anonymous) else "generate_series"
        if name != "generate_series":
            continue
        if isinstance(func, exp.GenerateSeries):
            args = [func.args.get("start"), func.args.get("end"), func.args.get("step")]
        else:
            args = list(func.expressions) + [None]
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
        if isinstance(step, exp.Interval) or _is_moment(start, typer):
            # moments: PostgreSQL steps a timestamp by the interval (SQLite would add the texts as numbers)
            modifier = _interval_modifier(step, "+") if isinstance(step, exp.Interval) else None
            if modifier is None:
                modifier = fn("ASKGRES_INTERVAL_MODIFIER", step.copy(), exp.Literal.string("+"))
            seed = exp.select(exp.alias_(fn("DATETIME", start.copy()), "v"))
            following: exp.Expr = _shifted(exp.column("v"), modifier)
            step_sel = exp.select(following).from_("_gs").where(
                exp.LTE(this=following.copy(), expression=fn("DATETIME", end.copy())))
        else:
            seed = exp.select(exp.alias_(start.copy(), "v"))
            following = exp.Add(this=exp.column("v"), expression=step.copy())
            if isinstance(step, exp.Literal) and not step.is_string and float(str(step.this)) == 0:
                raise PgError("step size cannot equal zero", sqlstate="22023")
            up = exp.LTE(this=following.copy(), expression=end.copy())
            down = exp.GTE(this=following.copy(), expression=end.copy())
            if isinstance(step, exp.Literal) and not step.is_string:  # a positive step counts up
                more: exp.Expr = up
            elif isinstance(step, exp.Neg) and isinstance(step.this, exp.Literal):
                more = down
            else:  # a step from a column or parameter: 0 stops after the start instead of looping for ever
                more = exp.or_(exp.and_(exp.GT(this=step.copy(), expression=exp.Literal.number(0)), up),
                               exp.and_(exp.LT(this=step.copy(), expression=exp.Literal.number(0)), down))
            step_sel = exp.select(following).from_("_gs").where(more)
        recursive = exp.union(seed, step_sel, distinct=False)
        cte = exp.CTE(this=recursive, alias=exp.TableAlias(this=exp.to_identifier("_gs"), columns=[exp.to_identifier("v")]))
        cte_sql.set("with_", exp.With(expressions=[cte], recursive=True))
        sub = exp.Subquery(this=cte_sql, alias=exp.TableAlias(this=exp.to_identifier(alias_name)))
        table.replace(sub)


# --- DuckDB --------------------------------------------------------------------------------


def for_duckdb(tree: exp.Expr, typer: Typer) -> tuple[exp.Expr, list[str]]:
    pre: list[str] = []

    def int_division(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "octet_length" and node.expressions:
            return fn("strlen", exp.cast(node.expressions[0], "VARCHAR"))
        # DuckDB's ``/`` always divides as floats; PostgreSQL's divides integers as integers
        if isinstance(node, exp.Div) and typer(node.this) in INT_TYPES and typer(node.expression) in INT_TYPES:
            return exp.IntDiv(this=node.this, expression=node.expression)
        if isinstance(node, exp.TimeToStr):  # to_char: PostgreSQL's template (connectors.duckdb registers it)
            template = _pg_template(node)
            if template is not None:
                return fn("ASKGRES_TO_CHAR", exp.cast(node.this, "VARCHAR"), exp.Literal.string(template))
        if isinstance(node, exp.Format) and isinstance(node.this, exp.Literal) and node.this.is_string \
                and not re.search(r"%(?!s|%)", str(node.this.this)):  # DuckDB's format() takes {} holes
            return fn("PRINTF", node.this, *[exp.cast(a, "VARCHAR") for a in node.expressions])
        if isinstance(node, exp.Round) and node.args.get("decimals") is None and typer(node.this) in ("float4", "float8"):
            return fn("ROUND_EVEN", node.this, exp.Literal.number(0))  # round(double) ties to even, as rint()
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "regexp_matches":
            raise FeatureNotSupported("regexp_matches() is not supported on DuckDB databases (DuckDB's "
                                      "function of that name answers true or false)")
        if isinstance(node, (exp.Div, exp.Mod)) and _may_be_zero(node.expression) \
                and not (typer(node.this) in INT_TYPES and typer(node.expression) in INT_TYPES):
            # an integer division by zero fails in DuckDB (22012); a float one gives inf or NaN
            divisor = node.expression
            node.set("expression", exp.Case(
                ifs=[exp.If(this=exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0)),
                            true=fn("ERROR", exp.Literal.string("division by zero")))],
                default=divisor))
            return node
        return node

    tree = post_transform(tree, int_division)
    tree = post_transform(tree, _array_literal)
    tree = post_transform(tree, _json_duckdb)
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
                    kind=exp.DefaultColumnConstraint(this=fn("nextval", exp.Literal.string(seq)))))
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
