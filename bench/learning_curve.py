"""The learning curve: execution accuracy per learning iteration on Chinook, on this
machine's CPU, without Ollama (schema synthesizer + simulated admin approvals).

Honest split of ``../shared/data/chinook/spider_chinook_1.jsonl`` by gold-SQL group
(``bench.asking.assign_folds``, as ``bench/accuracy.py``): Spider writes two paraphrases of
each question with the same SQL, so a split by question number would put every evaluated
question's twin, and its answer, in the training half. Groups alternate between halves:

* the *users* half (fold 0) is asked through the pipeline each iteration; every
  answer that is wrong is marked wrong (``mark_wrong``, with the gold SQL as the correct
  SQL, as a user would through ``askgres.feedback``) and every failure gets its gold SQL
  approved by a simulated admin: these pairs feed training and the example index;
* the *evaluated* half (fold 1) is only evaluated, never trained on, never indexed.

Iteration 0 is the bundled base model. Each iteration then runs one real learner
iteration (``learner.runner.run_iteration``: synthesize, fine-tune with LoRA, export GGUF,
gate, promote or refuse) and evaluates the active model on the evaluated half (and on
Spider dev databases with ``--spider-dbs``, where the synthesizer trains per database and
never sees dev questions). Prints a table, writes JSON and a PNG plot to ``bench/out/``.

    python -m bench.learning_curve --iterations 4
    python -m bench.learning_curve --iterations 4 --spider-dbs concert_singer,pets_1
    python -m bench.learning_curve --iterations 2 --no-chinook --spider-dbs concert_singer
    python -m bench.learning_curve --iterations 1 --minutes 3 --synth 120     # smoke
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from bench.asking import CHINOOK_DB, CHINOOK_QUESTIONS, SPIDER_DEV, assign_folds, machine, quiet_logs, require_shared
from bench.common import OUT_DIR, table

DB = "chinook"


def _settings(data_dir: Path, args: argparse.Namespace, databases: list[Any]) -> Any:
    from gateway.config import LearnerConfig, Settings

    return Settings(
        data_dir=data_dir, log_level="warning", databases=databases,
        learner=LearnerConfig(auto=False, max_minutes=args.minutes, synth_pairs=args.synth, max_steps=args.max_steps,
                              **({"prompt_schema": args.prompt_schema} if args.prompt_schema else {}),
                              continue_training=not args.from_base,
                              **({"learning_rate": args.lr} if args.lr is not None else {})),
    )


def users_turn(pipeline: Any, store: Any, backend: Any, cases: list[Any], *, iteration: int) -> dict[str, int]:
    """The users ask; wrong answers are marked wrong and the admin approves the gold SQL."""
    from learner.pairs import add_pair, approve
    from learner.validate_pairs import canonical_sql
    from nl2sql.failures import mark_wrong
    from nl2sql.scoring import execution_match

    schema = backend.introspect()
    right = wrong = failed = 0
    for case in cases:
        gold = canonical_sql(case.sql, schema)  # Spider writes "strings"; the model is taught 'strings'
        session = f"user-{iteration}-{case.id}"
        result = pipeline.ask(case.question, case.database, log=True, session_id=session, user="user")
        if result.ok and result.sql and execution_match(backend, case.sql, result.sql):
            right += 1
            continue
        if result.ok:
            wrong += 1
            _, pair_id, _ = mark_wrong(store, session_id=session, correct_sql=gold, user="user")
            assert pair_id is not None
            approve(store, pair_id, reviewer="admin")
        else:
            failed += 1
            rows = store.query("SELECT id FROM failures WHERE question = ? ORDER BY id DESC LIMIT 1", (case.question,))
            add_pair(store, database=case.database, question=case.question, sql=gold, source="admin",
                     status="approved", reviewed_by="admin", failure_id=int(rows[0]["id"]) if rows else None)
    return {"right": right, "wrong": wrong, "failed": failed}


def _learn(settings: Any, store: Any, db: str) -> dict[str, Any]:
    """One learner iteration for ``db``; what the run reports."""
    from learner.runner import run_iteration

    run_id = run_iteration(settings, db)
    r = dict(store.query("SELECT * FROM training_runs WHERE id = ?", (run_id,))[0])
    rep = json.loads(r["report"])
    return {"run": run_id, "status": r["status"], "n_train": r["n_train"],
            "gate_current": r["current_accuracy"], "gate_candidate": r["candidate_accuracy"],
            "train_s": rep.get("timings", {}).get("train_s"),
            "tokens_per_s": rep.get("train", {}).get("tokens_per_s")}


def spider_tracks(names: list[str], data_dir: Path, args: argparse.Namespace, *, limit: int | None) -> list[dict[str, Any]]:
    """One learner per Spider dev database: its own data directory, store and models; its
    dev questions are only evaluated (no users, no approvals: the synthesizer alone)."""
    from connectors.registry import open_backends
    from gateway.config import DatabaseConfig
    from nl2sql.eval import load_spider
    from nl2sql.store import Store

    cases, files = load_spider(SPIDER_DEV, dbs=names)
    tracks = []
    for name in names:
        if name not in files:
            raise SystemExit(f"no Spider dev database {name!r} under {SPIDER_DEV}")
        db = (DatabaseConfig(name=name, kind="duckdb", path=files[name], read_only=True)
              if files[name].suffix == ".duckdb" else DatabaseConfig(name=name, kind="sqlite", path=files[name], read_only=True))
        settings = _settings(data_dir / f"spider-{name}", args, [db])
        tracks.append({"db": name, "settings": settings, "store": Store(settings.state_db),
                       "backends": open_backends(settings), "cases": [c for c in cases if c.database == name][:limit]})
    return tracks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.learning_curve", description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=12.0, help="fine-tuning time limit per iteration")
    ap.add_argument("--max-steps", type=int, default=400, help="optimizer step limit per iteration")
    ap.add_argument("--synth", type=int, default=600, help="synthesized pairs per iteration")
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default: learner.learning_rate)")
    ap.add_argument("--from-base", action="store_true",
                    help="every run fine-tunes the bundled base (learner.continue_training = false)")
    ap.add_argument("--limit", type=int, default=None, help="questions per half (smoke runs)")
    ap.add_argument("--spider-dbs", default="",
                    help="comma-separated Spider dev databases to learn (synthesizer only) and evaluate on their dev questions")
    ap.add_argument("--no-chinook", action="store_true", help="only the Spider dev databases")
    ap.add_argument("--prompt-schema", choices=["tables", "none"], default=None,
                    help="learner.prompt_schema: train (and then ask) with the retrieved tables in the prompt, or "
                    "without (default: the setting's default, none)")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    spider_names = [n for n in args.spider_dbs.split(",") if n]
    require_shared(CHINOOK_DB, CHINOOK_QUESTIONS, *([SPIDER_DEV] if spider_names else []))
    quiet_logs()

    from connectors.registry import open_backends
    from gateway.config import DatabaseConfig
    from learner.registry import active_version
    from nl2sql.eval import evaluate, load_jsonl
    from nl2sql.pipeline import Pipeline
    from nl2sql.store import Store

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    data_dir = args.out / f"learning-curve-{stamp}"
    settings = _settings(data_dir, args, [DatabaseConfig(name=DB, kind="sqlite", path=CHINOOK_DB, read_only=True)])
    cases = load_jsonl(CHINOOK_QUESTIONS, database=DB)
    folds = assign_folds(cases)
    users = [c for c in cases if folds[c.id] == 0][: args.limit]
    evaluated = [c for c in cases if folds[c.id] == 1][: args.limit]
    store = Store(settings.state_db)
    backends = open_backends(settings) if not args.no_chinook else {}
    spider = spider_tracks(spider_names, data_dir, args, limit=args.limit)
    rows: list[dict[str, Any]] = []
    path = args.out / f"learning_curve-{stamp}.json"
    try:
        for it in range(args.iterations + 1):
            t0 = time.monotonic()
            row: dict[str, Any] = {"iteration": it, "users": {}}
            if not args.no_chinook:
                run_info = _learn(settings, store, DB) if it > 0 else {}
                train_s = time.monotonic() - t0
                pipeline = Pipeline(settings, backends, store)
                report = evaluate(pipeline, evaluated, label=f"iteration {it}", progress=True)
                user_stats = users_turn(pipeline, store, backends[DB], users, iteration=it) if it < args.iterations else {}
                row.update({
                    "model": active_version(store), "eval_accuracy": round(report.accuracy, 4),
                    "eval_n": report.n, "valid_sql": round(report.valid_rate, 4), "p50_ms": round(report.latency(50), 1),
                    "users": user_stats, "iteration_minutes": round((time.monotonic() - t0) / 60, 2),
                    "learn_minutes": round(train_s / 60, 2), **run_info,
                    "cases": [{"id": c.id, "correct": c.correct, "sql": c.sql, "error": c.error} for c in report.cases],
                })
                print(f"iteration {it}: accuracy {report.accuracy:.1%} on {report.n} held-out questions "
                      f"(model {row['model']}, {row['iteration_minutes']} min)", flush=True)
            row["spider"] = {}
            for track in spider:
                t1 = time.monotonic()
                info = _learn(track["settings"], track["store"], track["db"]) if it > 0 else {}
                pipeline = Pipeline(track["settings"], track["backends"], track["store"])
                rep = evaluate(pipeline, track["cases"], label=f"{track['db']} iteration {it}", progress=True)
                row["spider"][track["db"]] = {
                    "accuracy": round(rep.accuracy, 4), "n": rep.n, "valid_sql": round(rep.valid_rate, 4),
                    "model": active_version(track["store"]), "minutes": round((time.monotonic() - t1) / 60, 2),
                    **{k: info.get(k) for k in ("status", "n_train", "gate_current", "gate_candidate", "train_s")},
                    "cases": [{"id": c.id, "correct": c.correct, "sql": c.sql, "error": c.error} for c in rep.cases],
                }
                print(f"iteration {it}: {track['db']} accuracy {rep.accuracy:.1%} on {rep.n} dev questions "
                      f"({row['spider'][track['db']]['minutes']} min)", flush=True)
            if spider:
                n = sum(v["n"] for v in row["spider"].values())
                row["spider_accuracy"] = round(sum(v["accuracy"] * v["n"] for v in row["spider"].values()) / max(n, 1), 4)
            rows.append(row)
            _write(path, rows, args)  # after every iteration: a run cut short keeps what it measured
    finally:
        for b in [*backends.values(), *(b for t in spider for b in t["backends"].values())]:
            b.close()

    print()
    if not args.no_chinook:
        print(table(["iteration", "model", "held-out EX", "valid SQL", "p50 ms", "users right/wrong/failed",
                     "train pairs", "gate cur->cand", "minutes"],
                    [[r["iteration"], r["model"], f"{r['eval_accuracy']:.1%}", f"{r['valid_sql']:.1%}", r["p50_ms"],
                      "/".join(str(r["users"].get(k, "")) for k in ("right", "wrong", "failed")) if r["users"] else "",
                      r.get("n_train", ""),
                      f"{r['gate_current']:.2f}->{r['gate_candidate']:.2f}" if r.get("gate_candidate") is not None else "",
                      r["iteration_minutes"]] for r in rows]))
        print("target: >= 70% held-out execution accuracy after 4 iterations; <= 20 minutes per iteration")
    if spider:
        print(table(["iteration", "database", "model", "dev EX", "valid SQL", "train pairs", "gate cur->cand", "minutes"],
                    [[r["iteration"], db, v["model"], f"{v['accuracy']:.1%} of {v['n']}", f"{v['valid_sql']:.1%}",
                      v.get("n_train") or "",
                      f"{v['gate_current']:.2f}->{v['gate_candidate']:.2f}" if v.get("gate_candidate") is not None else "",
                      v["minutes"]] for r in rows for db, v in r["spider"].items()]))
    _write(path, rows, args)
    plot(rows, args.out / "learning_curve.png")
    print(f"wrote {path} and {args.out / 'learning_curve.png'}")
    return 0


def _write(path: Path, rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    out = {"machine": machine(), "date": dt.date.today().isoformat(), "args": {k: str(v) for k, v in vars(args).items()},
           "rows": rows}
    path.write_text(json.dumps(out, indent=2, default=str))


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its = [r["iteration"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    if all("eval_accuracy" in r for r in rows):
        ax.plot(its, [100 * r["eval_accuracy"] for r in rows], marker="o", label="held-out Chinook questions")
    if all("spider_accuracy" in r for r in rows):
        dbs = ", ".join(rows[0]["spider"])
        ax.plot(its, [100 * r["spider_accuracy"] for r in rows], marker="s", label=f"Spider dev ({dbs})")
    ax.axhline(70, color="grey", linestyle="--", linewidth=1, label="target 70%")
    ax.set_xlabel("learning iteration (0 = bundled base model)")
    ax.set_ylabel("execution accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(its)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    ax.set_title("askgres learning curve: Gemma 3 270M, 2-core CPU")
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    raise SystemExit(main())
