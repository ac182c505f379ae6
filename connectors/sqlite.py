"""SQLite backend: one ``sqlite3`` connection per session.

Connections run in autocommit mode (``isolation_level=None``) so that the BEGIN, COMMIT and
ROLLBACK the gateway sends are SQLite's own, and enforce foreign keys as PostgreSQL does.
Every connection gets the PostgreSQL functions SQLite lacks (:mod:`connectors.sqlite_functions`).
A read-only connection opens the file with ``mode=ro``, sets ``PRAGMA query_only`` and
installs an authorizer that allows reading only, so that generated SQL can neither write,
nor switch ``query_only`` off, nor ATTACH another file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import structlog

from connectors.base import STREAM_AFTER, Column, ColumnInfo, Dialect, ForeignKey, Result, SchemaInfo, TableInfo
from connectors.guard import StatementGuard
from connectors.sqlite_functions import FunctionErrors, install
from connectors.sqlite_types import DeclaredTypes, conform, describe, needs_fit
from connectors.types import TEXT_TYPES, pg_type_name
from gateway import errors as E
from gateway.protocol.text_format import interval_text

log = structlog.get_logger("askgres.connectors")

# Authorizer actions a read-only connection may perform (sqlite.org/c3ref/c_alter_table.html).
_READ_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE,
     sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT}
)
# Pragmas that read the schema; any other pragma with an argument sets something.
_READ_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
     "foreign_key_list", "foreign_key_check", "collation_list", "function_list", "module_list",
     "pragma_list", "database_list", "compile_options", "schema_version"}
)
_ACTION_NAMES = {
    **{getattr(sqlite3, n): "CREATE" for n in dir(sqlite3) if n.startswith("SQLITE_CREATE_")},
    **{getattr(sqlite3, n): "DROP" for n in dir(sqlite3) if n.startswith("SQLITE_DROP_")},
    sqlite3.SQLITE_INSERT: "INSERT", sqlite3.SQLITE_UPDATE: "UPDATE", sqlite3.SQLITE_DELETE: "DELETE",
    sqlite3.SQLITE_ATTACH: "ATTACH", sqlite3.SQLITE_DETACH: "DETACH", sqlite3.SQLITE_PRAGMA: "PRAGMA",
    sqlite3.SQLITE_ALTER_TABLE: "ALTER TABLE", sqlite3.SQLITE_ANALYZE: "ANALYZE",
    sqlite3.SQLITE_REINDEX: "REINDEX",
}
# Statements that may change the schema, or make a change visible (result types are cached
# per schema version).
_DDL = re.compile(r"\s*(?:create|alter|drop|attach|detach|commit|end|rollback|release)\b", re.IGNORECASE)
# sqlite3.connect's default busy timeout (ms), restored after a no-wait quick read.
_BUSY_TIMEOUT_MS = 5000
MMAP_BYTES = 256 << 20  # memory-mapped reads: no read() call per page (address space only, not memory)
# VM instructions between two deadline checks of a quick read.
_QUICK_STEPS = 1000
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Calls of Python regular expressions: they cannot be interrupted while they run (a pattern
# that backtracks for minutes would hold the event loop), so they never run as quick reads.
_REGEX_CALL = re.compile(r"\bREGEXP", re.IGNORECASE)
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_temp_master", "sqlite_schema", "sqlite_temp_schema"})
_DDL_VERBS = {"INSERT": "CREATE", "DELETE": "DROP", "UPDATE": "ALTER"}


class SqliteBackend:
    """A SQLite file served as one database. See the module docstring."""

    dialect: Dialect = "sqlite"

    def __init__(self, name: str, path: str | Path, *, read_only: bool = False) -> None:
        self.name = name
        self.path = Path(path).expanduser().resolve()
        self.read_only = read_only
        if read_only and not self.path.is_file():
            raise FileNotFoundError(f"SQLite database {self.path} does not exist")
        if not read_only and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            log.info("db.created", db=name, path=str(self.path))
        self._types = DeclaredTypes()

    def connect(self, *, read_only: bool = False) -> SqliteConnection:
        return SqliteConnection(self, read_only=read_only or self.read_only)

    def introspect(self, *, samples: int = 3) -> SchemaInfo:
        conn = self.connect(read_only=True)
        try:
            return SchemaInfo(self.name, self.dialect, _introspect(conn, samples))
        finally:
            conn.close()

    def close(self) -> None:
        """Nothing shared to close: each session owns its connection."""

    def _open(self, *, read_only: bool) -> tuple[sqlite3.Connection, FunctionErrors]:
        """A new connection with askgres's functions, and the holder of their errors."""
        if read_only:
            uri = f"file:{quote(str(self.path))}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        else:
            conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        return conn, install(conn)

    def __repr__(self) -> str:
        return f"SqliteBackend({self.name!r}, {str(self.path)!r}, read_only={self.read_only})"


