"""A training run's data, saved with the ``datasets`` library under ``run_dir/dataset``.

Sources, all validated by execution: synthesized pairs (:mod:`learner.synth`), teacher
pairs when an Ollama teacher is configured (:mod:`learner.teacher`), approved pairs
(repeated ``learner.approved_weight`` times, each time in a differently varied prompt)
and failed questions that have correct SQL. Records are built with the pipeline's own
prompt format (:mod:`learner.records`).

Split: ``validation`` holds a fixed synthetic set (the same seed every run, so runs are
compared on the same questions) and a stable share of people's pairs (approved pairs and
failures with correct SQL, chosen by a hash of their SQL); no validation question or SQL
ever appears in ``train``. Every record keeps its
provenance: ``source``, ``pair_id``, ``failure_id``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import structlog

from connectors.base import Backend, SchemaInfo
from gateway.config import Settings
from learner.focus import FocusHints
from learner.pairs import approved_pairs
from learner.profile import DbProfile, build_profile
from learner.records import RecordMaker, Tokens, sql_tables
from learner.synth import Pair, synthesize
from learner.validate_pairs import PairValidator, canonical_sql, normalize_sql
from gateway.errors import PgError
from nl2sql.examples import sql_identity
from nl2sql.scoring import results_match, run_rows
from nl2sql.store import Store

if TYPE_CHECKING:  # datasets is imported lazily (the optional ``learn`` extra)
    from datasets import DatasetDict

log = structlog.get_logger("askgres.learner.dataset")

VAL_SEED = 7919
"""Seed of the fixed synthetic validation set."""
COLUMNS = ("prompt", "completion", "source", "pair_id", "failure_id", "database", "question", "sql", "shape")


def gemma_token_counter(gguf: Path | None = None, *, settings: Settings | None = None) -> Tokens | None:
    """Token counts with the embedded model's own tokenizer, read (vocabulary only) from
    ``gguf`` or the bundled GGUF under ``settings.data_dir``; None without llama-cpp-python."""
    try:
        import llama_cpp  # noqa: F401 - the tokenizer's library
    except ImportError:
        log.warning("dataset.no_tokenizer", reason="llama-cpp-python is not installed")
        return None
    if gguf is None:
        from nl2sql.models import bundled_gguf

        if settings is None:
            raise ValueError("give gguf or settings")
        gguf = bundled_gguf(settings.data_dir)
    from nl2sql.llm import open_llama

    llm = open_llama(gguf, vocab_only=True)

    def count(text: str) -> int:
        return len(llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))

    return count


def _stable_share(key: str) -> float:
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _store_pairs(store: Store, database: str, v: PairValidator) -> tuple[list[Pair], list[Pair]]:
    """(approved pairs, failed questions with correct SQL not already approved), checked."""
    approved: list[Pair] = []
    for r in approved_pairs(store, database):
        sql = _canonical(v, r.question, r.sql)
        if sql is None:
            continue
        approved.append(Pair(r.question, sql, source="approved", shape=r.source, pair_id=r.id, failure_id=r.failure_id))
    covered = {p.failure_id for p in approved if p.failure_id is not None}
    failed: list[Pair] = []
    rows = store.query(
        "SELECT id, question, correct_sql FROM failures WHERE database = ? AND correct_sql IS NOT NULL AND correct_sql != ''",
        (database,),
    )
    for f in rows:
        if int(f["id"]) in covered:
            continue
        sql = _canonical(v, f["question"], f["correct_sql"])
        if sql is not None:
            failed.append(Pair(f["question"], sql, source="failure", shape="failure", failure_id=int(f["id"])))
    return approved, failed


def _canonical(v: PairValidator, question: str, sql: str) -> str | None:
    """The pair's SQL in canonical style when that returns the same rows, else as written;
    None (logged) when neither passes validation."""
    canon = canonical_sql(sql, v.schema)
    verdict = v.check(question, canon, allow_empty=True)
    if verdict.ok and canon != sql.strip().rstrip(";").strip():
        try:
            same = results_match(run_rows(v.conn, sql.strip().rstrip(";")), run_rows(v.conn, canon), ordered=True)
        except PgError:
            same = True  # the original does not even run here; the canonical one does
        if not same:
            canon, verdict = sql.strip().rstrip(";").strip(), v.check(question, sql, allow_empty=True)
    if not verdict.ok:
        log.warning("dataset.pair_skipped", question=question, reason=verdict.reason, detail=verdict.detail)
        return None
    return canon


NEAREST = 0.7
"""Share of records whose examples are the pair's nearest neighbours by question (what
the pipeline retrieves for a question); the others get pairs over the same tables or any
pair, so that the model also learns to write SQL that no example shows."""


def question_vectors(pairs: Sequence[Pair]) -> np.ndarray:
    """The pairs' questions embedded as the pipeline's example index embeds them."""
    from nl2sql.embed import shared_embedder

    return shared_embedder().encode([p.question for p in pairs])


def _example_picker(
    pool: Sequence[Pair], rng: random.Random, weights: Sequence[float] = (0.4, 0.35, 0.25), *,
    vectors: np.ndarray | None = None, nearest_share: float = NEAREST,
) -> Callable[[Pair], list[tuple[str, str]]]:
    """0-2 few-shot examples for a pair, the closest last, as the pipeline orders them:
    with ``vectors`` (one per pool pair, :func:`question_vectors`), most often the pairs
    whose questions are nearest (as retrieval picks them, so the model learns to tell a
    near question's SQL from the one asked), otherwise a paraphrase of the same SQL, pairs
    over the same tables, or any pair."""
    by_sql: dict[str, list[Pair]] = defaultdict(list)
    by_table: dict[str, list[Pair]] = defaultdict(list)
    for p in pool:
        by_sql[sql_identity(p.sql)].append(p)
        for t in p.tables:
            by_table[t].append(p)
    row = {id(p): i for i, p in enumerate(pool)}

    def nearest(p: Pair, k: int) -> list[Pair]:
        i = row.get(id(p))
        if vectors is None or i is None:
            return []
        out: list[Pair] = []
        for j in np.argsort(-(vectors @ vectors[i]), kind="stable")[: k + 16]:
            cand = pool[int(j)]
            if cand.question != p.question and cand not in out:
                out.append(cand)
                if len(out) == k:
                    break
        return out

    def pick(p: Pair) -> list[tuple[str, str]]:
        k = rng.choices(range(len(weights)), weights=list(weights))[0]
        if k == 0 or not pool:
            return []
        out: list[Pair] = nearest(p, k) if rng.random() < nearest_share else []
        if not out:
            twins = [x for x in by_sql.get(sql_identity(p.sql), []) if x.question != p.question]
            if twins and rng.random() < 0.3:
                out.append(rng.choice(twins))
            near = [x for t in p.tables for x in by_table.get(t, []) if x.question != p.question and x.sql != p.sql]
            while len(out) < k and len(out) < len(pool) - 1:
                src = near if near and rng.random() < 0.7 else pool
                cand = rng.choice(src)
                if cand.question != p.question and cand not in out:
                    out.append(cand)
                elif len(src) <= 2:
                    break
        out.reverse()  # the closest (a twin, when any) right above the question
        return [(x.question, x.sql) for x in out]

    return pick


def build_dataset(
    settings: Settings,
    store: Store,
    backend: Backend,
    schema: SchemaInfo,
    *,
    run_dir: Path,
    focus: FocusHints | None = None,
    seed: int = 0,
    n_synth: int | None = None,
    val_fraction: float = 0.1,
    approved_val_fraction: float = 0.25,
    teacher: bool | None = None,
    tokens: Tokens | None | Literal["auto"] = "auto",
    profile: DbProfile | None = None,
    tables_k: int | None = None,
    example_weights: Sequence[float] = (0.4, 0.35, 0.25),
    max_prompt_tokens: int = 640,
) -> DatasetDict:
    """Build, save (``run_dir/dataset``, atomically) and return the run's ``DatasetDict``
    with ``train`` and ``validation`` splits; statistics go to ``run_dir/dataset_stats.json``.

    Prompt size: about ``tables_k`` tables per prompt (default ``ask.tables_k``, as the
    pipeline retrieves), 0, 1, 2... few-shot examples with ``example_weights``, and at most
    ``max_prompt_tokens`` (examples, then extra tables, are dropped to fit)."""
    from datasets import Dataset, DatasetDict

    t0 = time.monotonic()
    db = schema.database
    cfg = settings.learner
    rng = random.Random(seed)
    prof = profile or build_profile(backend, schema)
    n_synth = cfg.synth_pairs if n_synth is None else n_synth
    n_val = max(10, int(round(n_synth * val_fraction))) if n_synth > 0 else 0
    counter = gemma_token_counter(settings=settings) if tokens == "auto" else tokens

    with PairValidator(backend, schema, timeout=settings.ask.timeout_s, max_rows=settings.ask.row_limit) as v:
        approved, failed = _store_pairs(store, db, v)
    # held-out people's pairs (approved, and failures with correct SQL): a stable share by
    # SQL, so paraphrases of one query stay on one side
    val_approved: list[Pair] = []
    train_approved: list[Pair] = []
    if len(approved) >= 10 and approved_val_fraction > 0:
        held = {normalize_sql(p.sql, schema.dialect) for p in approved
                if _stable_share(normalize_sql(p.sql, schema.dialect)) < approved_val_fraction}
    else:
        held = set()
    for p in approved + failed:
        (val_approved if normalize_sql(p.sql, schema.dialect) in held else train_approved).append(p)
    known = [(p.question, p.sql) for p in approved + failed]
    # the fixed synthetic validation set never shares a question or query with people's pairs
    val_synth = synthesize(backend, schema, n=n_val, seed=VAL_SEED, profile=prof, blocked=known,
                           max_rows=settings.ask.row_limit) if n_val else []
    for p in val_synth:
        p.source = "synth"
    blocked = [(p.question, p.sql) for p in val_synth + val_approved]

    teacher_pairs: list[Pair] = []
    use_teacher = cfg.teacher == "ollama" if teacher is None else teacher
    if use_teacher:
        from learner.teacher import run_teacher

        teacher_pairs = run_teacher(settings, store, backend, schema, focus=focus, profile=prof,
                                    seen=known, blocked=blocked)
    train_synth = synthesize(backend, schema, n=n_synth, seed=seed, focus=focus, profile=prof,
                             seen=known + [(p.question, p.sql) for p in teacher_pairs], blocked=blocked,
                             max_rows=settings.ask.row_limit)

    maker = RecordMaker(schema, prof, rng=rng, tables_k=settings.ask.tables_k if tables_k is None else tables_k,
                        tokens=counter, max_prompt_tokens=max_prompt_tokens,
                        prompt_schema=settings.learner.prompt_schema)
    train_pool = train_synth + teacher_pairs + train_approved
    for p in train_pool + val_synth + val_approved:
        if not p.tables:
            p.tables = tuple(sql_tables(p.sql, schema.dialect, schema))
    pick = _example_picker(train_pool, rng, example_weights,
                           vectors=question_vectors(train_pool) if train_pool else None)
    weight = max(1, cfg.approved_weight)

    def record(p: Pair, *, examples: bool) -> dict[str, Any]:
        prompt, _ = maker.prompt(p.question, p.sql, examples=pick(p) if examples else ())
        return {"prompt": prompt, "completion": maker.completion(p.sql), "source": p.source, "pair_id": p.pair_id,
                "failure_id": p.failure_id, "database": db, "question": p.question, "sql": p.sql, "shape": p.shape}

    train_rows: list[dict[str, Any]] = []
    for p in train_synth + teacher_pairs:
        train_rows.append(record(p, examples=True))
    for p in train_approved:
        train_rows.extend(record(p, examples=True) for _ in range(weight))
    rng.shuffle(train_rows)
    val_rows = [record(p, examples=False) for p in val_synth + val_approved]

    dd = DatasetDict({
        "train": Dataset.from_list(train_rows) if train_rows else Dataset.from_dict({c: [] for c in COLUMNS}),
        "validation": Dataset.from_list(val_rows) if val_rows else Dataset.from_dict({c: [] for c in COLUMNS}),
    })
    stats = _stats(dd, counter, prompt_version=maker.version, seconds=time.monotonic() - t0)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / "dataset.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    dd.save_to_disk(str(tmp))
    final = run_dir / "dataset"
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    (run_dir / "dataset_stats.json").write_text(json.dumps(stats, indent=2))
    log.info("dataset.built", database=db, train=len(train_rows), validation=len(val_rows),
             approved=len(approved), failures=len(failed), teacher=len(teacher_pairs), synth=len(train_synth),
             prompt_tokens_mean=stats.get("prompt_tokens_mean"), ms=round(stats["seconds"] * 1000))
    return dd


def _stats(dd: Any, counter: Tokens | None, *, prompt_version: str, seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {"prompt_version": prompt_version, "seconds": round(seconds, 2)}
    for split in ("train", "validation"):
        ds = dd[split]
        out[f"n_{split}"] = len(ds)
        out[f"{split}_sources"] = dict(Counter(ds["source"]))
        out[f"{split}_shapes"] = dict(Counter(ds["shape"]))
    if counter is not None and len(dd["train"]):
        pt = [counter(p) for p in dd["train"]["prompt"]]
        ct = [counter(c) - 1 for c in dd["train"]["completion"]]  # minus the BOS the counter adds
        pt_sorted = sorted(pt)
        out.update({
            "prompt_tokens_mean": round(statistics.mean(pt), 1),
            "prompt_tokens_p95": pt_sorted[int(0.95 * (len(pt) - 1))],
            "prompt_tokens_max": pt_sorted[-1],
            "completion_tokens_mean": round(statistics.mean(ct), 1),
            "completion_tokens_max": max(ct),
            "train_tokens_total": sum(pt) + sum(ct),
        })
    return out
