"""Execution accuracy of the embedded model (bundled Gemma 3 270M, before any fine-tuning)
on the Spider Chinook questions and on Spider dev, stage by stage:

  raw          full schema, no retrieval, no examples, no repair, no constraint
  +retrieval   only the tables retrieval picks (ask.tables_k)
  +examples    plus retrieved approved examples (ask.examples_k)
  +repair      plus error feedback and retries (ask.max_repairs)
  +constraint  plus identifiers constrained to the schema (ask.constrain)
  +synthetic   plus the schema synthesizer's pairs among the examples (ask.synthetic_examples): the defaults
  +candidates  (with --candidates N) plus self-consistency over N samples

Each stage is a fresh Pipeline; the model and the schema index are shared. Examples come
from the other half of the same question set, never the evaluated question nor its
paraphrases: two folds by the parity of the gold-SQL group, asked in turn and pooled
(``--split parity`` splits by the question number instead; see ``bench/asking.py`` for why
that leaks).
Scored with Spider's execution rules (``nl2sql/scoring.py``). Prints a table and writes
JSON to ``bench/out/accuracy-<time>.json``.

    python -m bench.accuracy                        # Chinook (84) and Spider dev (all 1034: long)
    python -m bench.accuracy --suite chinook --limit 20
    python -m bench.accuracy --suite chinook --model DATA_DIR/models/v4/model.gguf   # a fine-tuned model
    python -m bench.accuracy --suite spider --dbs concert_singer,pets_1 --limit 60
    python -m bench.accuracy --suite chinook --fold 1 --stages +synthetic,+candidates=3 --candidates 3 \
        --model M --prompt-schema none
        # the learning curve's held-out half, greedy and self-consistency over 3 samples

``--limit N`` keeps N questions per suite, evenly spaced over the file (so Spider dev
samples every database). Skips (exit 0) when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.asking import (
    CHINOOK_DB,
    CHINOOK_QUESTIONS,
    SPIDER_DEV,
    embedded_generator,
    assign_folds,
    fresh_dir,
    machine,
    pipeline_for,
    quiet_logs,
    require_shared,
    settings_for,
)
from bench.common import table, write_json

STAGES: list[tuple[str, dict[str, Any]]] = [
    ("raw", {"tables_k": 0, "examples_k": 0, "max_repairs": 0, "constrain": False, "candidates": 1}),
    ("+retrieval", {"examples_k": 0, "max_repairs": 0, "constrain": False, "candidates": 1}),
    ("+examples", {"max_repairs": 0, "constrain": False, "candidates": 1, "synthetic_examples": 0}),
    ("+repair", {"constrain": False, "candidates": 1, "synthetic_examples": 0}),
    ("+constraint", {"candidates": 1, "synthetic_examples": 0}),
    ("+synthetic", {"candidates": 1}),  # the default pipeline: synthetic examples beside the approved ones
]


def spread(items: Sequence[Any], limit: int | None) -> list[Any]:
    """``limit`` items evenly spaced over ``items`` (all when ``limit`` is None)."""
    if limit is None or limit >= len(items):
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def run_stage(
    name: str,
    overrides: dict[str, Any],
    *,
    cases: list[Any],
    pool: list[Any],
    backends: dict[str, Any],
    generator: Any,
    work: Path,
    label: str,
    threads: int,
    folds_of: dict[str, int],
    only_fold: int | None = None,
) -> Any:
    """One configuration over ``cases``; with examples on, two folds pooled (or fold
    ``only_fold`` alone, its examples from the other one)."""
    from gateway.config import AskConfig
    from nl2sql.eval import EvalReport, evaluate

    ask = {"n_threads": threads, **overrides}
    uses_examples = ask.get("examples_k", AskConfig().examples_k) > 0
    folds: tuple[int | None, ...] = (0, 1) if uses_examples else (None,)
    if only_fold is not None:
        cases = [c for c in cases if folds_of[c.id] == only_fold]
        folds = (only_fold,) if uses_examples else (None,)
    merged = EvalReport(label=f"{label} {name}")
    totals: dict[str, float] = {}
    for fold in folds:
        part = [c for c in cases if fold is None or folds_of[c.id] == fold]
        if not part:
            continue
        examples = [(c.database, c.question, c.sql) for c in pool if fold is not None and folds_of[c.id] != fold]
        settings = settings_for(fresh_dir(work, "data"), **ask)
        with pipeline_for(settings, backends, generator=generator, schema_cache_dir=work / f"schema-{label}",
                          examples=examples) as pipeline:
            report = evaluate(pipeline, part, backends=backends, progress=True,
                              label=f"{label} {name}" + ("" if fold is None else f" fold {fold}"))
        merged.cases.extend(report.cases)
        merged.wall_s += report.wall_s
        for k, v in report.timings.items():
            totals[k] = totals.get(k, 0.0) + v * report.n
    order = {c.id: i for i, c in enumerate(cases)}
    merged.cases.sort(key=lambda c: order.get(c.id, 0))
    if merged.n:
        merged.timings = {k: v / merged.n for k, v in totals.items()}
    return merged


def run_suite(
    label: str, cases: list[Any], pool: list[Any], backends: dict[str, Any], *, generator: Any, work: Path,
    stages: list[tuple[str, dict[str, Any]]], threads: int, split: str, only_fold: int | None = None,
) -> list[dict[str, Any]]:
    out = []
    folds_of = assign_folds(pool, split=split)
    for name, overrides in stages:
        report = run_stage(name, overrides, cases=cases, pool=pool, backends=backends, generator=generator,
                           work=work, label=label, threads=threads, folds_of=folds_of, only_fold=only_fold)
        out.append({"stage": name, "settings": overrides, **report.to_dict()})
        s = report.summary()
        print(f"{label:<8} {name:<12} EX {s['execution_accuracy']:.1%}  valid {s['valid_sql_rate']:.1%}  "
              f"p50 {s['p50_ms']:.0f} ms  ({s['n']} questions, {s['wall_s']:.0f} s)", flush=True)
    return out


def chinook_suite(limit: int | None) -> tuple[list[Any], list[Any], dict[str, Any]]:
    from connectors.sqlite import SqliteBackend
    from nl2sql.eval import load_jsonl

    pool = load_jsonl(CHINOOK_QUESTIONS, database="chinook")
    backends = {"chinook": SqliteBackend("chinook", CHINOOK_DB, read_only=True)}
    return spread(pool, limit), pool, backends


def spider_suite(limit: int | None, dbs: Sequence[str] | None) -> tuple[list[Any], list[Any], dict[str, Any]]:
    from nl2sql.eval import load_spider, open_file_backend

    pool, files = load_spider(SPIDER_DEV, dbs=dbs)
    cases = spread(pool, limit)
    needed = {c.database for c in cases}
    backends = {db: open_file_backend(db, path) for db, path in files.items() if db in needed}
    return cases, [c for c in pool if c.database in needed], backends


def print_table(results: dict[str, list[dict[str, Any]]]) -> None:
    rows = []
    for suite, stages in results.items():
        prev: float | None = None
        for st in stages:
            ex = st["execution_accuracy"]
            gain = "" if prev is None else f"{(ex - prev) * 100:+.1f} pt"
            prev = ex
            rows.append([suite, st["stage"], str(st["n"]), f"{ex:.1%}", gain, f"{st['valid_sql_rate']:.1%}",
                         f"{st['repair_rate']:.1%}", f"{st['p50_ms']:.0f}", f"{st['p95_ms']:.0f}"])
    print()
    print(table(["suite", "stage", "n", "exec. accuracy", "gain", "valid SQL", "repaired", "p50 ms", "p95 ms"], rows))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=["chinook", "spider", "all"], default="all")
    parser.add_argument("--limit", type=int, default=None, help="questions per suite, evenly spaced (default: all)")
    parser.add_argument("--dbs", default=None, help="Spider dev databases to keep, comma-separated")
    parser.add_argument("--stages", default=None, help="comma-separated subset of: " + ", ".join(n for n, _ in STAGES))
    parser.add_argument("--candidates", type=int, default=1, help="add a self-consistency stage with N candidates")
    parser.add_argument("--split", choices=["sql", "parity"], default="sql",
                        help="example folds: by gold-SQL group (default) or by question-number parity (leaks paraphrases)")
    parser.add_argument("--fold", type=int, choices=[0, 1], default=None,
                        help="evaluate one fold only, its examples from the other (1: the learning curve's held-out half)")
    parser.add_argument("--model", type=Path, default=None,
                        help="GGUF to evaluate instead of the bundled base (e.g. a promoted DATA_DIR/models/vN/model.gguf)")
    parser.add_argument("--full-vocab", action="store_true",
                        help="serve the model with its full 262k vocabulary (ask.trim_vocab = false)")
    parser.add_argument("--prompt-schema", choices=["auto", "tables", "none"], default="auto",
                        help="ask.prompt_schema in every stage (none: for a model fine-tuned in that format)")
    parser.add_argument("--draft-tokens", type=int, default=None,
                        help="ask.draft_tokens: n-gram draft tokens verified per model pass (0: plain greedy decoding)")
    parser.add_argument("--examples-k", type=int, default=None,
                        help="ask.examples_k in the stages that show examples (default: the configured 4)")
    parser.add_argument("--example-min-similarity", type=float, default=None,
                        help="ask.example_min_similarity in every stage (examples less similar are left out)")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (use 1 on a busy machine: "
                        "llama.cpp threads spin, and oversubscribed cores slow them down tenfold)")
    args = parser.parse_args(argv)

    require_shared(CHINOOK_DB, CHINOOK_QUESTIONS, *([SPIDER_DEV] if args.suite != "chinook" else []))
    quiet_logs()
    stages = list(STAGES)
    if args.candidates > 1:
        stages.append((f"+candidates={args.candidates}", {"candidates": args.candidates}))
    if args.stages:
        keep = set(args.stages.split(","))
        stages = [s for s in stages if s[0] in keep]
    every = {k: v for k, v in (("prompt_schema", None if args.prompt_schema == "auto" else args.prompt_schema),
                               ("examples_k", args.examples_k),
                               ("example_min_similarity", args.example_min_similarity)) if v is not None}
    # a stage that shows no examples (examples_k = 0) keeps that
    stages = [(name, {**overrides, **every, **({"examples_k": 0} if overrides.get("examples_k") == 0 else {})})
              for name, overrides in stages]

    started = time.time()
    results: dict[str, list[dict[str, Any]]] = {}
    opened: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="askgres-bench-acc-") as tmp:
        work = Path(tmp)
        try:
            suites = []
            if args.suite in ("chinook", "all"):
                suites.append(("chinook", chinook_suite(args.limit)))
            if args.suite in ("spider", "all"):
                suites.append(("spider", spider_suite(args.limit, args.dbs.split(",") if args.dbs else None)))
            schemas = [b.introspect(samples=3) for _, (_, _, bs) in suites for b in bs.values()]
            generator = embedded_generator(n_threads=args.threads, model=args.model, draft_tokens=args.draft_tokens,
                                           schemas=None if args.full_vocab else schemas)
            for label, (cases, pool, backends) in suites:
                opened.extend(backends.values())
                results[label] = run_suite(label, cases, pool, backends, generator=generator, work=work,
                                           stages=stages, threads=args.threads, split=args.split,
                                           only_fold=args.fold)
        finally:
            for b in opened:
                b.close()
    print_table(results)
    payload = {
        "benchmark": "accuracy",
        "model": str(args.model) if args.model else "bundled Gemma 3 270M Q4_K_M (base, embedded llama.cpp)",
        "machine": machine(),
        "args": vars(args),
        "examples_split": ("two folds by parity of the gold-SQL group (paraphrases stay together); examples from the other fold only"
                           if args.split == "sql" else "two folds by parity of the question number (paraphrases leak)"),
        "scoring": "Spider execution accuracy: multiset (ordered when the gold has an outer ORDER BY), column order ignored, floats rounded to 4 places",
        "wall_s": round(time.time() - started, 1),
        "results": results,
    }
    path = write_json("accuracy", payload)
    print(f"\nJSON: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
