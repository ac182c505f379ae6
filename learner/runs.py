"""Training-run records (``training_runs``): creation, stage updates, and recovery of runs
whose process died (kill -9, power loss)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from learner.registry import BASE
from nl2sql.store import Store

log = structlog.get_logger("askgres.learner")

ACTIVE = ("queued", "synthesizing", "training", "exporting", "evaluating")
FINAL = ("promoted", "refused", "failed", "interrupted")


@dataclass
class Run:
    id: int
    database: str
    status: str
    stage: str
    progress: float
    pid: int | None
    report: dict[str, Any]
    base_model: str
    """The model active when the run was created: the one it fine-tunes on top of."""


def run_dir(data_dir: Path, run_id: int) -> Path:
    return data_dir / "runs" / f"run-{run_id:04d}"


def create_run(store: Store, database: str, *, base_model: str) -> int:
    now = Store.now()
    return store.insert("training_runs", created_at=now, updated_at=now, database=database,
                        status="queued", base_model=base_model)


def update_run(store: Store, run_id: int, **values: Any) -> None:
    values["updated_at"] = Store.now()
    store.update("training_runs", "id", run_id, **values)


def get_run(store: Store, run_id: int) -> Run:
    r = store.query("SELECT * FROM training_runs WHERE id = ?", (run_id,))[0]
    return Run(id=r["id"], database=r["database"], status=r["status"], stage=r["stage"],
               progress=r["progress"], pid=r["pid"], report=json.loads(r["report"] or "{}"),
               base_model=r["base_model"] or BASE)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as dead
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def recover_stale(store: Store) -> list[int]:
    """Mark runs whose process is gone as ``interrupted``; the next run of the same
    database resumes from their saved dataset and checkpoints."""
    stale = []
    marks = ",".join("?" for _ in ACTIVE)
    for r in store.query(f"SELECT id, pid FROM training_runs WHERE status IN ({marks})", ACTIVE):
        if not pid_alive(r["pid"]):
            update_run(store, r["id"], status="interrupted", error="process died before the run finished")
            stale.append(int(r["id"]))
    if stale:
        log.warning("learn.recovered", runs=stale)
    return stale


def active_run(store: Store, database: str | None = None) -> int | None:
    """The id of a run still in progress (its process alive), if any."""
    recover_stale(store)
    marks = ",".join("?" for _ in ACTIVE)
    sql = f"SELECT id FROM training_runs WHERE status IN ({marks})"
    params: tuple[Any, ...] = ACTIVE
    if database is not None:
        sql += " AND database = ?"
        params = (*ACTIVE, database)
    rows = store.query(sql + " ORDER BY id DESC LIMIT 1", params)
    return int(rows[0]["id"]) if rows else None


def resumable_run(store: Store, database: str) -> int | None:
    """The latest run of ``database`` if it was interrupted (to resume it)."""
    rows = store.query("SELECT id, status FROM training_runs WHERE database = ? ORDER BY id DESC LIMIT 1", (database,))
    if rows and rows[0]["status"] == "interrupted":
        return int(rows[0]["id"])
    return None


def unresolved_failures(store: Store, database: str) -> int:
    rows = store.query("SELECT COUNT(*) AS n FROM failures WHERE database = ? AND resolved = 0", (database,))
    return int(rows[0]["n"])
