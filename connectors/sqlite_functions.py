"""PostgreSQL functions that SQLite lacks, as Python functions on each SQLite connection.

:func:`install` registers them on a connection; the SQLite connector calls it on every
connection it opens. Like PostgreSQL's, they are strict (a ``NULL`` argument gives
``NULL``). The translator (:mod:`gateway.dialects`) writes calls to them:

- regular expressions: ``x ~ p`` is SQLite's ``x REGEXP p``, which calls ``regexp(p, x)``;
  ``~*`` and ``regexp_like(x, p, flags)`` call ``regexp_like``; ``regexp_replace`` takes
  PostgreSQL 15's arguments (flags ``g``, ``i``...; ``start`` and ``N``). Patterns are
  PostgreSQL's advanced regular expressions, run by Python's ``re`` after the
  differences that matter are translated (``\\m \\M \\y \\Y``, ``[[:alpha:]]``, ``$`` only
  at the end, ``.`` matching a newline unless a newline-sensitive flag is given).
- ``md5``, ``split_part``, ``initcap``, ``reverse``, ``translate``, ``starts_with``,
  ``make_date``, ``width_bucket``, ``ascii``, ``chr``, ``concat_ws``, ``left``/``right``
  with a negative length, ``to_char`` of timestamps and numbers (``askgres_to_char``: PostgreSQL's
  templates, which SQLite's ``strftime`` does not read), ``gen_random_uuid`` (as ``uuid``), ``round`` of a
  double to even (``askgres_rint``); the aggregates ``stddev``, ``variance`` and their
  ``_samp``/``_pop`` forms.
- arrays (PostgreSQL's array text): ``array_length(a, 1)`` (``askgres_array_length``),
  ``cardinality``, ``string_to_array``.
- ``askgres_divisor``: its argument, or PostgreSQL's "division by zero" (22012) for a zero
  (SQLite divides by zero into ``NULL``); the translator wraps every divisor that is not a
  non-zero number written out.
- JSON (``askgres_*``): the ``::json`` and ``::jsonb`` casts (validate; ``jsonb`` prints as
  PostgreSQL does), the text of a ``->>`` result, and a key, index or ``#>`` path as
  an SQLite JSON path for SQLite's own ``->`` operator.
- the ``array_agg`` aggregate and ``ARRAY[...]``, giving PostgreSQL's array text (``{1,2,NULL}``).

SQLite reports any exception in a function as "user-defined function raised exception";
the :class:`FunctionErrors` that :func:`install` returns keeps the PostgreSQL error (an
invalid regular expression: 2201B) for the connector to raise instead.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import re
import sqlite3
import statistics
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from gateway import errors as E
from gateway.dialects import json_index_path, json_key_path, json_path_step, parse_pg_array
from gateway.protocol.text_format import array_item_text, interval_text, parse_interval


class FunctionErrors:
    """The PostgreSQL error a function last raised on one connection."""

    def __init__(self) -> None:
        self.error: E.PgError | None = None

    def take(self) -> E.PgError | None:
        """The error, forgotten once taken."""
        error, self.error = self.error, None
        return error


def install(conn: sqlite3.Connection) -> FunctionErrors:
    """Register the functions on ``conn``; the returned holder keeps their errors."""
    errors = FunctionErrors()

    def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def call(*args: Any) -> Any:
            try:
                return fn(*args)
            except E.PgError as e:
                errors.error = e
                raise
            except Exception as e:  # a bug here: the statement fails with its message
                errors.error = E.InternalError(f"{fn.__name__}: {e}")
                raise

        return call

    for name, nargs, fn in _SCALARS:
        conn.create_function(name, nargs, guarded(fn), deterministic=True)

    conn.create_function("uuid", 0, lambda: str(uuid.uuid4()), deterministic=False)  # gen_random_uuid()

    class ArrayAgg(_ArrayAgg):
        step = guarded(_ArrayAgg.step)
        finalize = guarded(_ArrayAgg.finalize)

    conn.create_aggregate("array_agg", 1, ArrayAgg)
    for name, spread in _SPREADS.items():
        conn.create_aggregate(name, 1, _spread_aggregate(*spread))
    return errors


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else str(value)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise E.InvalidTextRepresentation(f'invalid input syntax for type integer: "{value}"') from None


def _divisor(value: Any) -> Any:
    if isinstance(value, (str, bytes)):  # SQLite reads a text divisor as the number it starts with
        try:
            zero = float(_text(value).strip() or 0) == 0
        except ValueError:  # not a number alone ('12abc'): SQLite's own reading decides
            zero = False
    else:
        zero = value is not None and value == 0
    if zero:
        raise E.DivisionByZero("division by zero")
    return value


def _reverse(text: Any) -> str | None:
    return None if text is None else _text(text)[::-1]


def _array_length(array: Any, dim: Any = 1) -> int | None:
    """``array_length(a, 1)``: the number of items of a one-dimensional array's text
    (``NULL`` for an empty array, or any other dimension, as PostgreSQL answers)."""
    if array is None or dim is None or _int(dim) != 1:
        return None
    items = parse_pg_array(_text(array))
    if items is None:
        raise E.InvalidTextRepresentation(f'malformed array literal: "{_text(array)}"')
    return len(items) or None


def _cardinality(array: Any) -> int | None:
    return None if array is None else (_array_length(array) or 0)


def _string_to_array(text: Any, delimiter: Any, null_text: Any = None) -> str | None:
    """``string_to_array(text, delimiter[, null_string])`` as PostgreSQL's array text."""
    if text is None:
        return None
    s = _text(text)
    if s == "":
        return "{}"
    if delimiter is None:
        parts = list(s)
    elif _text(delimiter) == "":
        parts = [s]
    else:
        parts = s.split(_text(delimiter))
    nulls = None if null_text is None else _text(null_text)
    return "{" + ",".join("NULL" if p == nulls else array_item_text(p) for p in parts) + "}"


