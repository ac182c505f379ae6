"""Golden catalog queries of BI tools (``tests/fixtures/bi/<tool>.sql``): reading them and
comparing what askgres answers with what PostgreSQL 15 answers.

A fixture file holds statements separated by a line ``-- ====``. Before each statement,
``-- name: NAME`` names it and ``-- check: ...`` lines say what must match (default
``columns``):

- ``ok``: runs without error on both servers;
- ``columns``: the same column names, in order;
- ``has-columns a, b``: askgres's result has these columns (for ``SELECT c.*`` queries,
  whose full column list is PostgreSQL's internals);
- ``rows`` / ``rows a, b``: the same rows (all columns, or the named ones), as multisets;
- ``rowcount``: the same number of rows;
- ``contains col: v1, v2``: the column holds these values on both servers.

Values are compared after normalising: numbers to 6 significant digits, everything else
as ``str`` (``None`` stays ``None``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bi"
DELIMITER = "-- ===="


@dataclass
class Statement:
    tool: str
    name: str
    sql: str
    checks: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.tool}:{self.name}"


@dataclass
class Answer:
    """What one server answered: columns and rows, or an error message."""

    columns: list[str] | None
    rows: list[tuple[Any, ...]]
    error: str | None = None


def load(tool: str) -> list[Statement]:
    text = (FIXTURES / f"{tool}.sql").read_text()
    out: list[Statement] = []
    for chunk in text.split("\n" + DELIMITER + "\n")[1:]:
        name, checks, body = "", [], []
        for line in chunk.splitlines():
            if line.startswith("-- name:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("-- check:"):
                checks.append(line.split(":", 1)[1].strip())
            elif line.startswith("-- ") and not body:
                continue
            else:
                body.append(line)
        sql = "\n".join(body).strip()
        if sql:
            out.append(Statement(tool=tool, name=name or f"stmt{len(out) + 1}", sql=sql, checks=checks or ["columns"]))
    return out


def tools() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.sql"))


def norm(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, (float, decimal.Decimal)):
        f = float(value)
        return int(f) if f.is_integer() else float(f"{f:.6g}")
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return str(value)


def run(conn: Any, sql: str) -> Answer:
    """Run ``sql`` (simple protocol, possibly several statements) on a psycopg connection;
    the answer of the last statement that returned rows."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql, prepare=False)
            columns: list[str] | None = None
            rows: list[tuple[Any, ...]] = []
            while True:
                if cur.description is not None:
                    columns = [d.name for d in cur.description]
                    rows = [tuple(norm(v) for v in r) for r in cur.fetchall()]
                if not cur.nextset():
                    break
            return Answer(columns, rows)
    except Exception as e:  # noqa: BLE001 - a server error is an answer here
        conn.rollback()
        return Answer(None, [], error=f"{type(e).__name__}: {e}".strip())


def _project(ans: Answer, cols: list[str]) -> Counter[tuple[Any, ...]]:
    assert ans.columns is not None
    idx = []
    for c in cols:
        assert c in ans.columns, f"column {c!r} missing from {ans.columns}"
        idx.append(ans.columns.index(c))
    return Counter(tuple(r[i] for i in idx) for r in ans.rows)


def _names(spec: str) -> list[str]:
    return [c.strip() for c in spec.split(",") if c.strip()]


def compare(stmt: Statement, ref: Answer, got: Answer) -> list[str]:
    """Mismatches between PostgreSQL's answer ``ref`` and askgres's ``got`` (empty: equal)."""
    if ref.error:
        return [f"the fixture fails on PostgreSQL 15 itself: {ref.error}"]
    if got.error:
        return [f"askgres error: {got.error}"]
    problems: list[str] = []
    for check in stmt.checks:
        kind, _, arg = check.partition(" ")
        arg = arg.strip()
        if kind == "ok":
            continue
        if got.columns is None or ref.columns is None:
            if got.columns != ref.columns:
                problems.append(f"returned rows: postgres={ref.columns is not None} askgres={got.columns is not None}")
            continue
        if kind == "columns":
            if got.columns != ref.columns:
                problems.append(f"columns differ:\n  postgres: {ref.columns}\n  askgres:  {got.columns}")
        elif kind == "has-columns":
            missing = [c for c in _names(arg) if c not in got.columns]
            if missing:
                problems.append(f"askgres lacks columns {missing} (has {got.columns})")
        elif kind == "rows":
            cols = _names(arg) or list(ref.columns)
            try:
                want, have = _project(ref, cols), _project(got, cols)
            except AssertionError as e:
                problems.append(str(e))
                continue
            if want != have:
                problems.append(
                    f"rows differ on {cols}:\n  only postgres: {sorted((want - have).elements(), key=repr)[:12]}"
                    f"\n  only askgres:  {sorted((have - want).elements(), key=repr)[:12]}"
                )
        elif kind == "rowcount":
            if len(ref.rows) != len(got.rows):
                problems.append(f"row counts differ: postgres={len(ref.rows)} askgres={len(got.rows)}")
        elif kind == "contains":
            col, _, values = arg.partition(":")
            col = col.strip()
            for side, ans in (("postgres", ref), ("askgres", got)):
                if ans.columns is None or col not in ans.columns:
                    problems.append(f"{side}: no column {col!r}")
                    continue
                present = {r[ans.columns.index(col)] for r in ans.rows}
                lacking = [v for v in _names(values) if v not in present]
                if lacking:
                    problems.append(f"{side}: column {col!r} lacks {lacking}")
        else:
            raise ValueError(f"{stmt.id}: unknown check {check!r}")
    return problems


_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    return _WS.sub(" ", text).strip()
