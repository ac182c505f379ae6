"""Prompt templates, kept in files (``nl2sql/prompts/<name>_v<N>.txt``); a failure record
and a training set keep the version they were made with.

The same :func:`build_prompt` serves the ask pipeline and the learner's training data, so
a fine-tuned model sees at inference exactly the format it was trained on. The model's
completion is the SQL itself, ended by ``;`` (see :data:`STOP`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources

from connectors.base import SchemaInfo, TableInfo

PROMPT_NAME = "sql"
PROMPT_VERSION = "sql_v1"
"""The schema's retrieved tables, then examples, then the question (``ask.prompt_schema = "tables"``)."""
SHORT_PROMPT_VERSION = "sql_v2"
"""No tables: examples, the values the question names, the question (``ask.prompt_schema = "none"``,
for a model fine-tuned on the database in this format)."""
STOP = [";", "\n\n", "-- Question"]


def prompt_version(prompt_schema: str) -> str:
    """The template of an ``ask.prompt_schema`` setting."""
    return SHORT_PROMPT_VERSION if prompt_schema == "none" else PROMPT_VERSION


@cache
def template(version: str = PROMPT_VERSION) -> str:
    return resources.files("nl2sql").joinpath("prompts", f"{version}.txt").read_text()


def _short_type(pg_type: str) -> str:
    return {"int2": "int", "int4": "int", "int8": "int", "float4": "real", "float8": "real",
            "numeric": "num", "varchar": "text", "bpchar": "text", "timestamp": "datetime",
            "timestamptz": "datetime"}.get(pg_type, pg_type)


def render_table(table: TableInfo, *, samples: bool = True) -> str:
    """One line per table: ``Album(AlbumId int PK, Title text, ArtistId int -> Artist.ArtistId)``."""
    fk_of = {fk.columns[0]: fk for fk in table.foreign_keys if len(fk.columns) == 1}
    parts = []
    for col in table.columns:
        bits = [col.name, _short_type(col.pg_type)]
        if col.primary_key:
            bits.append("PK")
        fk = fk_of.get(col.name)
        if fk is not None:
            bits.append(f"-> {fk.ref_table}.{fk.ref_columns[0]}")
        if samples and col.samples:
            shown = ", ".join("'" + s.replace("'", "''")[:24] + "'" for s in col.samples[:2])
            bits.append(f"e.g. {shown}")
        parts.append(" ".join(bits))
    return f"{table.name}({', '.join(parts)})"


def render_schema(schema: SchemaInfo, tables: Iterable[str] | None = None, *, samples: bool = True) -> str:
    """The schema block of the prompt, restricted to ``tables`` (all when None)."""
    wanted = None if tables is None else {t.lower() for t in tables}
    lines = [render_table(t, samples=samples) for t in schema.tables if wanted is None or t.name.lower() in wanted]
    return "\n".join(lines)


def render_values(schema: SchemaInfo) -> str:
    """The short prompt's stand-in for the schema: the columns holding a value the question
    names (``-- Values: Customer.Country 'Brazil'``), or nothing."""
    named = [
        f"{t.name}.{c.name} " + ", ".join("'" + s.replace("'", "''")[:24] + "'" for s in c.samples[:2])
        for t in schema.tables for c in t.columns if c.samples
    ]
    return f"-- Values: {'; '.join(named)}\n" if named else ""


def render_examples(examples: Sequence[tuple[str, str]]) -> str:
    out = []
    for question, sql in examples:
        out.append(f"-- Question: {question.strip()}\n-- SQL:\n{sql.strip().rstrip(';')};\n")
    return "".join(out)


def build_prompt(
    *,
    question: str,
    schema: str,
    examples: Sequence[tuple[str, str]] = (),
    dialect: str = "sqlite",
    database: str = "",
    version: str = PROMPT_VERSION,
    values: str = "",
) -> str:
    """The full prompt; the model continues it with the SQL. ``schema`` fills templates
    that show tables, ``values`` (:func:`render_values`) those that do not."""
    return template(version).format(
        dialect="SQLite" if dialect == "sqlite" else "DuckDB",
        database=database,
        schema=schema,
        values=values,
        examples=render_examples(examples),
        question=" ".join(question.split()),
    )


def completion(sql: str) -> str:
    """The training target for ``sql``: what the model should write after the prompt."""
    return sql.strip().rstrip(";").strip() + ";"
