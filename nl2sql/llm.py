"""Model backends behind one interface: :class:`Generator`.

:class:`LlamaGenerator` embeds llama.cpp (llama-cpp-python) with a GGUF file, greedy by
default. llama.cpp keeps the KV cache of the last prompt and re-evaluates only what
differs, so prompts put their stable parts (instructions, schema) first. Greedy
completions verify n-gram drafts in batches (:mod:`nl2sql.speculate`, ``ask.draft_tokens``);
sampled ones use llama-cpp-python's own loop. One lock guards
the Llama object: calls from several threads run one at a time; with a ``process_lock``
file, so do completions in several processes (the workers of one port, the learner's
gate): each uses every core, and two at once on the same cores run many times slower.

The Ollama backend (``nl2sql.llm_ollama.OllamaGenerator``) implements the same Protocol.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import structlog

from gateway.config import Settings
from nl2sql.store import Store, file_lock

log = structlog.get_logger("askgres.llm")

_LOADING = threading.Lock()
"""One llama.cpp load at a time: :func:`open_llama` swaps the process's ``sys.stdout`` and
``sys.stderr`` while it loads."""


class _ThreadSink:
    """A stand-in for ``sys.stdout``/``sys.stderr`` while a model loads: what the loading
    thread writes goes to a buffer, what any other thread writes to the real stream."""

    def __init__(self, real: Any, buffer: io.StringIO, owner: int) -> None:
        self.real, self.buffer, self.owner = real, buffer, owner

    def write(self, s: str) -> int:
        return (self.buffer if threading.get_ident() == self.owner else self.real).write(s)

    def flush(self) -> None:
        if threading.get_ident() != self.owner:
            self.real.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty...: the real stream's
        return getattr(self.real, name)  # (no io base class: its encoding is None, its fileno raises)


@contextlib.contextmanager
def _own_output(buffer: io.StringIO) -> Iterator[None]:
    """This thread's ``print``s (to stdout or stderr) go to ``buffer`` meanwhile; other
    threads' still reach the streams."""
    owner = threading.get_ident()
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _ThreadSink(out, buffer, owner), _ThreadSink(err, buffer, owner)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def open_llama(model_path: Path | str, **params: Any) -> Any:
    """``llama_cpp.Llama(model_path, **params)``, quiet, without its quiet mode: with
    ``verbose=False`` llama-cpp-python points file descriptors 1 and 2 at ``/dev/null``
    while it loads, and the log lines every other thread of the process writes meanwhile
    are lost (a gateway loads models while it serves: at start, at a hot swap; two loads at
    once can leave stderr there for good). Here its chatter goes to a buffer, and llama.cpp's
    own log to Python says errors only; what it said is logged when the load fails. Only the
    loading thread's output is caught: what other threads print meanwhile is printed."""
    from llama_cpp import Llama

    noise = io.StringIO()
    with _LOADING, _own_output(noise):
        try:
            llm = Llama(model_path=str(model_path), verbose=True, **params)
        except Exception:
            log.error("llm.load_failed", path=str(model_path), said=noise.getvalue()[-2000:])
            raise
        finally:
            logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # llama.cpp's log: errors only
    llm.verbose = False  # no timings printed per completion
    return llm


LogitsMask = Callable[[str], "np.ndarray | None"]
"""Given the text generated so far, the token ids allowed next (``None``: any)."""


@runtime_checkable
class Generator(Protocol):
    """Writes completions of a prompt."""

    version: str
    """Model version label, recorded in asks and failures."""

    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int,
        stop: list[str],
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        """``n`` completions of ``prompt`` (greedy when ``temperature`` is 0), each cut
        at the first of ``stop`` (not included), or cut short once ``should_stop()`` is
        true (the question was cancelled)."""
        ...


