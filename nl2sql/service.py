"""The ask service the gateway engine talks to (:class:`gateway.api.Asker`).

Questions run :meth:`nl2sql.pipeline.Pipeline.ask` in a thread pool, off the event loop.
The model, the embedder and the indexes load with the first question. Before each
question the service looks (at most once a second) at the store's active model; when a
training run promoted a new one, the new GGUF loads in a background thread and replaces
the old one between questions: questions in flight finish on the model they began with.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import structlog

from connectors.base import Backend
from gateway.api import AskAnswer, Outcome
from gateway.config import Settings
from gateway.errors import AskError, QueryCanceled
from nl2sql import admin
from nl2sql.pipeline import Pipeline
from nl2sql.state import AskResult
from nl2sql.store import Store

log = structlog.get_logger("askgres.ask")

MODEL_CHECK_S = 1.0
"""Most often the store's active model is looked up."""
SESSIONS_KEPT = 2000
"""Last answers remembered (for feedback's context), one per session."""

_KIND_MESSAGES = {
    "no_valid_sql": "could not write valid SQL for the question",
    "execution_error": "the SQL written for the question failed",
    "timeout": "the SQL written for the question ran out of time",
}


def _at_exit(fn: Callable[[], None]) -> None:
    """Run ``fn`` when the interpreter starts exiting, before it joins non-daemon threads
    (``threading._register_atexit``, which concurrent.futures uses too)."""
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        with contextlib.suppress(RuntimeError):  # already shutting down
            register(fn)


def ask_error(result: AskResult) -> AskError:
    """The client-facing error for a failed question, the last SQL tried in ``detail``."""
    reason = _KIND_MESSAGES.get(result.kind or "", "could not answer the question")
    tries = len(result.attempts)
    message = f"{reason} ({tries} attempt{'s' if tries != 1 else ''}): {result.error}"
    detail = f"last SQL tried: {result.sql}" if result.sql else "the model wrote no SQL"
    return AskError(
        message,
        detail=detail,
        hint="Rephrase the question, name the tables or columns it is about, or ask an admin to approve an example.",
        context={"kind": result.kind, "database": result.database, "question": result.question,
                 "failure_id": result.context.get("failure_id")},
    )


