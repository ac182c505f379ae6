"""Index builds that run beside the questions: at most one per database at a time, in a
background thread, a failure logged (questions go on with what there is)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger("askgres.background")


class OncePerKey:
    """Starts ``job`` in a thread unless one for the same key is still running."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._guard = threading.Lock()
        self._running: set[str] = set()

    def start(self, key: str, job: Callable[[], object], *, on_start: Callable[[], None] | None = None) -> bool:
        """Start ``job`` for ``key`` (``on_start`` runs first, under the guard); False when
        one is already running for that key."""
        with self._guard:
            if key in self._running:
                return False
            self._running.add(key)
            if on_start is not None:
                on_start()

        def run() -> None:
            try:
                job()
            except Exception as e:  # noqa: BLE001 - questions go on with what there is
                log.warning(f"{self.what}.failed", db=key, error=f"{type(e).__name__}: {e}")
            finally:
                with self._guard:
                    self._running.discard(key)

        threading.Thread(target=run, name=f"{self.what}-{key}", daemon=True).start()
        return True