@runtime_checkable
class MaskingGenerator(Generator, Protocol):
    """A generator that can restrict the next token (constrained decoding)."""

    def token_texts(self) -> list[str]:
        """The text of every token id, for building masks."""
        ...

    def token_eos(self) -> int:
        """The end-of-sequence token id."""
        ...

    def complete_masked(
        self, prompt: str, *, max_tokens: int, stop: list[str], mask: LogitsMask, temperature: float = 0.0,
        seed: int | None = None, should_stop: Callable[[], bool] | None = None,
    ) -> str:
        ...


_STATEMENT_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_CONTINUES = re.compile(r"(\(|\b(union|intersect|except|all|as|from|in|exists|not))\s*$", re.IGNORECASE)


def cut_sql(text: str) -> str:
    """The first statement of a completion: small models run on past the end of their
    SQL (a second ``SELECT``, a repeated line, the next ``-- Question``)."""
    lines = text.split("\n")
    kept: list[str] = []
    for line in lines:
        stripped = line.strip()
        if kept:
            prev = kept[-1].strip()
            if stripped.startswith("--"):
                break
            if stripped and stripped == prev:
                break
            if _STATEMENT_START.match(line) and prev and not _CONTINUES.search(prev):
                break
        elif stripped.startswith("--"):
            continue
        kept.append(line)
    out = "\n".join(kept).strip()
    semi = out.find(";")
    if semi >= 0:
        out = out[:semi]
    return out.strip()


_LONG_WORD = re.compile(r"\w{64,}")
LOOP_CHARS = 40
LOOP_TIMES = 3
"""A completion whose last :data:`LOOP_CHARS` characters occur :data:`LOOP_TIMES` times in
it is looping. Twice is not enough: the second branch of ``INTERSECT``/``UNION``/``EXCEPT``
repeats the first one's ``SELECT T1.Title FROM Album AS T1 JOIN Track ...``."""


MAX_SELECT_ITEMS = 16
"""A select list longer than this, before any FROM, is a model listing names at random."""
_FROM = re.compile(r"\bfrom\b", re.IGNORECASE)


def _listing(text: str) -> bool:
    """True when the select list runs on: too many items, or one item three times."""
    if _FROM.search(text):
        return False
    items = [" ".join(i.split()).lower() for i in text.split(",")]
    items[0] = re.sub(r"^\s*select\s+(distinct\s+)?", "", items[0])
    if len(items) > MAX_SELECT_ITEMS:
        return True
    counts: dict[str, int] = {}
    for item in items[:-1]:  # the last one may still be growing
        counts[item] = counts.get(item, 0) + 1
        if counts[item] >= 3:
            return True
    return False


def _occurs(text: str, part: str, times: int) -> bool:
    """Whether ``part`` occurs at least ``times`` times in ``text`` (overlaps count)."""
    at = -1
    for _ in range(times):
        at = text.find(part, at + 1)
        if at < 0:
            return False
    return True


def _runaway(text: str) -> bool:
    """True once ``text`` holds more than one statement, or loops (stop generating)."""
    if _LONG_WORD.search(text):
        return True
    if len(text) > 2 * LOOP_CHARS and _occurs(text, text[-LOOP_CHARS:], LOOP_TIMES):
        return True
    if _listing(text):
        return True
    return "\n" in text.strip() and cut_sql(text) != text.strip().rstrip(";").strip()


