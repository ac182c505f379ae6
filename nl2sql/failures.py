"""The failure log, in the state store: every ask in ``asks``, every failure in
``failures`` with what the learner needs (question, database, retrieved context, prompt
and model version, each SQL attempt with its error, timings).

``SELECT askgres.feedback('wrong'[, 'correct SQL'])`` marks the session's last answered
ask as a failure of kind ``marked_wrong``; with the correct SQL it also files a pending
pair (source ``feedback``) for an admin to review.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import structlog

from nl2sql.state import AskResult
from nl2sql.store import Store

log = structlog.get_logger("askgres.failures")

KINDS = ("no_valid_sql", "execution_error", "timeout", "marked_wrong")


def record(store: Store, result: AskResult, *, session_id: str = "", user: str = "") -> tuple[int, int | None]:
    """Log one ask (and its failure when it failed): ``(ask_id, failure_id)``."""
    ctx = result.context
    ask_id = store.insert(
        "asks",
        created_at=store.now(),
        database=result.database,
        session_id=session_id,
        username=user,
        question=result.question,
        sql=result.sql,
        ok=int(result.ok),
        model_version=str(ctx.get("model_version", "")),
        prompt_version=str(ctx.get("prompt_version", "")),
        ms=round(result.ms, 2),
    )
    if result.ok:
        return ask_id, None
    failure_id = store.insert(
        "failures",
        created_at=store.now(),
        database=result.database,
        question=result.question,
        kind=result.kind or "no_valid_sql",
        error=result.error or "",
        sql=result.sql,
        attempts=[asdict(a) for a in result.attempts],
        context=ctx,
        prompt_version=str(ctx.get("prompt_version", "")),
        model_version=str(ctx.get("model_version", "")),
        timings=result.timings,
        ask_id=ask_id,
    )
    log.info("ask.failure_logged", db=result.database, kind=result.kind, failure_id=failure_id)
    return ask_id, failure_id


class NothingToMark(Exception):
    """The session has no answered question to mark."""


def mark_wrong(
    store: Store,
    *,
    session_id: str,
    correct_sql: str | None = None,
    user: str = "",
    context: dict[str, Any] | None = None,
    note: str = "",
) -> tuple[int, int | None, dict[str, Any]]:
    """Mark the session's last answered ask wrong: ``(failure_id, pair_id, ask row)``.
    ``context`` is the ask's retrieved context when the caller still has it."""
    rows = store.query(
        "SELECT * FROM asks WHERE session_id = ? AND ok = 1 ORDER BY id DESC LIMIT 1", (session_id,)
    )
    if not rows:
        raise NothingToMark("this session has no answered question to mark")
    ask = dict(rows[0])
    ctx = dict(context or {})
    if note:
        ctx["note"] = note
    failure_id = store.insert(
        "failures",
        created_at=store.now(),
        database=ask["database"],
        question=ask["question"],
        kind="marked_wrong",
        error=f"marked wrong by {user or 'a user'}",
        sql=ask["sql"],
        correct_sql=correct_sql,
        attempts=[{"sql": ask["sql"], "error": None, "stage": "ok", "ms": ask["ms"]}],
        context=ctx,
        prompt_version=ask["prompt_version"],
        model_version=ask["model_version"],
        timings={"total": ask["ms"]},
        ask_id=ask["id"],
    )
    pair_id = None
    if correct_sql:
        now = store.now()
        pair_id = store.insert(
            "pairs", created_at=now, updated_at=now, database=ask["database"], question=ask["question"],
            sql=correct_sql.strip().rstrip(";"), source="feedback", status="pending", failure_id=failure_id,
        )
    log.info("ask.marked_wrong", db=ask["database"], ask_id=ask["id"], failure_id=failure_id, pair_id=pair_id)
    return failure_id, pair_id, ask


def list_failures(store: Store, *, database: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest failures first, JSON columns decoded."""
    sql = "SELECT * FROM failures"
    params: tuple[Any, ...] = ()
    if database:
        sql += " WHERE database = ?"
        params = (database,)
    sql += " ORDER BY id DESC LIMIT ?"
    out = []
    for row in store.query(sql, (*params, limit)):
        item = dict(row)
        for key in ("attempts", "context", "timings"):
            try:
                item[key] = json.loads(item[key]) if item.get(key) else None
            except (TypeError, ValueError):
                pass
        out.append(item)
    return out