def _translate_chars(text: Any, source: Any, target: Any) -> str | None:
    """PostgreSQL's ``translate``: each character of ``source`` becomes the one at the same
    place in ``target``, or goes when ``target`` is shorter."""
    if text is None or source is None or target is None:
        return None
    src, dst = _text(source), _text(target)
    table: dict[int, int | None] = {}
    for i, ch in enumerate(src):
        table.setdefault(ord(ch), ord(dst[i]) if i < len(dst) else None)
    return _text(text).translate(table)


def _starts_with(text: Any, prefix: Any) -> int | None:
    if text is None or prefix is None:
        return None
    return int(_text(text).startswith(_text(prefix)))


def _make_date(year: Any, month: Any, day: Any) -> str | None:
    if year is None or month is None or day is None:
        return None
    y, m, d = _int(year), _int(month), _int(day)
    try:
        return dt.date(y, m, d).isoformat()
    except ValueError:
        raise E.PgError(f"date field value out of range: {y}-{m:02d}-{d:02d}", sqlstate="22008") from None


def _width_bucket(value: Any, low: Any, high: Any, count: Any) -> int | None:
    """PostgreSQL's ``width_bucket(operand, low, high, count)``: 0 below, count + 1 above."""
    if value is None or low is None or high is None or count is None:
        return None
    v, lo, hi, n = float(value), float(low), float(high), _int(count)
    if n <= 0:
        raise E.PgError("count must be greater than zero", sqlstate="2201G")
    if lo == hi:
        raise E.PgError("lower bound cannot equal upper bound", sqlstate="2201G")
    if lo < hi:
        return 0 if v < lo else n + 1 if v >= hi else int((v - lo) * n / (hi - lo)) + 1
    return 0 if v > lo else n + 1 if v <= hi else int((lo - v) * n / (lo - hi)) + 1


def _left(text: Any, n: Any) -> str | None:
    """``left(s, n)``; a negative ``n`` leaves out the last ``-n`` characters."""
    if text is None or n is None:
        return None
    return _text(text)[:_int(n)]


def _right(text: Any, n: Any) -> str | None:
    """``right(s, n)``; a negative ``n`` leaves out the first ``-n`` characters."""
    if text is None or n is None:
        return None
    t, k = _text(text), _int(n)
    return t[-k:] if k > 0 else ("" if k == 0 else t[-k:])


