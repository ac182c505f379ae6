"""Every candidate training pair is checked before it is kept: it parses in the backend's
dialect, is one read-only query over tables and columns that exist (the ask pipeline's own
checks, :mod:`nl2sql.validate`), runs within the time and row limits on a read-only
connection, returns something unless the question asks for nothing ("no", "none",
"never"...), and is not a duplicate (same normalised question, or the same normalised SQL
more than ``max_per_sql`` times: a few paraphrases of one query are kept on purpose).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from connectors.base import Backend, Connection, SchemaInfo
from gateway.errors import PgError, QueryCanceled
from learner.naming import normalize_question
from nl2sql.validate import ValidationError, validate

_ASKS_FOR_NOTHING = re.compile(
    r"\b(no|none|never|nobody|nothing|without|zero|not any|n't any|not have any|do not have|does not have|have not)\b", re.I
)


class HasPair(Protocol):
    question: str
    sql: str


P = TypeVar("P", bound=HasPair)


@dataclass
class Verdict:
    ok: bool
    reason: str = ""  # parse | not_read_only | unknown_table | unknown_column | error | timeout | empty | too_many_rows | tie | duplicate
    detail: str = ""
    rows: int = 0


def normalize_sql(sql: str, dialect: str) -> str:
    """A canonical form for de-duplication: sqlglot's rendering, lower case, single spaces."""
    text = sql.strip().rstrip(";")
    try:
        text = sqlglot.parse_one(text, read=dialect).sql(dialect=dialect, normalize=True)
    except SqlglotError:
        pass
    return " ".join(text.lower().split())


_QUOTED = re.compile(r"'(?:[^']|'')*'|\"((?:[^\"]|\"\")*)\"")


