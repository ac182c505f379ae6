"""The schema synthesizer: question/SQL pairs for one database without any LLM, so the
learning loop works offline.

It profiles the database (:mod:`learner.profile`: column roles, real values, the
foreign-key graph), then draws question shapes (:mod:`learner.shapes_single`,
:mod:`learner.shapes_join`, :mod:`learner.shapes_path`) at random, weighted toward the
tables, columns and shapes that failed (:class:`FocusHints`). Each draw fills a shape with
real values and one of several phrasings; every candidate is validated by execution and
de-duplicated (:mod:`learner.validate_pairs`) before it is kept.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog

from connectors.base import Backend, SchemaInfo
from learner import shapes_join, shapes_path, shapes_single
from learner.focus import FocusHints
from learner.phrasing import Ctx, finish
from learner.profile import DbProfile, build_profile
from learner.validate_pairs import PairValidator

__all__ = ["FAMILIES", "FocusHints", "Pair", "synthesize"]

log = structlog.get_logger("askgres.learner.synth")

FAMILIES = {**shapes_single.SHAPES, **shapes_join.SHAPES, **shapes_path.SHAPES}
"""Shape families: name -> (generator, base weight)."""


@dataclass
class Pair:
    """A question/SQL pair and where it came from."""

    question: str
    sql: str
    source: str = "synth"  # synth | teacher | failure | admin | feedback
    shape: str = ""
    tables: tuple[str, ...] = field(default_factory=tuple)
    pair_id: int | None = None
    failure_id: int | None = None
    family: str = ""  # the synthesizer's shape family (FAMILIES key)


def synthesize(
    backend: Backend,
    schema: SchemaInfo,
    *,
    n: int,
    seed: int,
    focus: FocusHints | None = None,
    profile: DbProfile | None = None,
    timeout: float = 5.0,
    max_rows: int = 1000,
    max_per_sql: int = 2,
    seen: Iterable[tuple[str, str]] = (),
    blocked: Iterable[tuple[str, str]] = (),
    max_attempts: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Pair]:
    """Up to ``n`` validated, distinct pairs for ``schema`` (fewer when the schema is too
    small to yield that many). Deterministic for a given database, ``seed`` and ``focus``.
    ``seen`` pairs (e.g. approved ones) are not repeated; no pair shares its question or
    SQL with a ``blocked`` pair (held-out validation pairs). Returns what it has once
    ``should_stop()`` is true."""
    t0 = time.monotonic()
    prof = profile or build_profile(backend, schema, timeout=timeout)
    focus = focus or FocusHints()
    rng = random.Random(seed)
    ctx = Ctx(prof, rng, focus)
    weights = {name: w * (1.0 + 2.0 * focus.shapes.get(name, 0.0)) for name, (_, w) in FAMILIES.items()}
    misses: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    shapes: Counter[str] = Counter()
    out: list[Pair] = []
    attempts = 0
    limit = max_attempts if max_attempts is not None else max(200, 30 * n)
    with PairValidator(backend, schema, timeout=timeout, max_rows=max_rows, max_per_sql=max_per_sql) as v:
        for q, s in seen:
            v.remember(q, s)
        for q, s in blocked:
            v.block(q, s)
        while len(out) < n and attempts < limit and weights:
            if should_stop is not None and should_stop():
                break
            attempts += 1
            names = list(weights)
            fam = rng.choices(names, weights=[weights[k] for k in names], k=1)[0]
            ctx.family = fam
            cand = FAMILIES[fam][0](ctx)
            if cand is None:
                misses[fam] += 1
                if hits[fam] == 0 and misses[fam] >= 60:
                    del weights[fam]  # this schema has nothing for it
                continue
            question = finish(cand.question)
            verdict = v.accept(question, cand.sql, allow_empty=None if cand.allow_empty else False)
            if not verdict.ok:
                rejected[verdict.reason] += 1
                if verdict.reason not in ("duplicate", "empty"):
                    log.debug("synth.rejected", shape=cand.shape, reason=verdict.reason, detail=verdict.detail, sql=cand.sql)
                misses[fam] += 1
                if hits[fam] == 0 and misses[fam] >= 60:
                    del weights[fam]
                continue
            hits[fam] += 1
            shapes[cand.shape] += 1
            out.append(Pair(question=question, sql=cand.sql, source="synth", shape=cand.shape, tables=cand.tables, family=fam))
    log.info("synth.done", database=schema.database, pairs=len(out), wanted=n, attempts=attempts,
             ms=round((time.monotonic() - t0) * 1000), shapes=dict(shapes), rejected=dict(rejected))
    return out
