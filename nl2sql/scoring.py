"""Execution accuracy, scored with Spider's rules (pure functions; the eval harness and
the learner's promotion gate share them).

Two results are equal when their rows match as multisets, or as ordered lists when the
gold SQL ends with an ORDER BY, after some permutation of the columns (as Spider's
test-suite evaluation does: a prediction that selects the right columns in another order
is right). Values are normalised first: floats (and decimals) are rounded, so
``3.0 == 3`` and ``0.333333 == 0.3333333333``; lists and dicts (DuckDB) become hashable.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import re
from collections import Counter
from collections.abc import Hashable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp

from connectors.base import Backend, Connection
from gateway.errors import PgError

FLOAT_DIGITS = 4
"""Decimal places floats are rounded to before comparison."""

MAX_PERMUTATIONS = 5000
"""Column permutations tried at most (only reached by wide results of look-alike columns)."""

_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_QUERY_START = re.compile(r"^\s*(\(|select\b|with\b|from\b|values\b|table\b)", re.IGNORECASE)


class GoldSqlError(PgError):
    """The gold SQL itself failed: the case cannot be scored."""

    sqlstate = "XX000"


def normalise_value(value: Any) -> Hashable:
    """A hashable, comparison-friendly form of one result value."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if value != value:  # NaN
            return "NaN"
        rounded = round(value, FLOAT_DIGITS)
        return int(rounded) if rounded.is_integer() else rounded
    if isinstance(value, Decimal):
        return normalise_value(float(value))
    if isinstance(value, (list, tuple)):
        return tuple(normalise_value(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), normalise_value(v)) for k, v in value.items()))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (_dt.date, _dt.time, _dt.timedelta)):
        return value
    if isinstance(value, (int, str)):
        return value
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value  # type: ignore[no-any-return]


def normalise_rows(rows: Sequence[Sequence[Any]]) -> list[tuple[Hashable, ...]]:
    return [tuple(normalise_value(v) for v in row) for row in rows]


def _permutations(gold_cols: list[Counter[Hashable]], pred_cols: list[Counter[Hashable]]) -> Iterator[tuple[int, ...]]:
    """Assignments ``perm`` (pred column ``perm[i]`` plays gold column ``i``) in which every
    column pair holds the same multiset of values, a necessary condition."""
    candidates = [[j for j, pc in enumerate(pred_cols) if pc == gc] for gc in gold_cols]
    if any(not c for c in candidates):
        return
    used: set[int] = set()
    perm: list[int] = []

    def walk(i: int) -> Iterator[tuple[int, ...]]:
        if i == len(candidates):
            yield tuple(perm)
            return
        for j in candidates[i]:
            if j in used:
                continue
            used.add(j)
            perm.append(j)
            yield from walk(i + 1)
            perm.pop()
            used.discard(j)

    yield from itertools.islice(walk(0), MAX_PERMUTATIONS)


def results_match(gold_rows: Sequence[Sequence[Any]], pred_rows: Sequence[Sequence[Any]], *, ordered: bool) -> bool:
    """True when ``pred_rows`` equal ``gold_rows`` under Spider's execution rules:
    same number of rows and columns, equal as multisets (as lists when ``ordered``) for
    some permutation of the prediction's columns, values normalised (floats rounded)."""
    gold = normalise_rows(gold_rows)
    pred = normalise_rows(pred_rows)
    if not gold and not pred:
        return True
    if len(gold) != len(pred):
        return False
    width = len(gold[0])
    if any(len(r) != width for r in gold) or any(len(r) != width for r in pred):
        return False
    if ordered and gold == pred:
        return True
    gold_bag = Counter(gold)
    if not ordered and gold_bag == Counter(pred):
        return True
    gold_cols = [Counter(r[i] for r in gold) for i in range(width)]
    pred_cols = [Counter(r[i] for r in pred) for i in range(width)]
    for perm in _permutations(gold_cols, pred_cols):
        permuted = [tuple(r[j] for j in perm) for r in pred]
        if ordered:
            if permuted == gold:
                return True
        elif Counter(permuted) == gold_bag:
            return True
    return False


def gold_is_ordered(sql: str, *, dialect: str = "sqlite") -> bool:
    """True when the outermost query of ``sql`` has an ORDER BY (row order then counts).

    An ORDER BY only inside a subquery (``... WHERE x = (SELECT ... ORDER BY ... LIMIT 1)``)
    does not order the result. Falls back to a text search when sqlglot cannot parse it.
    """
    if not _QUERY_START.match(sql):  # CALL, PRAGMA, DESCRIBE...: not worth a parse (and its warning)
        return bool(_ORDER_BY.search(sql))
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return bool(_ORDER_BY.search(sql))
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    return isinstance(tree, exp.Expression) and tree.args.get("order") is not None


def run_rows(
    conn: Connection, sql: str, *, timeout: float | None = 30.0, max_rows: int | None = 200_000
) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on ``conn`` (errors propagate as :class:`PgError`)."""
    return list(conn.execute(sql, timeout=timeout, max_rows=max_rows).rows)


def execution_match(
    backend: Backend,
    gold_sql: str,
    pred_sql: str,
    *,
    timeout: float | None = 30.0,
    gold_rows: Sequence[Sequence[Any]] | None = None,
) -> bool:
    """Run gold and predicted SQL on ``backend`` (a read-only connection) and compare their
    results with :func:`results_match`, ordered when the gold SQL has an outer ORDER BY.

    A prediction that fails to run (any error) scores False. A gold query that fails raises
    :class:`GoldSqlError` (the pair is broken, not the prediction). ``gold_rows`` skips
    running the gold SQL when its rows are already known.
    """
    conn = backend.connect(read_only=True)
    try:
        if gold_rows is None:
            try:
                gold_rows = run_rows(conn, gold_sql, timeout=timeout)
            except Exception as e:  # noqa: BLE001 - any failure of the gold query breaks the pair
                raise GoldSqlError(f"gold SQL failed: {e}", detail=gold_sql) from e
        try:
            pred_rows = run_rows(conn, pred_sql, timeout=timeout)
        except Exception:  # noqa: BLE001 - a prediction that cannot run is simply wrong
            return False
    finally:
        conn.close()
    return results_match(gold_rows, pred_rows, ordered=gold_is_ordered(gold_sql, dialect=backend.dialect))