class SqliteConnection:
    """One session's connection. ``execute`` runs one statement at a time; ``interrupt`` may
    be called from any thread."""

    def __init__(self, backend: SqliteBackend, *, read_only: bool) -> None:
        self.read_only = read_only
        self._backend = backend
        try:
            self._conn, self._function_errors = backend._open(read_only=read_only)
            self._conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            if read_only:
                self._conn.execute("PRAGMA query_only = 1")
                self._conn.set_authorizer(self._authorize)
            else:
                self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as e:
            raise E.InvalidCatalogName(f'cannot open database "{backend.name}": {e}') from e
        self._guard = StatementGuard(self._conn.interrupt)
        self._denied: str | None = None
        self._closed = False
        self._no_wait = False  # busy timeout switched off by try_quick_read
        # the budget of the quick read under way (_quick_progress)
        self._quick_calls = 0
        self._quick_max = 0
        self._quick_deadline = 0.0
        self._quick_why = "steps"

    def execute(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
    ) -> Result:
        if self._closed:
            raise E.PgError("connection is closed", sqlstate="08003")
        if self._no_wait:
            self._wait_when_busy(True)
        self._denied = None
        self._function_errors.error = None
        truncated = False
        streaming = False
        try:
            with self._guard.running(timeout):
                cur = self._conn.cursor()
                try:
                    cur.execute(sql, [_adapt(p) for p in params])
                    desc = cur.description
                    if desc is None:
                        if _DDL.match(sql):
                            self._backend._types.changed()
                        return Result(None, [], max(cur.rowcount, 0))
                    if max_rows is None:
                        rows = cur.fetchmany(STREAM_AFTER + 1)
                        streaming = len(rows) > STREAM_AFTER
                    else:
                        rows = cur.fetchmany(max_rows + 1)
                        truncated = len(rows) > max_rows
                        rows = rows[:max_rows]
                finally:
                    if not streaming:
                        cur.close()
        except sqlite3.Error as e:
            raise self._translate(e, sql) from e
        names = [d[0] for d in desc]
        columns, rows = describe(names, self._declared(sql, len(names)), rows)
        if streaming:  # the rest is read as the client takes it, never held whole
            return Result(columns, self._rest(cur, rows, columns, sql, timeout), -1)
        return Result(columns, rows, len(rows), truncated)

    def _rest(
        self, cur: sqlite3.Cursor, first: list[tuple[Any, ...]], columns: list[Column], sql: str,
        timeout: float | None,
    ) -> Iterator[tuple[Any, ...]]:
        """The rows of a long result: those read already, then the cursor's, a chunk at a
        time (each under the statement's time limit and cancellable). The cursor closes when
        the rows run out or the consumer drops them."""
        try:
            yield from first
            while True:
                try:
                    with self._guard.running(timeout):
                        chunk = cur.fetchmany(STREAM_AFTER)
                except sqlite3.Error as e:
                    raise self._translate(e, sql) from e
                if not chunk:
                    return
                yield from conform(columns, chunk)
        finally:
            cur.close()

    def try_quick_read(
        self, sql: str, params: Sequence[Any], *, max_steps: int, max_rows: int, max_s: float
    ) -> Result | str:
        """Run a statement that only reads, on the calling thread, if it is short: at most
        ``max_steps`` thousand SQLite VM instructions and ``max_rows`` rows (and, as a
        safety net for single long instructions and preemption, ``max_s`` seconds). Lets
        the gateway answer point selects without a thread handoff while anything longer
        runs in an executor under its time limit.

        Returns the result, or why it gave up (nothing changed: run it again with
        :meth:`execute`): ``"steps"`` or ``"rows"`` (the statement is long),
        ``"time"`` or ``"busy"`` (it may be quick another time). A statement that runs
        regular expressions counts as long."""
        if self._closed:
            raise E.PgError("connection is closed", sqlstate="08003")
        if _REGEX_CALL.search(sql):
            return "steps"
        read = self._quick_rows(sql, [_adapt(p) for p in params], max_steps, max_rows, max_s)
        if isinstance(read, str):
            return read
        desc, rows, rowcount = read
        if desc is None:
            return Result(None, [], rowcount)
        names = [d[0] for d in desc]
        columns, rows = describe(names, self._declared(sql, len(names)), rows)
        return Result(columns, rows, len(rows))

    def hot_reader(
        self, sql: str, ncols: int, *, max_steps: int, max_rows: int, max_s: float
    ) -> Callable[[Sequence[Any]], list[tuple[Any, ...]] | None] | None:
        """:meth:`try_quick_read` of one statement, made once for a statement run over and
        over (a driver's prepared point select): a function of the parameters that returns
        the rows, converted as :func:`describe` converts them, or ``None`` for anything
        else (not quick this time, an error, another shape of result), which the caller
        then runs the general way. Nothing it declines has changed anything: it only reads.
        ``None``: no such function for this statement."""
        if self._closed or _REGEX_CALL.search(sql):
            return None
        plain_types = (int, str, float, type(None))
        declared_seen: list[str | None] | None = None
        as_is = False  # the last declared types need no conversion of a single row

        def read(params: Sequence[Any]) -> list[tuple[Any, ...]] | None:
            nonlocal declared_seen, as_is
            if self._closed:
                return None
            try:
                got = self._quick_rows(sql, [p if type(p) in plain_types else _adapt(p) for p in params],
                                       max_steps, max_rows, max_s)
            except E.PgError:  # reported by the general way, which runs it again
                return None
            if isinstance(got, str) or got[0] is None or len(got[0]) != ncols:
                return None
            desc, rows, _ = got
            declared = self._declared(sql, ncols)
            if declared is not declared_seen:
                declared_seen, as_is = declared, not any(needs_fit(d) for d in declared)
            if as_is and len(rows) <= 1:
                return rows
            return describe([d[0] for d in desc], declared, rows)[1]

        return read

    def _declared(self, sql: str, ncols: int) -> list[str | None]:
        try:
            return self._backend._types.for_query(self._conn, sql, ncols)
        except sqlite3.Error:
            return [None] * ncols

    def _quick_rows(
        self, sql: str, params: list[Any], max_steps: int, max_rows: int, max_s: float
    ) -> tuple[Any, list[tuple[Any, ...]], int] | str:
        """The quick read of :meth:`try_quick_read`: (cursor description, rows, rowcount),
        or why it gave up."""
        conn = self._conn
        if not self._no_wait:
            self._wait_when_busy(False)
        self._quick_calls = 0
        self._quick_max = max_steps
        self._quick_deadline = time.perf_counter() + max_s
        self._quick_why = "steps"
        self._denied = None
        self._function_errors.error = None
        conn.set_progress_handler(self._quick_progress, _QUICK_STEPS)
        try:
            cur = conn.cursor()
            try:
                cur.execute(sql, params)
                desc = cur.description
                rows = cur.fetchmany(max_rows + 1) if desc is not None else []
            finally:
                cur.close()
        except sqlite3.OperationalError as e:
            code = getattr(e, "sqlite_errorname", "") or ""
            if code == "SQLITE_INTERRUPT" or str(e) == "interrupted":
                return self._quick_why
            if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or str(e) == "database is locked":
                return "busy"
            raise self._quick_error(e, sql) from e
        except sqlite3.Error as e:
            raise self._quick_error(e, sql) from e
        finally:
            conn.set_progress_handler(None, 0)
        if len(rows) > max_rows:
            return "rows"
        return desc, rows, max(cur.rowcount, 0)

    def _quick_progress(self) -> bool:
        """SQLite's progress handler during a quick read (every _QUICK_STEPS VM
        instructions): stop it past its budget of steps or time."""
        self._quick_calls += 1
        if self._quick_calls > self._quick_max:
            return True
        if self._quick_calls % 8 == 0 and time.perf_counter() > self._quick_deadline:
            self._quick_why = "time"
            return True
        return False

    def _quick_error(self, e: sqlite3.Error, sql: str) -> E.PgError:
        # no guard here: a quick read is never cancelled, only stopped by its deadline
        if self._denied:
            return E.ReadOnlyTransaction(f"cannot execute {self._denied} in a read-only transaction")
        return self._function_errors.take() or translate_error(e, sql)

    def _wait_when_busy(self, wait: bool) -> None:
        """Quick reads must not sleep in SQLite's busy handler on the event loop."""
        if self.read_only:  # the authorizer refuses pragmas that set something; this one is ours
            self._conn.set_authorizer(None)
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS if wait else 0}")
        finally:
            if self.read_only:
                self._conn.set_authorizer(self._authorize)
        self._no_wait = not wait

    def interrupt(self) -> None:
        self._guard.cancel("user")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._conn.close()

    def _authorize(self, action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
        if action in _READ_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and (arg2 is None or (arg1 or "").lower() in _READ_PRAGMAS):
            return sqlite3.SQLITE_OK
        what = _ACTION_NAMES.get(action, "a write")
        if action == sqlite3.SQLITE_PRAGMA:
            what = f"PRAGMA {arg1}"
        elif (arg1 or "").lower() in _SCHEMA_TABLES:  # DDL first writes the schema table
            what = _DDL_VERBS.get(what, what)
        self._denied = self._denied or what
        return sqlite3.SQLITE_DENY

    def _translate(self, e: sqlite3.Error, sql: str) -> E.PgError:
        if self._guard.canceled:
            return self._guard.error()
        if self._denied:
            return E.ReadOnlyTransaction(f"cannot execute {self._denied} in a read-only transaction")
        return self._function_errors.take() or translate_error(e, sql)


def translate_error(e: sqlite3.Error, sql: str = "") -> E.PgError:
    """The PostgreSQL error for a SQLite error, with PostgreSQL's wording where it has one."""
    msg = str(e)
    code = getattr(e, "sqlite_errorname", "") or ""
    ctx = {"backend_error": msg}

    if code == "SQLITE_INTERRUPT" or msg == "interrupted":
        return E.QueryCanceled("canceling statement due to user request")
    if code.startswith("SQLITE_READONLY") or "readonly database" in msg:
        verb = (sql.split(None, 1) or ["statement"])[0].upper()
        return E.ReadOnlyTransaction(f"cannot execute {verb} in a read-only transaction", detail=msg)
    if isinstance(e, sqlite3.IntegrityError) or code.startswith("SQLITE_CONSTRAINT"):
        return _constraint_error(code, msg)
    if m := re.match(r"no such table: (.+)", msg):
        return E.UndefinedTable(f'relation "{m.group(1)}" does not exist', context=ctx)
    if m := re.match(r"no such column: (.+)", msg):
        return E.UndefinedColumn(f'column "{m.group(1)}" does not exist', context=ctx)
    if m := re.match(r"no such function: (.+)", msg):
        return E.UndefinedFunction(f"function {m.group(1).lower()} does not exist", context=ctx)
    if msg.startswith("wrong number of arguments to function"):
        return E.UndefinedFunction(msg, context=ctx)
    if m := re.match(r'near "(.*)": syntax error', msg, re.S):
        return E.SyntaxError_(f'syntax error at or near "{m.group(1)}"', context=ctx)
    if "syntax error" in msg or msg.startswith(("incomplete input", "unrecognized token")):
        return E.SyntaxError_(msg, context=ctx)
    if msg.startswith("You can only execute one statement at a time"):
        return E.SyntaxError_("cannot insert multiple commands into a prepared statement")
    if m := re.match(r"(table|view|index|trigger) (\S+) already exists", msg):
        state = "42P07" if m.group(1) in ("table", "view", "index") else "42710"
        return E.DuplicateObject(f'relation "{m.group(2)}" already exists', sqlstate=state, context=ctx)
    if msg.startswith("Incorrect number of bindings"):
        return E.PgError(msg, sqlstate="08P01", context=ctx)
    if msg.startswith("Error binding parameter") or code == "SQLITE_MISMATCH":
        return E.PgError(msg, sqlstate="42804", context=ctx)
    if "integer overflow" in msg or code == "SQLITE_TOOBIG":
        return E.PgError(msg, sqlstate="22003" if "overflow" in msg else "54000", context=ctx)
    if msg.startswith("cannot start a transaction within a transaction"):
        return E.PgError("there is already a transaction in progress", sqlstate="25001", context=ctx)
    if msg.startswith("cannot commit - no transaction is active") or msg.startswith("cannot rollback - no transaction"):
        return E.PgError("there is no transaction in progress", sqlstate="25P01", context=ctx)
    if code in ("SQLITE_BUSY", "SQLITE_LOCKED") or "database is locked" in msg:
        return E.PgError(msg, sqlstate="55P03", context=ctx)
    if code == "SQLITE_AUTH" or msg == "not authorized":
        return E.InsufficientPrivilege(msg, context=ctx)
    if isinstance(e, sqlite3.ProgrammingError) and "closed" in msg:
        return E.PgError(msg, sqlstate="08003", context=ctx)
    if isinstance(e, sqlite3.OperationalError) and code == "SQLITE_ERROR":
        return E.SyntaxErrorOrAccessRule(msg, context=ctx)
    return E.InternalError(msg, context=ctx)


def _constraint_error(code: str, msg: str) -> E.PgError:
    ctx = {"backend_error": msg}
    if code in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE") or msg.startswith("UNIQUE"):
        return E.UniqueViolation("duplicate key value violates unique constraint", detail=msg, context=ctx)
    if code == "SQLITE_CONSTRAINT_NOTNULL" or msg.startswith("NOT NULL"):
        col = msg.rsplit(".", 1)[-1]
        return E.IntegrityConstraintViolation(
            f'null value in column "{col}" violates not-null constraint', detail=msg, sqlstate="23502", context=ctx
        )
    if code == "SQLITE_CONSTRAINT_FOREIGNKEY" or msg.startswith("FOREIGN KEY"):
        return E.IntegrityConstraintViolation(
            "insert or update violates foreign key constraint", detail=msg, sqlstate="23503", context=ctx
        )
    if code == "SQLITE_CONSTRAINT_CHECK" or msg.startswith("CHECK"):
        return E.IntegrityConstraintViolation(
            "new row violates check constraint", detail=msg, sqlstate="23514", context=ctx
        )
    return E.IntegrityConstraintViolation(msg, context=ctx)


def _adapt(value: Any) -> Any:
    """A parameter as SQLite stores it (sqlite3 binds None, int, float, str, bytes only).
    An integer past 64 bits is a REAL, as SQLite reads such a literal (sqlite3 refuses
    to bind it)."""
    if value is None or isinstance(value, (float, str, bytes)):
        return value
    if isinstance(value, int):
        return int(value) if _INT64_MIN <= value <= _INT64_MAX else float(value)  # bool too: 0 or 1
    if isinstance(value, Decimal):
        return _adapt(int(value)) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, dt.timedelta):  # PostgreSQL's interval text, which its decoder reads back
        return interval_text(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _introspect(conn: SqliteConnection, samples: int) -> list[TableInfo]:
    tables: list[TableInfo] = []
    objects = conn.execute(
        "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    ).rows
    for name, kind in objects:
        try:
            tables.append(_table(conn, name, "view" if kind == "view" else "table", samples))
        except E.PgError as e:  # a view over a dropped table: leave it out, keep the rest
            log.warning("introspect.table_failed", table=name, sqlstate=e.sqlstate, error=e.message)
    return tables


def _table(conn: SqliteConnection, name: str, kind: Literal["table", "view"], samples: int) -> TableInfo:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return conn.execute(sql).all_rows()

    info = rows(f"PRAGMA table_info({_q(name)})")  # cid, name, type, notnull, default, pk
    pk = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
    columns = [
        ColumnInfo(
            name=r[1],
            type=r[2] or "",
            pg_type=pg_type_name(r[2], "sqlite") or "text",
            nullable=not r[3] and r[1] not in pk,
            primary_key=r[1] in pk,
        )
        for r in info
    ]
    fks: dict[int, list[tuple[Any, ...]]] = {}
    for r in rows(f"PRAGMA foreign_key_list({_q(name)})"):  # id, seq, table, from, to, ...
        fks.setdefault(r[0], []).append(r)
    foreign_keys = []
    for _, parts in sorted(fks.items()):
        parts.sort(key=lambda r: r[1])
        ref_cols = tuple(r[4] for r in parts)
        if any(c is None for c in ref_cols):  # REFERENCES t without columns: t's primary key
            ref_cols = tuple(r[1] for r in rows(f"PRAGMA table_info({_q(parts[0][2])})") if r[5])
        foreign_keys.append(ForeignKey(tuple(r[3] for r in parts), parts[0][2], ref_cols))
    count = _count(conn, name)
    for col in columns:
        if samples > 0 and col.pg_type in TEXT_TYPES:
            col.samples = _samples(conn, name, col.name, samples)
    return TableInfo(name, columns, pk, foreign_keys, count, kind)


def _count(conn: SqliteConnection, table: str) -> int:
    try:
        return int(conn.execute(f"SELECT count(*) FROM {_q(table)}", timeout=10.0).all_rows()[0][0])
    except E.PgError as e:  # a slow or broken view: no count rather than no schema
        log.warning("introspect.count_failed", table=table, sqlstate=e.sqlstate, error=e.message)
        return 0


def _samples(conn: SqliteConnection, table: str, column: str, n: int) -> list[str]:
    """Up to ``n`` distinct non-empty values among the first rows (cheap on any size)."""
    c = _q(column)
    sql = (
        f"SELECT DISTINCT {c} FROM (SELECT {c} FROM {_q(table)} WHERE {c} IS NOT NULL "
        f"AND {c} <> '' LIMIT 1000) LIMIT {int(n)}"
    )
    try:
        return [str(r[0]) for r in conn.execute(sql, timeout=5.0).rows]
    except E.PgError as e:
        log.warning("introspect.samples_failed", table=table, column=column, sqlstate=e.sqlstate, error=e.message)
        return []

