"""Stage ``generate``: the model continues the prompt with SQL.

Greedy by default; sampled (``temperature > 0``) for self-consistency candidates and
for repairs that would otherwise repeat a failed SQL. With ``ask.constrain`` and a
generator that can mask tokens, identifiers are constrained while decoding
(:mod:`nl2sql.grammar`). Every completion is cut to its first statement.
"""

from __future__ import annotations

import re
import time

from nl2sql.llm import MaskingGenerator, cut_sql
from nl2sql.prompt import STOP
from nl2sql.state import AskState, Env

_FENCE = re.compile(r"^```(?:sql)?\s*|```\s*$", re.IGNORECASE)


def clean(text: str) -> str:
    """A completion as SQL: code fences dropped, first statement only."""
    return cut_sql(_FENCE.sub("", text.strip()))


def generate(
    state: AskState,
    env: Env,
    prompt: str,
    *,
    n: int = 1,
    temperature: float = 0.0,
    seed: int | None = None,
) -> list[str]:
    """``n`` SQL candidates for ``prompt`` (time added to ``state.timings['generate']``)."""
    env.check_cancelled()
    t0 = time.perf_counter()
    cfg = env.config
    gen = env.generator
    outs: list[str]
    mask = None
    if cfg.constrain and isinstance(gen, MaskingGenerator) and state.prompt_schema is not None:
        from nl2sql.grammar import identifier_mask

        mask = identifier_mask(gen, env.schema, state.prompt_schema)
    if mask is not None:
        assert isinstance(gen, MaskingGenerator)
        outs = [
            gen.complete_masked(prompt, max_tokens=cfg.max_tokens, stop=list(STOP), mask=mask,
                                temperature=temperature if i == 0 else max(temperature, 0.7),
                                seed=None if seed is None else seed + i, should_stop=env.should_stop)
            for i in range(n)
        ]
    else:
        outs = gen.complete(prompt, max_tokens=cfg.max_tokens, stop=list(STOP), temperature=temperature, n=n, seed=seed,
                            should_stop=env.should_stop)
    state.timed("generate", t0)
    env.check_cancelled()  # a completion cut short is no SQL to try
    return [clean(o) for o in outs]
