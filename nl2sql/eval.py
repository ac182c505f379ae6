"""The eval harness: question/gold-SQL pairs through the same :class:`~nl2sql.pipeline.Pipeline`
the gateway runs (``log=False``), scored by execution accuracy (:mod:`nl2sql.scoring`).

Reports execution accuracy, valid-SQL rate (an answer whose SQL passed validation and
ran), repair rate (questions that needed at least one repair attempt, and how many of
those ended valid) and latency percentiles. Cases whose gold SQL itself fails are left
out of every rate and counted as ``skipped``.

Inputs: a JSONL file of ``{"question", "sql"}`` lines (``query`` also accepted; the
Chinook set's ``sql_single_quoted`` is used on DuckDB), or a Spider-style folder
(``dev.json`` + ``database(s)/<db>/<db>.sqlite|.duckdb``: Spider dev, DuckDB-NSQL).
:func:`evaluate` is the in-process entry point (the learner's gate and the benchmarks).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import structlog

from connectors.base import Backend
from nl2sql.scoring import GoldSqlError, execution_match, gold_is_ordered, results_match, run_rows

if TYPE_CHECKING:
    from gateway.config import Settings
    from nl2sql.pipeline import Pipeline

log = structlog.get_logger("askgres.eval")

GOLD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class EvalCase:
    """One question with its gold SQL, asked of ``database`` (a backend name)."""

    question: str
    sql: str
    database: str
    id: str = ""


@dataclass
class CaseResult:
    id: str
    database: str
    question: str
    gold_sql: str
    sql: str | None = None
    correct: bool = False
    valid: bool = False
    attempts: int = 0
    ms: float = 0.0
    error: str | None = None
    kind: str | None = None
    skipped: str | None = None  # why the case was not scored (gold SQL failed)

    @property
    def repaired(self) -> bool:
        return self.attempts > 1


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class EvalReport:
    cases: list[CaseResult] = field(default_factory=list)
    label: str = ""
    wall_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # mean ms per pipeline stage

    @property
    def scored(self) -> list[CaseResult]:
        return [c for c in self.cases if c.skipped is None]

    @property
    def n(self) -> int:
        return len(self.scored)

    @property
    def skipped(self) -> int:
        return len(self.cases) - self.n

    def _rate(self, hits: int, total: int | None = None) -> float:
        total = self.n if total is None else total
        return hits / total if total else 0.0

    @property
    def accuracy(self) -> float:
        return self._rate(sum(c.correct for c in self.scored))

    @property
    def valid_rate(self) -> float:
        return self._rate(sum(c.valid for c in self.scored))

    @property
    def repair_rate(self) -> float:
        """Share of questions that needed at least one repair attempt."""
        return self._rate(sum(c.repaired for c in self.scored))

    @property
    def repair_success(self) -> float:
        """Share of repaired questions that ended with valid SQL."""
        repaired = [c for c in self.scored if c.repaired]
        return self._rate(sum(c.valid for c in repaired), len(repaired))

    def latency(self, pct: float) -> float:
        return percentile([c.ms for c in self.scored], pct)

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "n": self.n,
            "skipped": self.skipped,
            "execution_accuracy": round(self.accuracy, 4),
            "valid_sql_rate": round(self.valid_rate, 4),
            "repair_rate": round(self.repair_rate, 4),
            "repair_success": round(self.repair_success, 4),
            "p50_ms": round(self.latency(50), 1),
            "p95_ms": round(self.latency(95), 1),
            "max_ms": round(self.latency(100), 1),
            "wall_s": round(self.wall_s, 1),
            "stage_ms": {k: round(v, 1) for k, v in self.timings.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "cases": [asdict(c) for c in self.cases]}

    def format(self) -> str:
        s = self.summary()
        lines = [
            f"{'questions':<22}{s['n']}" + (f"  ({s['skipped']} skipped: gold SQL failed)" if s["skipped"] else ""),
            f"{'execution accuracy':<22}{s['execution_accuracy']:.1%}",
            f"{'valid SQL rate':<22}{s['valid_sql_rate']:.1%}",
            f"{'repair rate':<22}{s['repair_rate']:.1%}  (of which valid after repair: {s['repair_success']:.1%})",
            f"{'latency p50 / p95':<22}{s['p50_ms']:.0f} ms / {s['p95_ms']:.0f} ms  (max {s['max_ms']:.0f} ms)",
        ]
        if s["stage_ms"]:
            stages = ", ".join(f"{k} {v:.0f}" for k, v in s["stage_ms"].items())
            lines.append(f"{'mean ms per stage':<22}{stages}")
        return "\n".join(lines)


# -- loading cases -----------------------------------------------------------------


def load_jsonl(path: Path, *, database: str, dialect: str = "sqlite", limit: int | None = None) -> list[EvalCase]:
    """Cases from a JSONL file: ``question`` and ``sql`` (or ``query``) per line; on DuckDB
    ``sql_single_quoted`` is preferred when present."""
    cases: list[EvalCase] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            sql = row.get("sql_single_quoted") if dialect == "duckdb" else None
            sql = sql or row.get("sql") or row.get("query")
            if not sql or not row.get("question"):
                raise click.ClickException(f"{path}:{lineno}: needs 'question' and 'sql'")
            cases.append(EvalCase(question=row["question"], sql=sql, database=database, id=str(row.get("id", lineno))))
            if limit is not None and len(cases) >= limit:
                break
    return cases


def spider_databases(root: Path) -> dict[str, Path]:
    """``db_id -> file`` of a Spider-style folder (``database/`` or ``databases/``,
    ``<db>/<db>.sqlite`` or ``<db>/<db>.duckdb``)."""
    found: dict[str, Path] = {}
    for folder in ("database", "databases"):
        base = root / folder
        if not base.is_dir():
            continue
        for sub in sorted(p for p in base.iterdir() if p.is_dir()):
            for ext in (".sqlite", ".duckdb", ".db"):
                f = sub / f"{sub.name}{ext}"
                if f.exists():
                    found[sub.name] = f
                    break
    return found


def _is_read_query(item: Mapping[str, Any]) -> bool:
    """DuckDB-NSQL items whose gold is a plain query (others write files or tables and are
    checked with ``validation_sql``; a read-only ask can never match them)."""
    setup = str(item.get("setup_sql") or ";").strip()
    validation = str(item.get("validation_sql") or "SELECT * FROM ddb_benchmark_result;")
    return setup in ("", ";") and "ddb_benchmark_result" in validation


def load_spider(
    root: Path, *, dbs: Sequence[str] | None = None, limit: int | None = None, split: str = "dev.json"
) -> tuple[list[EvalCase], dict[str, Path]]:
    """Cases from ``root/dev.json`` (gold in ``query``) and the database files they need."""
    files = spider_databases(root)
    items = json.loads((root / split).read_text(encoding="utf-8"))
    wanted = set(dbs) if dbs else None
    cases: list[EvalCase] = []
    for i, item in enumerate(items):
        db = item["db_id"]
        if wanted is not None and db not in wanted:
            continue
        if db not in files or not _is_read_query(item):
            continue
        cases.append(EvalCase(question=item["question"], sql=item["query"], database=db, id=f"{db}:{i}"))
        if limit is not None and len(cases) >= limit:
            break
    return cases, {db: files[db] for db in {c.database for c in cases}}


# -- backends ------------------------------------------------------------------------


def open_file_backend(name: str, path: Path, *, read_only: bool = True) -> Backend:
    """A SQLite or DuckDB backend for the file ``path`` (by its extension), read-only by default."""
    if path.suffix == ".duckdb":
        from connectors.duckdb import DuckdbBackend

        return DuckdbBackend(name, path, read_only=read_only)
    from connectors.sqlite import SqliteBackend

    return SqliteBackend(name, path, read_only=read_only)


# -- evaluation ----------------------------------------------------------------------


def evaluate(
    pipeline: Pipeline,
    cases: Iterable[EvalCase],
    *,
    backends: Mapping[str, Backend] | None = None,
    progress: bool = False,
    label: str = "",
    warm: bool = True,
) -> EvalReport:
    """Ask every case through ``pipeline`` (``log=False``) and score it against its gold SQL
    on the same backend. ``backends`` defaults to the pipeline's own. With ``warm``, the
    model is loaded and the schema indexes built first, so latencies are warm ones."""
    from tqdm import tqdm

    backends = backends if backends is not None else pipeline.backends
    cases = list(cases)
    if warm:
        pipeline.warm(sorted({c.database for c in cases}))
    report = EvalReport(label=label)
    gold_cache: dict[tuple[str, str], list[tuple[Any, ...]] | str] = {}
    stage_totals: dict[str, float] = {}
    t0 = time.perf_counter()
    bar = tqdm(cases, desc=label or "eval", unit="q", disable=not progress, dynamic_ncols=True)
    for case in bar:
        result = CaseResult(id=case.id, database=case.database, question=case.question, gold_sql=case.sql)
        report.cases.append(result)
        backend = backends[case.database]
        gold = gold_cache.get((case.database, case.sql))
        if gold is None:
            gold = _gold_rows(backend, case.sql)
            gold_cache[(case.database, case.sql)] = gold
        if isinstance(gold, str):
            result.skipped = gold
            continue
        answer = pipeline.ask(case.question, case.database, log=False)
        result.sql = answer.sql
        result.ms = float(answer.ms)
        result.attempts = len(answer.attempts)
        result.valid = bool(answer.ok)
        result.error = answer.error
        result.kind = answer.kind
        for stage, ms in (answer.timings or {}).items():
            stage_totals[stage] = stage_totals.get(stage, 0.0) + float(ms)
        if answer.ok and answer.sql:
            try:
                result.correct = execution_match(backend, case.sql, answer.sql, timeout=GOLD_TIMEOUT_S, gold_rows=gold)
            except GoldSqlError as e:  # cannot happen with gold_rows given; kept for safety
                result.skipped = e.message
        done = [c for c in report.cases if c.skipped is None]
        if done:
            bar.set_postfix(acc=f"{sum(c.correct for c in done) / len(done):.1%}", refresh=False)
        log.debug("eval.case", id=case.id, correct=result.correct, valid=result.valid, ms=result.ms)
    report.wall_s = time.perf_counter() - t0
    if report.n:
        report.timings = {k: v / report.n for k, v in stage_totals.items()}
    log.info("eval.done", **{k: v for k, v in report.summary().items() if k != "stage_ms"})
    return report


def _gold_rows(backend: Backend, sql: str) -> list[tuple[Any, ...]] | str:
    """The gold SQL's rows, or why they could not be had."""
    conn = backend.connect(read_only=True)
    try:
        return run_rows(conn, sql, timeout=GOLD_TIMEOUT_S)
    except Exception as e:  # noqa: BLE001 - a broken gold query skips its case, whatever broke
        return f"gold SQL failed: {e}"
    finally:
        conn.close()


