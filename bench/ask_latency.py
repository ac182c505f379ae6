"""Ask latency on Chinook with the embedded model (bundled Gemma 3 270M), warm, 2 threads:
p50 / p95 / max over the Spider Chinook questions, beside the targets (p50 <= 300 ms,
p95 <= 1 s).

Default settings (retrieval, examples, repair, constraint). Warm means: model loaded,
schema index built, and ``--warmup`` questions asked before timing. Approved examples are
the other half of the question set (two folds by gold-SQL group, as in
``bench/accuracy.py``), so example retrieval is in the prompt as in real use; ``--no-examples``
leaves the example index empty. Times are the pipeline's own (question in, rows and summary
out), in-process, without the wire. Writes JSON to ``bench/out/ask_latency-<time>.json``.

    python -m bench.ask_latency              # all 84 questions
    python -m bench.ask_latency --limit 20
    python -m bench.ask_latency --model DATA_DIR/models/v4/model.gguf   # a fine-tuned model

Skips (exit 0) when ../shared/data is absent.
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

TARGET_P50_MS = 300.0
TARGET_P95_MS = 1000.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="time only the first N questions (default: all)")
    parser.add_argument("--warmup", type=int, default=3, help="questions asked before timing")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    parser.add_argument("--full-vocab", action="store_true",
                        help="serve the model with its full 262k vocabulary (ask.trim_vocab = false)")
    parser.add_argument("--no-examples", action="store_true", help="no approved examples in the index")
    parser.add_argument("--prompt-schema", choices=["auto", "tables", "none"], default="auto",
                        help="ask.prompt_schema (none: for a model fine-tuned in that format)")
    parser.add_argument("--draft-tokens", type=int, default=None,
                        help="ask.draft_tokens: n-gram draft tokens verified per model pass (0: plain greedy decoding)")
    parser.add_argument("--model", type=Path, default=None,
                        help="GGUF to time instead of the bundled base (e.g. a promoted DATA_DIR/models/vN/model.gguf)")
    args = parser.parse_args(argv)

    require_shared(CHINOOK_DB, CHINOOK_QUESTIONS)
    quiet_logs()
    from connectors.sqlite import SqliteBackend
    from nl2sql.eval import load_jsonl, percentile

    cases = load_jsonl(CHINOOK_QUESTIONS, database="chinook")
    timed = cases if args.limit is None else cases[: args.limit]
    backend = SqliteBackend("chinook", CHINOOK_DB, read_only=True)
    generator = embedded_generator(n_threads=args.threads, model=args.model, draft_tokens=args.draft_tokens,
                                   schemas=None if args.full_vocab else [backend.introspect(samples=3)])
    samples: list[dict[str, Any]] = []
    stage_totals: dict[str, float] = {}
    folds = (None,) if args.no_examples else (0, 1)
    fold_of = assign_folds(cases)
    started = time.time()
    try:
        with tempfile.TemporaryDirectory(prefix="askgres-bench-lat-") as tmp:
            work = Path(tmp)
            for fold in folds:
                part = [c for c in timed if fold is None or fold_of[c.id] == fold]
                if not part:
                    continue
                examples = [] if fold is None else [
                    ("chinook", c.question, c.sql) for c in cases if fold_of[c.id] != fold
                ]
                settings = settings_for(fresh_dir(work, "data"), n_threads=args.threads, trim_vocab=not args.full_vocab,
                                        prompt_schema=args.prompt_schema)
                with pipeline_for(settings, {"chinook": backend}, generator=generator,
                                  schema_cache_dir=work / "schema", examples=examples) as pipeline:
                    warm = [c for c in cases if c not in part][: args.warmup] or part[: args.warmup]
                    for c in warm:
                        pipeline.ask(c.question, "chinook", log=False)
                    for c in part:
                        t0 = time.perf_counter()
                        res = pipeline.ask(c.question, "chinook", log=False)
                        wall = (time.perf_counter() - t0) * 1000
                        samples.append({"id": c.id, "question": c.question, "ms": float(res.ms), "wall_ms": wall,
                                        "ok": bool(res.ok), "attempts": len(res.attempts), "sql": res.sql})
                        for k, v in (res.timings or {}).items():
                            stage_totals[k] = stage_totals.get(k, 0.0) + float(v)
                        print(f"{len(samples):3d}/{len(timed)} {wall:7.0f} ms  {'ok ' if res.ok else 'err'} {c.question[:60]}",
                              flush=True)
    finally:
        backend.close()

    walls = [s["wall_ms"] for s in samples]
    p50, p95, worst = percentile(walls, 50), percentile(walls, 95), percentile(walls, 100)
    mean = sum(walls) / len(walls) if walls else 0.0
    ok = sum(s["ok"] for s in samples)
    print()
    print(table(
        ["figure", "measured", "target", "met"],
        [
            ["p50", f"{p50:.0f} ms", f"<= {TARGET_P50_MS:.0f} ms", "yes" if p50 <= TARGET_P50_MS else "no"],
            ["p95", f"{p95:.0f} ms", f"<= {TARGET_P95_MS:.0f} ms", "yes" if p95 <= TARGET_P95_MS else "no"],
            ["max", f"{worst:.0f} ms", "", ""],
            ["mean", f"{mean:.0f} ms", "", ""],
            ["answered (valid SQL)", f"{ok}/{len(samples)}", "", ""],
        ],
    ))
    stages = {k: v / len(samples) for k, v in stage_totals.items()} if samples else {}
    if stages:
        print()
        print(table(["stage", "mean ms"], [[k, f"{v:.1f}"] for k, v in stages.items()]))
    payload = {
        "benchmark": "ask_latency",
        "model": str(args.model) if args.model else "bundled Gemma 3 270M Q4_K_M (base, embedded llama.cpp)",
        "machine": machine(),
        "args": vars(args),
        "targets_ms": {"p50": TARGET_P50_MS, "p95": TARGET_P95_MS},
        "p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "max_ms": round(worst, 1), "mean_ms": round(mean, 1),
        "answered": ok, "n": len(samples), "stage_mean_ms": stages,
        "wall_s": round(time.time() - started, 1),
        "samples": samples,
    }
    print(f"\nJSON: {write_json('ask_latency', payload)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
