"""Per-database schema index: which tables does a question need?

Tables and columns (types, keys, sample values, descriptions) are embedded with
all-MiniLM-L6-v2 into LanceDB under the data directory, one LanceDB table per database
and schema fingerprint: built on first use, rebuilt when
:meth:`connectors.base.SchemaInfo.fingerprint` changes (checked in the background at
most every ``REFRESH_S`` seconds). Text values of the database are kept in memory
(``value -> (table, column)``) so that a question naming ``Brazil`` or ``AC/DC`` finds
the column holding it.

:meth:`SchemaIndex.retrieve` scores each table by its own and its columns' similarity
to the question, plus lexical matches of question words against table and column names
and values; it keeps the best ``k`` and adds the tables on the shortest foreign-key
paths between them, so the prompt holds what a join needs and nothing else.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from connectors.base import Backend, SchemaInfo, TableInfo
from nl2sql.background import OncePerKey
from nl2sql.constrain import TOKEN, STOP_WORDS, singular, question_words, words
from nl2sql.embed import DIM, Embedder, write_lock

log = structlog.get_logger("askgres.schema_index")

REFRESH_S = 30.0
"""Seconds between background checks of a database's schema fingerprint."""
MAX_VALUES_PER_COLUMN = 2000
MAX_VALUE_LEN = 60
MAX_JOIN_HOPS = 3
_TEXT_TYPES = {"text", "varchar", "bpchar", "char", "name"}
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'|“([^”]+)”")


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "db"


@dataclass
class Retrieved:
    """What retrieval chose for one question."""

    tables: list[str]  # in schema order (a stable prompt prefix)
    scores: dict[str, float]
    joined: list[str] = field(default_factory=list)  # added as join paths
    values: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (table, column) -> values named

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "joined": self.joined,
            "scores": {k: round(v, 3) for k, v in sorted(self.scores.items(), key=lambda kv: -kv[1])[:8]},
            "values": {f"{t}.{c}": v for (t, c), v in self.values.items()},
        }


@dataclass
class DbSchema:
    """One database's introspected schema and its index."""

    database: str
    schema: SchemaInfo
    fingerprint: str
    table_name: str
    values: dict[str, list[tuple[str, str, str]]]
    graph: dict[str, set[str]]
    checked_at: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, DIM), dtype=np.float32))


def _table_text(t: TableInfo) -> str:
    cols = ", ".join(" ".join(words(c.name)) for c in t.columns)
    desc = f" {t.description}" if t.description else ""
    return f"{' '.join(words(t.name))} ({t.name}) table.{desc} Columns: {cols}"


def _column_text(t: TableInfo, c: Any) -> str:
    bits = [f"{' '.join(words(t.name))} {' '.join(words(c.name))} ({t.name}.{c.name}, {c.pg_type})"]
    if c.description:
        bits.append(c.description)
    if c.samples:
        bits.append("e.g. " + ", ".join(str(s)[:30] for s in c.samples[:3]))
    return " ".join(bits)


def fk_graph(schema: SchemaInfo) -> dict[str, set[str]]:
    """Undirected adjacency of tables along foreign keys (real table names)."""
    graph: dict[str, set[str]] = {t.name: set() for t in schema.tables}
    for t in schema.tables:
        for fk in t.foreign_keys:
            ref = schema.table(fk.ref_table)
            if ref is not None and ref.name != t.name:
                graph[t.name].add(ref.name)
                graph[ref.name].add(t.name)
    return graph


def shortest_path(graph: dict[str, set[str]], start: str, goals: set[str], *, max_hops: int) -> list[str] | None:
    """Tables from ``start`` to the nearest of ``goals`` (both ends included), BFS."""
    if start in goals:
        return [start]
    prev: dict[str, str | None] = {start: None}
    queue = deque([(start, 0)])
    while queue:
        node, depth = queue.popleft()
        if depth >= max_hops:
            continue
        for nxt in sorted(graph.get(node, ())):
            if nxt in prev:
                continue
            prev[nxt] = node
            if nxt in goals:
                path = [nxt]
                cur: str | None = node
                while cur is not None:
                    path.append(cur)
                    cur = prev[cur]
                return path[::-1]
            queue.append((nxt, depth + 1))
    return None