class AskService:
    """Implements :class:`gateway.api.Asker`. ``store`` defaults to the state store of
    ``settings``.

    The model, the embedder and the indexes load at the first question (seconds), not at
    start: a gateway that is never asked anything, or that stops right away, loads
    nothing and exits at once. ``warm=True`` loads them in the background from the start
    (a process exiting meanwhile waits for the step under way)."""

    def __init__(
        self,
        settings: Settings,
        backends: dict[str, Backend],
        store: Store | None = None,
        *,
        pipeline: Pipeline | None = None,
        warm: bool = False,
        workers: int = 4,
    ) -> None:
        self.settings = settings
        self.backends = backends
        self.store = store if store is not None else Store(settings.state_db)
        self._owns_pipeline = pipeline is None
        self.pipeline = pipeline if pipeline is not None else Pipeline(settings, backends, self.store)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="askgres-ask")
        self._last: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._last_lock = threading.Lock()
        self._once_lock = threading.Lock()  # the once-only flags below
        self._model_checked = 0.0
        self._swap_lock = threading.Lock()
        self._swapping: str | None = None
        self._swap_failed: set[str] = set()
        self.ready = threading.Event()
        self._closing = False
        self._synthetic_started = False
        self._exit_hooked = False
        if warm:
            # Not a daemon: a thread killed inside llama.cpp or torch at interpreter exit
            # can crash the process; instead the exit waits for the current step and the
            # remaining steps are skipped.
            self._hook_exit()
            self._synthetic_started = True  # the warm-up builds them after the rest
            threading.Thread(target=self._warm, name="askgres-ask-warm", daemon=False).start()
        else:
            self.ready.set()

    def _hook_exit(self) -> None:
        with self._once_lock:
            if self._exit_hooked:
                return
            self._exit_hooked = True
        _at_exit(self._on_exit)

    def _start_synthetic(self) -> None:
        """Build the synthetic examples in the background, once (at the first question of
        a gateway that was not warmed: they take tens of seconds per database)."""
        with self._once_lock:
            if self._synthetic_started or self.settings.ask.synthetic_examples <= 0:
                return
            self._synthetic_started = True
        self._hook_exit()
        threading.Thread(target=self._warm_synthetic, name="askgres-synthetic", daemon=False).start()

    def _warm_synthetic(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:  # questions are answered meanwhile, without synthetic examples until they are built
            self.pipeline.warm_synthetic(should_stop=lambda: self._closing)
        except Exception as e:  # noqa: BLE001 - approved examples still serve
            log.error("ask.synthetic_failed", error=f"{type(e).__name__}: {e}")

    def _on_exit(self) -> None:
        self._closing = True
        self.pipeline.close(force=True)

    def _warm(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            # Lower this thread's priority: warming must not slow down the clients served meanwhile.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            self.pipeline.warm(should_stop=lambda: self._closing, synthetic=False)
        except Exception as e:  # noqa: BLE001 - the first question retries and reports it
            log.error("ask.warm_failed", error=f"{type(e).__name__}: {e}")
        finally:
            self.ready.set()
        self._warm_synthetic()

    # -- Asker ---------------------------------------------------------------------------------

    async def answer(
        self, question: str, *, database: str, session_id: str, user: str, cancel: threading.Event | None = None,
    ) -> AskAnswer:
        self.check_model()
        self._start_synthetic()
        loop = asyncio.get_running_loop()
        fn = functools.partial(self._ask, question, database=database, session_id=session_id, user=user,
                               should_stop=cancel.is_set if cancel is not None else None)
        result = await loop.run_in_executor(self._executor, fn)
        if result.kind == "canceled":
            raise QueryCanceled("canceling statement due to user request")
        if not result.ok:
            raise ask_error(result)
        return AskAnswer(
            question=result.question,
            sql=result.sql or "",
            columns=result.columns,
            rows=result.rows,
            summary=result.summary,
            ms=result.ms,
        )

    def _ask(
        self, question: str, *, database: str, session_id: str, user: str, should_stop: Callable[[], bool] | None,
    ) -> AskResult:
        if database not in self.backends:
            raise AskError(f'database "{database}" has no ask pipeline')
        try:
            result = self.pipeline.ask(question, database, log=True, session_id=session_id, user=user,
                                       should_stop=should_stop)
        except AskError:
            raise
        except Exception as e:  # noqa: BLE001 - the store or the model failed: an error, never a crash
            log.exception("ask.failed", db=database)
            raise AskError(f"the ask pipeline failed: {type(e).__name__}: {e}") from e
        if result.ok:
            with self._last_lock:
                self._last[session_id] = {"database": database, **result.context}
                self._last.move_to_end(session_id)
                while len(self._last) > SESSIONS_KEPT:
                    self._last.popitem(last=False)
        return result

    def is_admin_sql(self, sql: str) -> bool:
        return admin.names_askgres(sql)

    async def admin_sql(self, sql: str, *, database: str, session_id: str, user: str, is_admin: bool) -> Outcome:
        ctx = admin.AdminContext(
            store=self.store, backends=self.backends, session_id=session_id, user=user, is_admin=is_admin,
            database=database, on_pairs_changed=self._pairs_changed, last_context=self._last_context,
        )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, admin.run, sql, ctx)

    def _last_context(self, session_id: str) -> dict[str, Any] | None:
        with self._last_lock:
            return self._last.get(session_id)

    def _pairs_changed(self) -> None:
        self.pipeline.sync_examples(force=True)

    # -- the model -----------------------------------------------------------------------------

    def check_model(self) -> None:
        """Swap to the store's active model when it changed (cheap; at most once a second)."""
        now = time.monotonic()
        if now - self._model_checked < MODEL_CHECK_S:
            return
        self._model_checked = now
        if self.settings.ask.backend != "llama" or self.settings.ask.model_path is not None:
            return
        current = self.pipeline.model_version
        if not current:
            return  # still loading the first model
        from nl2sql.models import BASE_VERSION, active_version, bundled_gguf

        try:
            active = active_version(self.store)
        except Exception as e:  # noqa: BLE001 - a busy store only delays the swap
            log.warning("ask.model_check_failed", error=str(e))
            return
        version, path = active if active is not None else (BASE_VERSION, None)
        if version == current or version == self._swapping or version in self._swap_failed:
            return
        if path is not None and not path.exists():
            return
        with self._swap_lock:
            if self._swapping is not None:
                return
            self._swapping = version

        def load() -> None:
            try:
                gguf = path if path is not None else bundled_gguf(self.settings.data_dir)
                gen = self.pipeline.load_generator(Path(gguf), version)
                if self.settings.ask.constrain:
                    from nl2sql.grammar import vocab_for

                    vocab_for(gen)
                self.pipeline.swap_generator(gen)
            except Exception as e:  # noqa: BLE001 - keep answering with the old model
                log.error("ask.model_swap_failed", version=version, error=f"{type(e).__name__}: {e}")
                self._swap_failed.add(version)
            finally:
                with self._swap_lock:
                    self._swapping = None

        threading.Thread(target=load, name=f"askgres-model-{version}", daemon=True).start()

    def close(self) -> None:
        """Stop: questions in flight end at once (unanswered), queued ones are dropped."""
        self._closing = True
        if self._owns_pipeline:
            self.pipeline.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
