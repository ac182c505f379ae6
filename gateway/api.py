"""The contract between the wire layer (``gateway.server``/``gateway.protocol``) and the SQL
engine (``gateway.engine``). The wire layer turns messages into calls on a
:class:`SessionEngine` and its answers into messages; it never looks at SQL text, and the
engine never sees bytes.

Values cross this boundary as Python objects: the wire layer decodes parameters (text or
binary, by type OID) before :meth:`SessionEngine.execute`, and encodes result values by
the column's PostgreSQL type name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from connectors.base import Column

TxStatus = Literal["I", "T", "E"]


@dataclass
class Notice:
    """A NoticeResponse: ``severity`` NOTICE/INFO/WARNING, SQLSTATE ``code``."""

    message: str
    severity: str = "NOTICE"
    code: str = "00000"
    detail: str | None = None


@dataclass
class Prepared:
    """A parsed statement (the result of Parse).

    ``param_types`` are PostgreSQL type names, one per ``$n`` (declared by the client or
    inferred); ``columns`` describe the rows it will return (``None`` when it returns
    none), known without executing it. ``handle`` is the engine's own state
    (translation, cached ask answer...).
    """

    sql: str
    param_types: list[str]
    columns: list[Column] | None
    handle: Any = None
    is_empty: bool = False


@dataclass
class Outcome:
    """The answer to one executed statement.

    ``tag`` is the exact CommandComplete tag (``SELECT 3``, ``INSERT 0 1``, ``BEGIN``...).
    ``rows`` may be a lazy iterator; the wire layer pulls from it (row-limited Execute
    leaves the rest for the next Execute of the same portal). ``notices`` are sent
    after the rows and before CommandComplete, in order.
    ``copy_out`` true means: send the rows as COPY data (text format) instead of DataRows.
    """

    tag: str
    columns: list[Column] | None = None
    rows: Iterator[tuple[Any, ...]] | Sequence[tuple[Any, ...]] = ()
    notices: list[Notice] = field(default_factory=list)
    is_empty: bool = False
    copy_out: bool = False


class SessionEngine(Protocol):
    """One client session's SQL state: database, settings (SET), transaction, cursors."""

    database: str
    user: str

    @property
    def tx_status(self) -> TxStatus:
        """``I`` idle, ``T`` in a transaction block, ``E`` in a failed transaction block."""
        ...

    def parameter_status(self) -> dict[str, str]:
        """ParameterStatus values to send at startup (server_version, TimeZone, ...)."""
        ...

    async def run_simple(self, sql: str) -> list[Outcome]:
        """Simple query: split into statements, run each; raises :class:`PgError` on the
        first failing one (the outcomes before it are in ``error.context['done']``)."""
        ...

    async def prepare(self, sql: str, param_types: Sequence[str | None]) -> Prepared:
        """Parse: one statement; ``param_types`` from the client (``None`` = infer)."""
        ...

    async def execute(self, prepared: Prepared, params: Sequence[Any]) -> Outcome:
        """Bind + Execute of a prepared statement with decoded parameter values."""
        ...

    def execute_now(self, prepared: Prepared, params: Sequence[Any]) -> Outcome | None:
        """Like :meth:`execute` when the answer can be had without waiting (a short read);
        ``None``: call :meth:`execute`."""
        ...

    def hot_reader(self, prepared: Prepared) -> Callable[[Sequence[Any]], list[Any] | None] | None:
        """For a read run over and over: a function of the parameters giving the rows that
        :meth:`execute_now` would (tag ``SELECT n``, the described columns), or ``None``
        when it would not answer so; ``None``: no such function."""
        ...

    def prepare_now(self, sql: str, param_types: Sequence[str | None]) -> Prepared | None:
        """Like :meth:`prepare` for a statement prepared before; ``None``: call :meth:`prepare`."""
        ...

    def run_simple_now(self, sql: str) -> Outcome | None:
        """Like :meth:`run_simple` for a query answered without waiting (one short read);
        ``None``: call :meth:`run_simple`."""
        ...

    def cancel(self) -> None:
        """CancelRequest: interrupt the statement running now, from any thread."""
        ...

    async def close(self) -> None:
        """The client went away: roll back, release the backend connection."""
        ...


class Engine(Protocol):
    """One per server: knows the databases, makes sessions."""

    def databases(self) -> list[str]:
        ...

    def open_session(self, *, database: str, user: str, is_admin: bool) -> SessionEngine:
        """Raises :class:`gateway.errors.InvalidCatalogName` (3D000) for an unknown database."""
        ...

    async def close(self) -> None:
        ...


@dataclass
class AskAnswer:
    """A question answered: the rows, the SQL that ran and a plain-language summary."""

    question: str
    sql: str
    columns: list[Column]
    rows: list[tuple[Any, ...]]
    summary: str
    ms: float = 0.0
    notices: list[Notice] = field(default_factory=list)


class Asker(Protocol):
    """What the engine needs from :mod:`nl2sql` (implemented by ``nl2sql.service.AskService``).

    The engine recognises a question with :func:`nl2sql.intercept.extract_question`, then
    calls :meth:`answer`; statements that name the ``askgres`` schema (``askgres.failures``,
    ``askgres.pairs``, ``askgres.training_runs``, ``askgres.feedback(...)``) go to
    :meth:`admin_sql`.
    """

    async def answer(
        self, question: str, *, database: str, session_id: str, user: str, cancel: threading.Event | None = None,
    ) -> AskAnswer:
        """Raises :class:`gateway.errors.AskError` (42000 family) with the last SQL tried
        in ``detail`` when no answer can be given, :class:`gateway.errors.QueryCanceled`
        (57014) once ``cancel`` is set (the model stops within a token)."""
        ...

    def is_admin_sql(self, sql: str) -> bool:
        """True when ``sql`` names the ``askgres`` schema."""
        ...

    async def admin_sql(self, sql: str, *, database: str, session_id: str, user: str, is_admin: bool) -> Outcome:
        """Run a statement on the ``askgres`` schema. Raises InsufficientPrivilege (42501)
        for writes to ``askgres.pairs`` by a non-admin."""
        ...
