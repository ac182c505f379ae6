"""The databases a gateway serves, opened from the settings."""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from connectors.base import Backend
from gateway.config import DatabaseConfig, Settings

log = structlog.get_logger("askgres.connectors")


def open_backend(db: DatabaseConfig) -> Backend:
    """One configured database as a :class:`Backend`."""
    if db.kind == "sqlite":
        from connectors.sqlite import SqliteBackend

        return SqliteBackend(db.name, db.path, read_only=db.read_only)
    if db.kind == "duckdb":
        from connectors.duckdb import DuckdbBackend

        return DuckdbBackend(db.name, db.path, read_only=db.read_only)
    raise ValueError(f"unknown database kind {db.kind!r}")


def configured_databases(settings: Settings) -> list[DatabaseConfig]:
    """``settings.databases``, or the Chinook demo (built under ``data_dir/demo`` the first
    time) when none are configured."""
    if settings.databases:
        return list(settings.databases)
    from connectors.chinook import build_demo

    return build_demo(settings.data_dir / "demo")


def open_backends(settings: Settings) -> dict[str, Backend]:
    """Every served database by name. Names must be unique; a database that cannot be
    opened raises, after closing those already open."""
    return open_all(configured_databases(settings))


def open_all(databases: Iterable[DatabaseConfig]) -> dict[str, Backend]:
    backends: dict[str, Backend] = {}
    try:
        for db in databases:
            if db.name in backends:
                raise ValueError(f"database name {db.name!r} is configured twice")
            backends[db.name] = open_backend(db)
            log.info("db.opened", db=db.name, kind=db.kind, path=str(db.path), read_only=db.read_only)
    except BaseException:
        close_all(backends)
        raise
    return backends


def close_all(backends: dict[str, Backend]) -> None:
    """Close every backend (idempotent)."""
    for backend in backends.values():
        backend.close()