def _read_values(backend: Backend, schema: SchemaInfo) -> dict[str, list[tuple[str, str, str]]]:
    """``lower(value) -> [(table, column, value)]`` for the text columns (read-only)."""
    index: dict[str, list[tuple[str, str, str]]] = {}
    conn = backend.connect(read_only=True)
    try:
        for t in schema.tables:
            for c in t.columns:
                if c.pg_type not in _TEXT_TYPES:
                    continue
                sql = (
                    f'SELECT DISTINCT "{c.name}" FROM "{t.name}" WHERE "{c.name}" IS NOT NULL '
                    f"LIMIT {MAX_VALUES_PER_COLUMN}"
                )
                try:
                    res = conn.execute(sql, timeout=5.0, max_rows=MAX_VALUES_PER_COLUMN)
                except Exception as e:  # noqa: BLE001 - a column we cannot read is simply not indexed
                    log.debug("schema_index.values_skipped", table=t.name, column=c.name, error=str(e))
                    continue
                for (value,) in res.rows:
                    if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE_LEN:
                        continue
                    index.setdefault(value.strip().lower(), []).append((t.name, c.name, value))
    finally:
        conn.close()
    return index


class SchemaIndex:
    """The schema indexes of every database, in one LanceDB directory."""

    def __init__(self, root: Path, embedder: Embedder, *, refresh_s: float = REFRESH_S) -> None:
        self.root = Path(root)
        self.embedder = embedder
        self.refresh_s = refresh_s
        self._dbs: dict[str, DbSchema] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._refreshing = OncePerKey("schema_index.refresh")
        self._lance: Any = None

    def _db(self) -> Any:
        if self._lance is None:
            import lancedb

            self.root.mkdir(parents=True, exist_ok=True)
            self._lance = lancedb.connect(str(self.root))
        return self._lance

    def _lock(self, database: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(database, threading.Lock())

    # -- building ----------------------------------------------------------------------

    def get(self, backend: Backend) -> DbSchema:
        """The database's schema and index: built on first use; a background check of
        the fingerprint every ``refresh_s`` seconds rebuilds it when the schema changed."""
        db = self._dbs.get(backend.name)
        if db is None:
            with self._lock(backend.name):
                db = self._dbs.get(backend.name)
                if db is None:
                    db = self._build(backend, backend.introspect(samples=3))
                    self._dbs[backend.name] = db
        elif time.monotonic() - db.checked_at > self.refresh_s:
            self._refresh_later(backend)
        return db

    def refresh(self, backend: Backend) -> DbSchema:
        """Re-introspect now; rebuild the index if the fingerprint changed."""
        with self._lock(backend.name):
            schema = backend.introspect(samples=3)
            old = self._dbs.get(backend.name)
            if old is not None and old.fingerprint == schema.fingerprint():
                old.checked_at = time.monotonic()
                return old
            db = self._build(backend, schema)
            self._dbs[backend.name] = db
            return db

    def _refresh_later(self, backend: Backend) -> None:
        def checked() -> None:
            db = self._dbs.get(backend.name)
            if db is not None:
                db.checked_at = time.monotonic()

        self._refreshing.start(backend.name, lambda: self.refresh(backend), on_start=checked)

    def _build(self, backend: Backend, schema: SchemaInfo) -> DbSchema:
        t0 = time.perf_counter()
        fingerprint = schema.fingerprint()
        name = f"schema__{slug(backend.name)}__{fingerprint}"
        lance = self._db()
        with write_lock(self.root):  # another worker may be building the same table
            rows, vectors, built = self._load_or_write(lance, name, backend.name, schema)
        values = _read_values(backend, schema)
        db = DbSchema(
            database=backend.name, schema=schema, fingerprint=fingerprint, table_name=name, values=values,
            graph=fk_graph(schema), checked_at=time.monotonic(), rows=rows, vectors=vectors,
        )
        log.info("schema_index.ready", db=backend.name, fingerprint=fingerprint, built=built,
                 tables=len(schema.tables), items=len(rows), values=len(values),
                 ms=round((time.perf_counter() - t0) * 1000))
        return db

    def _load_or_write(
        self, lance: Any, name: str, database: str, schema: SchemaInfo,
    ) -> tuple[list[dict[str, Any]], np.ndarray, bool]:
        """The index table ``name``: read when it exists, else embedded and written (and
        the database's older tables dropped). Returns (rows, vectors, built)."""
        import pyarrow as pa

        existing = set(_table_names(lance))
        rows: list[dict[str, Any]] = []
        for t in schema.tables:
            rows.append({"kind": "table", "table": t.name, "column": "", "text": _table_text(t)})
            for c in t.columns:
                rows.append({"kind": "column", "table": t.name, "column": c.name, "text": _column_text(t, c)})
        if name in existing:
            tbl = lance.open_table(name)
            data = tbl.to_arrow()
            vectors = np.asarray(data.column("vector").to_pylist(), dtype=np.float32).reshape(-1, DIM)
            rows = [
                {"kind": k, "table": tb, "column": co, "text": tx}
                for k, tb, co, tx in zip(
                    data.column("kind").to_pylist(), data.column("table").to_pylist(),
                    data.column("column").to_pylist(), data.column("text").to_pylist(),
                )
            ]
            built = False
        else:
            vectors = self.embedder.encode([r["text"] for r in rows]) if rows else np.zeros((0, DIM), np.float32)
            arrow = pa.table({
                "kind": [r["kind"] for r in rows],
                "table": [r["table"] for r in rows],
                "column": [r["column"] for r in rows],
                "text": [r["text"] for r in rows],
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), DIM),
            })
            lance.create_table(name, data=arrow, mode="overwrite")
            built = True
            prefix = f"schema__{slug(database)}__"
            for old in existing:
                if old.startswith(prefix) and old != name:
                    try:
                        lance.drop_table(old)
                    except Exception as e:  # noqa: BLE001 - a stale table only costs disk
                        log.debug("schema_index.drop_failed", table=old, error=str(e))
        return rows, vectors, built

    # -- retrieval ---------------------------------------------------------------------

    def similarities(self, db: DbSchema, question: str) -> np.ndarray:
        """Cosine similarity of the question to every indexed table and column."""
        if len(db.rows) == 0:
            return np.zeros(0, dtype=np.float32)
        q = self.embedder.query(question)
        if len(db.rows) <= 2000:
            return db.vectors @ q
        # large schemas: let LanceDB find the nearest items, the rest score 0
        hits = self._db().open_table(db.table_name).search(q).limit(400).to_arrow()
        sims = np.zeros(len(db.rows), dtype=np.float32)
        key = {(r["table"], r["column"]): i for i, r in enumerate(db.rows)}
        for tb, co, vec in zip(hits.column("table").to_pylist(), hits.column("column").to_pylist(),
                               hits.column("vector").to_pylist()):
            sims[key[(tb, co)]] = float(np.asarray(vec, dtype=np.float32) @ q)
        return sims

    def value_matches(self, db: DbSchema, question: str) -> dict[tuple[str, str], list[str]]:
        """Database values the question names: quoted strings and word n-grams."""
        return values_named(db.values, question)

    def retrieve(self, db: DbSchema, question: str, *, k: int) -> Retrieved:
        """The tables for ``question``: best ``k`` plus join paths (all when ``k`` <= 0)."""
        schema = db.schema
        values = self.value_matches(db, question)
        if k <= 0 or k >= len(schema.tables):
            return Retrieved(tables=[t.name for t in schema.tables], scores={}, values=values)
        sims = self.similarities(db, question)
        own: dict[str, float] = {}
        cols: dict[str, list[float]] = {}
        for row, sim in zip(db.rows, sims):
            if row["kind"] == "table":
                own[row["table"]] = float(sim)
            else:
                cols.setdefault(row["table"], []).append(float(sim))
        qwords = question_words(question)
        scores: dict[str, float] = {}
        for t in schema.tables:
            col_sims = sorted(cols.get(t.name, [0.0]), reverse=True)
            score = max(own.get(t.name, 0.0), col_sims[0]) + 0.25 * (col_sims[1] if len(col_sims) > 1 else 0.0)
            twords = {singular(w) for w in words(t.name)}
            if twords and twords <= qwords:
                score += 0.35
            elif twords & qwords:
                score += 0.08
            col_hit = 0.0
            for c in t.columns:
                cwords = {singular(w) for w in words(c.name)} - {"id"}
                if cwords and cwords <= qwords:
                    col_hit = max(col_hit, 0.12 if len(cwords) == 1 else 0.2)
            score += col_hit
            if any(tb == t.name for tb, _ in values):
                score += 0.4
            scores[t.name] = score
        ranked = sorted(scores, key=lambda n: -scores[n])
        chosen = ranked[:k]
        joined: list[str] = []
        if len(chosen) > 1:
            connected = {chosen[0]}
            for name in chosen[1:]:
                path = shortest_path(db.graph, name, connected, max_hops=MAX_JOIN_HOPS)
                if path is None:
                    connected.add(name)
                    continue
                for node in path:
                    if node not in connected and node not in chosen:
                        joined.append(node)
                    connected.add(node)
        keep = set(chosen) | set(joined)
        ordered = [t.name for t in schema.tables if t.name in keep]
        return Retrieved(tables=ordered, scores=scores, joined=joined, values=values)

    def prompt_schema(self, db: DbSchema, retrieved: Retrieved) -> SchemaInfo:
        """The retrieved tables for the prompt. Sample values are shown only where the
        question named a value of the column (``Country text e.g. 'Brazil'``): other
        samples would triple the prompt's length for little help."""
        tables: list[TableInfo] = []
        wanted = set(retrieved.tables)
        for t in db.schema.tables:
            if t.name not in wanted:
                continue
            cols = [replace(c, samples=list(retrieved.values.get((t.name, c.name), []))) for c in t.columns]
            tables.append(replace(t, columns=cols))
        return SchemaInfo(database=db.schema.database, dialect=db.schema.dialect, tables=tables)


