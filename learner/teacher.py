"""The teacher: a larger model behind Ollama (``learner.teacher_model``, default
``llama3.1:8b``, at ``ask.ollama_host``) that

1. writes question/SQL pairs for the schema, a few tables at a time, with hints of the
   question shapes to cover, weighted toward the tables and shapes that failed;
2. proposes SQL for each failed question; proposals go to the review queue (``pairs``
   rows with ``source='teacher'``, ``status='pending'`` and ``failure_id`` set).

Everything it writes is validated by execution like any other pair. When Ollama cannot be
reached (or lacks the model) a ``teacher.unreachable`` event is logged and the run goes on
with the synthesizer alone.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import structlog

from connectors.base import Backend, SchemaInfo
from gateway.config import Settings
from learner.focus import FocusHints, context_tables
from learner.pairs import PairRow, queue_proposal
from learner.profile import DbProfile, build_profile
from learner.synth import Pair
from learner.validate_pairs import PairValidator, asks_for_nothing
from nl2sql.prompt import render_schema
from nl2sql.store import Store

log = structlog.get_logger("askgres.learner.teacher")

SHAPE_HINTS: dict[str, str] = {
    "count_all": "how many rows a table has",
    "where_eq": "rows filtered on a real value (text equality)",
    "count_where": "counting rows that match a value",
    "where_like": "text containing a word or letter (LIKE)",
    "where_num": "numeric ranges (greater than, less than, between)",
    "agg": "averages, totals, minimum and maximum",
    "group_by": "counts or totals per group (GROUP BY), groups with HAVING",
    "order_top": "sorting, top-N and 'which X has the highest Y' (ORDER BY ... LIMIT)",
    "above_avg": "rows above or below the average (subquery)",
    "date_part": "filters and groups on years of dates",
    "join_where": "rows of one table filtered by a value of a related table (JOIN)",
    "join_group": "which related row has the most rows (JOIN, GROUP BY, ORDER BY COUNT(*) DESC LIMIT 1)",
    "anti_join": "rows with no related rows (NOT IN / NOT EXISTS / EXCEPT)",
    "path_where": "questions that join three tables",
    "path_both": "rows related to both of two values (INTERSECT)",
}

_INSTRUCTIONS = (
    "You write training data for a text-to-SQL model. Database dialect: {dialect}.\n"
    "Tables:\n{schema}\n\n"
    "Write {n} different questions a user could ask about these tables, each with one correct {dialect} query "
    "that answers it. Use only the tables and columns above and real values shown as examples. "
    "Cover these kinds of questions: {hints}.\n"
    "Answer with one JSON object per line, nothing else: "
    '{{"question": "...", "sql": "..."}}\n'
)
_FAILURE = (
    "Database dialect: {dialect}. Tables:\n{schema}\n\n"
    "Write one {dialect} query that answers the question below. Answer with the SQL only.\n"
    "Question: {question}\nSQL:"
)
_FENCE = re.compile(r"```(?:sql|json)?\s*(.*?)```", re.S | re.I)
_QLINE = re.compile(r"^\s*(?:\d+[.)]\s*)?(?:\*\*)?(?:Q|Question)\s*\d*\s*[:.]\s*(?:\*\*)?\s*(.+)$", re.I)
_SLINE = re.compile(r"^\s*(?:\*\*)?(?:SQL|A|Answer|Query)\s*\d*\s*[:.]\s*(?:\*\*)?\s*(.*)$", re.I)
_SQL_START = re.compile(r"^\s*(SELECT|WITH)\b", re.I)


class TeacherUnavailable(Exception):
    """Ollama cannot be reached, or does not have the teacher model."""


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """Question/SQL pairs from a teacher's answer: JSON lines (or a JSON list), or
    ``Q: ... / SQL: ...`` blocks, with or without code fences."""
    out: list[tuple[str, str]] = []
    body = text.strip()
    # JSON: a list, or one object per line
    candidates: list[Any] = []
    try:
        loaded = json.loads(body)
        candidates = loaded if isinstance(loaded, list) else [loaded]
    except ValueError:
        for line in body.splitlines():
            line = line.strip().rstrip(",")
            if line.startswith("{") and line.endswith("}"):
                try:
                    candidates.append(json.loads(line))
                except ValueError:
                    continue
    for obj in candidates:
        if isinstance(obj, dict):
            q, s = obj.get("question"), obj.get("sql") or obj.get("query")
            if isinstance(q, str) and isinstance(s, str) and q.strip() and s.strip():
                out.append((" ".join(q.split()), _clean_sql(s)))
    if out:
        return out
    # Q:/SQL: blocks
    question: str | None = None
    sql_lines: list[str] = []

    def flush() -> None:
        if question and sql_lines:
            sql = _clean_sql(" ".join(sql_lines))
            if _SQL_START.match(sql):
                out.append((question, sql))

    for raw in _FENCE.sub(lambda m: m.group(1), body).splitlines():
        line = raw.strip()
        if not line:
            continue
        qm, sm = _QLINE.match(line), _SLINE.match(line)
        if qm:
            flush()
            question, sql_lines = " ".join(qm.group(1).split()).strip("*"), []
        elif sm and question is not None:
            sql_lines = [sm.group(1)] if sm.group(1) else []
        elif question is not None and (sql_lines or _SQL_START.match(line)):
            sql_lines.append(line)
            if line.endswith(";"):
                flush()
                question, sql_lines = None, []
    flush()
    return out


def parse_sql(text: str) -> str | None:
    """The first SQL query in a teacher's answer (fenced or bare)."""
    m = _FENCE.search(text)
    body = m.group(1) if m else text
    lines = body.strip().splitlines()
    for i, line in enumerate(lines):
        stripped = re.sub(r"^\s*(?:SQL|Answer|Query)\s*:\s*", "", line, flags=re.I)
        if _SQL_START.match(stripped):
            rest = [stripped] + lines[i + 1:]
            sql = _clean_sql(" ".join(x.strip() for x in rest).split(";")[0])
            return sql or None
    return None


