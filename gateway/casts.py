"""Constants as PostgreSQL reads them: a text cast to a number, a boolean or a date, and a
value written into a column by INSERT or UPDATE (:func:`check_assignments`).

SQLite casts any text to a number (``'a'::int`` is 0, ``'2024-13-01'::date`` is ``NULL``,
``'tr'::boolean`` false) and DuckDB has its own messages and spellings; PostgreSQL
refuses what is not a value of the type, with an error a client can act on. The
translator (:func:`gateway.translate.to_backend`) checks every such constant before the
statement reaches a backend and writes it in the form both backends read alike.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlglot import exp

from connectors.base import ColumnInfo, TableInfo
from gateway.errors import InvalidTextRepresentation, PgError

_INT_RANGES = {
    exp.DType.SMALLINT: ("smallint", 2**15),
    exp.DType.INT: ("integer", 2**31),
    exp.DType.BIGINT: ("bigint", 2**63),
}
_NUMERIC = (exp.DType.DECIMAL, exp.DType.DOUBLE, exp.DType.FLOAT)
_NUMERIC_NAMES = {exp.DType.DECIMAL: "numeric", exp.DType.DOUBLE: "double precision", exp.DType.FLOAT: "real"}
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SPECIAL_NUMBERS = {"nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"}
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DATE_WORDS = {"today", "tomorrow", "yesterday", "epoch", "infinity", "-infinity", "now"}


def _bool(text: str) -> bool | None:
    """PostgreSQL's boolean input: any unambiguous prefix of true/yes/false/no, on/off, 1/0."""
    t = text.strip().lower()
    if not t:
        return None
    if t in ("1", "0"):
        return t == "1"
    if t in ("o", "of"):  # 'o' is ambiguous; 'of' is a prefix of off only
        return False if t == "of" else None
    trues = [w for w in _TRUE if w.startswith(t) and w not in ("1",)]
    falses = [w for w in _FALSE if w.startswith(t) and w not in ("0",)]
    if t == "on":
        return True
    if trues and not falses:
        return True
    if falses and not trues:
        return False
    return None


def _integer_text(text: str, name: str, bound: int) -> int:
    """``text`` read as PostgreSQL's integer type ``name`` (values in [-bound, bound)), or
    its error (22P02, 22003)."""
    s = text.strip()
    if not _INTEGER.fullmatch(s):
        raise InvalidTextRepresentation(f'invalid input syntax for type {name}: "{text}"')
    value = int(s)
    if not -bound <= value < bound:
        raise PgError(f'value "{text}" is out of range for type {name}', sqlstate="22003")
    return value


def _boolean_text(text: str) -> bool:
    b = _bool(text)
    if b is None:
        raise InvalidTextRepresentation(f'invalid input syntax for type boolean: "{text}"')
    return b


def _calendar_day(m: re.Match[str], text: str) -> dt.date:
    """The day that an :data:`_ISO_DATE` match names, or 22008 for one that does not exist."""
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise PgError(f'date/time field value out of range: "{text}"', sqlstate="22008") from None


def check_literal_cast(node: exp.Cast) -> exp.Expr:
    """``node`` (a cast of a text constant) with the constant as both backends read it,
    or PostgreSQL's error for a constant that is not a value of the type."""
    value = node.this
    to = node.to
    if not (isinstance(value, exp.Literal) and value.is_string and isinstance(to, exp.DataType)):
        return node
    text = str(value.this)
    t = to.this
    if t in _INT_RANGES:
        node.set("this", exp.Literal.string(str(_integer_text(text, *_INT_RANGES[t]))))
    elif t in _NUMERIC:
        s = text.strip()
        if not _NUMBER.fullmatch(s) and s.lower() not in _SPECIAL_NUMBERS:
            raise InvalidTextRepresentation(f'invalid input syntax for type {_NUMERIC_NAMES[t]}: "{text}"')
        node.set("this", exp.Literal.string(s))
    elif t == exp.DType.BOOLEAN:
        node.set("this", exp.Literal.string("true" if _boolean_text(text) else "false"))
    elif t in (exp.DType.VARBINARY, exp.DType.BINARY) and text.startswith("\\x"):
        digits = text[2:]
        if len(digits) % 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise InvalidTextRepresentation(f'invalid hexadecimal data: "{text}"')
        return exp.HexString(this=digits)  # bytea's hex input: '\\x6162' is the bytes ab
    elif t == exp.DType.DATE:
        s = text.strip()
        m = _ISO_DATE.fullmatch(s)
        if m is not None:
            node.set("this", exp.Literal.string(_calendar_day(m, text).isoformat()))
        elif not any(c.isdigit() for c in s) and s.lower() not in _DATE_WORDS:
            raise PgError(f'invalid input syntax for type date: "{text}"', sqlstate="22007")
    return node


