"""One learning iteration for one database, run in its own process so the gateway keeps
serving at full speed:

    failures -> training data -> LoRA fine-tune -> export GGUF -> gate -> promote/refuse

The fine-tune starts from the model that was active when the run began (its merged
weights, converted once to a Hugging Face checkpoint beside its GGUF), so each promoted
run builds on the last; ``learner.continue_training = false`` starts every run from the
bundled base.

Every stage writes its outputs under the run's directory before the run record moves on,
so a run killed at any point (kill -9) is resumed by the next one: the saved dataset is
reused and training continues from its last checkpoint. Approved pairs, failure records
and model versions live in the state store and are never deleted.

``python -m learner.runner --settings FILE --database DB [--run-id N]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import structlog

from gateway.config import Settings
from gateway.errors import PgError
from learner import registry
from learner.gate import GateCase, run_gate
from learner.runs import ACTIVE, create_run, get_run, recover_stale, resumable_run, run_dir, update_run
from nl2sql.store import Store

log = structlog.get_logger("askgres.learner")


def _focus(store: Store, database: str, schema: Any) -> Any:
    from learner.focus import FocusHints

    rows = store.query("SELECT * FROM failures WHERE database = ? AND resolved = 0", (database,))
    return FocusHints.from_failures([dict(r) for r in rows], schema)


def _gate_cases(dataset: Any) -> list[GateCase]:
    split = dataset["validation"] if "validation" in dataset else dataset["test"]
    cases = []
    seen: set[str] = set()
    for row in split:
        q = row["question"]
        if q in seen:
            continue
        seen.add(q)
        cases.append(GateCase(question=q, sql=row["sql"], source=row.get("source", "")))
    return cases


def parent_model(settings: Settings, store: Store, run_id: int, base_gguf: Path) -> tuple[str, Path]:
    """``(version, gguf)`` a run fine-tunes on top of: the model that was active when the
    run was created (recorded as its ``base_model``, so a resumed run keeps its parent), or
    the bundled base when ``learner.continue_training`` is off or that model's file is gone."""
    from nl2sql.models import active_model

    if not settings.learner.continue_training:
        return registry.BASE, base_gguf
    if settings.ask.model_path is not None:
        return active_model(settings, store)
    version = get_run(store, run_id).base_model
    if version == registry.BASE:
        return registry.BASE, base_gguf
    try:
        path = registry.get_model(store, version).path
    except PgError:
        path = Path()
    if not path.is_file():
        log.warning("learn.parent_missing", version=version, path=str(path))
        return registry.BASE, base_gguf
    return version, path


def parent_checkpoint(settings: Settings, version: str, gguf: Path) -> Path:
    """The parent model as a Hugging Face checkpoint (converted once, kept beside its GGUF)."""
    from learner.convert import ensure_hf_base

    if version == registry.BASE:
        return ensure_hf_base(settings.data_dir)
    return ensure_hf_base(settings.data_dir, gguf_path=gguf, target=gguf.parent / "hf")


def tidy(settings: Settings, store: Store, run_id: int) -> list[Path]:
    """Delete what a finished run leaves that can be made again (about 1.2 GB a run, so
    that a gateway learning for months does not fill its disk): the run's resume
    checkpoints (a finished run is never resumed; its adapter and dataset stay) and the
    Hugging Face conversions of versions that no run will fine-tune from, which are all but
    the active one and the parents of unfinished runs (a rollback converts its target
    again, a minute). No model version, pair or failure record is touched. Returns what
    was deleted."""
    unfinished = (*ACTIVE, "interrupted")  # running, or to be resumed by the next run
    keep = {registry.active_version(store)}
    keep |= {str(r["base_model"]) for r in store.query(
        f"SELECT base_model FROM training_runs WHERE status IN ({', '.join('?' * len(unfinished))})", unfinished)}
    doomed = [run_dir(settings.data_dir, run_id) / "lora" / "checkpoints"]
    doomed += [m.path.parent / "hf" for m in registry.list_models(store)
               if m.version != registry.BASE and m.version not in keep]
    gone = []
    for path in doomed:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            gone.append(path)
    if gone:
        log.info("learn.tidied", run=run_id, deleted=[str(p) for p in gone])
    return gone


