"""Synthetic examples: question/SQL pairs the schema synthesizer writes for a database,
retrieved as few-shot examples beside the approved ones.

A small model copies and adapts a close example far better than it writes a query from
nothing: "How many tracks belong to the rock genre?" is answered by the model that is
shown "How many tracks are in the Jazz genre?" with its SQL. People approve a few dozen
pairs; the synthesizer (:mod:`learner.synth`, no LLM: the schema's foreign keys and real
values, every pair validated by execution) writes hundreds, so most questions find a
neighbour of their shape. Built once per schema fingerprint (seeded: the same pairs for
the same schema), embedded and kept in LanceDB beside the schema index, and rebuilt when
the schema changes; ``ask.synthetic_examples`` sets how many (0: none).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from connectors.base import Backend, SchemaInfo
from nl2sql.background import OncePerKey
from nl2sql.embed import DIM, Embedder, write_lock

log = structlog.get_logger("askgres.synthetic")

SEED = 20261123
"""Seed of the synthesizer: the same schema gets the same pairs in every process."""


@dataclass(frozen=True)
class SyntheticSet:
    """One database's synthetic pairs and their question vectors (unit length)."""

    fingerprint: str
    questions: list[str]
    sqls: list[str]
    vectors: np.ndarray


class SyntheticExamples:
    """The synthetic pairs of every database, per schema fingerprint, in one LanceDB
    directory. :meth:`build` makes or loads a database's set (the pipeline's warm-up calls
    it; the gateway, in a low-priority thread from its first question on); :meth:`get` never
    blocks on a build: once a set was built, a changed schema starts the new one in the
    background and questions asked meanwhile go without synthetic examples. A pipeline
    that was never warmed (a test's, a tool's) never synthesizes."""

    def __init__(self, root: Path, embedder: Embedder, *, n: int) -> None:
        self.root = Path(root)
        self.embedder = embedder
        self.n = n
        self._sets: dict[str, SyntheticSet] = {}
        self._building = OncePerKey("synthetic")
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._active = False
        self._closing = threading.Event()

    def close(self) -> None:
        """Stop a background build within one candidate, storing nothing (the pipeline is
        closing)."""
        self._closing.set()

    def get(self, backend: Backend, schema: SchemaInfo, fingerprint: str) -> SyntheticSet | None:
        """The set for this schema, or None while it is being built (started here)."""
        if self.n <= 0 or not self._active:
            return None
        have = self._sets.get(backend.name)
        if have is not None and have.fingerprint == fingerprint:
            return have
        if not self._closing.is_set():
            self._building.start(backend.name,
                                 lambda: self.build(backend, schema, fingerprint, should_stop=self._closing.is_set))
        return None

    def build(self, backend: Backend, schema: SchemaInfo, fingerprint: str, *,
              should_stop: Callable[[], bool] | None = None) -> SyntheticSet | None:
        """Load or make (synthesize, embed, store) the set for this schema, now. Once
        ``should_stop()`` is true (the process is exiting) the synthesizer stops within one
        candidate and nothing is stored."""
        if self.n <= 0:
            return None
        self._active = True
        with self._guard:
            lock = self._locks.setdefault(backend.name, threading.Lock())
        with lock:
            have = self._sets.get(backend.name)
            if have is not None and have.fingerprint == fingerprint:
                return have
            from nl2sql.schema_index import slug

            t0 = time.perf_counter()
            name = f"synth__{slug(backend.name)}__{fingerprint}__{self.n}"
            import lancedb

            self.root.mkdir(parents=True, exist_ok=True)
            lance = lancedb.connect(str(self.root))
            with write_lock(self.root):
                found = _read(lance, name)
                built = found is None
                if found is None:
                    found = self._make(backend, schema, should_stop)
                    if should_stop is not None and should_stop():
                        return None
                    _write(lance, name, *found, drop_prefix=f"synth__{slug(backend.name)}__")
            questions, sqls, vectors = found
            made = SyntheticSet(fingerprint, questions, sqls, vectors)
            self._sets[backend.name] = made
            log.info("synthetic.ready", db=backend.name, pairs=len(questions), built=built,
                     ms=round((time.perf_counter() - t0) * 1000))
            return made

    def _make(self, backend: Backend, schema: SchemaInfo,
              should_stop: Callable[[], bool] | None) -> tuple[list[str], list[str], np.ndarray]:
        from learner.synth import synthesize

        pairs = synthesize(backend, schema, n=self.n, seed=SEED, should_stop=should_stop)
        if should_stop is not None and should_stop():
            return [], [], np.zeros((0, DIM), np.float32)
        questions = [p.question for p in pairs]
        sqls = [p.sql for p in pairs]
        vectors = self.embedder.encode(questions) if questions else np.zeros((0, DIM), np.float32)
        return questions, sqls, np.asarray(vectors, dtype=np.float32)


def _read(lance: Any, name: str) -> tuple[list[str], list[str], np.ndarray] | None:
    from nl2sql.schema_index import _table_names

    if name not in set(_table_names(lance)):
        return None
    data = lance.open_table(name).to_arrow()
    vectors = np.asarray(data.column("vector").to_pylist(), dtype=np.float32).reshape(-1, DIM)
    return data.column("question").to_pylist(), data.column("sql").to_pylist(), vectors


def _write(lance: Any, name: str, questions: list[str], sqls: list[str], vectors: np.ndarray, *, drop_prefix: str) -> None:
    """Store the set as ``name`` and drop the database's sets of other schemas."""
    import pyarrow as pa

    from nl2sql.schema_index import _table_names

    for old in _table_names(lance):
        if old.startswith(drop_prefix) and old != name:
            lance.drop_table(old)
    lance.create_table(name, data=pa.table({
        "question": questions,
        "sql": sqls,
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), DIM),
    }), mode="overwrite")
