"""Stage ``solve``: generate -> validate -> execute, and on an error feed it back and try
again, at most ``ask.max_repairs`` times.

One try is :data:`ATTEMPT`: SQL from the model, identifiers repaired to the schema
(:mod:`nl2sql.constrain`), validated (:mod:`nl2sql.validate`), run read-only
(:mod:`nl2sql.execute`). With ``ask.candidates > 1`` the first try samples several
SQL candidates, runs every valid one and keeps the result most of them agree on
(self-consistency). An approved example whose question is the same as the one asked
gives its SQL as the first candidate.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from sqlglot import exp

from connectors.base import Result
from gateway.errors import PgError, QueryCanceled
from nl2sql.constrain import column_owners, repair_identifiers, repair_values
from nl2sql.examples import normalise_question
from nl2sql.execute import run_read_only
from nl2sql.generate import generate
from nl2sql.reshape import (
    repair_absent, repair_contradiction, repair_count, repair_counted_rows, repair_grouping, repair_having,
    repair_joins, repair_missing_value, repair_order, repair_patterns, repair_projection, repair_selection,
    repair_stray_joins, repair_superlative,
)
from nl2sql.scoring import normalise_value
from nl2sql.state import AskState, Attempt, Env, StageFailure
from nl2sql.validate import ValidationError, check_columns, check_read_only, check_tables, parse_query

ATTEMPT = ("generate", "validate", "execute")
"""The steps of one try, in order (the names of the timings they record)."""

SAMPLE_TEMPERATURE = 0.7


@dataclass
class _Run:
    sql: str
    result: Result | None
    attempt: Attempt


RULE_PASSES = 3
"""Passes over the repair rules at most. A fix can make another rule's case: the value repair
moves ``T3.Name = 'Rock'`` to ``T2.Name``, and only then is ``T3`` a table joined twice and read
nowhere else (measured on the 2026-11-25 06:45 curve: "count the tracks of the rock genre")."""


def check(state: AskState, env: Env, sql: str) -> str:
    """Stage ``validate``: ``sql`` with identifiers repaired, or :class:`ValidationError`."""
    t0 = time.perf_counter()
    try:
        dialect = env.schema.dialect
        tree = parse_query(sql, dialect)
        check_read_only(tree)
        fixes: list[str] = []
        if env.config.constrain:
            prefer = state.retrieved.tables if state.retrieved else []
            tree, fixes = repair_identifiers(tree, env.schema, prefer=prefer)
            question, named = state.question, state.retrieved.values if state.retrieved else {}
            rules: tuple[Callable[[exp.Expression], tuple[exp.Expression, list[str]]], ...] = (
                lambda t: repair_joins(t, env.schema),
                lambda t: repair_stray_joins(t, env.schema),
                lambda t: repair_values(t, env.schema, env.db.values, question=question,
                                        exists=lambda tb, c, v: _holds(env, tb, c, v)),
                lambda t: repair_missing_value(t, env.schema, named, question),
                lambda t: repair_projection(t, env.schema, question),
                lambda t: repair_selection(t, env.schema, question),
                lambda t: repair_count(t, env.schema, question),
                lambda t: repair_counted_rows(t, env.schema, question),
                lambda t: repair_grouping(t, question),
                lambda t: repair_having(t, question),
                lambda t: repair_superlative(t, env.schema, question, dialect),
                lambda t: repair_absent(t, env.schema, question),
                lambda t: repair_patterns(t, question),
                lambda t: repair_order(t, question, dialect),
                lambda t: repair_contradiction(t, question),
            )
            for _ in range(RULE_PASSES):  # one rule's fix can expose another's case: again until none fires
                fired = False
                for rule in rules:
                    tree, more = rule(tree)
                    fixes += more
                    fired = fired or bool(more)
                if not fired:
                    break
        check_tables(tree, env.schema)
        check_columns(tree, env.schema, dialect)
        if fixes:
            state.fixes.extend(fixes)
            return tree.sql(dialect=dialect)
        return sql.strip().rstrip(";").strip()
    except ValidationError as e:
        if e.kind == "unknown_column":
            e.message = _with_owners(e.message, state, env)
        raise
    finally:
        state.timed("validate", t0)


def _holds(env: Env, table: str, column: str, value: str) -> bool:
    """Whether ``table.column`` has ``value`` (read-only, one row at most)."""
    query = exp.select("1").from_(exp.to_table(table, quoted=True)).where(
        exp.EQ(this=exp.column(column, quoted=True), expression=exp.Literal.string(value))).limit(1)
    try:
        return bool(run_read_only(env.backend, query.sql(dialect=env.schema.dialect), env.config).rows)
    except QueryCanceled:
        return True  # unknown: leave the comparison as the model wrote it
    except PgError:
        return False  # e.g. DuckDB: text compared with an integer column holds nothing


def _with_owners(message: str, state: AskState, env: Env) -> str:
    """``no such column: Album.Name`` + which tables do have ``Name``."""
    name = message.rsplit(":", 1)[-1].strip().split(".")[-1]
    owners = column_owners(env.schema, name)
    return f"{message} ({name} is a column of {', '.join(owners[:4])})" if owners else message


def execute(state: AskState, env: Env, sql: str) -> Result:
    """Stage ``execute`` (timed)."""
    t0 = time.perf_counter()
    try:
        return run_read_only(env.backend, sql, env.config)
    finally:
        state.timed("execute", t0)


def attempt(state: AskState, env: Env, sql: str) -> _Run:
    """Validate and run one candidate; records an :class:`Attempt`."""
    t0 = time.perf_counter()
    if not sql.strip():
        att = Attempt(sql="", error="the model wrote no SQL", stage="parse", ms=0.0)
        state.attempts.append(att)
        return _Run(sql, None, att)
    try:
        final = check(state, env, sql)
    except ValidationError as e:
        att = Attempt(sql=sql, error=e.message, stage="parse" if e.kind == "parse" else "validate",
                      ms=round((time.perf_counter() - t0) * 1000, 2))
        state.attempts.append(att)
        return _Run(sql, None, att)
    try:
        result = execute(state, env, final)
    except QueryCanceled as e:
        att = Attempt(sql=final, error=f"timed out: {e.message}", stage="timeout", ms=_ms(t0))
        state.attempts.append(att)
        return _Run(final, None, att)
    except PgError as e:
        att = Attempt(sql=final, error=e.message, stage="execute", ms=_ms(t0))
        state.attempts.append(att)
        return _Run(final, None, att)
    att = Attempt(sql=final, error=None, stage="ok", ms=_ms(t0))
    state.attempts.append(att)
    return _Run(final, result, att)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)


def result_key(result: Result) -> Hashable:
    """A result's rows as an order-insensitive multiset, values normalised."""
    rows = Counter(tuple(normalise_value(v) for v in row) for row in result.rows)
    return frozenset(rows.items())