def run_iteration(settings: Settings, database: str, *, run_id: int | None = None) -> int:
    """Run (or resume) one iteration; returns the run id. Blocking; meant for a child process."""
    from connectors.registry import open_backends
    from nl2sql.models import active_model, bundled_gguf

    store = Store(settings.state_db)
    recover_stale(store)
    if run_id is None:
        run_id = resumable_run(store, database) or create_run(
            store, database, base_model=registry.active_version(store)
        )
    rdir = run_dir(settings.data_dir, run_id)
    rdir.mkdir(parents=True, exist_ok=True)
    update_run(store, run_id, pid=os.getpid(), status="synthesizing", stage="data", error="")
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    backends = open_backends(settings)
    try:
        backend = backends[database]
        schema = backend.introspect()
        base_gguf = bundled_gguf(settings.data_dir)
        registry.ensure_base(store, base_gguf)
        failure_ids = [int(r["id"]) for r in store.query(
            "SELECT id FROM failures WHERE database = ? AND resolved = 0", (database,))]

        # 1. training data (reused when resuming)
        from datasets import DatasetDict, load_from_disk

        ds_dir = rdir / "dataset"
        if ds_dir.exists():
            dataset = load_from_disk(str(ds_dir))
            assert isinstance(dataset, DatasetDict)
        else:
            from learner.dataset import build_dataset

            dataset = build_dataset(settings, store, backend, schema, run_dir=rdir, focus=_focus(store, database, schema), seed=run_id)
        timings["data_s"] = time.monotonic() - t0
        update_run(store, run_id, status="training", stage="train", n_train=len(dataset["train"]),
                   n_eval=len(dataset["validation"]) if "validation" in dataset else 0)

        # 2. fine-tune (resumes from the last checkpoint), on top of the parent model
        from learner.train import train_lora

        t1 = time.monotonic()
        parent_version, parent_gguf = parent_model(settings, store, run_id, base_gguf)
        hf_base = parent_checkpoint(settings, parent_version, parent_gguf)
        timings["convert_s"] = time.monotonic() - t1

        def progress(frac: float) -> None:
            update_run(store, run_id, progress=round(frac, 3))

        result = train_lora(settings, dataset, base_dir=hf_base, out_dir=rdir / "lora", resume=True, progress=progress)
        timings["train_s"] = time.monotonic() - t1

        # 3. export the candidate (idempotent per run)
        from learner.export import export_gguf, write_modelfile

        update_run(store, run_id, status="exporting", stage="export")
        t2 = time.monotonic()
        existing = store.query("SELECT version FROM models WHERE run_id = ?", (run_id,))
        version = str(existing[0]["version"]) if existing else registry.next_version(store)
        out = settings.models_dir / version / "model.gguf"
        export_gguf(result.adapter_dir, base_gguf=parent_gguf, out_path=out)
        from nl2sql.models import write_prompt_format

        write_prompt_format(out, settings.learner.prompt_schema)  # the gate and the gateway ask it in this format
        write_modelfile(out)
        current_version, current_path = active_model(settings, store)
        if not existing:
            registry.add_candidate(store, version=version, path=out, parent=parent_version, run_id=run_id, accuracy=None)
        timings["export_s"] = time.monotonic() - t2

        # 4. gate
        update_run(store, run_id, status="evaluating", stage="gate", candidate_model=version)
        t3 = time.monotonic()
        cases = _gate_cases(dataset)
        report = run_gate(settings, store, backends, database, cases,
                          current=(current_version, current_path), candidate=(version, out))
        timings["gate_s"] = time.monotonic() - t3
        registry.set_accuracy(store, version, report.candidate_accuracy)
        if report.promoted:
            registry.promote(store, version)
        else:
            registry.refuse(store, version, note=f"accuracy {report.candidate_accuracy:.3f} < {report.current_accuracy:.3f}")
        with store.tx() as c:
            c.executemany("UPDATE failures SET resolved = 1, run_id = ? WHERE id = ?", [(run_id, f) for f in failure_ids])
        timings["total_s"] = time.monotonic() - t0
        update_run(
            store, run_id, status="promoted" if report.promoted else "refused", stage="done", progress=1.0,
            current_accuracy=report.current_accuracy, candidate_accuracy=report.candidate_accuracy,
            report={"gate": report.as_dict(), "timings": timings, "train": {
                "steps": result.steps, "seconds": result.seconds, "loss": result.train_loss,
                "tokens_per_s": result.tokens_per_s, "device": result.device},
                "failures": failure_ids},
        )
        log.info("learn.done", run=run_id, version=version, promoted=report.promoted, **timings)
        if not settings.learner.keep_checkpoints:
            try:
                tidy(settings, store, run_id)
            except Exception:  # the run is over and recorded: tidying is no reason to fail it
                log.exception("learn.tidy_failed", run=run_id)
        return run_id
    except Exception as exc:
        update_run(store, run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        log.exception("learn.failed", run=run_id)
        raise
    finally:
        for b in backends.values():
            b.close()


def spawn(settings: Settings, database: str) -> subprocess.Popen[bytes]:
    """Start an iteration in a separate process (its own session, low priority)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    cfg = settings.data_dir / "runs" / "settings.json"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    tmp = cfg.with_suffix(".tmp")
    tmp.write_text(settings.model_dump_json())
    tmp.replace(cfg)
    logf = open(settings.data_dir / "runs" / "learner.log", "ab")
    cmd = [sys.executable, "-m", "learner.runner", "--settings", str(cfg), "--database", database]
    log.info("learn.spawn", database=database)
    return subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: os.nice(5))


def main(argv: list[str] | None = None) -> int:
    from gateway.logs import configure_logging

    ap = argparse.ArgumentParser(prog="python -m learner.runner")
    ap.add_argument("--settings", type=Path, required=True, help="settings JSON written by the gateway")
    ap.add_argument("--database", required=True)
    ap.add_argument("--run-id", type=int, default=None)
    args = ap.parse_args(argv)
    settings = Settings.model_validate_json(args.settings.read_text())
    configure_logging(json=settings.log_json, level=settings.log_level)
    run_iteration(settings, args.database, run_id=args.run_id)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
