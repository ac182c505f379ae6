"""Quick reads: short SELECTs answered on the event loop, without a thread handoff.

Handing a point select to the executor and back costs more than running it: two thread
switches, and on a busy machine each waits for a CPU. A backend connection that offers
``try_quick_read`` (SQLite) runs a read on the calling thread with a deadline of
:data:`BUDGET_S` and a cap of :data:`MAX_ROWS` rows; a statement that misses either is
stopped (nothing changed), run again in the executor under its time limit, and remembered
so that it goes to the executor directly from then on. So nothing long ever runs on the
event loop: at most one budget per statement text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from connectors.base import Connection, Result

log = structlog.get_logger("askgres.engine")

BUDGET_S = 0.002  # longest a quick read may hold the event loop
MAX_ROWS = 256  # more rows than this: encode them off the loop's critical path
_SLOW_LIMIT = 4096  # remembered slow statements (then forgotten all at once)


class QuickReads:
    """One per engine: which backend statements turned out not to be quick."""

    def __init__(self) -> None:
        self._slow: set[str] = set()

    def try_read(self, conn: Connection, sql: str, params: Sequence[Any]) -> Result | None:
        """The result of ``sql`` run as a quick read, or ``None``: run it in the executor."""
        if sql in self._slow:
            return None
        quick = getattr(conn, "try_quick_read", None)
        if quick is None:
            return None
        result: Result | None = quick(sql, params, budget_s=BUDGET_S, max_rows=MAX_ROWS)
        if result is None:
            if len(self._slow) >= _SLOW_LIMIT:
                self._slow.clear()
            self._slow.add(sql)
            log.debug("engine.not_quick", sql=sql[:200])
        return result