def values_named(
    values: dict[str, list[tuple[str, str, str]]], question: str, *, stop: frozenset[str] = STOP_WORDS,
) -> dict[tuple[str, str], list[str]]:
    """The values of ``values`` (a database's value index) that ``question`` names: quoted
    strings and word n-grams equal to a stored value, any case (single words in ``stop`` are
    not looked up); (table, column) -> at most three values."""
    found: dict[tuple[str, str], list[str]] = {}
    grams: list[str] = [a or b or c for a, b, c in _QUOTED.findall(question)]
    toks = TOKEN.findall(question)
    for n in range(min(5, len(toks)), 0, -1):
        for i in range(len(toks) - n + 1):
            gram = " ".join(toks[i : i + n])
            if n == 1 and (gram.lower() in stop or len(gram) < 3 or gram.isdigit()):
                continue
            grams.append(gram)
    for gram in grams:
        for table, column, value in values.get(gram.strip().lower(), ()):
            vals = found.setdefault((table, column), [])
            if value not in vals and len(vals) < 3:
                vals.append(value)
    return found


def _table_names(lance: Any) -> Iterable[str]:
    listed = lance.list_tables() if hasattr(lance, "list_tables") else lance.table_names()
    names = getattr(listed, "tables", listed)
    return list(names)