def _ascii(text: Any) -> int | None:
    if text is None:
        return None
    t = _text(text)
    return ord(t[0]) if t else 0


def _chr(code: Any) -> str | None:
    if code is None:
        return None
    c = _int(code)
    if c <= 0 or c > 0x10FFFF:
        raise E.PgError(f"requested character too large for encoding: {c}" if c > 0
                        else "null character not permitted", sqlstate="54000")
    return chr(c)


def _concat_ws(separator: Any, *parts: Any) -> str | None:
    if separator is None:
        return None
    return _text(separator).join(_text(p) if not isinstance(p, float) else _float_text(p) for p in parts if p is not None)


def _float_text(v: float) -> str:
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def _stamp_difference(later: Any, earlier: Any) -> str | None:
    """``timestamp - timestamp`` as PostgreSQL's interval text (SQLite subtracted the texts as numbers)."""
    if later is None or earlier is None:
        return None
    try:
        a, b = dt.datetime.fromisoformat(_text(later).strip()), dt.datetime.fromisoformat(_text(earlier).strip())
    except ValueError:
        raise E.InvalidTextRepresentation("invalid input syntax for type timestamp") from None
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return interval_text(a - b)


def _add_months(moment: Any, months: Any) -> str | None:
    """A timestamp (or date) plus whole months as PostgreSQL adds them: the day kept, or the
    month's last day where it has fewer (Jan 31 + 1 month is Feb 29 in a leap year)."""
    if moment is None or months is None:
        return None
    try:
        t = dt.datetime.fromisoformat(_text(moment).strip())
    except ValueError:
        raise E.InvalidTextRepresentation(f'invalid input syntax for type timestamp: "{_text(moment)}"') from None
    total = t.year * 12 + (t.month - 1) + _int(months)
    year, month = divmod(total, 12)
    if not 1 <= year <= 9999:
        raise E.PgError("timestamp out of range", sqlstate="22008")
    last = (dt.date(year + (month == 11), (month + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
    return t.replace(year=year, month=month + 1, day=min(t.day, last)).isoformat(sep=" ")


def _rint(value: Any) -> float | None:
    """``round(double precision)``: to the nearest integer, ties to even (PostgreSQL's rint)."""
    return None if value is None else float(round(float(value)))


def _spread_aggregate(sample: bool, root: bool) -> type:
    """``variance``/``var_samp``/``var_pop``/``stddev``...: NULL with too few rows."""

    class Spread:
        def __init__(self) -> None:
            self.values: list[float] = []

        def step(self, value: Any) -> None:
            if value is not None:
                self.values.append(float(value))

        def finalize(self) -> float | None:
            n = len(self.values)
            if n < (2 if sample else 1):
                return None
            var = statistics.variance(self.values) if sample else statistics.pvariance(self.values)
            return math.sqrt(var) if root else var

    return Spread


_SPREADS = {  # name -> (sample, square root); the names sqlglot writes for SQLite
    "variance": (True, False), "var_samp": (True, False), "var_pop": (False, False), "variance_pop": (False, False),
    "stddev": (True, True), "stddev_samp": (True, True), "stddev_pop": (False, True),
}


def _interval_modifier(interval: Any, sign: Any) -> str | None:
    """An interval's text (PostgreSQL's, as the connector binds a ``timedelta``) as an
    SQLite ``datetime()`` modifier in seconds, ``sign`` ('+' or '-') applied."""
    if interval is None:
        return None
    try:
        seconds = parse_interval(_text(interval)).total_seconds()
    except ValueError:
        raise E.InvalidTextRepresentation(f'invalid input syntax for type interval: "{_text(interval)}"') from None
    if _text(sign) == "-":
        seconds = -seconds
    return f"{seconds:+.6f} seconds"


# --- to_char ----------------------------------------------------------------------------------

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]


def _date_field(token: str, t: dt.datetime, fill: bool) -> str:
    """One to_char template pattern of a timestamp (``fill``: pad names and numbers, no FM)."""
    def num(v: int, width: int) -> str:
        return f"{v:0{width}d}" if fill else str(v)

    def name(full: str, upper: bool, lower: bool, width: int) -> str:
        text = full.upper() if upper else full.lower() if lower else full
        return text.ljust(width) if fill else text

    hour12 = t.hour % 12 or 12
    fields: dict[str, Callable[[], str]] = {
        "YYYY": lambda: num(t.year, 4), "YYY": lambda: num(t.year % 1000, 3), "YY": lambda: num(t.year % 100, 2),
        "Y": lambda: str(t.year % 10), "MM": lambda: num(t.month, 2), "DDD": lambda: num(t.timetuple().tm_yday, 3),
        "DD": lambda: num(t.day, 2), "D": lambda: str(t.isoweekday() % 7 + 1), "ID": lambda: str(t.isoweekday()),
        "HH24": lambda: num(t.hour, 2), "HH12": lambda: num(hour12, 2), "HH": lambda: num(hour12, 2),
        "MI": lambda: num(t.minute, 2), "SS": lambda: num(t.second, 2), "MS": lambda: num(t.microsecond // 1000, 3),
        "US": lambda: num(t.microsecond, 6), "Q": lambda: str((t.month - 1) // 3 + 1),
        "IW": lambda: num(t.isocalendar()[1], 2), "WW": lambda: num((t.timetuple().tm_yday - 1) // 7 + 1, 2),
        "AM": lambda: "AM" if t.hour < 12 else "PM", "PM": lambda: "AM" if t.hour < 12 else "PM",
        "am": lambda: "am" if t.hour < 12 else "pm", "pm": lambda: "am" if t.hour < 12 else "pm",
        "MONTH": lambda: name(_MONTHS[t.month - 1], True, False, 9),
        "Month": lambda: name(_MONTHS[t.month - 1], False, False, 9),
        "month": lambda: name(_MONTHS[t.month - 1], False, True, 9),
        "MON": lambda: _MONTHS[t.month - 1][:3].upper(), "Mon": lambda: _MONTHS[t.month - 1][:3],
        "mon": lambda: _MONTHS[t.month - 1][:3].lower(),
        "DAY": lambda: name(_DAYS[t.weekday()], True, False, 9), "Day": lambda: name(_DAYS[t.weekday()], False, False, 9),
        "day": lambda: name(_DAYS[t.weekday()], False, True, 9),
        "DY": lambda: _DAYS[t.weekday()][:3].upper(), "Dy": lambda: _DAYS[t.weekday()][:3],
        "dy": lambda: _DAYS[t.weekday()][:3].lower(), "RM": lambda: _ROMAN[t.month - 1],
    }
    return fields[token]()


_DATE_TOKENS = re.compile(
    r"FM|HH24|HH12|YYYY|MONTH|Month|month|DAY|Day|day|DDD|YYY|MON|Mon|mon|HH|MI|SS|MS|US|YY|MM|DD|DY|Dy|dy|IW|WW"
    r"|ID|AM|PM|am|pm|RM|Y|D|Q|\"[^\"]*\"|\\\\.|.", re.S)


def _to_char_date(t: dt.datetime, fmt: str) -> str:
    out: list[str] = []
    fill = True
    for m in _DATE_TOKENS.finditer(fmt):
        tok = m.group(0)
        if tok == "FM":
            fill = False
            continue
        if tok.startswith('"'):
            out.append(tok[1:-1])
        elif tok.startswith("\\"):
            out.append(tok[1:])
        elif len(tok) > 1 or tok in ("Y", "D", "Q"):
            out.append(_date_field(tok, t, fill))
        else:
            out.append(tok)
        fill = True
    return "".join(out)


def _to_char_number(value: Decimal, fmt: str) -> str:
    """PostgreSQL's numeric template: ``9`` a digit (a blank when a leading zero), ``0`` a
    digit, ``.``/``D`` the point, ``,``/``G`` a group separator, ``FM`` no padding; the sign
    takes a place before the number."""
    fill = "FM" not in fmt.upper()
    body = re.sub("(?i)fm", "", fmt).replace("D", ".").replace("G", ",")
    int_part, _, frac_part = body.partition(".")
    int_slots = [c for c in int_part if c in "90"]
    frac_slots = [c for c in frac_part if c in "90"]
    rounded = abs(value).quantize(Decimal(1).scaleb(-len(frac_slots)), rounding=ROUND_HALF_UP)
    whole, _, frac = f"{rounded:f}".partition(".")
    if len(whole) > len(int_slots) or (whole == "0" and not int_slots):
        digits = "#" * len(int_slots)  # too wide for the template, as PostgreSQL prints it
        frac = "#" * len(frac_slots)
        whole = digits
    out: list[str] = []
    digits = whole.rjust(len(int_slots), " ") if whole != "0" or "0" in int_slots else " " * len(int_slots)
    if whole == "0" and int_slots and int_slots[-1] == "9" and not frac_slots:
        digits = digits[:-1] + "0"
    first_zero = next((i for i, c in enumerate(int_slots) if c == "0"), len(int_slots))
    lead = True
    k = 0
    for c in int_part:
        if c in "90":
            d = digits[k]
            if d == " " and k >= first_zero:
                d = "0"
            if d != " ":
                lead = False
            out.append(d)
            k += 1
        elif c == ",":
            out.append(" " if lead else ",")
        else:
            out.append(c)
    text = "".join(out)
    if frac_slots:
        text += "." + frac.ljust(len(frac_slots), "0")[: len(frac_slots)]
    sign = "-" if value < 0 else " "
    stripped = text.lstrip(" ")
    text = " " * (len(text) - len(stripped)) + sign + stripped
    return text.strip() if not fill else text


_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def to_char(value: Any, fmt: Any) -> str | None:
    """``to_char`` for DuckDB, whose connector registers it (values arrive as text)."""
    return _to_char(value, fmt)


def _to_char(value: Any, fmt: Any) -> str | None:
    """PostgreSQL's ``to_char`` of a timestamp, a date or a number."""
    if value is None or fmt is None:
        return None
    template = _text(fmt)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return _to_char_number(Decimal(format(value, ".15g")) if isinstance(value, float) else Decimal(value), template)
    if _PLAIN_NUMBER.fullmatch(_text(value).strip()):  # DuckDB passes its numbers as text
        return _to_char_number(Decimal(_text(value).strip()), template)
    try:
        moment = dt.datetime.fromisoformat(_text(value).strip())
    except ValueError:
        raise E.InvalidTextRepresentation(f'invalid input syntax for type timestamp: "{_text(value)}"') from None
    return _to_char_date(moment, template)


# --- regular expressions ------------------------------------------------------------------

_DOTALL, _MULTILINE, _NO_NEWLINE_IN_NEGATED = 1, 2, 4
# PostgreSQL's newline-sensitivity flags: which Python behaviours each turns on
_NEWLINE_MODES = {"s": _DOTALL, "n": _MULTILINE | _NO_NEWLINE_IN_NEGATED, "m": _MULTILINE | _NO_NEWLINE_IN_NEGATED,
                  "p": _NO_NEWLINE_IN_NEGATED, "w": _DOTALL | _MULTILINE}
_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z", "space": r"\s",
    "xdigit": "0-9A-Fa-f", "word": r"\w", "blank": r" \t", "cntrl": r"\x00-\x1f\x7f", "print": r"\x20-\x7e",
    "graph": r"\x21-\x7e", "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}
# escapes that differ: PostgreSQL's word starts/ends/boundaries, \b backspace, \B backslash, \e escape
_ESCAPES = {"m": r"\b(?=\w)", "M": r"\b(?<=\w)", "y": r"\b", "Y": r"\B", "b": r"\x08", "B": r"\\",
            "e": r"\x1b"}


@functools.lru_cache(maxsize=256)
def _compile(pattern: str, flags: str) -> tuple[re.Pattern[str], bool]:
    """PostgreSQL pattern and flags -> a Python regex and whether ``g`` was given."""
    glob, literal, mode = False, False, _DOTALL
    py = 0
    for f in flags:
        if f == "g":
            glob = True
        elif f == "i":
            py |= re.IGNORECASE
        elif f == "c":
            py &= ~re.IGNORECASE
        elif f in _NEWLINE_MODES:
            mode = _NEWLINE_MODES[f]
        elif f == "x":
            py |= re.VERBOSE
        elif f == "q":
            literal = True
        elif f in "te":
            pass  # tight syntax, extended REs: what the translation reads anyway
        else:
            raise E.PgError(f'invalid regular expression option: "{f}"', sqlstate="22023")
    if pattern.startswith("***="):
        pattern, literal = pattern[4:], True
    elif pattern.startswith("***:"):
        pattern = pattern[4:]
    if mode & _DOTALL:
        py |= re.DOTALL
    if mode & _MULTILINE:
        py |= re.MULTILINE
    source = re.escape(pattern) if literal else _translate(pattern, mode)
    try:
        return re.compile(source, py), glob
    except (re.error, OverflowError, RecursionError) as e:
        raise E.PgError(f"invalid regular expression: {e}", sqlstate="2201B") from None


def _translate(pattern: str, mode: int) -> str:
    """The differences between PostgreSQL's regular expressions and Python's that a
    pattern is likely to meet; the rest is the same syntax."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            out.append(_ESCAPES.get(nxt, c + nxt))
            i += 2
        elif c == "[":
            i = _bracket(pattern, i, mode, out)
        elif c == "$" and not mode & _MULTILINE:
            out.append(r"\Z")  # PostgreSQL's $ is the very end, not before a final newline
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _bracket(pattern: str, i: int, mode: int, out: list[str]) -> int:
    """Copy the bracket expression at ``pattern[i]`` to ``out``; return where it ends."""
    n = len(pattern)
    j = i + 1
    parts = ["["]
    if j < n and pattern[j] == "^":
        parts.append("^\\n" if mode & _NO_NEWLINE_IN_NEGATED else "^")
        j += 1
    if j < n and pattern[j] == "]":  # a leading ] is a member
        parts.append("\\]")
        j += 1
    while j < n and pattern[j] != "]":
        c = pattern[j]
        if c == "[" and j + 1 < n and pattern[j + 1] in ":.=":
            kind = pattern[j + 1]
            end = pattern.find(kind + "]", j + 2)
            if end < 0:  # not a class after all: a [ among the members
                parts.append("\\[")
                j += 1
                continue
            name = pattern[j + 2:end]
            if kind == ":":
                cls = _CLASSES.get(name)
                if cls is None:
                    raise E.PgError(f"invalid regular expression: invalid character class {name!r}",
                                    sqlstate="2201B")
                parts.append(cls)
            else:
                parts.append(re.escape(name))
            j = end + 2
        elif c == "\\" and j + 1 < n:
            parts.append(pattern[j:j + 2])
            j += 2
        elif c == "[":
            parts.append("\\[")
            j += 1
        else:
            parts.append(c)
            j += 1
    if j >= n:  # unterminated: let re report it
        out.append(pattern[i:])
        return n
    parts.append("]")
    out.append("".join(parts))
    return j + 1


def _regexp(pattern: Any, value: Any) -> bool | None:
    """SQLite's ``value REGEXP pattern`` (PostgreSQL's ``value ~ pattern``)."""
    if pattern is None or value is None:
        return None
    return _compile(_text(pattern), "")[0].search(_text(value)) is not None


def _regexp_like(value: Any, pattern: Any, flags: Any = "") -> bool | None:
    if value is None or pattern is None or flags is None:
        return None
    regex, glob = _compile(_text(pattern), _text(flags))
    if glob:
        raise E.PgError('regexp_like() does not support the "global" option', sqlstate="22023")
    return regex.search(_text(value)) is not None


def _replacement(template: str) -> Callable[[re.Match[str]], str]:
    r"""PostgreSQL's replacement text: ``\1``..``\9`` a group, ``\&`` the match, ``\\`` a
    backslash; any other backslash is itself."""
    pieces: list[str | int] = []
    buf: list[str] = []
    i = 0
    while i < len(template):
        c = template[i]
        if c == "\\" and i + 1 < len(template):
            nxt = template[i + 1]
            if nxt in "123456789&":
                pieces.append("".join(buf))
                buf = []
                pieces.append(0 if nxt == "&" else int(nxt))
                i += 2
                continue
            if nxt == "\\":
                buf.append("\\")
                i += 2
                continue
        buf.append(c)
        i += 1
    pieces.append("".join(buf))
    if len(pieces) == 1:
        text = pieces[0]
        assert isinstance(text, str)
        return lambda m: text

    def expand(m: re.Match[str]) -> str:
        out = []
        for p in pieces:
            if isinstance(p, str):
                out.append(p)
            elif p <= (m.re.groups or 0):
                out.append(m.group(p) or "")
        return "".join(out)

    return expand


def _regexp_replace(*args: Any) -> str | None:
    """``regexp_replace(source, pattern, replacement [, start [, N]] [, flags])``."""
    if not 3 <= len(args) <= 6:
        raise E.UndefinedFunction(f"function regexp_replace with {len(args)} arguments does not exist")
    if any(a is None for a in args):
        return None
    source, pattern, template = (_text(a) for a in args[:3])
    rest = list(args[3:])
    flags = ""
    if rest and (len(rest) == 3 or (len(rest) == 1 and isinstance(rest[0], str))):
        flags = _text(rest.pop())
    start = _int(rest[0]) if rest else 1
    nth = _int(rest[1]) if len(rest) > 1 else None
    if start < 1:
        raise E.PgError(f'invalid value for parameter "start": {start}', sqlstate="22023")
    if nth is not None and nth < 0:
        raise E.PgError(f'invalid value for parameter "n": {nth}', sqlstate="22023")
    regex, glob = _compile(pattern, flags)
    expand = _replacement(template)
    if nth is None:
        nth = 0 if glob else 1
    out: list[str] = []
    pos = 0
    for count, m in enumerate(regex.finditer(source, start - 1), start=1):
        if nth and count != nth:
            continue
        out.append(source[pos:m.start()])
        out.append(expand(m))
        pos = m.end()
        if nth:
            break
    out.append(source[pos:])
    return "".join(out)


# --- strings ---------------------------------------------------------------------------------


def _md5(value: Any) -> str | None:
    if value is None:
        return None
    data = value if isinstance(value, bytes) else _text(value).encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _split_part(value: Any, delimiter: Any, field: Any) -> str | None:
    if value is None or delimiter is None or field is None:
        return None
    text, sep, n = _text(value), _text(delimiter), _int(field)
    if n == 0:
        raise E.PgError("field position must not be zero", sqlstate="22023")
    if not sep:
        return text if n in (1, -1) else ""
    parts = text.split(sep)
    if abs(n) > len(parts):
        return ""
    return parts[n - 1] if n > 0 else parts[n]


def _initcap(value: Any) -> str | None:
    """PostgreSQL's: the first letter of each run of letters and digits upper case, the
    rest lower case."""
    if value is None:
        return None
    out: list[str] = []
    after_alnum = False
    for c in _text(value):
        changed = c.lower() if after_alnum else c.upper()
        out.append(changed if len(changed) == 1 else c)
        after_alnum = c.isalnum()
    return "".join(out)


# --- JSON ------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Token {name!r} is invalid")


def _load(value: Any, type_name: str) -> Any:
    try:
        return json.loads(_text(value), parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise E.InvalidTextRepresentation(f"invalid input syntax for type {type_name}", detail=str(e)) from None


def _json(value: Any) -> str | None:
    """``x::json``: checked, and kept as written (PostgreSQL keeps json text verbatim)."""
    if value is None:
        return None
    _load(value, "json")
    return _text(value)


def _jsonb(value: Any) -> str | None:
    """``x::jsonb``: PostgreSQL's jsonb text (last duplicate key wins, keys by length then
    bytes, ``", "`` and ``": "`` between items, numbers as numeric prints them)."""
    if value is None:
        return None
    return _jsonb_text(_load(value, "jsonb"))


def _jsonb_text(v: Any) -> str:
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_jsonb_text(v[k])}" for k in keys) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_jsonb_text(x) for x in v) + "]"
    if isinstance(v, Decimal):
        return format(v.copy_abs() if v.is_zero() else v, "f")
    return json.dumps(v, ensure_ascii=False)


def _json_text(value: Any) -> str | None:
    """What ``->>`` gives for the JSON text that SQLite's ``->`` gave: a string unquoted,
    JSON ``null`` as ``NULL``, anything else its JSON text."""
    if value is None:
        return None
    text = _text(value)
    if text == "null":
        return None
    if text.startswith('"'):
        return str(json.loads(text))
    return text


def _json_step(key: Any) -> str | None:
    """``j -> key`` with a key known only at run time: an integer indexes an array."""
    if key is None:
        return None
    if isinstance(key, int):
        return "$" + json_index_path(key)
    return "$" + json_key_path(_text(key))


def _json_path(path: Any) -> str | None:
    """``j #> path`` with a path known only at run time (PostgreSQL's text[] literal)."""
    if path is None:
        return None
    items = _parse_text_array(_text(path))
    if any(item is None for item in items):
        return None
    return "$" + "".join(json_path_step(item) for item in items if item is not None)


def _parse_text_array(text: str) -> list[str | None]:
    items = parse_pg_array(text)
    if items is None:
        raise E.InvalidTextRepresentation(f'malformed array literal: "{text}"')
    return items


# --- array_agg ------------------------------------------------------------------------------


def _array_item(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        value = "\\x" + value.hex()
    if isinstance(value, float):  # as PostgreSQL prints a float8 (2, not 2.0)
        text = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    else:
        text = str(value)
    return array_item_text(text)


def _json_array(value: Any) -> str | None:
    """An array value as a JSON array, for ``json_each``: JSON text (a bound array
    parameter) as is, PostgreSQL's array text (``array_agg``, ``ARRAY[...]``) converted.
    Array text gives strings: compared with a column, its affinity converts them."""
    if value is None:
        return None
    text = str(value).strip()
    if text.startswith("["):
        return text
    return json.dumps(_parse_text_array(text))


def _array(*values: Any) -> str:
    """``ARRAY[a, b, ...]``: PostgreSQL's array text of the values."""
    return "{" + ",".join(_array_item(v) for v in values) + "}"


class _ArrayAgg:
    """``array_agg(x)``: PostgreSQL's array text of the values (``NULL`` for no rows)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def step(self, value: Any) -> None:
        self.items.append(_array_item(value))

    def finalize(self) -> str | None:
        return "{" + ",".join(self.items) + "}" if self.items else None


_SCALARS: list[tuple[str, int, Callable[..., Any]]] = [
    ("regexp", 2, _regexp),
    ("regexp_like", 2, _regexp_like),
    ("regexp_like", 3, _regexp_like),
    ("regexp_replace", -1, _regexp_replace),
    ("md5", 1, _md5),
    ("split_part", 3, _split_part),
    ("initcap", 1, _initcap),
    ("askgres_divisor", 1, _divisor),
    ("askgres_interval_modifier", 2, _interval_modifier),
    ("translate", 3, _translate_chars),
    ("starts_with", 2, _starts_with),
    ("make_date", 3, _make_date),
    ("width_bucket", 4, _width_bucket),
    ("askgres_rint", 1, _rint),
    ("askgres_add_months", 2, _add_months),
    ("askgres_to_char", 2, _to_char),
    ("askgres_left", 2, _left),
    ("askgres_right", 2, _right),
    ("ascii", 1, _ascii),
    ("chr", 1, _chr),
    ("concat_ws", -1, _concat_ws),
    ("askgres_stamp_difference", 2, _stamp_difference),
    ("reverse", 1, _reverse),
    ("askgres_array_length", 2, _array_length),
    ("cardinality", 1, _cardinality),
    ("string_to_array", 2, _string_to_array),
    ("string_to_array", 3, _string_to_array),
    ("askgres_json", 1, _json),
    ("askgres_jsonb", 1, _jsonb),
    ("askgres_json_text", 1, _json_text),
    ("askgres_json_step", 1, _json_step),
    ("askgres_json_path", 1, _json_path),
    ("array", -1, _array),
    ("askgres_json_array", 1, _json_array),
]