def _clean_sql(sql: str) -> str:
    return " ".join(sql.replace("```", " ").split()).strip().rstrip(";").strip()


class Teacher:
    """One Ollama model used as a teacher."""

    def __init__(self, *, host: str, model: str, timeout_s: float = 180.0, temperature: float = 0.7) -> None:
        import ollama

        self.host = host
        self.model = model
        self.temperature = temperature
        self.client = ollama.Client(host=host, timeout=timeout_s)

    def check(self) -> None:
        """Raises :class:`TeacherUnavailable` unless the server answers and has the model."""
        import httpx
        import ollama

        try:
            listed = self.client.list()
        except (ConnectionError, httpx.HTTPError, ollama.ResponseError) as e:
            raise TeacherUnavailable(f"Ollama at {self.host} is unreachable: {e}") from e
        names = {getattr(m, "model", None) or (m.get("model") if isinstance(m, dict) else None) for m in listed.models}
        names |= {n.split(":")[0] for n in names if n and n.endswith(":latest")}
        if self.model not in names:
            raise TeacherUnavailable(f"Ollama at {self.host} has no model {self.model!r} (has: {sorted(n for n in names if n)})")

    def ask(self, prompt: str, *, max_tokens: int = 1024, seed: int = 0) -> str:
        import httpx
        import ollama

        try:
            resp = self.client.generate(
                model=self.model, prompt=prompt,
                options={"temperature": self.temperature, "num_predict": max_tokens, "seed": seed},
            )
        except (ConnectionError, httpx.HTTPError, ollama.ResponseError) as e:
            raise TeacherUnavailable(f"Ollama at {self.host} failed: {e}") from e
        return str(resp.response or "")


def _table_groups(prof: DbProfile, focus: FocusHints, rng: random.Random, k: int) -> list[list[str]]:
    """``k`` groups of 1-3 related tables, focus tables first."""
    names = [t for t in prof.tables if not prof.tables[t].bridge and prof.tables[t].rows > 0]
    if not names:
        return []
    weights = [1.0 + 3.0 * focus.tables.get(t, 0.0) for t in names]
    groups: list[list[str]] = []
    for _ in range(k):
        first = rng.choices(names, weights=weights, k=1)[0]
        group = [first]
        near = sorted({e.parent for e in prof.parents(first)} | {e.child for e in prof.children(first)})
        rng.shuffle(near)
        group += near[: rng.choice([0, 1, 2])]
        groups.append(group)
    return groups


def _hints(focus: FocusHints, rng: random.Random) -> str:
    names = list(SHAPE_HINTS)
    weights = [1.0 + 3.0 * focus.shapes.get(n, 0.0) for n in names]
    picked: list[str] = []
    while len(picked) < 5:
        n = rng.choices(names, weights=weights, k=1)[0]
        if n not in picked:
            picked.append(n)
    return "; ".join(SHAPE_HINTS[n] for n in picked)