def _string_quotes(sql: str, names: set[str]) -> str:
    """Double-quoted strings that name no table or column become single-quoted literals
    (SQLite accepts ``= "NY"``; the pipeline's validator, rightly, does not)."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)
        inner = m.group(1).replace('""', '"')
        if inner.lower() in names or re.search(r"\bAS\s*$", sql[: m.start()], re.I):
            return m.group(0)
        return "'" + inner.replace("'", "''") + "'"

    return _QUOTED.sub(sub, sql)


def canonical_sql(sql: str, schema: SchemaInfo) -> str:
    """``sql`` in the style the model is trained to write: string literals single-quoted,
    table and column names spelled as the schema spells them, sqlglot's layout. Returns the
    input (trimmed) when it does not parse."""
    tables = {t.name.lower(): t.name for t in schema.tables}
    columns = {c.name.lower(): c.name for t in schema.tables for c in t.columns}
    text = _string_quotes(sql.strip().rstrip(";").strip(), set(tables) | set(columns))
    try:
        tree = sqlglot.parse_one(text, read=schema.dialect)
    except SqlglotError:
        return text
    for node in tree.find_all(exp.Table):
        real = tables.get(node.name.lower())
        if real is not None and isinstance(node.this, exp.Identifier):
            node.this.set("this", real)
    for col in tree.find_all(exp.Column):
        real = columns.get(col.name.lower())
        if real is not None and isinstance(col.this, exp.Identifier):
            col.this.set("this", real)
    out = tree.sql(dialect=schema.dialect)
    return _NOT_OP.sub(lambda m: f"{m.group(1)} NOT {m.group(2)}", out)  # "x NOT IN", as the synthesizer writes


_NOT_OP = re.compile(r"\bNOT ((?:[A-Za-z_][\w]*\.)?[A-Za-z_][\w]*) (IN \(|LIKE |ILIKE )")


def asks_for_nothing(question: str) -> bool:
    """Questions whose right answer may be empty ("artists with no albums")."""
    return bool(_ASKS_FOR_NOTHING.search(question))


def trivially_empty(rows: Sequence[Sequence[Any]]) -> bool:
    """No rows, or one row of zeros/NULLs (a COUNT or SUM over nothing)."""
    if not rows:
        return True
    if len(rows) == 1:
        return all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0) for v in rows[0])
    return all(all(v is None for v in r) for r in rows)


class PairValidator:
    """Checks pairs against one database; keeps the keys it has accepted for de-duplication.
    Opens one read-only connection; use as a context manager or call :meth:`close`."""

    def __init__(
        self, backend: Backend, schema: SchemaInfo, *, timeout: float = 5.0, max_rows: int = 1000, max_per_sql: int = 2,
    ) -> None:
        self.backend = backend
        self.schema = schema
        self.dialect = schema.dialect
        self.timeout = timeout
        self.max_rows = max_rows
        self.max_per_sql = max_per_sql
        self._conn: Connection | None = None
        self._questions: set[str] = set()
        self._sqls: dict[str, int] = {}

    def __enter__(self) -> PairValidator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            self._conn = self.backend.connect(read_only=True)
        return self._conn

    def ties_at_limit(self, sql: str) -> bool:
        """True when ``... ORDER BY x LIMIT k`` cuts between rows with equal ``x``: the
        answer would be arbitrary ("which customer has the most invoices" when all tie)."""
        try:
            tree = sqlglot.parse_one(sql, read=self.dialect)
        except SqlglotError:
            return False
        order, limit = tree.args.get("order"), tree.args.get("limit")
        if not isinstance(tree, exp.Select) or order is None or limit is None:
            return False
        try:
            k = int(limit.expression.name)
        except (AttributeError, ValueError):
            return False
        probe = tree.copy()
        probe.set("expressions", [o.this.copy() for o in order.expressions])
        probe.set("distinct", None)
        probe.set("limit", exp.Limit(expression=exp.Literal.number(k + 1)))
        try:
            rows = self.conn.execute(probe.sql(dialect=self.dialect), timeout=self.timeout, max_rows=k + 1).all_rows()
        except PgError:
            return False
        return len(rows) == k + 1 and rows[k] == rows[k - 1]

    def check(self, question: str, sql: str, *, allow_empty: bool | None = None, no_ties: bool = False) -> Verdict:
        """Parse, read-only, run within limits, not trivially empty; with ``no_ties``, no
        arbitrary cut at a LIMIT. No de-duplication."""
        try:
            validate(sql, self.schema)
        except ValidationError as e:
            return Verdict(False, e.kind, e.message)
        try:
            res = self.conn.execute(sql.strip().rstrip(";"), timeout=self.timeout, max_rows=self.max_rows)
            rows = res.all_rows()
        except QueryCanceled as e:
            return Verdict(False, "timeout", e.message)
        except PgError as e:
            return Verdict(False, "error", e.message)
        if res.truncated:
            return Verdict(False, "too_many_rows", f"more than {self.max_rows} rows", len(rows))
        empty_ok = asks_for_nothing(question) if allow_empty is None else allow_empty
        if not empty_ok and trivially_empty(rows):
            return Verdict(False, "empty", "the query returns nothing", len(rows))
        if no_ties and self.ties_at_limit(sql):
            return Verdict(False, "tie", "rows tie where LIMIT cuts: the answer is arbitrary", len(rows))
        return Verdict(True, rows=len(rows))

    def keys(self, question: str, sql: str) -> tuple[str, str]:
        return normalize_question(question), normalize_sql(sql, self.dialect)

    def is_duplicate(self, question: str, sql: str) -> bool:
        qk, sk = self.keys(question, sql)
        return qk in self._questions or self._sqls.get(sk, 0) >= self.max_per_sql

    def remember(self, question: str, sql: str) -> None:
        """Count a pair as seen (e.g. pairs already in the store)."""
        qk, sk = self.keys(question, sql)
        self._questions.add(qk)
        self._sqls[sk] = self._sqls.get(sk, 0) + 1

    def block(self, question: str, sql: str) -> None:
        """Refuse this question and any pair with this SQL from now on (held-out pairs)."""
        qk, sk = self.keys(question, sql)
        self._questions.add(qk)
        self._sqls[sk] = max(self._sqls.get(sk, 0), self.max_per_sql)

    def accept(self, question: str, sql: str, *, allow_empty: bool | None = None, no_ties: bool = True) -> Verdict:
        """:meth:`check` (ties refused) plus de-duplication; an accepted pair is remembered."""
        if self.is_duplicate(question, sql):
            return Verdict(False, "duplicate", "already have this question or query")
        v = self.check(question, sql, allow_empty=allow_empty, no_ties=no_ties)
        if v.ok:
            self.remember(question, sql)
        return v


def validate_pairs(
    backend: Backend, schema: SchemaInfo, pairs: Iterable[P], *, timeout: float = 5.0, max_rows: int = 1000,
    max_per_sql: int = 2, seen: Iterable[tuple[str, str]] = (),
) -> tuple[list[P], list[tuple[P, Verdict]]]:
    """Split ``pairs`` into (kept, rejected with the reason). ``seen`` pairs count as
    already accepted (duplicates of them are rejected)."""
    kept: list[P] = []
    rejected: list[tuple[P, Verdict]] = []
    with PairValidator(backend, schema, timeout=timeout, max_rows=max_rows, max_per_sql=max_per_sql) as v:
        for q, s in seen:
            v.remember(q, s)
        for p in pairs:
            verdict = v.accept(p.question, p.sql)
            if verdict.ok:
                kept.append(p)
            else:
                rejected.append((p, verdict))
    return kept, rejected
