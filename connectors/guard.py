"""Time limits and cancellation for one connection's statements, shared by both backends.

A :class:`StatementGuard` knows whether a statement is running. ``cancel()`` (from any
thread: the gateway's CancelRequest handler, or the guard's own timer) calls the backend's
interrupt only while one is, so an interrupt can never hit the next statement, and it
remembers why, so the connector can raise :class:`QueryCanceled` with PostgreSQL's message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from gateway.errors import QueryCanceled

Reason = Literal["timeout", "user"]

_MESSAGES: dict[Reason, str] = {
    "timeout": "canceling statement due to statement timeout",
    "user": "canceling statement due to user request",
}


class StatementGuard:
    """Tracks the running statement of one connection; see the module docstring."""

    def __init__(self, interrupt: Callable[[], None]) -> None:
        self._interrupt = interrupt
        self._lock = threading.Lock()
        self._active = False
        self._reason: Reason | None = None

    @contextmanager
    def running(self, timeout: float | None) -> Iterator[None]:
        """Mark a statement as running for the ``with`` block, under ``timeout`` seconds.

        The block must finish every backend call of the statement (execute, fetch, cursor
        close) so that a late interrupt cannot reach the next statement.
        """
        with self._lock:
            self._active = True
            self._reason = None
        timer: threading.Timer | None = None
        if timeout is not None and timeout > 0:
            timer = threading.Timer(timeout, self.cancel, kwargs={"reason": "timeout"})
            timer.daemon = True
            timer.start()
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()
            with self._lock:
                self._active = False

    def cancel(self, reason: Reason = "user") -> None:
        """Interrupt the running statement, if any. Thread-safe; a no-op when idle."""
        with self._lock:
            if not self._active:
                return
            if self._reason is None:
                self._reason = reason
            self._interrupt()

    @property
    def canceled(self) -> bool:
        """Whether the last statement was interrupted by :meth:`cancel`."""
        return self._reason is not None

    def error(self) -> QueryCanceled:
        """The error for the last statement's interruption (``user`` when none was recorded:
        the backend reported an interrupt that came from elsewhere)."""
        return QueryCanceled(_MESSAGES[self._reason or "user"])