def run_teacher(
    settings: Settings,
    store: Store,
    backend: Backend,
    schema: SchemaInfo,
    *,
    focus: FocusHints | None = None,
    profile: DbProfile | None = None,
    n_pairs: int = 120,
    per_call: int = 8,
    max_tokens: int = 1024,
    max_seconds: float = 900.0,
    seed: int = 0,
    seen: Iterable[tuple[str, str]] = (),
    blocked: Iterable[tuple[str, str]] = (),
    teacher: Teacher | None = None,
) -> list[Pair]:
    """Validated teacher pairs for training (at most ``n_pairs``); SQL proposed for the
    database's unresolved failures is queued for review. Returns ``[]`` when the teacher
    is unavailable (logged as ``teacher.unreachable``)."""
    focus = focus or FocusHints()
    t = teacher or Teacher(host=settings.ask.ollama_host, model=settings.learner.teacher_model)
    try:
        t.check()
    except TeacherUnavailable as e:
        log.warning("teacher.unreachable", host=t.host, model=t.model, error=str(e))
        return []
    t0 = time.monotonic()
    rng = random.Random(seed)
    prof = profile or build_profile(backend, schema)
    dialect = "SQLite" if schema.dialect == "sqlite" else "DuckDB"
    out: list[Pair] = []
    calls = parsed = proposed = 0
    with PairValidator(backend, schema, timeout=settings.ask.timeout_s, max_rows=settings.ask.row_limit) as v:
        for q, s in seen:
            v.remember(q, s)
        for q, s in blocked:
            v.block(q, s)
        try:
            proposed = propose_for_failures(t, store, schema, v, dialect=dialect, deadline=t0 + max_seconds / 2,
                                            max_tokens=min(256, max_tokens))
            for group in _table_groups(prof, focus, rng, max(1, -(-n_pairs // per_call))):
                if len(out) >= n_pairs or time.monotonic() - t0 > max_seconds:
                    break
                prompt = _INSTRUCTIONS.format(dialect=dialect, schema=render_schema(schema, group), n=per_call,
                                              hints=_hints(focus, rng))
                calls += 1
                answer = t.ask(prompt, max_tokens=max_tokens, seed=rng.randrange(1 << 30))
                pairs = parse_pairs(answer)
                log.debug("teacher.answer", tables=group, parsed=len(pairs), text=answer[:2000])
                parsed += len(pairs)
                for q, s in pairs:
                    verdict = v.accept(q, s)
                    if verdict.ok:
                        out.append(Pair(q, s, source="teacher", shape="teacher", tables=tuple(group)))
        except TeacherUnavailable as e:
            log.warning("teacher.unreachable", host=t.host, model=t.model, error=str(e))
    log.info("teacher.done", database=schema.database, calls=calls, parsed=parsed, kept=len(out),
             proposed=proposed, s=round(time.monotonic() - t0, 1))
    return out


def propose_for_failures(
    t: Teacher, store: Store, schema: SchemaInfo, v: PairValidator, *, dialect: str, deadline: float,
    limit: int = 50, max_tokens: int = 256,
) -> int:
    """Ask the teacher for SQL for each unresolved failure without correct SQL; queue the
    valid ones for review. Returns how many were queued."""
    rows = store.query(
        "SELECT id, question, context FROM failures WHERE database = ? AND resolved = 0 "
        "AND (correct_sql IS NULL OR correct_sql = '') ORDER BY id DESC LIMIT ?",
        (schema.database, limit),
    )
    queued = 0
    for r in rows:
        if time.monotonic() > deadline:
            break
        tables = _failure_tables(r["context"], schema)
        prompt = _FAILURE.format(dialect=dialect, schema=render_schema(schema, tables or None), question=r["question"])
        answer = t.ask(prompt, max_tokens=max_tokens)
        if queue_answer(store, schema, v, failure_id=int(r["id"]), question=r["question"], answer=answer) is not None:
            queued += 1
    return queued


def queue_answer(
    store: Store, schema: SchemaInfo, v: PairValidator, *, failure_id: int, question: str, answer: str,
) -> PairRow | None:
    """Parse the teacher's answer for a failed question, validate its SQL, and queue it for
    review (``source='teacher'``, pending, ``failure_id`` set). None when nothing valid."""
    sql = parse_sql(answer)
    if not sql:
        log.info("teacher.no_sql", failure=failure_id, text=answer[:300])
        return None
    verdict = v.check(question, sql, allow_empty=asks_for_nothing(question))
    if not verdict.ok:
        log.info("teacher.proposal_invalid", failure=failure_id, reason=verdict.reason, detail=verdict.detail)
        return None
    return queue_proposal(store, database=schema.database, question=question, sql=sql, source="teacher",
                          failure_id=failure_id, note="proposed by the teacher")


def _failure_tables(context: Any, schema: SchemaInfo) -> Sequence[str]:
    return [n for n in context_tables(context) if schema.table(n) is not None]