class LlamaGenerator:
    """llama.cpp, embedded. Thread-safe (one lock); loads the GGUF at construction."""

    def __init__(
        self, model_path: Path | str, *, n_ctx: int = 2048, n_threads: int = 2, version: str = "base",
        process_lock: Path | None = None, draft_tokens: int = 0,
    ) -> None:
        from nl2sql.speculate import NgramDraft

        self.version = version
        self.model_path = Path(model_path)
        self.prompt_schema: str | None = None
        """The prompt format the model was trained in (``ask.prompt_schema = "auto"`` asks in it)."""
        self._lock = threading.Lock()
        self._process_lock = _file_lock(process_lock)
        t0 = time.perf_counter()
        self._llm = open_llama(self.model_path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                               n_batch=512)
        self._token_texts: list[str] | None = None
        self._cancelled = False
        self.draft_tokens = draft_tokens
        """Greedy completions verify n-gram drafts of up to this many tokens per model pass (0: off)."""
        self._draft = NgramDraft()
        log.info("llm.loaded", version=version, path=str(self.model_path), ms=round((time.perf_counter() - t0) * 1000))

    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int,
        stop: list[str],
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        outs: list[str] = []
        for i in range(n):
            s = None if seed is None else seed + i
            outs.append(self._one(prompt, max_tokens=max_tokens, stop=stop, temperature=temperature, seed=s,
                                  should_stop=should_stop))
        return outs

    def _one(
        self, prompt: str, *, max_tokens: int, stop: list[str], temperature: float, seed: int | None,
        mask: LogitsMask | None = None, should_stop: Callable[[], bool] | None = None,
    ) -> str:
        def stopped() -> bool:
            return self._cancelled or (should_stop is not None and should_stop())

        if stopped():
            return ""
        with self._lock, self._process_lock:
            if temperature <= 0 and self.draft_tokens > 0:
                return self._greedy(prompt, max_tokens=max_tokens, stop=stop, mask=mask, stopped=stopped)
            return self._sampled(prompt, max_tokens=max_tokens, stop=stop, temperature=temperature, seed=seed,
                                 mask=mask, stopped=stopped)

    def _greedy(
        self, prompt: str, *, max_tokens: int, stop: list[str], mask: LogitsMask | None, stopped: Callable[[], bool],
    ) -> str:
        """Greedy decoding with n-gram drafts (:mod:`nl2sql.speculate`), cut at the first stop."""
        from nl2sql.speculate import Stats, greedy

        llm = self._llm

        def done(generated: list[int]) -> bool:
            if stopped():
                return True
            text = llm.detokenize(generated).decode("utf-8", "ignore")
            return any(s in text for s in stop) or _runaway(text)

        ids = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
        if len(ids) >= llm.n_ctx():
            raise ValueError(f"Requested tokens ({len(ids)}) exceed context window of {llm.n_ctx()}")
        stats = Stats()
        generated = greedy(llm, ids, max_tokens=max_tokens, draft=self._draft, draft_tokens=self.draft_tokens,
                           done=done, mask=mask, stats=stats)
        log.debug("llm.greedy", tokens=len(generated), passes=stats.passes, drafted=stats.drafted,
                  accepted=stats.accepted)
        text = llm.detokenize(generated).decode("utf-8", "ignore")
        cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))
        return str(text[:cut])

    def _sampled(
        self, prompt: str, *, max_tokens: int, stop: list[str], temperature: float, seed: int | None,
        mask: LogitsMask | None, stopped: Callable[[], bool],
    ) -> str:
        """llama-cpp-python's own completion loop (sampling, or greedy without drafts)."""
        from llama_cpp import LogitsProcessorList, StoppingCriteriaList

        llm = self._llm
        n_prompt = len(llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False))

        def generated_text(input_ids: Any) -> str:
            return str(llm.detokenize(list(input_ids[n_prompt:])).decode("utf-8", "ignore"))

        def stop_runaway(input_ids: Any, logits: Any) -> bool:
            return stopped() or _runaway(generated_text(input_ids))

        kwargs: dict[str, Any] = dict(
            max_tokens=max_tokens,
            stop=stop,
            temperature=temperature,
            top_k=40 if temperature > 0 else 1,
            seed=seed if seed is not None else 0,
            stopping_criteria=StoppingCriteriaList([stop_runaway]),
            repeat_penalty=1.0,
        )
        if mask is not None:
            def processor(input_ids: Any, scores: Any) -> Any:
                allowed = mask(generated_text(input_ids))
                if allowed is None:
                    return scores
                masked = np.full_like(scores, -np.inf)
                masked[allowed] = scores[allowed]
                return masked

            kwargs["logits_processor"] = LogitsProcessorList([processor])
        out: Any = llm.create_completion(prompt, **kwargs)
        return str(out["choices"][0]["text"])

    def cancel(self) -> None:
        """Stop the completion running now (within a token) and refuse new ones: the
        process is exiting."""
        self._cancelled = True

    def token_texts(self) -> list[str]:
        """Every token's text (computed once per model, ~1 s for Gemma's 262k vocabulary)."""
        with self._lock:
            if self._token_texts is None:
                llm = self._llm
                texts = []
                for tid in range(llm.n_vocab()):
                    try:
                        texts.append(llm.detokenize([tid], special=False).decode("utf-8", "ignore"))
                    except Exception:  # noqa: BLE001 - byte tokens that do not decode alone
                        texts.append("")
                self._token_texts = texts
            return self._token_texts

    def token_eos(self) -> int:
        return int(self._llm.token_eos())

    def complete_masked(
        self, prompt: str, *, max_tokens: int, stop: list[str], mask: LogitsMask, temperature: float = 0.0,
        seed: int | None = None, should_stop: Callable[[], bool] | None = None,
    ) -> str:
        """One completion where, at each step, ``mask(text so far)`` may restrict the next token."""
        return self._one(prompt, max_tokens=max_tokens, stop=stop, temperature=temperature, seed=seed, mask=mask,
                         should_stop=should_stop)


