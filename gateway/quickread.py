"""Quick reads: short SELECTs answered on the event loop, without a thread handoff.

Handing a point select to the executor and back costs more than running it: two thread
switches, and on a busy machine each waits for a CPU. A backend connection that offers
``try_quick_read`` (SQLite) runs a read on the calling thread under a budget counted in
the database's own VM instructions (:data:`MAX_STEPS`, so that a loaded machine does not
make a short statement look long) and rows (:data:`MAX_ROWS`), with a wall-clock safety
net (:data:`MAX_S`). A statement over budget is stopped (nothing changed), run again in
the executor under its time limit, and remembered so that it goes to the executor
directly from then on; one that only ran out of time or met a lock is retried as quick
next time, until it has done so :data:`TIME_MISSES` times. So nothing long runs on the
event loop: at most one budget per statement text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog

from connectors.base import Connection, Result

log = structlog.get_logger("askgres.engine")

MAX_STEPS = 200  # thousands of SQLite VM instructions (about a millisecond)
MAX_ROWS = 256  # more rows than this: not worth holding the event loop for
MAX_S = 0.02  # wall-clock safety net (a single long instruction, preemption)
TIME_MISSES = 3  # wall-clock or lock misses before a statement goes to the executor for good
_REMEMBERED = 4096  # statements remembered as slow (then forgotten all at once)


class QuickReads:
    """One per engine: which backend statements turned out not to be quick."""

    def __init__(self) -> None:
        self._slow: set[str] = set()
        self._misses: dict[str, int] = {}

    def try_read(self, conn: Connection, sql: str, params: Sequence[Any]) -> Result | None:
        """The result of ``sql`` run as a quick read, or ``None``: run it in the executor."""
        if sql in self._slow:
            return None
        quick = getattr(conn, "try_quick_read", None)
        if quick is None:
            return None
        result: Result | str = quick(sql, params, max_steps=MAX_STEPS, max_rows=MAX_ROWS, max_s=MAX_S)
        if isinstance(result, Result):
            return result
        misses = self._misses.get(sql, 0) + 1
        if result in ("steps", "rows") or misses >= TIME_MISSES:
            if len(self._slow) >= _REMEMBERED:
                self._slow.clear()
                self._misses.clear()
            self._slow.add(sql)
            self._misses.pop(sql, None)
        else:
            if len(self._misses) >= _REMEMBERED:
                self._misses.clear()
            self._misses[sql] = misses
        log.debug("engine.not_quick", reason=result, sql=sql[:200])
        return None

    def hot_reader(self, conn: Connection, sql: str, ncols: int) -> Callable[[Sequence[Any]], list[Any] | None] | None:
        """The backend's reader of one statement as a quick read, for a statement run over
        and over (``hot_reader`` of :class:`connectors.sqlite.SqliteConnection`), under the
        same budget; it declines (``None``) once the statement is known not to be quick,
        so that :meth:`try_read` keeps the count. ``None``: the backend has none."""
        make = getattr(conn, "hot_reader", None)
        if make is None or sql in self._slow:
            return None
        read: Callable[[Sequence[Any]], list[Any] | None] | None = make(
            sql, ncols, max_steps=MAX_STEPS, max_rows=MAX_ROWS, max_s=MAX_S)
        if read is None:
            return None
        slow = self._slow

        def hot(params: Sequence[Any]) -> list[Any] | None:
            return None if sql in slow else read(params)

        return hot
