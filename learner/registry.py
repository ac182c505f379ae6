"""The model registry: every model version ever made, in the ``models`` table of the state
store, with its GGUF under ``data_dir/models/<version>/``.

Nothing is ever deleted: a refused candidate stays as ``refused``, a replaced model as
``retired``. Exactly one row is ``active`` (none means the bundled base model); the
gateway polls :func:`active_version` and hot-swaps when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from gateway.errors import UndefinedObject
from nl2sql.store import Store

log = structlog.get_logger("askgres.learner")

BASE = "base"


@dataclass(frozen=True)
class ModelVersion:
    version: str
    path: Path
    status: str
    parent: str | None
    run_id: int | None
    accuracy: float | None
    created_at: float
    note: str


def _row(r: object) -> ModelVersion:
    d = dict(r)  # type: ignore[call-overload]
    return ModelVersion(
        version=d["version"], path=Path(d["path"]), status=d["status"], parent=d["parent"],
        run_id=d["run_id"], accuracy=d["accuracy"], created_at=d["created_at"], note=d["note"],
    )


def list_models(store: Store) -> list[ModelVersion]:
    return [_row(r) for r in store.query("SELECT * FROM models ORDER BY created_at, version")]


def get_model(store: Store, version: str) -> ModelVersion:
    rows = store.query("SELECT * FROM models WHERE version = ?", (version,))
    if not rows:
        raise UndefinedObject(f'model version "{version}" does not exist')
    return _row(rows[0])


def active_version(store: Store) -> str:
    rows = store.query("SELECT version FROM models WHERE status = 'active' ORDER BY created_at DESC LIMIT 1")
    return str(rows[0]["version"]) if rows else BASE


def ensure_base(store: Store, base_gguf: Path) -> None:
    """Record the bundled model as version ``base`` (once)."""
    with store.tx() as c:
        c.execute(
            "INSERT OR IGNORE INTO models(version, created_at, path, status, note) VALUES (?, ?, ?, 'base', ?)",
            (BASE, Store.now(), str(base_gguf), "bundled Gemma 3 270M (Q4_K_M)"),
        )


def next_version(store: Store) -> str:
    rows = store.query("SELECT COUNT(*) AS n FROM models WHERE version != ?", (BASE,))
    return f"v{int(rows[0]['n']) + 1}"


def add_candidate(store: Store, *, version: str, path: Path, parent: str, run_id: int | None,
                  accuracy: float | None, note: str = "") -> ModelVersion:
    store.insert("models", version=version, created_at=Store.now(), path=str(path), parent=parent,
                 run_id=run_id, accuracy=accuracy, status="candidate", note=note)
    return get_model(store, version)


def set_accuracy(store: Store, version: str, accuracy: float) -> None:
    store.update("models", "version", version, accuracy=accuracy)


def promote(store: Store, version: str) -> None:
    """Make ``version`` the active model in one transaction (the previous one retires)."""
    model = get_model(store, version)
    if model.version != BASE and not model.path.exists():
        raise UndefinedObject(f'model file of "{version}" is missing: {model.path}')
    with store.tx() as c:
        c.execute("UPDATE models SET status = 'retired' WHERE status = 'active'")
        if version != BASE:
            c.execute("UPDATE models SET status = 'active' WHERE version = ?", (version,))
    log.info("model.promoted", version=version)


def refuse(store: Store, version: str, note: str) -> None:
    store.update("models", "version", version, status="refused", note=note)


def rollback(store: Store, to: str | None = None) -> str:
    """Activate ``to``, or the active model's parent (the bundled base at the bottom).
    Returns the version now active."""
    current = active_version(store)
    if to is None:
        to = BASE if current == BASE else (get_model(store, current).parent or BASE)
    promote(store, to)
    log.info("model.rollback", from_version=current, to_version=to)
    return to
