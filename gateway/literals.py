"""Plan reuse for simple-protocol statements that differ only in their constants.

Clients of the simple protocol (pgbench ``-M simple``, psql, BI tools) send each
statement with its values written in: ``... WHERE "TrackId" = 17`` then ``= 18``. Parsing
and translating every one costs milliseconds; :func:`template` replaces the numbers and
plain strings by ``$n`` parameters so that all of them share one plan, and the values are
bound instead. A template is only used when every replaced constant is a value the
statement compares, limits by or inserts (:func:`values_only`); constants that shape the
statement (``GROUP BY 1``, ``date_trunc('month', ...)``, a select-list ``1``) keep the
statement on the ordinary path.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sqlglot import exp

_ALLOWED_PARENTS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.In, exp.Between,
                    exp.Limit, exp.Offset, exp.Fetch)


_NEXT = re.compile(r"""--|/\*|"|'|(?<![\w$.])[0-9]""")  # what the scanner stops at
_QUOTED_IDENT_REST = re.compile(r'(?:[^"]|"")*+"')
_STRING_REST = re.compile(r"((?:[^']|'')*+)'")
_NUMBER = re.compile(r"[0-9.]+(?:[eE][0-9+\-][0-9]*)?")
_WORD_CHAR = re.compile(r"[\w$]")


def template(sql: str) -> tuple[str, list[Any]] | None:
    """``(sql with $1..$n, values)``, or ``None`` when there is nothing to replace or the
    text has constructs this scanner does not handle (``$``, ``E''``, unterminated
    quotes). One regex search per comment, quoted name or constant: the text between
    them is not looked at character by character."""
    if "$" in sql:
        return None
    out: list[str] = []
    values: list[Any] = []
    n = len(sql)
    i = last = 0
    while (m := _NEXT.search(sql, i)) is not None:
        i = m.start()
        c = sql[i]
        if c == "-":
            nl = sql.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif c == "/":
            end = sql.find("*/", i + 2)
            if end < 0:
                return None
            i = end + 2
        elif c == '"':
            q = _QUOTED_IDENT_REST.match(sql, i + 1)
            if q is None:
                return None
            i = q.end()
        elif c == "'":
            j = i - 1
            while j >= 0 and sql[j] in " \t\r\n":
                j -= 1
            if j >= 0 and _WORD_CHAR.match(sql[j]):  # E'..', date '...', interval '...': leave them
                return None
            q = _STRING_REST.match(sql, i + 1)
            if q is None:
                return None
            out.append(sql[last:i])
            values.append(q.group(1).replace("''", "'"))
            out.append(f"${len(values)}")
            i = last = q.end()
        else:
            k = _NUMBER.match(sql, i).end()  # type: ignore[union-attr]  # a digit always matches
            if k < n and _WORD_CHAR.match(sql[k]):  # 1e, 123abc: not a constant of its own
                i = k
                continue
            text = sql[i:k]
            try:
                value: Any = int(text) if text.isdigit() else Decimal(text)
            except ArithmeticError:
                return None
            out.append(sql[last:i])
            values.append(value)
            out.append(f"${len(values)}")
            i = last = k
    if not values:
        return None
    out.append(sql[last:])
    return "".join(out), values


def values_only(tree: exp.Expr, count: int) -> bool:
    """Whether every one of the ``count`` ``$n`` of a template stands where a bound value
    means the same as the constant did."""
    params = list(tree.find_all(exp.Parameter))
    if isinstance(tree, exp.Command) or len(params) != count:
        return False  # sqlglot did not parse it all (EXPLAIN ...): keep the constants
    for p in params:
        node: exp.Expr = p
        parent = node.parent
        while isinstance(parent, (exp.Paren, exp.Neg)):
            node, parent = parent, parent.parent
        if isinstance(parent, exp.Tuple) and isinstance(parent.parent, exp.Values) \
                and isinstance(parent.parent.parent, exp.Insert):
            continue
        if isinstance(parent, exp.EQ) and isinstance(parent.parent, exp.Update):
            continue
        if not isinstance(parent, _ALLOWED_PARENTS):
            return False
        if isinstance(parent, (exp.Like, exp.ILike)) and node is parent.this:
            return False
        if isinstance(parent, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
            other = parent.expression if node is parent.this else parent.this
            if not isinstance(other, (exp.Column, exp.Dot)):
                return False  # `1 = 1`: nothing to take a type from
    return True
