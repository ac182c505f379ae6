"""The example index: approved question/SQL pairs, retrieved as few-shot examples.

Pairs with ``status='approved'`` in the store's ``pairs`` table are embedded (the
question) into one LanceDB table under the data directory. :meth:`ExampleIndex.sync`
brings it in line with the store (new, edited and withdrawn approvals) and is cheap
when nothing changed (one ``count``/``max`` query); :meth:`ExampleIndex.add` makes a
pair count for the very next question, before any retraining.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from nl2sql.embed import DIM, Embedder, write_lock
from nl2sql.store import Store
from nl2sql.synthetic import SyntheticSet

log = structlog.get_logger("askgres.examples")

TABLE = "examples"
SYNTHETIC_HANDICAP = 0.05
"""Taken from a synthetic example's similarity when ranking it against approved ones."""
SYNC_EVERY_S = 1.0
"""Most often the store is asked whether approvals changed."""


@dataclass(frozen=True)
class Example:
    question: str
    sql: str
    score: float
    pair_id: int | None = None
    source: str = "approved"
    """``approved`` (a person's pair) or ``synthetic`` (:mod:`nl2sql.synthetic`)."""


def normalise_question(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def sql_identity(sql: str) -> str:
    """``sql`` as compared for sameness: lower case, one kind of quote, single spaces."""
    return " ".join(sql.lower().replace('"', "'").strip().rstrip(";").split())


@dataclass
class _Row:
    key: int  # pair id (> 0) or a local id (< 0) for examples added without a pair
    database: str
    question: str
    sql: str
    updated_at: float


class ExampleIndex:
    """Approved pairs in LanceDB, mirrored in memory per database for fast search."""

    def __init__(self, root: Path, embedder: Embedder, store: Store) -> None:
        self.root = Path(root)
        self.embedder = embedder
        self.store = store
        self._lock = threading.RLock()
        self._rows: dict[int, _Row] = {}
        self._vectors: dict[int, np.ndarray] = {}
        self._pending: list[_Row] = []
        self._next_local = -1
        self._signature: tuple[Any, ...] | None = None
        self._checked = 0.0
        self._lance: Any = None
        self._table: Any = None
        self._by_db: dict[str, tuple[list[int], np.ndarray]] | None = None
        self._loaded = False
        self._hidden_questions: frozenset[str] = frozenset()
        self._hidden_sqls: frozenset[str] = frozenset()

    def hide(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Never retrieve these ``(question, sql)`` pairs, nor any example with the same
        question or the same SQL (:func:`sql_identity`), approved or synthetic: the
        learner's gate asks held-out questions that may sit in the index, and must measure
        the model with examples as they are served, not the retrieval of the answer itself."""
        pairs = list(pairs)
        with self._lock:
            self._hidden_questions = frozenset(normalise_question(q) for q, _ in pairs)
            self._hidden_sqls = frozenset(sql_identity(s) for _, s in pairs)

    # -- storage -----------------------------------------------------------------------

    def _open(self) -> None:
        if self._loaded:
            return
        import lancedb

        self.root.mkdir(parents=True, exist_ok=True)
        self._lance = lancedb.connect(str(self.root))
        self._reopen()
        if self._table is not None:
            data = self._table.to_arrow()
            keys = data.column("key").to_pylist()
            vecs = data.column("vector").to_pylist()
            for i, key in enumerate(keys):
                self._rows[key] = _Row(
                    key, data.column("database")[i].as_py(), data.column("question")[i].as_py(),
                    data.column("sql")[i].as_py(), data.column("updated_at")[i].as_py(),
                )
                self._vectors[key] = np.asarray(vecs[i], dtype=np.float32)
            if keys and min(keys) < 0:
                self._next_local = min(keys) - 1
        self._loaded = True

    def _reopen(self) -> None:
        """The table, if it exists (another process may have created it since :meth:`_open`)."""
        try:
            self._table = self._lance.open_table(TABLE)
        except Exception:  # noqa: BLE001 - not there yet (lancedb raises ValueError/FileNotFoundError by version)
            self._table = None

    def _write(self, rows: list[_Row], vectors: np.ndarray) -> None:
        import pyarrow as pa

        data = pa.table({
            "key": pa.array([r.key for r in rows], pa.int64()),
            "database": [r.database for r in rows],
            "question": [r.question for r in rows],
            "sql": [r.sql for r in rows],
            "updated_at": pa.array([r.updated_at for r in rows], pa.float64()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), DIM),
        })
        if self._table is None:
            self._table = self._lance.create_table(TABLE, data=data, mode="overwrite")
        else:
            self._table.add(data)

    def _delete(self, keys: list[int]) -> None:
        if self._table is not None and keys:
            self._table.delete(f"key IN ({', '.join(str(int(k)) for k in keys)})")

    def _flush(self) -> None:
        """Embed and store the rows added since the last search (one batch)."""
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        vectors = self.embedder.encode([r.question for r in rows])
        with write_lock(self.root):  # other workers mirror the same pairs into the same table
            if self._table is None:
                self._reopen()
            # delete every key written, not only those this process has: another worker
            # may have stored the same pair since
            self._delete([r.key for r in rows if r.key > 0 or r.key in self._vectors])
            self._write(rows, vectors)
        for row, vec in zip(rows, vectors):
            self._rows[row.key] = row
            self._vectors[row.key] = vec
        self._by_db = None

    # -- changes -----------------------------------------------------------------------

    def add(self, database: str, question: str, sql: str, *, pair_id: int | None = None) -> None:
        """Index one pair now (it is searchable by the next :meth:`search`)."""
        with self._lock:
            self._open()
            if pair_id is None:
                pair_id = self._next_local
                self._next_local -= 1
            self._pending.append(_Row(pair_id, database, question.strip(), sql.strip().rstrip(";"), time.time()))
            self._by_db = None

    def sync(self, *, force: bool = False) -> bool:
        """Mirror the store's approved pairs; True when something changed. At most one
        store query per second unless ``force``."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._checked < SYNC_EVERY_S:
                return False
            self._checked = now
            sig_row = self.store.query(
                "SELECT count(*) AS n, max(updated_at) AS u, max(id) AS m, sum(id) AS s "
                "FROM pairs WHERE status = 'approved'"
            )[0]
            signature = (sig_row["n"], sig_row["u"], sig_row["m"], sig_row["s"])
            if not force and signature == self._signature:
                return False
            self._open()
            approved = {
                int(r["id"]): r
                for r in self.store.query("SELECT id, database, question, sql, updated_at FROM pairs WHERE status = 'approved'")
            }
            gone = [k for k in self._rows if k > 0 and k not in approved]
            pending_keys = {r.key for r in self._pending}
            for key, r in approved.items():
                have = self._rows.get(key)
                if key in pending_keys:
                    continue
                if have is None or have.updated_at != r["updated_at"] or have.sql != r["sql"] or have.question != r["question"]:
                    self._pending.append(_Row(key, r["database"], r["question"], r["sql"], float(r["updated_at"])))
            if gone:
                with write_lock(self.root):
                    self._delete(gone)
                for k in gone:
                    self._rows.pop(k, None)
                    self._vectors.pop(k, None)
            changed = bool(gone or self._pending)
            self._flush()
            self._signature = signature
            if changed:
                self._by_db = None
                log.info("examples.synced", approved=len(approved), removed=len(gone))
            return changed

    # -- search ------------------------------------------------------------------------

    def texts(self) -> list[str]:
        """Every indexed example as ``question`` and ``sql`` text (for :mod:`nl2sql.vocab`)."""
        with self._lock:
            self._open()
            return [f"{r.question}\n{r.sql}" for r in [*self._rows.values(), *self._pending]]

    def count(self, database: str | None = None) -> int:
        with self._lock:
            self._open()
            rows = list(self._rows.values()) + self._pending
            return sum(1 for r in rows if database is None or r.database == database)

    def search(self, database: str, question: str, *, k: int, synthetic: SyntheticSet | None = None,
               min_similarity: float = 0.0) -> list[Example]:
        """The ``k`` examples of ``database`` most like ``question``, best first: approved
        pairs, and the ``synthetic`` ones (:mod:`nl2sql.synthetic`) ranked
        :data:`SYNTHETIC_HANDICAP` lower, so that people's pair wins a near tie. An SQL
        shown once is not shown again under another wording: paraphrases would spend the
        prompt on one example. None less similar than ``min_similarity``."""
        if k <= 0:
            return []
        with self._lock:
            self._open()
            self._flush()
            if self._by_db is None:
                by_db: dict[str, list[int]] = {}
                for key, row in self._rows.items():
                    by_db.setdefault(row.database, []).append(key)
                self._by_db = {
                    db: (keys, np.stack([self._vectors[k] for k in keys])) for db, keys in by_db.items()
                }
            entry = self._by_db.get(database)
            keys, matrix = entry if entry is not None else ([], np.zeros((0, DIM), np.float32))
            rows = [self._rows[k] for k in keys]
        n_synth = len(synthetic.questions) if synthetic is not None else 0
        if not rows and not n_synth:
            return []
        q = self.embedder.query(question)
        # two products, not one over a concatenated matrix: no copy of the synthetic
        # vectors per question
        sims = np.concatenate([matrix @ q, synthetic.vectors @ q if synthetic is not None and n_synth
                               else np.zeros(0, np.float32)])
        ranked = sims.copy()
        ranked[len(rows):] -= SYNTHETIC_HANDICAP
        out: list[Example] = []
        seen: set[str] = set()
        hidden_q, hidden_sql = self._hidden_questions, self._hidden_sqls
        for i in map(int, np.argsort(-ranked, kind="stable")):
            if min_similarity > 0 and sims[i] < min_similarity:
                continue
            if i < len(rows):
                row = rows[i]
                text, sql, pair_id, source = row.question, row.sql, row.key if row.key > 0 else None, "approved"
            else:
                assert synthetic is not None
                j = i - len(rows)
                text, sql, pair_id, source = synthetic.questions[j], synthetic.sqls[j], None, "synthetic"
            ident = sql_identity(sql)
            if ident in seen or ident in hidden_sql or (hidden_q and normalise_question(text) in hidden_q):
                continue
            seen.add(ident)
            out.append(Example(text, sql, float(sims[i]), pair_id, source))
            if len(out) >= k:
                break
        return out
