"""A text constant cast to a number, a boolean or a date, read as PostgreSQL reads it.

SQLite casts any text to a number (``'a'::int`` is 0, ``'2024-13-01'::date`` is ``NULL``,
``'tr'::boolean`` false) and DuckDB has its own messages and spellings; PostgreSQL
refuses what is not a value of the type, with an error a client can act on. The
translator (:func:`gateway.translate.to_backend`) checks every such constant before the
statement reaches a backend and writes it in the form both backends read alike.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlglot import exp

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
        name, bound = _INT_RANGES[t]
        s = text.strip()
        if not _INTEGER.fullmatch(s):
            raise InvalidTextRepresentation(f'invalid input syntax for type {name}: "{text}"')
        if not -bound <= int(s) < bound:
            raise PgError(f'value "{text}" is out of range for type {name}', sqlstate="22003")
        node.set("this", exp.Literal.string(str(int(s))))
    elif t in _NUMERIC:
        s = text.strip()
        if not _NUMBER.fullmatch(s) and s.lower() not in _SPECIAL_NUMBERS:
            raise InvalidTextRepresentation(f'invalid input syntax for type {_NUMERIC_NAMES[t]}: "{text}"')
        node.set("this", exp.Literal.string(s))
    elif t == exp.DType.BOOLEAN:
        b = _bool(text)
        if b is None:
            raise InvalidTextRepresentation(f'invalid input syntax for type boolean: "{text}"')
        node.set("this", exp.Literal.string("true" if b else "false"))
    elif t in (exp.DType.VARBINARY, exp.DType.BINARY) and text.startswith("\\x"):
        digits = text[2:]
        if len(digits) % 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise InvalidTextRepresentation(f'invalid hexadecimal data: "{text}"')
        return exp.HexString(this=digits)  # bytea's hex input: '\\x6162' is the bytes ab
    elif t == exp.DType.DATE:
        s = text.strip()
        m = _ISO_DATE.fullmatch(s)
        if m is not None:
            try:
                day = dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                raise PgError(f'date/time field value out of range: "{text}"', sqlstate="22008") from None
            node.set("this", exp.Literal.string(day.isoformat()))
        elif not any(c.isdigit() for c in s) and s.lower() not in _DATE_WORDS:
            raise PgError(f'invalid input syntax for type date: "{text}"', sqlstate="22007")
    return node
