"""The ask pipeline, composed in one place and declared as data (:data:`STAGES`):

retrieve -> prompt -> solve (generate -> validate -> repair -> execute) -> summarise

Each stage is a small function of ``(AskState, Env)`` in the module named for its role.
:class:`Pipeline` owns what outlives a question: the schema and example indexes, the
embedder, the generator (hot-swappable), and the backends.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import structlog

from connectors.base import Backend
from gateway.config import Settings
from nl2sql.compose import compose
from nl2sql.embed import Embedder, shared_embedder
from nl2sql.examples import ExampleIndex
from nl2sql.llm import Generator, make_generator
from nl2sql.repair import solve
from nl2sql.retrieve import retrieve
from nl2sql.schema_index import SchemaIndex
from nl2sql.state import AskResult, AskState, Attempt, Env, StageFailure
from nl2sql.store import Store
from nl2sql.synthetic import SyntheticExamples
from nl2sql.summarise import summarise

__all__ = ["STAGES", "AskResult", "Attempt", "Pipeline"]

logger = structlog.get_logger("askgres.ask")

Stage = Callable[[AskState, Env], None]

STAGES: tuple[tuple[str, Stage], ...] = (
    ("retrieve", retrieve),    # nl2sql.retrieve: tables (+ join paths, named values), examples
    ("prompt", compose),       # nl2sql.compose: the versioned prompt
    ("solve", solve),          # nl2sql.repair: generate -> validate -> execute, errors fed back
    ("summarise", summarise),  # nl2sql.summarise: a sentence backed by the rows
)


class Pipeline:
    """Questions in, SQL and rows out. Thread-safe; :meth:`ask` blocks."""

    def __init__(
        self,
        settings: Settings,
        backends: dict[str, Backend],
        store: Store,
        *,
        generator: Generator | None = None,
        schema_cache_dir: Path | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.backends = backends
        self.store = store
        root = Path(schema_cache_dir) if schema_cache_dir is not None else settings.data_dir / "index"
        self.embedder = embedder or shared_embedder()
        self.schema_index = SchemaIndex(root / "schema", self.embedder)
        self.examples = ExampleIndex(root / "examples", self.embedder, store)
        self.synthetic = SyntheticExamples(root / "synthetic", self.embedder, n=settings.ask.synthetic_examples)
        self._generator = generator
        self._owns_generator = generator is None
        self._gen_lock = threading.Lock()
        self.closing = False

    # -- the model -----------------------------------------------------------------------

    @property
    def generator(self) -> Generator:
        """The current generator (made from the settings on first use)."""
        gen = self._generator
        if gen is None:
            with self._gen_lock:
                if self._generator is None:
                    self._generator = make_generator(self.settings, self.store, corpus=self.vocab_corpus)
                gen = self._generator
        return gen

    def vocab_corpus(self) -> list[str]:
        """The text a trimmed vocabulary must keep for these databases (:mod:`nl2sql.vocab`):
        their schemas, and the approved examples indexed so far (they go into prompts)."""
        from nl2sql.vocab import schema_corpus

        return schema_corpus(self.schema_index.get(b).schema for b in self.backends.values()) + self.examples.texts()

    def load_generator(self, path: Path, version: str) -> Generator:
        """The GGUF ``path`` loaded as these settings serve it (not yet in use: see
        :meth:`swap_generator`)."""
        from nl2sql.llm import load_llama

        return load_llama(self.settings, path, version=version, corpus=self.vocab_corpus)

    def swap_generator(self, generator: Generator) -> None:
        """Use ``generator`` from the next question on; questions already started finish
        on the one they began with."""
        with self._gen_lock:
            old = self._generator
            self._generator = generator
            self._owns_generator = True
        logger.info("ask.model_swapped", old=getattr(old, "version", None), new=generator.version)

    def close(self, *, force: bool = False) -> None:
        """Answer nothing more, and cut the running generation short: of a generator this
        pipeline made or was swapped to, or of any with ``force`` (the process is exiting)."""
        self.closing = True
        self.synthetic.close()
        if self._owns_generator or force:
            cancel = getattr(self._generator, "cancel", None)
            if callable(cancel):
                cancel()

    @property
    def model_version(self) -> str:
        gen = self._generator
        return gen.version if gen is not None else ""

    # -- indexes -------------------------------------------------------------------------

    def add_example(self, database: str, question: str, sql: str, *, pair_id: int | None = None) -> None:
        """Index an approved pair now: it counts for the very next question."""
        self.examples.add(database, question, sql, pair_id=pair_id)

    def sync_examples(self, *, force: bool = False) -> bool:
        return self.examples.sync(force=force)

    def warm(self, databases: Iterable[str] | None = None, *, should_stop: Callable[[], bool] | None = None,
             synthetic: bool = True) -> None:
        """Load the model and the embedder, build the indexes (before the first question),
        and with ``synthetic`` the synthetic examples (:meth:`warm_synthetic`).
        ``should_stop`` is checked between steps (the process is exiting)."""
        t0 = time.perf_counter()
        names = list(databases) if databases is not None else list(self.backends)
        steps: list[Callable[[], object]] = [lambda: self.generator, self.embedder.warm,
                                             lambda: self.examples.sync(force=True)]
        for name in names:
            backend = self.backends.get(name)
            if backend is not None:
                steps.append(functools.partial(self.schema_index.get, backend))
        if self.settings.ask.constrain:
            steps.append(self._warm_vocab)
        for step in steps:
            if self.closing or (should_stop is not None and should_stop()):
                return
            step()
        logger.info("ask.warm", dbs=len(names), ms=round((time.perf_counter() - t0) * 1000))
        if synthetic:
            self.warm_synthetic(names, should_stop=should_stop)

    def warm_synthetic(self, databases: Iterable[str] | None = None, *,
                       should_stop: Callable[[], bool] | None = None) -> None:
        """Make or load the synthetic examples of ``databases`` (:mod:`nl2sql.synthetic`;
        tens of seconds per database the first time, then read back); nothing when no
        example is retrieved (``ask.examples_k = 0``, as the learner's gate asks)."""
        if self.settings.ask.examples_k <= 0:
            return
        for name in list(databases) if databases is not None else list(self.backends):
            backend = self.backends.get(name)
            if backend is None or self.closing or (should_stop is not None and should_stop()):
                continue
            db = self.schema_index.get(backend)
            self.synthetic.build(backend, db.schema, db.fingerprint, should_stop=should_stop)

    def _warm_vocab(self) -> None:
        gen = self.generator
        if hasattr(gen, "token_texts"):
            from nl2sql.grammar import vocab_for

            vocab_for(gen)

    # -- asking --------------------------------------------------------------------------

    def ask(
        self, question: str, database: str, *, log: bool = True, session_id: str = "", user: str = "",
        should_stop: Callable[[], bool] | None = None,
    ) -> AskResult:
        """Answer ``question`` on ``database``; logs the ask (and any failure) when ``log``.
        Once ``should_stop()`` is true (the client cancelled), the model stops within a token
        and the result is a failure of kind ``canceled``, which is not logged."""
        backend = self.backends.get(database)
        if backend is None:
            raise KeyError(f'unknown database "{database}"')
        t0 = time.perf_counter()
        state = AskState(question=" ".join(question.split()), database=database)
        self.examples.sync()
        generator = self.generator
        ok, kind, error = True, None, None
        try:
            t_schema = time.perf_counter()
            db = self.schema_index.get(backend)
            state.timed("schema", t_schema)
            env = Env(config=self.settings.ask, backend=backend, db=db, generator=generator,
                      schema_index=self.schema_index, examples=self.examples,
                      synthetic=self.synthetic.get(backend, db.schema, db.fingerprint),
                      should_stop=should_stop or (lambda: False))
            for _name, stage in STAGES:
                env.check_cancelled()
                stage(state, env)
        except StageFailure as e:
            ok, kind, error = False, e.kind, e.message
        except Exception as e:  # noqa: BLE001 - a broken stage is a failed ask, logged, never a crash
            logger.exception("ask.internal_error", db=database)
            ok, kind, error = False, "execution_error", f"internal error: {type(e).__name__}: {e}"
        ms = round((time.perf_counter() - t0) * 1000, 2)
        state.timings["total"] = ms
        result = self._result(state, generator, ok=ok, kind=kind, error=error, ms=ms)
        logger.info(
            "ask.done", db=database, ok=ok, kind=kind, ms=ms, attempts=len(state.attempts),
            tables=len(state.retrieved.tables) if state.retrieved else 0, examples=len(state.examples),
        )
        if log and not self.closing and kind != "canceled":  # a question cut short is no failure to learn from
            from nl2sql.failures import record

            ask_id, failure_id = record(self.store, result, session_id=session_id, user=user)
            result.context["ask_id"] = ask_id
            if failure_id is not None:
                result.context["failure_id"] = failure_id
        return result

    def _result(self, state: AskState, generator: Generator, *, ok: bool, kind: str | None, error: str | None,
                ms: float) -> AskResult:
        res = state.result if ok else None
        context: dict[str, Any] = {
            "retrieved": state.retrieved.as_dict() if state.retrieved else {},
            "examples": [
                {"question": e.question, "sql": e.sql, "score": round(e.score, 3), "pair_id": e.pair_id,
                 "source": e.source}
                for e in state.examples
            ],
            "prompt": state.prompt,
            "prompt_version": state.prompt_version,
            "model_version": generator.version,
            "fixes": state.fixes,
            **state.extra,
        }
        return AskResult(
            ok=ok,
            question=state.question,
            database=state.database,
            sql=state.sql,
            columns=list(res.columns or []) if res is not None else [],
            rows=list(res.rows) if res is not None else [],
            summary=state.summary if ok else "",
            attempts=state.attempts,
            timings=state.timings,
            error=error,
            kind=kind,
            context=context,
            ms=ms,
            truncated=bool(res.truncated) if res is not None else False,
        )