def load_examples(path: Path, *, database: str | None) -> list[tuple[str, str, str]]:
    """``(database, question, sql)`` from a JSONL file; a line's ``db_id``/``database``
    field wins over ``database``."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            db = (row.get("database") or row.get("db_id")) if database is None else database
            sql = row.get("sql") or row.get("query")
            if db and sql and row.get("question"):
                out.append((str(db), str(row["question"]), str(sql)))
    return out


# -- the command ---------------------------------------------------------------------


@click.command("eval")
@click.option("--db", "db", default=None, help="Database to ask: a configured name (e.g. chinook) or a .sqlite/.duckdb file.")
@click.option("--questions", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="JSONL file of {question, sql} pairs asked of --db.")
@click.option("--spider", "spider_dir", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="Spider-style folder (dev.json + database(s)/<db>/<db>.sqlite|.duckdb): Spider dev, DuckDB-NSQL.")
@click.option("--dbs", default=None, help="With --spider: comma-separated database ids to keep.")
@click.option("--limit", type=int, default=None, help="Ask at most this many questions.")
@click.option("--examples", "examples_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="JSONL of {question, sql} pairs indexed as approved examples first (implies --fresh).")
@click.option("--fresh", is_flag=True, default=False,
              help="Use a temporary, empty state (no approved examples) instead of the data directory; the model stays the one in use.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override an [ask] setting for this run, e.g. --set tables_k=0 (repeatable).")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print the report (with every case) as JSON.")
@click.option("--no-progress", is_flag=True, default=False, help="Hide the progress bar.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="TOML configuration file.")
@click.pass_context
def eval_command(
    ctx: click.Context,
    db: str | None,
    questions: Path | None,
    spider_dir: Path | None,
    dbs: str | None,
    limit: int | None,
    examples_file: Path | None,
    fresh: bool,
    overrides: tuple[str, ...],
    as_json: bool,
    no_progress: bool,
    config_file: Path | None,
) -> None:
    """Execution accuracy of the ask pipeline on question/gold-SQL pairs (Spider's rules)."""
    from gateway.cli import settings_from

    if (questions is None) == (spider_dir is None):
        raise click.UsageError("give either --questions (with --db) or --spider")
    if questions is not None and not db:
        raise click.UsageError("--questions needs --db")
    settings = settings_from(ctx, config_file)
    if settings.log_level.lower() == "info":  # keep the progress bar and the report readable
        from gateway.logs import configure_logging

        configure_logging(json=settings.log_json, level="warning")
    if overrides:
        settings = settings.model_copy(update={"ask": _ask_overrides(settings, overrides)})
    backends: dict[str, Backend] = {}
    with tempfile.TemporaryDirectory(prefix="askgres-eval-") as tmp:
        try:
            if spider_dir is not None:
                cases, files = load_spider(spider_dir, dbs=dbs.split(",") if dbs else None, limit=limit)
                if not cases:
                    raise click.ClickException(f"no questions found in {spider_dir}")
                backends = {name: open_file_backend(name, path) for name, path in files.items()}
                label = spider_dir.name
            else:
                assert questions is not None and db is not None
                backend = _backend_for(settings, db)
                backends = {backend.name: backend}
                cases = load_jsonl(questions, database=backend.name, dialect=backend.dialect, limit=limit)
                label = questions.name
            if fresh or examples_file is not None:
                seed = settings.data_dir / "index" / "schema"
                settings = _fresh_settings(settings, Path(tmp))
                if seed.is_dir():  # the schema index is state-free: reuse it, examples start empty
                    shutil.copytree(seed, settings.data_dir / "index" / "schema")
            report = _run(settings, backends, cases, examples_file=examples_file,
                          default_db=None if spider_dir else next(iter(backends)), progress=not no_progress, label=label)
        finally:
            for b in backends.values():
                b.close()
    click.echo(json.dumps(report.to_dict(), indent=2, default=str) if as_json else report.format())


def _fresh_settings(settings: Settings, data_dir: Path) -> Settings:
    """``settings`` with an empty temporary data directory, keeping the model the real one
    would use (the promoted model, else the bundled base) so nothing is assembled again."""
    ask = settings.ask
    if ask.backend == "llama" and ask.model_path is None:
        from nl2sql.models import active_model
        from nl2sql.store import Store

        store = Store(settings.state_db)
        try:
            _, path = active_model(settings, store)
        finally:
            store.close()
        ask = ask.model_copy(update={"model_path": path})
    return settings.model_copy(update={"data_dir": data_dir, "ask": ask})


def _ask_overrides(settings: Settings, overrides: Sequence[str]) -> Any:
    data = settings.ask.model_dump()
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in data:
            raise click.UsageError(f"--set {item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(data))}")
        data[key] = value
    return type(settings.ask).model_validate(data)


def _backend_for(settings: Settings, db: str) -> Backend:
    path = Path(db)
    if path.suffix in (".sqlite", ".sqlite3", ".db", ".duckdb") and path.exists():
        return open_file_backend(path.stem, path)
    from connectors.registry import configured_databases

    configured = configured_databases(settings)
    for cfg in configured:
        if cfg.name == db:
            return open_file_backend(cfg.name, Path(cfg.path))
    names = ", ".join(c.name for c in configured)
    raise click.UsageError(f"unknown database {db!r} (configured: {names})")


def _run(
    settings: Settings,
    backends: dict[str, Backend],
    cases: list[EvalCase],
    *,
    examples_file: Path | None,
    default_db: str | None,
    progress: bool,
    label: str,
) -> EvalReport:
    from nl2sql.pipeline import Pipeline
    from nl2sql.store import Store

    store = Store(settings.state_db)
    try:
        pipeline = Pipeline(settings, backends, store)
        if examples_file is not None:
            for database, question, sql in load_examples(examples_file, database=default_db):
                if database in backends:
                    pipeline.add_example(database, question, sql)
        return evaluate(pipeline, cases, backends=backends, progress=progress, label=label)
    finally:
        store.close()


__all__ = [
    "CaseResult", "EvalCase", "EvalReport", "evaluate", "eval_command", "execution_match", "gold_is_ordered",
    "load_jsonl", "load_spider", "open_file_backend", "results_match",
]
