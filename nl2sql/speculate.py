"""Greedy decoding with n-gram drafts (prompt lookup decoding, extended to recent SQL).

On 2 cores the embedded 270M model is bound by reading its weights: one token costs
~9 ms, a batch of 4 tokens ~16 ms, of 8 ~26 ms (measured with llama.cpp here). SQL
repeats itself: the examples in the prompt, the values the question names, and the
queries asked before spell the same joins and names. So each step drafts the tokens
that followed the longest recent match of the last few tokens (in the prompt and what
was generated so far, then in earlier completions), and the model checks the chosen
token and the whole draft in one batch: every draft token that equals the model's own
greedy choice is accepted, the first one that differs is replaced by that choice.
Each token is the argmax of the model's logits, but llama.cpp's batched kernels sum in
another order than its one-token kernels (measured: logits differ by ~1 on the 270M),
so where two tokens are nearly tied the choice can differ from one-token decoding
(about half of 20 Chinook prompts gave identical SQL); without drafts the loop is
exactly llama.cpp's greedy decoding (tests/test_speculate.py).

:func:`greedy` drives llama-cpp-python's ``Llama`` through its context, batch and
token buffer, as ``Llama.generate`` does; :class:`NgramDraft` is the lookup.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MAX_NGRAM = 3
"""Longest suffix looked up (then shorter ones)."""
MIN_NGRAM = 3
"""Shortest suffix whose match is trusted as a draft. Measured on the 84 Chinook questions
(v3 of a short-prompt curve, no examples): drafts after a 1-token match are mostly wrong and
a rejected draft still costs its batch rows (p50 598 ms with 1, 497 with 2, 466 with 3, 582
without drafts); 3 with 4 draft tokens gave 396 ms."""
MEMORY = 256
"""Earlier completions kept as draft sources."""

Mask = Callable[[str], "np.ndarray | None"]


class NgramDraft:
    """Drafts from the current token sequence and from recent completions.

    ``propose(ids, k)`` returns up to ``k`` tokens that followed the latest earlier
    occurrence of the longest suffix of ``ids`` (``max_ngram`` tokens down to ``min_ngram``), looked
    up first in ``ids`` itself, then in the remembered completions, newest first."""

    def __init__(self, *, max_ngram: int = MAX_NGRAM, min_ngram: int | None = None,
                 memory: int = MEMORY) -> None:
        self.max_ngram = max_ngram
        self.min_ngram = MIN_NGRAM if min_ngram is None else min_ngram
        self._seqs: deque[tuple[int, ...]] = deque(maxlen=memory)
        self._index: dict[tuple[int, ...], tuple[tuple[int, ...], int]] = {}

    def remember(self, ids: Sequence[int]) -> None:
        """Keep a finished completion (with a little of what preceded it) as a source."""
        seq = tuple(int(t) for t in ids)
        if len(seq) < 2:
            return
        if len(self._seqs) == self._seqs.maxlen:
            self._rebuild_after_drop()
        self._seqs.append(seq)
        self._add(seq)

    def _add(self, seq: tuple[int, ...]) -> None:
        for n in range(self.min_ngram, self.max_ngram + 1):  # shorter suffixes are never looked up
            for end in range(n, len(seq)):
                self._index[seq[end - n:end]] = (seq, end)

    def _rebuild_after_drop(self) -> None:
        self._seqs.popleft()
        self._index = {}
        for seq in self._seqs:
            self._add(seq)

    def propose(self, ids: Sequence[int], k: int) -> list[int]:
        if k <= 0 or not ids:
            return []
        arr = np.asarray(ids)
        total = len(arr)
        for n in range(min(self.max_ngram, total - 1), self.min_ngram - 1, -1):
            suffix = arr[total - n:]
            # the latest earlier occurrence in the sequence itself
            windows = np.lib.stride_tricks.sliding_window_view(arr[:total - 1], n)
            hits = np.flatnonzero((windows == suffix).all(axis=1))
            if hits.size:
                start = int(hits[-1]) + n
                out = [int(t) for t in arr[start:start + k]]
                if out:
                    return out
            found = self._index.get(tuple(int(t) for t in suffix))
            if found is not None:
                seq, end = found
                out = list(seq[end:end + k])
                if out:
                    return out
        return []


def _argmax(row: np.ndarray, allowed: np.ndarray | None) -> int:
    if allowed is None:
        return int(np.argmax(row))
    return int(allowed[int(np.argmax(row[allowed]))])


class Stats:
    """Passes over the weights and tokens accepted from drafts, for one completion."""

    def __init__(self) -> None:
        self.passes = 0
        self.drafted = 0
        self.accepted = 0


def greedy(
    llm: Any,
    prompt_ids: Sequence[int],
    *,
    max_tokens: int,
    draft: NgramDraft,
    draft_tokens: int,
    done: Callable[[list[int]], bool],
    mask: Mask | None = None,
    stats: Stats | None = None,
) -> list[int]:
    """Greedy continuation of ``prompt_ids`` (at most ``max_tokens``, ending at an
    end-of-generation token or when ``done(generated)`` says so), verifying drafts of up
    to ``draft_tokens`` tokens per pass. ``mask(text so far)`` may restrict each token.
    The key/value cache keeps the prompt prefix shared with the previous call."""
    import llama_cpp

    ctx, batch = llm._ctx, llm._batch
    n_vocab = llm.n_vocab()
    vocab = llm._model.vocab
    stats = stats if stats is not None else Stats()
    prompt = [int(t) for t in prompt_ids]
    if len(prompt) + max_tokens > llm.n_ctx():
        max_tokens = max(0, llm.n_ctx() - len(prompt))
    # reuse the cached prefix; at least the last prompt token is evaluated again for its logits
    cached = llm.input_ids[: llm.n_tokens]
    same = 0
    limit = min(len(cached), len(prompt) - 1)
    while same < limit and int(cached[same]) == prompt[same]:
        same += 1
    if same == 0 or not ctx.kv_cache_seq_rm(-1, same, -1):
        llm.reset()
        same = 0
    llm.n_tokens = same
    llm.eval(prompt[same:])
    stats.passes += 1
    row = np.ctypeslib.as_array(ctx.get_logits(), shape=(n_vocab,))
    generated: list[int] = []

    def text() -> str:
        return str(llm.detokenize(generated).decode("utf-8", "ignore"))

    token = _argmax(row, mask(text()) if mask is not None else None)
    while True:
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        generated.append(token)
        if len(generated) >= max_tokens or done(generated):
            break
        room = min(draft_tokens, max_tokens - len(generated), llm.n_ctx() - llm.n_tokens - 1)
        proposal = draft.propose(prompt + generated, room) if room > 0 else []
        chunk = [token] + proposal
        n_past = llm.n_tokens
        ctx.kv_cache_seq_rm(-1, n_past, -1)
        batch.set_batch(batch=chunk, n_past=n_past, logits_all=True)
        ctx.decode(batch)
        stats.passes += 1
        stats.drafted += len(proposal)
        llm.input_ids[n_past:n_past + len(chunk)] = chunk
        llm.n_tokens = n_past + len(chunk)
        rows = np.ctypeslib.as_array(ctx.get_logits(), shape=(len(chunk), n_vocab))
        # rows[i] predicts what follows chunk[i]; accept drafts while they match
        accepted = 0
        stop = False
        for i, guess in enumerate(proposal):
            choice = _argmax(rows[i], mask(text()) if mask is not None else None)
            if choice != guess:
                token = choice
                break
            accepted += 1
            if llama_cpp.llama_vocab_is_eog(vocab, guess):
                stop = True
                break
            generated.append(guess)
            if len(generated) >= max_tokens or done(generated):
                stop = True
                break
        else:
            token = _argmax(rows[len(proposal)], mask(text()) if mask is not None else None)
        stats.accepted += accepted
        # drop the cache entries of rejected drafts (kept: the chosen token and accepted ones)
        llm.n_tokens = n_past + 1 + accepted
        ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
        if stop:
            break
    draft.remember(prompt[-MAX_NGRAM:] + generated)
    return generated
