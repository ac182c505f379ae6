"""Stage ``execute``: generated SQL runs on a read-only connection, under the ask time
limit and row limit, whatever the rights of the session that asked."""

from __future__ import annotations

from connectors.base import Backend, Result
from gateway.config import AskConfig


def run_read_only(backend: Backend, sql: str, config: AskConfig) -> Result:
    """Run ``sql`` on a fresh read-only connection. Raises the backend's
    :class:`gateway.errors.PgError` (``QueryCanceled`` on time-out)."""
    conn = backend.connect(read_only=True)
    try:
        return conn.execute(sql, timeout=config.timeout_s, max_rows=config.row_limit)
    finally:
        conn.close()
