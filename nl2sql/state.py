"""What flows through the ask pipeline: the per-question :class:`AskState` the stages fill
in, the :class:`Env` they work with, and the :class:`AskResult` a caller gets back."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any, Literal

from connectors.base import Backend, Column, Result, SchemaInfo
from gateway.config import AskConfig
from nl2sql.examples import Example, ExampleIndex
from nl2sql.llm import Generator
from nl2sql.schema_index import DbSchema, Retrieved, SchemaIndex
from nl2sql.synthetic import SyntheticSet

FailureKind = Literal["no_valid_sql", "execution_error", "timeout", "canceled"]
"""``canceled``: the client cancelled the question (CancelRequest, statement timeout); never logged as a failure."""


@dataclass
class Attempt:
    """One SQL the pipeline tried. ``stage`` names where it ended: ``ok``, ``parse``,
    ``validate``, ``execute``, ``timeout`` (or ``example`` for an approved pair's SQL)."""

    sql: str
    error: str | None
    stage: str
    ms: float


@dataclass
class AskResult:
    """The outcome of one question. ``kind`` is the failure kind when ``ok`` is false:
    ``no_valid_sql``, ``execution_error`` or ``timeout``. ``context`` holds what a
    failure record keeps: retrieved tables and examples, prompt, prompt and model version."""

    ok: bool
    question: str
    database: str
    sql: str | None
    columns: list[Column]
    rows: list[tuple[Any, ...]]
    summary: str
    attempts: list[Attempt]
    timings: dict[str, float]
    error: str | None
    kind: str | None
    context: dict[str, Any] = field(default_factory=dict)
    ms: float = 0.0
    truncated: bool = False


class StageFailure(Exception):
    """Ends the pipeline early: the question cannot be answered."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message


@dataclass
class Env:
    """What the stages work with for one question (fixed for its whole run: a hot swap
    of the generator does not reach a question already started)."""

    config: AskConfig
    backend: Backend
    db: DbSchema
    generator: Generator
    schema_index: SchemaIndex
    examples: ExampleIndex
    synthetic: SyntheticSet | None = None
    """The database's synthetic examples (None: none, or not built yet)."""
    should_stop: Callable[[], bool] = field(default=lambda: False)
    """True once the client has cancelled the question: generation stops within a token."""

    def check_cancelled(self) -> None:
        if self.should_stop():
            raise StageFailure("canceled", "canceling statement due to user request")

    @property
    def schema(self) -> SchemaInfo:
        return self.db.schema


@dataclass
class AskState:
    """The question and everything the stages found out about it so far."""

    question: str
    database: str
    retrieved: Retrieved | None = None
    prompt_schema: SchemaInfo | None = None
    examples: list[Example] = field(default_factory=list)
    prompt: str = ""
    prompt_version: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    sql: str | None = None
    result: Result | None = None
    summary: str = ""
    fixes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def timed(self, stage: str, started: float) -> None:
        self.timings[stage] = round(self.timings.get(stage, 0.0) + (time.perf_counter() - started) * 1000, 2)