def vote(runs: list[_Run]) -> _Run | None:
    """The successful run whose result most runs share (the earliest among ties)."""
    ok = [r for r in runs if r.result is not None]
    if not ok:
        return None
    keys = [result_key(r.result) for r in ok if r.result is not None]
    counts = Counter(keys)
    best = max(counts.values())
    for run, key in zip(ok, keys):
        if counts[key] == best:
            return run
    return ok[0]


def repair_prompt(state: AskState, failed: Attempt) -> str:
    """The prompt again, with the failed SQL and its error between it and the question."""
    error = " ".join((failed.error or "").split())[:300]
    bad = " ".join(failed.sql.split()) or "(nothing)"
    return (
        f"{state.prompt}{bad};\n-- Error: {error}\n"
        f"-- Question: {' '.join(state.question.split())}\n-- SQL:\n"
    )


def _exact_example(state: AskState) -> str | None:
    asked = normalise_question(state.question)
    for ex in state.examples:
        if normalise_question(ex.question) == asked:
            return ex.sql
    return None


def solve(state: AskState, env: Env) -> None:
    cfg = env.config
    tried: set[str] = set()
    runs: list[_Run] = []

    def key(sql: str) -> str:
        return " ".join(sql.lower().split())

    exact = _exact_example(state)
    if exact is not None:
        run = attempt(state, env, exact)
        run.attempt.stage = "example" if run.result is not None else run.attempt.stage
        tried.add(key(exact))
        if run.result is not None:
            _accept(state, run)
            return
        runs.append(run)

    n = max(1, cfg.candidates)
    candidates = generate(state, env, state.prompt, n=1, temperature=0.0)
    if n > 1:
        candidates += generate(state, env, state.prompt, n=n - 1, temperature=SAMPLE_TEMPERATURE, seed=1)
    first: list[_Run] = []
    for sql in candidates:
        if key(sql) in tried:
            continue
        tried.add(key(sql))
        first.append(attempt(state, env, sql))
    runs += first
    chosen = vote(first)
    if chosen is not None:
        if n > 1:
            state.extra["votes"] = sum(1 for r in first if r.result is not None)
        _accept(state, chosen)
        return

    for i in range(cfg.max_repairs):
        failed = runs[-1].attempt if runs else Attempt("", "the model wrote no SQL", "parse", 0.0)
        prompt = repair_prompt(state, failed)
        sql = generate(state, env, prompt, temperature=0.0)[0]
        if key(sql) in tried:
            sql = generate(state, env, prompt, temperature=SAMPLE_TEMPERATURE, seed=100 + i)[0]
        if key(sql) in tried:
            sql = generate(state, env, state.prompt, temperature=SAMPLE_TEMPERATURE, seed=200 + i)[0]
        tried.add(key(sql))
        run = attempt(state, env, sql)
        runs.append(run)
        if run.result is not None:
            state.extra["repaired"] = i + 1
            _accept(state, run)
            return

    last = runs[-1].attempt if runs else Attempt("", "the model wrote no SQL", "parse", 0.0)
    state.sql = last.sql or None
    if last.stage == "timeout":
        raise StageFailure("timeout", last.error or "the query timed out")
    if last.stage == "execute":
        raise StageFailure("execution_error", last.error or "the query failed")
    raise StageFailure("no_valid_sql", last.error or "no valid SQL")


def _accept(state: AskState, run: _Run) -> None:
    state.sql = run.sql
    state.result = run.result

