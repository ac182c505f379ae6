"""The review queue: question/SQL pairs in the store's ``pairs`` table, proposed by the
teacher, by failures or by people, and approved or rejected by an admin.

Every write is one committed transaction that sets ``updated_at`` (and ``reviewed_by``
for reviews). Approving a pair proposed for a failure also records the SQL as that
failure's ``correct_sql``. Approved pairs reach the ask pipeline's example index at once:
in-process through the ``on_approved`` hook (``Pipeline.add_example``), and in any other
process through the index's sync, which notices the change in the approved pairs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import structlog

from gateway.errors import DataException, UndefinedObject
from nl2sql.store import Store

log = structlog.get_logger("askgres.learner.pairs")

Status = Literal["pending", "approved", "rejected"]
STATUSES: tuple[Status, ...] = ("pending", "approved", "rejected")
SOURCES = ("teacher", "synth", "feedback", "admin", "failure")


class PairNotFound(UndefinedObject):
    """No pair with that id."""


@dataclass
class PairRow:
    id: int
    created_at: float
    updated_at: float
    database: str
    question: str
    sql: str
    source: str
    status: str
    failure_id: int | None
    reviewed_by: str | None
    note: str

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> PairRow:
        return cls(**{k: r[k] for k in r.keys()})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


OnApproved = Callable[[PairRow], None]


def _clean_sql(sql: str) -> str:
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise DataException("SQL must not be empty")
    return text


def _clean_question(question: str) -> str:
    text = " ".join(question.split())
    if not text:
        raise DataException("question must not be empty")
    return text


def list_pairs(
    store: Store, *, database: str | None = None, status: str | None = None, source: str | None = None,
    limit: int | None = None,
) -> list[PairRow]:
    """Pairs, newest first, filtered by database, status and source."""
    where, args = [], []
    for col, val in (("database", database), ("status", status), ("source", source)):
        if val is not None:
            where.append(f"{col} = ?")
            args.append(val)
    sql = "SELECT * FROM pairs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [PairRow.from_row(r) for r in store.query(sql, tuple(args))]


def get_pair(store: Store, pair_id: int) -> PairRow:
    rows = store.query("SELECT * FROM pairs WHERE id = ?", (pair_id,))
    if not rows:
        raise PairNotFound(f"pair {pair_id} does not exist")
    return PairRow.from_row(rows[0])


def add_pair(
    store: Store, *, database: str, question: str, sql: str, source: str = "admin", status: Status = "pending",
    failure_id: int | None = None, reviewed_by: str | None = None, note: str = "",
    on_approved: OnApproved | None = None,
) -> PairRow:
    """Insert one pair (one transaction); returns it."""
    if status not in STATUSES:
        raise DataException(f"status must be one of {', '.join(STATUSES)}")
    now = Store.now()
    q, s = _clean_question(question), _clean_sql(sql)
    with store.tx() as c:
        cur = c.execute(
            "INSERT INTO pairs (created_at, updated_at, database, question, sql, source, status, failure_id, reviewed_by, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now, now, database, q, s, source, status, failure_id, reviewed_by, note),
        )
        pid = int(cur.lastrowid or 0)
        if status == "approved" and failure_id is not None:
            c.execute("UPDATE failures SET correct_sql = ? WHERE id = ?", (s, failure_id))
    row = get_pair(store, pid)
    log.info("pairs.added", id=pid, database=database, source=source, status=status)
    if status == "approved" and on_approved is not None:
        on_approved(row)
    return row


def edit_pair(store: Store, pair_id: int, *, question: str | None = None, sql: str | None = None,
              reviewed_by: str | None = None, note: str | None = None) -> PairRow:
    """Change a pair's question and/or SQL (its status stays)."""
    sets: dict[str, Any] = {"updated_at": Store.now()}
    if question is not None:
        sets["question"] = _clean_question(question)
    if sql is not None:
        sets["sql"] = _clean_sql(sql)
    if reviewed_by is not None:
        sets["reviewed_by"] = reviewed_by
    if note is not None:
        sets["note"] = note
    with store.tx() as c:
        cur = c.execute(f"UPDATE pairs SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?", (*sets.values(), pair_id))
        if cur.rowcount == 0:
            raise PairNotFound(f"pair {pair_id} does not exist")
        row = c.execute("SELECT status, failure_id, sql FROM pairs WHERE id = ?", (pair_id,)).fetchone()
        if row["status"] == "approved" and row["failure_id"] is not None:
            c.execute("UPDATE failures SET correct_sql = ? WHERE id = ?", (row["sql"], row["failure_id"]))
    log.info("pairs.edited", id=pair_id, fields=sorted(k for k in sets if k != "updated_at"))
    return get_pair(store, pair_id)


def approve(
    store: Store, pair_id: int, *, reviewer: str, question: str | None = None, sql: str | None = None,
    note: str | None = None, on_approved: OnApproved | None = None,
) -> PairRow:
    """Approve a pair, optionally correcting its question or SQL first, in one transaction.
    A failure the pair answers gets the SQL as its ``correct_sql``."""
    sets: dict[str, Any] = {"status": "approved", "reviewed_by": reviewer, "updated_at": Store.now()}
    if question is not None:
        sets["question"] = _clean_question(question)
    if sql is not None:
        sets["sql"] = _clean_sql(sql)
    if note is not None:
        sets["note"] = note
    with store.tx() as c:
        cur = c.execute(f"UPDATE pairs SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?", (*sets.values(), pair_id))
        if cur.rowcount == 0:
            raise PairNotFound(f"pair {pair_id} does not exist")
        row = c.execute("SELECT failure_id, sql FROM pairs WHERE id = ?", (pair_id,)).fetchone()
        if row["failure_id"] is not None:
            c.execute("UPDATE failures SET correct_sql = ? WHERE id = ?", (row["sql"], row["failure_id"]))
    pair = get_pair(store, pair_id)
    log.info("pairs.approved", id=pair_id, database=pair.database, by=reviewer, failure=pair.failure_id)
    if on_approved is not None:
        on_approved(pair)
    return pair


def reject(store: Store, pair_id: int, *, reviewer: str, note: str | None = None) -> PairRow:
    """Reject a pair (it leaves the example index and training data)."""
    sets: dict[str, Any] = {"status": "rejected", "reviewed_by": reviewer, "updated_at": Store.now()}
    if note is not None:
        sets["note"] = note
    with store.tx() as c:
        cur = c.execute(f"UPDATE pairs SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?", (*sets.values(), pair_id))
        if cur.rowcount == 0:
            raise PairNotFound(f"pair {pair_id} does not exist")
    log.info("pairs.rejected", id=pair_id, by=reviewer)
    return get_pair(store, pair_id)


def approved_pairs(store: Store, database: str) -> list[PairRow]:
    return list_pairs(store, database=database, status="approved")


def queue_proposal(
    store: Store, *, database: str, question: str, sql: str, source: str, failure_id: int | None = None, note: str = "",
) -> PairRow | None:
    """Queue a proposed pair for review unless the same question/SQL (or, for a failure,
    the same SQL for that failure) is already there; returns the new row or None."""
    s = _clean_sql(sql)
    q = _clean_question(question)
    if failure_id is not None:
        dup = store.query("SELECT id FROM pairs WHERE failure_id = ? AND sql = ?", (failure_id, s))
    else:
        dup = store.query("SELECT id FROM pairs WHERE database = ? AND question = ? AND sql = ?", (database, q, s))
    if dup:
        return None
    return add_pair(store, database=database, question=q, sql=s, source=source, status="pending",
                    failure_id=failure_id, note=note)
