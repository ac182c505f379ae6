"""What the engine keeps between statements: per-database state (schema, shadow catalog,
plan cache), plans, the handles of prepared statements, and answered questions as
outcomes."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlglot import exp

from connectors.base import Backend, Column, ColumnInfo, SchemaInfo
from connectors.types import FLOAT_TYPES, TEXT_TYPES
from gateway.api import AskAnswer, Notice, Outcome
from gateway.catalog import ShadowCatalog
from gateway.params import SchemaIndex
from gateway.protocol.text_format import to_text
from gateway.statements import Utility
from gateway.translate import BackendSQL, StatementInfo

PLAN_CACHE = 1024


# --- per-database state ------------------------------------------------------------------------


class DatabaseState:
    """What the engine knows about one database: its schema (introspected lazily,
    again after DDL) and its shadow catalog, both tagged with a generation."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.generation = 0
        self.schema: SchemaInfo | None = None
        self.index = SchemaIndex(None)
        self.shadow: ShadowCatalog | None = None
        self.shadow_generation = -1
        self.lock = asyncio.Lock()
        self.plans: OrderedDict[tuple[str, int], Plan] = OrderedDict()
        self.no_template: set[str] = set()  # literal templates that must not share a plan

    def invalidate(self) -> None:
        self.generation += 1
        self.schema = None
        self.plans.clear()
        self.no_template.clear()


@dataclass
class Plan:
    """A parsed statement, ready to run again: where it goes and in what SQL."""

    tree: exp.Expr
    info: StatementInfo
    route: str  # "backend" | "catalog"
    dynamic: bool  # calls session functions: fold again on every execution
    backend: BackendSQL | None = None
    catalog_sql: str | None = None
    catalog_order: list[int] = field(default_factory=list)
    session_tables: set[str] = field(default_factory=set)
    inferred: list[Column | None] | None = None
    n_params: int = 0
    described: dict[int, list[Column] | None] = field(default_factory=dict)  # by parameter count
    param_types: dict[tuple[str | None, ...], list[str]] = field(default_factory=dict)
    typed_params: list[str] | None = None  # the parameter types it was compiled for (a variant)
    assigned: list[tuple[int, ColumnInfo]] = field(default_factory=list)  # ($n, the column it is written into)
    compared: list[tuple[int, str]] = field(default_factory=list)  # ($n, the type it is compared with)
    variants: dict[tuple[str, ...], Plan] = field(default_factory=dict)  # by parameter types


@dataclass
class Handle:
    """``Prepared.handle``: what the engine keeps for a prepared statement."""

    kind: str  # "sql" | "utility" | "ask" | "admin" | "empty"
    text: str
    plan: Plan | None = None
    util: Utility | None = None
    outcome: Outcome | None = None



def outcome_from_answer(answer: AskAnswer) -> Outcome:
    """An answered question as a statement's outcome: its rows, ``SELECT n``, and
    NOTICEs with the summary and the SQL that ran."""
    notices = [Notice(answer.summary)] if answer.summary else []
    notices.append(Notice(f"SQL: {answer.sql}"))
    seen = {n.message for n in notices}
    notices.extend(n for n in answer.notices if n.message not in seen)
    return Outcome(tag=f"SELECT {len(answer.rows)}", columns=list(answer.columns), rows=list(answer.rows),
                   notices=notices)


_INT_LIMIT = {"int2": 2**15, "int4": 2**31, "int8": 2**63}


def _fits(pg_type: str, values: list[Any]) -> bool:
    """Whether values can be sent as ``pg_type`` (None always can)."""
    present = [v for v in values if v is not None]
    if not present:
        return True
    if pg_type in TEXT_TYPES:
        return True
    if pg_type in _INT_LIMIT:
        limit = _INT_LIMIT[pg_type]
        return all(isinstance(v, int) and not isinstance(v, bool) and -limit <= v < limit for v in present)
    if pg_type in FLOAT_TYPES:
        return all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in present)
    return False


def as_described(described: list[Column], out: Outcome) -> Outcome | None:
    """A prepared question's later answer in the result type described at Parse, or
    ``None`` when it cannot be (another number of columns, or values that do not fit).
    Types of answer columns on SQLite come partly from their values, so the same SQL over
    other data (no rows, a NULL sum) may be typed otherwise; PostgreSQL would answer with
    the prepared type, and so does this where the values allow it: a column of NULLs fits
    any type, numbers fit a numeric type that holds them, anything fits text."""
    got = list(out.columns or [])
    if len(got) != len(described):
        return None
    changed = [i for i, (g, d) in enumerate(zip(got, described, strict=True)) if g.pg_type != d.pg_type]
    if not changed:
        return out
    rows_in = list(out.rows)
    columns = [list(c) for c in zip(*rows_in, strict=True)] if rows_in else [[] for _ in got]
    for i in changed:
        if not _fits(described[i].pg_type, columns[i]):
            return None
        if described[i].pg_type in TEXT_TYPES:
            columns[i] = [None if v is None else to_text(v) for v in columns[i]]
    rows = [tuple(r) for r in zip(*columns, strict=True)] if rows_in else []
    return replace(out, columns=[replace(g, pg_type=d.pg_type) for g, d in zip(got, described, strict=True)],
                   rows=rows)