# --- text constants compared with typed expressions ---------------------------------------

_INT_NAMES = {"int2": ("smallint", 2**15), "int4": ("integer", 2**31), "int8": ("bigint", 2**63)}
_COMPARED_NUMBERS = {"numeric": "numeric", "float4": "real", "float8": "double precision"}
_ISO_DAY_AND_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?")


def compared_constant(text: str, pg_type: str | None) -> exp.Expr | None:
    """A text constant compared with an expression of type ``pg_type`` (``"ArtistId" =
    '5'``, ``"InvoiceDate" >= '2010-01-01'``): PostgreSQL reads the constant as a value of
    that type, SQLite compares it as text. The constant as SQLite must see it to compare
    alike (a number; a timestamp's text as SQLite stores it: ``'2010-01-01'`` is midnight,
    ``'2010-01-01 00:00:00'``; a date's day), PostgreSQL's error for one that is not a value
    of the type, or ``None``: leave it."""
    s = text.strip()
    if pg_type in _INT_NAMES:
        return exp.Literal.number(_integer_text(text, *_INT_NAMES[pg_type]))
    if pg_type in _COMPARED_NUMBERS:
        if s.lower() in _SPECIAL_NUMBERS:
            return None
        if not _NUMBER.fullmatch(s):
            raise InvalidTextRepresentation(f'invalid input syntax for type {_COMPARED_NUMBERS[pg_type]}: "{text}"')
        return exp.Literal.number(s)
    if pg_type == "bool":
        return exp.Literal.number(int(_boolean_text(text)))  # SQLite keeps booleans as 0 and 1
    if pg_type in ("timestamp", "timestamptz", "date"):
        day = _ISO_DATE.fullmatch(s)
        if day is not None:
            iso = _calendar_day(day, text).isoformat()  # '2009-1-1' too
            return exp.Literal.string(iso if pg_type == "date" else f"{iso} 00:00:00")
        stamp = _ISO_DAY_AND_TIME.fullmatch(s)
        if stamp is not None and pg_type == "date":  # the day of it, as PostgreSQL casts it to a date
            return exp.Literal.string(stamp[1])
    return None


def compared_parameter(value: object, pg_type: str) -> object:
    """A simple query's constant that reaches the backend as a parameter of the plan it
    shares with statements differing only in their constants, compared with an expression
    of ``pg_type``: read as :func:`compared_constant` reads the constant (SQLite would
    compare it as text, DuckDB casts ``'1.5'`` to an integer)."""
    if not isinstance(value, str):
        return value
    typed = compared_constant(value, pg_type)
    if not isinstance(typed, exp.Literal):
        return value
    text = str(typed.this)
    if typed.is_string:
        return text
    return int(text) if _INTEGER.fullmatch(text) else Decimal(text)


# --- values written into columns (assignment) ------------------------------------------------

_NUMERIC_DECL = re.compile(r"(?:NUMERIC|DECIMAL)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", re.I)
_CHAR_DECL = re.compile(r"(?:N?VARCHAR|CHARACTER VARYING|VARYING CHARACTER|N?CHAR|CHARACTER|BPCHAR)\s*\(\s*(\d+)\s*\)", re.I)
_MOMENT_WORDS = _DATE_WORDS | {"allballs"}


def _number_literal(node: exp.Expr) -> Decimal | None:
    negative = isinstance(node, exp.Neg)
    inner = node.this if negative else node
    if isinstance(inner, exp.Literal) and not inner.is_string:
        try:
            value = Decimal(str(inner.this))
        except InvalidOperation:
            return None
        return -value if negative else value
    return None


def _written(value: Decimal) -> exp.Expr:
    text = format(value, "f")
    return exp.Neg(this=exp.Literal.number(text[1:])) if text.startswith("-") else exp.Literal.number(text)


