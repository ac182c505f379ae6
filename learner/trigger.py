"""Starts a training run when a database's unresolved failures reach the threshold.

The gateway runs :meth:`Trigger.watch` as a background task: it polls the state store
(cheap COUNT queries) and spawns :mod:`learner.runner` in a separate process, so serving
never waits on training. At most one run per database at a time.
"""

from __future__ import annotations

import asyncio
import subprocess

import structlog

from gateway.config import Settings
from learner.runs import active_run, unresolved_failures
from nl2sql.store import Store

log = structlog.get_logger("askgres.learner")


class Trigger:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.children: list[subprocess.Popen[bytes]] = []

    def check(self, database: str) -> bool:
        """Spawn a run for ``database`` if it is due; True when one was started."""
        self.children = [p for p in self.children if p.poll() is None]  # reap finished runs
        if not self.settings.learner.auto:
            return False
        n = unresolved_failures(self.store, database)
        if n < self.settings.learner.threshold or active_run(self.store, database) is not None:
            return False
        from learner.runner import spawn

        log.info("learn.trigger", database=database, failures=n, threshold=self.settings.learner.threshold)
        self.children.append(spawn(self.settings, database))
        return True

    async def watch(self, databases: list[str], *, interval: float = 2.0) -> None:
        loop = asyncio.get_running_loop()
        while True:
            for db in databases:
                try:
                    await loop.run_in_executor(None, self.check, db)
                except Exception:  # keep watching: a bad run must not stop the trigger
                    log.exception("learn.trigger_error", database=db)
            await asyncio.sleep(interval)