def _file_lock(path: Path | None) -> contextlib.AbstractContextManager[Any]:
    """An inter-process lock on ``path`` (no lock when ``None`` or its folder cannot be made)."""
    if path is None:
        return contextlib.nullcontext()
    try:
        lock: contextlib.AbstractContextManager[Any] = file_lock(path)
    except OSError as e:
        log.warning("llm.no_process_lock", path=str(path), error=str(e))
        return contextlib.nullcontext()
    return lock


def process_lock_path(settings: Settings) -> Path:
    """The lock file that lets one completion run at a time on this machine's cores."""
    return settings.data_dir / "run" / "llm.lock"


Corpus = Callable[[], Iterable[str]]
"""The text a trimmed vocabulary must spell as the full one does; called only when a
trimmed copy is made (it introspects every database)."""


def load_llama(settings: Settings, path: Path, *, version: str, corpus: Corpus | None = None) -> LlamaGenerator:
    """``path`` embedded with llama.cpp; with ``ask.trim_vocab`` and a ``corpus``, served
    from its trimmed-vocabulary copy that spells ``corpus()`` as the full vocabulary does
    (:mod:`nl2sql.vocab`). The generator knows the prompt format recorded beside ``path``."""
    from nl2sql.models import read_prompt_format

    trained_on = read_prompt_format(Path(path))
    if settings.ask.trim_vocab and corpus is not None:
        from nl2sql.vocab import trimmed_gguf

        path = trimmed_gguf(Path(path), corpus())
    gen = LlamaGenerator(path, n_ctx=settings.ask.n_ctx, n_threads=settings.ask.n_threads, version=version,
                         process_lock=process_lock_path(settings), draft_tokens=settings.ask.draft_tokens)
    gen.prompt_schema = trained_on
    return gen


def make_generator(settings: Settings, store: Store, *, corpus: Corpus | None = None) -> Generator:
    """The generator ``settings.ask.backend`` names: Ollama, or llama.cpp with the active
    model (``corpus``: see :func:`load_llama`)."""
    if settings.ask.backend == "ollama":
        from nl2sql.llm_ollama import OllamaGenerator

        gen: Generator = OllamaGenerator(
            host=settings.ask.ollama_host, model=settings.ask.ollama_model
        )
        return gen
    from nl2sql.models import active_model

    version, path = active_model(settings, store)
    return load_llama(settings, path, version=version, corpus=corpus)