def assigned_value(node: exp.Expr, column: ColumnInfo) -> exp.Expr:
    """A constant written into ``column`` by INSERT or UPDATE, as PostgreSQL's assignment
    reads it (SQLite stores whatever it is given: ``'abc'`` in an integer column, 2.7 in an
    integer, twelve characters in a ``varchar(5)``): converted where PostgreSQL converts
    (2.7 -> 3, ``numeric(10,2)`` rounds), PostgreSQL's error where it refuses."""
    pg = column.pg_type
    number = _number_literal(node)
    text = str(node.this) if isinstance(node, exp.Literal) and node.is_string else None
    if number is None and text is None:
        return node
    if pg in _INT_NAMES:
        name, bound = _INT_NAMES[pg]
        if text is not None:
            return exp.Literal.number(_integer_text(text, name, bound))
        assert number is not None
        whole = number.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        if not -bound <= whole < bound:
            raise PgError(f"{name} out of range", sqlstate="22003")
        return _written(whole) if whole != number else node
    if pg == "numeric":
        if text is not None:
            if not _NUMBER.fullmatch(text.strip()):
                raise InvalidTextRepresentation(f'invalid input syntax for type numeric: "{text}"')
            number = Decimal(text.strip())
        assert number is not None
        m = _NUMERIC_DECL.search(column.type or "")
        if m is None:
            return node if text is None else _written(number)
        precision, scale = int(m.group(1)), int(m.group(2) or 0)
        rounded = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
        if rounded != 0 and rounded.adjusted() >= precision - scale:
            raise PgError("numeric field overflow", sqlstate="22003",
                          detail=f"A field with precision {precision}, scale {scale} must round to an absolute "
                                 f"value less than 10^{precision - scale}.")
        return _written(rounded)
    if text is None:
        return node
    if pg == "bool":
        return exp.Literal.number(int(_boolean_text(text)))
    if pg in ("date", "timestamp", "timestamptz"):
        s = text.strip()
        m = _ISO_DATE.match(s)
        kind = {"date": "date", "timestamp": "timestamp", "timestamptz": "timestamp with time zone"}[pg]
        if m is not None:
            _calendar_day(m, text)
        elif not any(c.isdigit() for c in s) and s.lower() not in _MOMENT_WORDS:
            raise PgError(f'invalid input syntax for type {kind}: "{text}"', sqlstate="22007")
        try:  # stored as SQLite's datetime() writes it (UTC, a space before the time): compared as text
            moment = dt.datetime.fromisoformat(s)
        except ValueError:
            return node
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return exp.Literal.string(moment.date().isoformat() if pg == "date" else moment.isoformat(sep=" "))
    if pg in ("varchar", "bpchar"):
        m = _CHAR_DECL.search(column.type or "")
        if m is not None and len(text.rstrip(" ")) > int(m.group(1)):
            kind = "character varying" if pg == "varchar" else "character"
            raise PgError(f"value too long for type {kind}({m.group(1)})", sqlstate="22001")
    return node


def assigned_parameter(value: object, column: ColumnInfo) -> object:
    """A parameter's value written into ``column``, through :func:`assigned_value` (the
    constants of a simple-protocol INSERT arrive as parameters of its shared plan)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return value
    node: exp.Expr = exp.Literal.string(value) if isinstance(value, str) else _written(Decimal(str(value)))
    fixed = assigned_value(node, column)
    if fixed is node:
        return value
    number = _number_literal(fixed)
    if number is not None:
        return int(number) if column.pg_type in _INT_NAMES or column.pg_type == "bool" else number
    if isinstance(fixed, exp.Literal) and fixed.is_string:
        return str(fixed.this)
    return value


def check_assignments(
    tree: exp.Expr, table_of: Callable[[str], TableInfo | None],
) -> list[tuple[int, ColumnInfo]]:
    """Every constant of ``INSERT ... VALUES`` and ``UPDATE ... SET`` through
    :func:`assigned_value`, in place (the translator's SQLite path). Returns the parameters
    written into columns, ``($n, column)``, for :func:`assigned_parameter` at execution."""
    params: list[tuple[int, ColumnInfo]] = []

    def take(item: exp.Expr, column: ColumnInfo) -> exp.Expr:
        if isinstance(item, exp.Parameter) and isinstance(item.this, exp.Literal) and str(item.this.this).isdigit():
            params.append((int(str(item.this.this)), column))
            return item
        return assigned_value(item, column)

    if isinstance(tree, exp.Insert):
        target = tree.this
        table = table_of(target.this.name if isinstance(target, exp.Schema) else target.name)
        values = tree.expression
        if table is None or not isinstance(values, exp.Values):
            return params
        by_name = {c.name.lower(): c for c in table.columns}
        names = ([c.name.lower() for c in target.expressions] if isinstance(target, exp.Schema)
                 else [c.name.lower() for c in table.columns])
        for row in values.expressions:
            items = row.expressions if isinstance(row, exp.Tuple) else [row]
            for name, item in zip(names, list(items)):
                column = by_name.get(name)
                if column is not None:
                    fixed = take(item, column)
                    if fixed is not item:
                        item.replace(fixed)
    elif isinstance(tree, exp.Update) and isinstance(tree.this, exp.Table):
        table = table_of(tree.this.name)
        if table is None:
            return params
        by_name = {c.name.lower(): c for c in table.columns}
        for eq in tree.expressions:
            if isinstance(eq, exp.EQ) and isinstance(eq.this, exp.Column):
                column = by_name.get(eq.this.name.lower())
                if column is not None:
                    fixed = take(eq.expression, column)
                    if fixed is not eq.expression:
                        eq.set("expression", fixed)
    return params
