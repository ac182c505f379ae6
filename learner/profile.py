"""What the synthesizer knows about a database: each column's role (key, label, category,
free text, number, date), real values sampled from it, and the foreign-key graph.

Built once per run from :class:`SchemaInfo` plus a few ``GROUP BY`` queries on a read-only
connection (the values questions mention must exist, or the SQL returns nothing).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import structlog

from connectors.base import Backend, Connection, SchemaInfo, TableInfo
from gateway.errors import PgError
from learner import naming

log = structlog.get_logger("askgres.learner.profile")

Kind = Literal["key", "text", "number", "date", "bool", "other"]

_NUM_TYPES = {"int2", "int4", "int8", "float4", "float8", "numeric", "real", "double", "integer", "decimal"}
_DATE_TYPES = {"date", "timestamp", "timestamptz"}
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}")
_LABEL_WORDS = ("name", "title")
_CONTACT_WORDS = {"phone", "fax", "email", "address", "street", "zip", "postal", "cell", "url", "website"}
_PLACE_WORDS = {"city", "country", "state", "region", "continent", "district", "location", "hometown",
                "nationality", "citizenship", "county", "province", "town"}
MAX_VALUES = 4000
"""Distinct values fetched per column at most (with their counts)."""
MAX_ROWS = 3000
"""Rows fetched per table at most (values that occur together, for AND filters and joins)."""


@dataclass
class ColProfile:
    table: str
    name: str
    phrase: str
    kind: Kind
    pg_type: str
    nonnull: int = 0
    distinct: int = 0
    values: list[tuple[Any, int]] = field(default_factory=list)  # (value, rows), most frequent first
    is_fk: bool = False
    is_pk: bool = False

    @property
    def words(self) -> set[str]:
        return set(self.phrase.lower().split())

    @property
    def unique(self) -> bool:
        return self.nonnull > 0 and self.distinct >= 0.9 * self.nonnull

    @property
    def categorical(self) -> bool:
        """Repeating values worth grouping by (country, genre, status...)."""
        if self.kind not in ("text", "bool", "number") or self.is_pk or self.is_contact or self.distinct < 2:
            return False
        if self.nonnull <= 20:
            return self.distinct < self.nonnull
        return self.distinct <= min(60, int(0.6 * self.nonnull))

    @property
    def is_place(self) -> bool:
        return bool(self.words & _PLACE_WORDS)

    @property
    def is_contact(self) -> bool:
        return bool(self.words & _CONTACT_WORDS)

    @property
    def is_integer(self) -> bool:
        return self.pg_type in ("int2", "int4", "int8") or all(
            isinstance(v, int) or (isinstance(v, float) and v.is_integer()) for v, _ in self.values[:50]
        )

    def numbers(self) -> list[float]:
        return sorted(float(v) for v, _ in self.values if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool))

    def texts(self) -> list[str]:
        return [v for v, _ in self.values if isinstance(v, str) and v.strip()]

    def years(self) -> list[int]:
        out: set[int] = set()
        for v, _ in self.values:
            if isinstance(v, (dt.date, dt.datetime)):
                out.add(v.year)
            elif isinstance(v, str) and _DATE_TEXT.match(v):
                out.add(int(v[:4]))
        return sorted(out)


@dataclass
class TableProfile:
    info: TableInfo
    sing: str
    plural: str
    rows: int
    cols: dict[str, ColProfile]
    key: str | None = None  # the column rows are identified by (PK, or the column FKs point at)
    label: list[str] = field(default_factory=list)  # what names a row: [Name] or [FirstName, LastName]
    bridge: bool = False
    sample: list[dict[str, Any]] = field(default_factory=list)  # up to MAX_ROWS real rows

    @property
    def name(self) -> str:
        return self.info.name

    def col(self, name: str) -> ColProfile:
        return self.cols[name]

    def columns(self, *kinds: Kind) -> list[ColProfile]:
        return [c for c in self.cols.values() if not kinds or c.kind in kinds]

    @property
    def label_phrase(self) -> str:
        if len(self.label) == 2:
            return "full name"
        if self.label:
            return self.cols[self.label[0]].phrase
        return "id"


@dataclass(frozen=True)
class Edge:
    """A foreign key: ``child.child_col -> parent.parent_col``; ``role`` is what the key calls the parent."""

    child: str
    child_col: str
    parent: str
    parent_col: str
    role: str


@dataclass
class DbProfile:
    schema: SchemaInfo
    tables: dict[str, TableProfile]
    edges: list[Edge]

    @property
    def dialect(self) -> str:
        return self.schema.dialect

    def children(self, parent: str) -> list[Edge]:
        return [e for e in self.edges if e.parent == parent and e.child != parent]

    def parents(self, child: str) -> list[Edge]:
        return [e for e in self.edges if e.child == child and e.parent != child]

    def chains(self) -> list[tuple[Edge, Edge]]:
        """Two-hop paths: ``a -> b -> c`` (a's FK to b, b's FK to c) and ``a <- m -> c`` (m has FKs to both)."""
        out: list[tuple[Edge, Edge]] = []
        for e1 in self.edges:
            if e1.child == e1.parent:
                continue
            for e2 in self.edges:
                if e2.child == e2.parent or e2 == e1:
                    continue
                if e2.child == e1.parent and e2.parent != e1.child:
                    out.append((e1, e2))  # chain
                elif e2.child == e1.child and e2.parent != e1.parent:
                    out.append((e1, e2))  # two parents of one child (or of a bridge table)
        return out


def _kind(col_type: str, pg_type: str, name: str, is_key: bool) -> Kind:
    t = pg_type.lower()
    if is_key:
        return "key"
    if t == "bool":
        return "bool"
    if t in _DATE_TYPES or re.search(r"date|time", col_type, re.I):
        return "date"
    if t in _NUM_TYPES:
        return "number"
    if t in ("text", "varchar", "bpchar", "char", "name") or re.search(r"char|text|clob|string", col_type, re.I):
        return "text"
    return "other"


def _fetch_values(conn: Connection, table: str, col: str, *, timeout: float) -> tuple[list[tuple[Any, int]], int]:
    q = f'SELECT "{col}", COUNT(*) FROM "{table}" WHERE "{col}" IS NOT NULL GROUP BY "{col}" ORDER BY 2 DESC LIMIT {MAX_VALUES}'
    rows = conn.execute(q, timeout=timeout, max_rows=MAX_VALUES).all_rows()
    values = sorted(((r[0], int(r[1])) for r in rows), key=lambda vc: (-vc[1], str(vc[0])))  # deterministic ties
    if len(values) >= MAX_VALUES:
        n = conn.execute(f'SELECT COUNT(DISTINCT "{col}") FROM "{table}"', timeout=timeout).all_rows()[0][0]
        return values, int(n or 0)
    return values, len(values)


def _pick_label(tp: TableProfile) -> list[str]:
    cols = [c for c in tp.cols.values() if c.kind == "text"]
    first = next((c for c in cols if c.phrase in ("first name", "fname", "given name", "forename")), None)
    last = next((c for c in cols if c.phrase in ("last name", "lname", "surname", "family name")), None)
    if first is not None and last is not None:
        return [first.name, last.name]
    scored: list[tuple[int, str]] = []
    for c in cols:
        head = c.phrase.split()[-1] if c.phrase else ""
        score = 0
        if head in _LABEL_WORDS:
            score += 10 - len(c.phrase.split())
        elif "name" in c.phrase:
            score += 4
        if c.unique:
            score += 3
        if c.is_contact:
            score -= 6
        if score > 2:
            scored.append((score, c.name))
    scored.sort(key=lambda s: -s[0])
    return [scored[0][1]] if scored else []


def build_profile(backend: Backend, schema: SchemaInfo, *, timeout: float = 5.0) -> DbProfile:
    """Profile every table of ``schema`` (views skipped) with a read-only connection."""
    conn = backend.connect(read_only=True)
    tables: dict[str, TableProfile] = {}
    edges: list[Edge] = []
    try:
        referenced: dict[str, set[str]] = {}
        for t in schema.tables:
            for fk in t.foreign_keys:
                if len(fk.columns) == 1 and schema.table(fk.ref_table) is not None:
                    referenced.setdefault(schema.table(fk.ref_table).name, set()).add(fk.ref_columns[0])  # type: ignore[union-attr]
        for t in schema.tables:
            if t.kind != "table":
                continue
            fk_cols = {fk.columns[0] for fk in t.foreign_keys if len(fk.columns) == 1}
            pk = set(t.primary_key) | {c.name for c in t.columns if c.primary_key}
            sing, plural = naming.table_noun(t.name)
            cols: dict[str, ColProfile] = {}
            for c in t.columns:
                is_int = c.pg_type in ("int2", "int4", "int8")
                is_key = (c.name in fk_cols and (is_int or naming.is_id_name(c.name))) or (
                    c.name in pk and (is_int or naming.is_id_name(c.name))) or (naming.is_id_name(c.name) and is_int)
                cp = ColProfile(
                    table=t.name, name=c.name, phrase=naming.column_phrase(c.name, t.name),
                    kind=_kind(c.type, c.pg_type, c.name, is_key), pg_type=c.pg_type,
                    is_fk=c.name in fk_cols, is_pk=c.name in pk,
                )
                try:
                    cp.values, cp.distinct = _fetch_values(conn, t.name, c.name, timeout=timeout)
                except PgError as e:
                    log.warning("synth.profile_column_failed", table=t.name, column=c.name, error=str(e))
                cp.nonnull = sum(n for _, n in cp.values)
                if cp.kind == "text" and cp.values and all(isinstance(v, str) and _DATE_TEXT.match(v) for v, _ in cp.values[:20]):
                    cp.kind = "date"
                cols[c.name] = cp
            rows = max((c.nonnull for c in cols.values()), default=0)
            if t.row_count:
                rows = t.row_count
            key = None
            if len(pk) == 1:
                key = next(iter(pk))
            elif t.name in referenced and len(referenced[t.name]) == 1:
                key = next(iter(referenced[t.name]))
            tp = TableProfile(info=t, sing=sing, plural=plural, rows=rows, cols=cols, key=key)
            try:
                names = [c.name for c in t.columns]
                got = conn.execute(
                    "SELECT " + ", ".join(f'"{n}"' for n in names) + f' FROM "{t.name}" LIMIT {MAX_ROWS}',
                    timeout=timeout, max_rows=MAX_ROWS,
                ).rows
                tp.sample = [dict(zip(names, r)) for r in sorted(got, key=lambda r: tuple(str(v) for v in r))]
            except PgError as e:
                log.warning("synth.profile_rows_failed", table=t.name, error=str(e))
            tp.label = _pick_label(tp)
            if len(tp.label) == 1 and naming.singularize(cols[tp.label[0]].phrase) == sing:
                cols[tp.label[0]].phrase = "name"  # airlines.Airline: "the airline's name", not "the airline of airlines"
            non_fk = [c for c in cols.values() if not c.is_fk and c.kind != "key"]
            tp.bridge = len(fk_cols) >= 2 and len(non_fk) <= 1
            tables[t.name] = tp
        for t in schema.tables:
            if t.name not in tables:
                continue
            for fk in t.foreign_keys:
                parent = schema.table(fk.ref_table)
                if len(fk.columns) != 1 or parent is None or parent.name not in tables:
                    continue
                if parent.column(fk.ref_columns[0]) is None or t.column(fk.columns[0]) is None:
                    continue
                edges.append(Edge(
                    child=t.name, child_col=fk.columns[0], parent=parent.name,
                    parent_col=parent.column(fk.ref_columns[0]).name,  # type: ignore[union-attr]
                    role=naming.role_phrase(fk.columns[0], parent.name),
                ))
    finally:
        conn.close()
    log.info("synth.profiled", database=schema.database, tables=len(tables), edges=len(edges))
    return DbProfile(schema=schema, tables=tables, edges=edges)
