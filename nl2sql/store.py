"""The durable state of askgres: one SQLite file in WAL mode under the data directory.

Tables: ``failures`` (every failed ask), ``asks`` (every answered ask, so feedback can
mark one wrong), ``pairs`` (question/SQL pairs and their review state), ``training_runs``
and ``models`` (the model registry). Every write is a committed transaction, so a process
killed at any point loses nothing that was acknowledged. Safe to open from several
processes (the gateway and a training run) at once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS asks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    database TEXT NOT NULL,
    session_id TEXT NOT NULL,
    username TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    sql TEXT,
    ok INTEGER NOT NULL,
    model_version TEXT NOT NULL DEFAULT '',
    prompt_version TEXT NOT NULL DEFAULT '',
    ms REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    database TEXT NOT NULL,
    question TEXT NOT NULL,
    kind TEXT NOT NULL,              -- no_valid_sql | execution_error | timeout | marked_wrong
    error TEXT NOT NULL DEFAULT '',
    sql TEXT,                        -- last SQL tried
    correct_sql TEXT,                -- given with feedback, or approved later
    attempts TEXT NOT NULL DEFAULT '[]',   -- JSON list of {sql, error, ms}
    context TEXT NOT NULL DEFAULT '{}',    -- JSON: retrieved tables, examples, prompt
    prompt_version TEXT NOT NULL DEFAULT '',
    model_version TEXT NOT NULL DEFAULT '',
    timings TEXT NOT NULL DEFAULT '{}',    -- JSON: stage -> ms
    ask_id INTEGER,
    resolved INTEGER NOT NULL DEFAULT 0,   -- 1 once a training run consumed it
    run_id INTEGER
);
CREATE INDEX IF NOT EXISTS failures_db ON failures(database, resolved);
CREATE TABLE IF NOT EXISTS pairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    database TEXT NOT NULL,
    question TEXT NOT NULL,
    sql TEXT NOT NULL,
    source TEXT NOT NULL,            -- teacher | synth | feedback | admin | failure
    status TEXT NOT NULL DEFAULT 'pending',  -- pending | approved | rejected
    failure_id INTEGER,
    reviewed_by TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS pairs_db ON pairs(database, status);
CREATE TABLE IF NOT EXISTS training_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    database TEXT NOT NULL,
    status TEXT NOT NULL,            -- queued | synthesizing | training | evaluating | promoted | refused | failed
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    pid INTEGER,
    base_model TEXT NOT NULL DEFAULT '',
    candidate_model TEXT,
    n_train INTEGER NOT NULL DEFAULT 0,
    n_eval INTEGER NOT NULL DEFAULT 0,
    current_accuracy REAL,
    candidate_accuracy REAL,
    report TEXT NOT NULL DEFAULT '{}',
    error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS models (
    version TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    path TEXT NOT NULL,
    parent TEXT,
    run_id INTEGER,
    accuracy REAL,
    status TEXT NOT NULL DEFAULT 'candidate',  -- base | candidate | active | retired | refused
    note TEXT NOT NULL DEFAULT ''
);
"""


class Store:
    """Thread-safe access to the state file. Each call opens a short transaction."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conn().executescript(DDL)  # idempotent; executescript manages its own commit
        with self.tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A committed-or-rolled-back write transaction (BEGIN IMMEDIATE)."""
        c = self._conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        else:
            c.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return list(self._conn().execute(sql, params))

    def insert(self, table: str, **values: Any) -> int:
        for k, v in list(values.items()):
            if isinstance(v, (dict, list)):
                values[k] = json.dumps(v, default=str)
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self.tx() as c:
            cur = c.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))
            return int(cur.lastrowid or 0)

    def update(self, table: str, key: str, key_value: Any, **values: Any) -> None:
        for k, v in list(values.items()):
            if isinstance(v, (dict, list)):
                values[k] = json.dumps(v, default=str)
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.tx() as c:
            c.execute(f"UPDATE {table} SET {sets} WHERE {key} = ?", (*values.values(), key_value))

    @staticmethod
    def now() -> float:
        return time.time()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def file_lock(path: Path) -> Any:
    """A lock between processes on the file ``path`` (its folder made if needed), shared by
    the threads of a process (``filelock.FileLock``, not thread-local): the workers of one
    port, the gateway and a training run. Raises ``OSError`` when the folder cannot be made."""
    from filelock import FileLock

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path), thread_local=False)
