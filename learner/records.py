"""Training records in the exact format the ask pipeline prompts with
(:func:`nl2sql.prompt.build_prompt`), so the tuned model sees at inference what it was
trained on.

Like the pipeline's prompt, each record shows the tables the SQL reads plus a few others
(retrieval returns ~``tables_k`` tables, not only the right ones), sample values only
for columns holding a value the question names (the pipeline's value matching: quoted
strings and word n-grams looked up among the database's text values), and 0-2 few-shot
examples in some records (the pipeline adds retrieved approved examples).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from connectors.base import SchemaInfo
from learner.profile import DbProfile
from nl2sql.prompt import build_prompt, completion, prompt_version, render_schema, render_values
from nl2sql.schema_index import values_named

_STOP = frozenset(
    "a an the of in on at to for by with from and or is are was were be been do does did how many much what which "
    "who whom whose when where why list show give find all each every me their there that this these those have has "
    "had than more most less least number count total average per not no".split()
)
MAX_VALUE_LEN = 60

Tokens = Callable[[str], int]


def sql_tables(sql: str, dialect: str, schema: SchemaInfo) -> list[str]:
    """The schema tables ``sql`` reads, in schema order."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return []
    names = {t.name.lower() for t in tree.find_all(exp.Table)}
    return [t.name for t in schema.tables if t.name.lower() in names]


class ValueIndex:
    """``lower(value) -> [(table, column, value)]`` over the profiled text values, and the
    pipeline's way of finding the values a question names."""

    def __init__(self, prof: DbProfile) -> None:
        self.index: dict[str, list[tuple[str, str, str]]] = {}
        for t in prof.tables.values():
            for c in t.cols.values():
                if c.kind not in ("text", "date") and c.pg_type not in ("text", "varchar", "bpchar"):
                    continue
                for v, _ in c.values:
                    if isinstance(v, str) and v.strip() and len(v) <= MAX_VALUE_LEN:
                        self.index.setdefault(v.strip().lower(), []).append((t.name, c.name, v))

    def matches(self, question: str) -> dict[tuple[str, str], list[str]]:
        return values_named(self.index, question, stop=_STOP)


class RecordMaker:
    """Prompts for one database, varied by a seeded RNG."""

    def __init__(
        self, schema: SchemaInfo, prof: DbProfile, *, rng: random.Random, tables_k: int = 4,
        tokens: Tokens | None = None, max_prompt_tokens: int = 640, prompt_schema: str = "tables",
    ) -> None:
        """``prompt_schema`` (``learner.prompt_schema``): the prompt lists tables
        (``"tables"``) or only the values the question names (``"none"``)."""
        self.schema = schema
        self.show_tables = prompt_schema != "none"
        self.version = prompt_version(prompt_schema)
        self.prof = prof
        self.rng = rng
        self.tables_k = tables_k
        self.tokens = tokens
        self.max_prompt_tokens = max_prompt_tokens
        self.values = ValueIndex(prof)
        self.neighbours: dict[str, set[str]] = {t.name: set() for t in schema.tables}
        for e in prof.edges:
            self.neighbours.setdefault(e.child, set()).add(e.parent)
            self.neighbours.setdefault(e.parent, set()).add(e.child)

    def pick_tables(self, used: Sequence[str]) -> list[str]:
        """``used`` plus distractors, up to about ``tables_k`` tables (FK neighbours first)."""
        all_names = [t.name for t in self.schema.tables]
        want = max(len(used), self.tables_k + self.rng.choice([-2, -1, 0, 0, 1]))
        chosen = list(dict.fromkeys(used))
        near = sorted({n for u in used for n in self.neighbours.get(u, ()) if n not in chosen})
        far = [n for n in all_names if n not in chosen and n not in near]
        self.rng.shuffle(near)
        self.rng.shuffle(far)
        pool = near + far if self.rng.random() < 0.6 else far + near
        for name in pool:
            if len(chosen) >= want:
                break
            chosen.append(name)
        return chosen

    def prompt_schema(self, question: str, tables: Sequence[str]) -> SchemaInfo:
        """The chosen tables with samples only where the question names a column's value."""
        values = self.values.matches(question)
        wanted = {t.lower() for t in tables}
        out = []
        for t in self.schema.tables:
            if t.name.lower() not in wanted:
                continue
            cols = [replace(c, samples=list(values.get((t.name, c.name), []))) for c in t.columns]
            out.append(replace(t, columns=cols))
        return SchemaInfo(database=self.schema.database, dialect=self.schema.dialect, tables=out)

    def prompt(self, question: str, sql: str, *, examples: Sequence[tuple[str, str]] = ()) -> tuple[str, list[str]]:
        """(prompt, tables shown) for one pair; trimmed to ``max_prompt_tokens`` by dropping
        examples, then distractor tables."""
        used = sql_tables(sql, self.schema.dialect, self.schema)
        tables = self.pick_tables(used)
        exs = list(examples)
        while True:
            shown = self.prompt_schema(question, tables)
            text = build_prompt(
                question=question, schema=render_schema(shown) if self.show_tables else "",
                values="" if self.show_tables else render_values(shown), examples=exs,
                dialect=self.schema.dialect, database=self.schema.database,
                version=self.version,
            )
            if self.tokens is None or self.tokens(text) <= self.max_prompt_tokens:
                return text, tables
            if exs:
                exs.pop(0)
            elif len(tables) > len(used):
                tables.pop()
            else:
                return text, tables

    @staticmethod
    def completion(sql: str) -> str:
        return completion(sql)
