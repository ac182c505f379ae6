"""DuckDB backend: one process-wide ``duckdb`` connection per file, a cursor per session.

A DuckDB file can be opened read-write by one database instance per process, and a second
instance (read-only or not) on the same file in the same process is refused. So every
session gets a ``cursor()`` of the backend's one connection; cursors are independent
connections to the same instance, with their own transactions, and can run in parallel.

Read-only sessions (``connect(read_only=True)``, used for generated SQL) therefore cannot
rely on the file being opened read-only when the backend itself is read-write. Two
independent fences keep them from writing:

1. every statement is parsed by DuckDB's own parser (``duckdb.extract_statements``) and
   only ``SELECT`` and ``EXPLAIN`` statement types run; anything else (INSERT, CREATE, COPY,
   ATTACH, SET, PRAGMA, CALL...) raises :class:`ReadOnlyTransaction` (25006) unexecuted;
2. what runs, runs inside a transaction that is always rolled back, so that even a write
   slipping through the first fence (``EXPLAIN ANALYZE`` of a write, a future statement
   type) is undone. A client's BEGIN opens that transaction and its COMMIT rolls it back.

When the backend is read-only the file itself is opened ``read_only=True``: DuckDB refuses
every write, and sessions run their statements and transactions unchanged.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
from duckdb.sqltypes import VARCHAR
import structlog

from connectors.base import (
    STREAM_AFTER, Column, ColumnInfo, Connection, Dialect, ForeignKey, Result, SchemaInfo, TableInfo,
)
from connectors.ddl import META_SCHEMA
from connectors.guard import StatementGuard
from connectors.sqlite_functions import to_char
from connectors.types import TEXT_TYPES, pg_type_name
from gateway import errors as E

log = structlog.get_logger("askgres.connectors")

ST = duckdb.StatementType


def _types(*names: str) -> frozenset[duckdb.StatementType]:
    return frozenset(getattr(ST, n) for n in names if hasattr(ST, n))  # MERGE_INTO is new in 1.4


_READ_ONLY_TYPES = _types("SELECT", "EXPLAIN")
_DML_TYPES = _types("INSERT", "UPDATE", "DELETE", "MERGE_INTO", "COPY")
_ROW_TYPES = _types("SELECT", "EXPLAIN", "PRAGMA", "CALL", "EXECUTE", "RELATION")


class DuckdbBackend:
    """A DuckDB file served as one database. See the module docstring."""

    dialect: Dialect = "duckdb"

    def __init__(self, name: str, path: str | Path, *, read_only: bool = False) -> None:
        self.name = name
        self.read_only = read_only
        memory = str(path) == ":memory:"
        self.path = Path(path) if memory else Path(path).expanduser().resolve()
        if read_only and not memory and not self.path.is_file():
            raise FileNotFoundError(f"DuckDB database {self.path} does not exist")
        if not memory and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            log.info("db.created", db=name, path=str(self.path))
        self._db: duckdb.DuckDBPyConnection | None = duckdb.connect(str(self.path), read_only=read_only)
        # PostgreSQL's to_char templates, which DuckDB's strftime does not read (the translator casts to text).
        # A module-level function: DuckDB shares it with every connection to the same file in this
        # process, and keeps calling it after the connection that registered it has closed.
        try:
            self._db.create_function("askgres_to_char", to_char, [VARCHAR, VARCHAR], VARCHAR)
        except duckdb.CatalogException:
            pass  # registered by another backend on the same file: the same function
        self._lock = threading.Lock()

    def connect(self, *, read_only: bool = False) -> DuckdbConnection:
        with self._lock:
            if self._db is None:
                raise E.PgError(f'database "{self.name}" is closed', sqlstate="57P01")
            cursor = self._db.cursor()
        guarded = read_only and not self.read_only
        return DuckdbConnection(cursor, read_only=read_only or self.read_only, guarded=guarded)

    def introspect(self, *, samples: int = 3) -> SchemaInfo:
        conn = self.connect()
        try:
            return SchemaInfo(self.name, self.dialect, _introspect(conn, samples))
        finally:
            conn.close()

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()

    def __repr__(self) -> str:
        return f"DuckdbBackend({self.name!r}, {str(self.path)!r}, read_only={self.read_only})"


class _Pending:
    """A streamed result of :class:`DuckdbConnection` whose rows are still in the cursor."""

    __slots__ = ("end_txn", "rest", "dropped")

    def __init__(self, end_txn: bool) -> None:
        self.end_txn = end_txn  # the guarded read-only transaction ends with it
        self.rest: list[tuple[Any, ...]] | None = None  # read into memory by _settle
        self.dropped = False  # nobody will take the rest: _settle reads none of it


class DuckdbConnection:
    """One session's cursor. ``execute`` runs one statement at a time; ``interrupt`` may be
    called from any thread. ``guarded`` turns on the read-only fences of the module docstring."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, *, read_only: bool, guarded: bool) -> None:
        self.read_only = read_only
        self._cur = cursor
        self._guarded = guarded
        self._in_txn = False  # guarded only: a client BEGIN opened our rolled-back transaction
        self._guard = StatementGuard(cursor.interrupt)
        self._closed = False
        self._pending: _Pending | None = None  # a long result still being read from the cursor

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
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as e:
            raise translate_error(e) from e
        if not statements:
            return Result(None)
        if len(statements) > 1:
            raise E.SyntaxError_("cannot insert multiple commands into a prepared statement")
        stmt = statements[0]
        self._settle()
        if self._guarded:
            return self._execute_guarded(stmt, list(params), timeout, max_rows)
        return self._run(stmt, list(params), timeout, max_rows)

    def _execute_guarded(
        self, stmt: duckdb.Statement, params: list[Any], timeout: float | None, max_rows: int | None
    ) -> Result:
        if stmt.type == ST.TRANSACTION:
            verb = stmt.query.lstrip().split(None, 1)[0].upper() if stmt.query.strip() else ""
            if verb in ("BEGIN", "START") and not self._in_txn:
                self._begin()
                self._in_txn = True
            elif verb in ("COMMIT", "END", "ROLLBACK", "ABORT") and self._in_txn:
                self._rollback()
            return Result(None)
        if stmt.type not in _READ_ONLY_TYPES:
            raise E.ReadOnlyTransaction(f"cannot execute {stmt.type.name} in a read-only transaction")
        if self._in_txn:
            return self._run(stmt, params, timeout, max_rows)
        self._begin()
        result: Result | None = None
        try:
            result = self._run(stmt, params, timeout, max_rows, end_txn=True)
            return result
        finally:
            if result is None or isinstance(result.rows, list):  # a streamed result ends it when read
                self._rollback()

    def _begin(self) -> None:
        try:
            self._cur.execute("BEGIN TRANSACTION")
        except duckdb.Error as e:
            raise translate_error(e) from e

    def _rollback(self) -> None:
        self._in_txn = False
        try:
            self._cur.execute("ROLLBACK")
        except duckdb.Error:
            pass  # no transaction left to undo

    def _run(
        self, stmt: duckdb.Statement, params: list[Any], timeout: float | None, max_rows: int | None,
        *, end_txn: bool = False,
    ) -> Result:
        """One statement. A result longer than :data:`STREAM_AFTER` rows (with no
        ``max_rows``) is streamed: the rows come from the cursor as they are taken
        (:class:`_Pending`); ``end_txn``: the guarded transaction ends when they run out."""
        truncated = False
        streaming = False
        try:
            with self._guard.running(timeout):
                cur = self._cur
                if params:
                    cur.execute(stmt, params)
                else:
                    cur.execute(stmt)
                desc = cur.description
                returns_rows = desc is not None and (
                    stmt.type in _ROW_TYPES or (stmt.type in _DML_TYPES and cur.rowcount < 0)
                )
                if not returns_rows or desc is None:
                    count = cur.rowcount if stmt.type in _DML_TYPES else 0
                    if desc is not None:
                        cur.fetchall()  # drain the Count row
                    return Result(None, [], max(count, 0))
                if max_rows is None:
                    rows = cur.fetchmany(STREAM_AFTER + 1)
                    streaming = len(rows) > STREAM_AFTER
                else:
                    rows = cur.fetchmany(max_rows + 1)
                    truncated = len(rows) > max_rows
                    rows = rows[:max_rows]
        except duckdb.Error as e:
            if self._guard.canceled:
                raise self._guard.error() from e
            raise translate_error(e) from e
        columns = [Column(d[0], pg_type_name(str(d[1]), "duckdb") or "text") for d in desc]
        if streaming:
            pending = self._pending = _Pending(end_txn)
            return Result(columns, self._rest(pending, rows, timeout), -1)
        return Result(columns, rows, len(rows), truncated)

    def _rest(self, pending: _Pending, first: list[tuple[Any, ...]], timeout: float | None) -> Iterator[tuple[Any, ...]]:
        """The rows of a long result: those read already, then the cursor's, a chunk at a
        time (each under the statement's time limit and cancellable). DuckDB's cursor holds
        one result: a statement run before these rows are all taken (a suspended portal)
        first reads the rest into memory (:meth:`_settle`), and they come from there."""
        try:
            yield from first
            while pending.rest is None:
                try:
                    with self._guard.running(timeout):
                        chunk = self._cur.fetchmany(STREAM_AFTER)
                except duckdb.Error as e:
                    self._stream_ended(pending)
                    if self._guard.canceled:
                        raise self._guard.error() from e
                    raise translate_error(e) from e
                if not chunk:
                    self._stream_ended(pending)
                    return
                yield from chunk
            yield from pending.rest
        finally:  # closed or dropped (a portal closed early): only a flag, the cursor is _settle's
            pending.dropped = True

    def _stream_ended(self, pending: _Pending) -> None:
        """A streamed result read to its end (or failed), on the thread that reads it."""
        if self._pending is pending:
            self._pending = None
            if pending.end_txn:
                self._rollback()

    def _settle(self) -> None:
        """Before another statement: the rows of a streamed result not read yet, read into
        memory (the client may still take them), and its guarded transaction ended."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if not pending.dropped:
            try:
                pending.rest = self._cur.fetchall()
            except duckdb.Error:
                pending.rest = []  # the error was the cursor's to report; the next statement goes on
        if pending.end_txn:
            self._rollback()

    def interrupt(self) -> None:
        self._guard.cancel("user")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            pending, self._pending = self._pending, None
            if self._in_txn or (pending is not None and pending.end_txn):
                self._rollback()
            try:
                self._cur.close()
            except duckdb.Error:
                pass  # the backend closed first: nothing left to release


_PREFIX = re.compile(r"^[A-Za-z ]*Error: ")
_CONVERT = re.compile(r"""Could not convert string (['"])(.*)\1 to ([A-Z0-9_(), ]+)$""")
_CONVERT_NAMES = {"INT16": "smallint", "INT32": "integer", "INT64": "bigint", "DECIMAL": "numeric",
                  "DOUBLE": "double precision", "FLOAT": "real", "BOOL": "boolean"}


def translate_error(e: duckdb.Error) -> E.PgError:
    """The PostgreSQL error for a DuckDB error: SQLSTATE from the exception class and
    message; the message without DuckDB's ``Xxx Error:`` prefix, its other lines as detail."""
    raw = str(e)
    first, _, rest = raw.partition("\n")
    msg = _PREFIX.sub("", first).strip()
    hint_lines = [ln for ln in rest.splitlines() if ln.startswith(("Did you mean", "Candidate"))]
    detail_lines = [ln for ln in rest.splitlines() if ln.strip() and ln not in hint_lines]
    kw: dict[str, Any] = {
        "detail": "\n".join(detail_lines) or None,
        "hint": "\n".join(hint_lines) or None,
        "context": {"backend_error": raw},
    }
    low = msg.lower()

    if isinstance(e, duckdb.InterruptException):
        return E.QueryCanceled("canceling statement due to user request", **kw)
    if isinstance(e, (duckdb.ParserException, duckdb.SyntaxException)):
        return E.SyntaxError_(msg, **kw)
    if isinstance(e, duckdb.CatalogException):
        if m := re.match(r"(?:Table|View) with name (.+?) does not exist", msg):
            return E.UndefinedTable(f'relation "{m.group(1)}" does not exist', **kw)
        if m := re.match(r"(?:Scalar |Table |Aggregate |Macro )?Function with name (.+?) does not exist", msg):
            return E.UndefinedFunction(f"function {m.group(1)} does not exist", **kw)
        if m := re.match(r"Schema with name (.+?) does not exist", msg):
            return E.PgError(f'schema "{m.group(1)}" does not exist', sqlstate="3F000", **kw)
        if "already exists" in low:
            state = "42P07" if low.startswith(("table", "view", "index")) else "42710"
            return E.DuplicateObject(msg, sqlstate=state, **kw)
        if "does not exist" in low:
            return E.UndefinedObject(msg, **kw)
        return E.SyntaxErrorOrAccessRule(msg, **kw)
    if isinstance(e, duckdb.BinderException):
        if "column" in low and ("not found" in low or "does not have a column" in low):
            m = re.search(r'column "?([^"!]+?)"? not found', msg)
            text = f'column "{m.group(1)}" does not exist' if m else msg
            return E.UndefinedColumn(text, **kw)
        if low.startswith("no function matches"):
            return E.UndefinedFunction(msg, **kw)
        if "ambiguous reference to column" in low:
            return E.PgError(msg, sqlstate="42702", **kw)
        if "group by" in low:
            return E.PgError(msg, sqlstate="42803", **kw)
        if "could not choose a best candidate" in low:
            return E.PgError(msg, sqlstate="42725", **kw)
        return E.SyntaxErrorOrAccessRule(msg, **kw)
    if isinstance(e, duckdb.ConstraintException):
        if "duplicate key" in low or "unique constraint" in low or "primary key constraint" in low:
            return E.UniqueViolation("duplicate key value violates unique constraint", **{**kw, "detail": msg})
        if "not null constraint" in low:
            return E.IntegrityConstraintViolation(msg, sqlstate="23502", **kw)
        if "foreign key" in low:
            return E.IntegrityConstraintViolation(msg, sqlstate="23503", **kw)
        if "check constraint" in low:
            return E.IntegrityConstraintViolation(msg, sqlstate="23514", **kw)
        return E.IntegrityConstraintViolation(msg, **kw)
    if "read-only mode" in low or "read only mode" in low:
        m = re.search(r'statement of type "(\w+)"', msg)
        verb = m.group(1) if m else "statement"
        return E.ReadOnlyTransaction(f"cannot execute {verb} in a read-only transaction", **kw)
    if "division by zero" in low:
        return E.DivisionByZero("division by zero", **kw)
    if m := re.match(r'(?:date|timestamp) field value out of range: ("[^"]*")', msg):
        return E.PgError(f"date/time field value out of range: {m.group(1)}", sqlstate="22008", **kw)
    if isinstance(e, duckdb.OutOfRangeException) or "out of range" in low:
        return E.PgError(msg, sqlstate="22003", **kw)
    if isinstance(e, duckdb.ConversionException):
        m = _CONVERT.match(msg)
        if m is not None:  # in PostgreSQL's words
            name = _CONVERT_NAMES.get(m.group(3).split("(")[0])
            if name is not None:
                return E.InvalidTextRepresentation(f'invalid input syntax for type {name}: "{m.group(2)}"', **kw)
        return E.InvalidTextRepresentation(msg, **kw)
    if isinstance(e, duckdb.TransactionException):
        if "aborted" in low:
            return E.InFailedTransaction(
                "current transaction is aborted, commands ignored until end of transaction block", **kw
            )
        if "within a transaction" in low:
            return E.PgError("there is already a transaction in progress", sqlstate="25001", **kw)
        if "no transaction is active" in low:
            return E.PgError("there is no transaction in progress", sqlstate="25P01", **kw)
        if "conflict" in low:
            return E.PgError(msg, sqlstate="40001", **kw)
        return E.PgError(msg, sqlstate="25000", **kw)
    if "values were not provided" in low or "parameter" in low and "expected" in low:
        return E.PgError(msg, sqlstate="08P01", **kw)
    if isinstance(e, (duckdb.TypeMismatchException, duckdb.InvalidTypeException)):
        return E.PgError(msg, sqlstate="42804", **kw)
    if isinstance(e, duckdb.NotImplementedException):
        return E.FeatureNotSupported(msg, **kw)
    if isinstance(e, duckdb.PermissionException):
        return E.InsufficientPrivilege(msg, **kw)
    if isinstance(e, duckdb.DependencyException):
        return E.PgError(msg, sqlstate="2BP01", **kw)
    if isinstance(e, duckdb.OutOfMemoryException):
        return E.PgError(msg, sqlstate="53200", **kw)
    if isinstance(e, duckdb.IOException):
        return E.PgError(msg, sqlstate="58030", **kw)
    if isinstance(e, duckdb.InvalidInputException):
        return E.DataException(msg, **kw)
    return E.InternalError(msg, **kw)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _introspect(conn: DuckdbConnection, samples: int) -> list[TableInfo]:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return conn.execute(sql).all_rows()

    where = f"database_name = current_database() AND NOT internal AND NOT temporary AND schema_name <> '{META_SCHEMA}'"
    objects = rows(
        f"SELECT schema_name, table_name, comment, 'table' FROM duckdb_tables() WHERE {where} "
        f"UNION ALL SELECT schema_name, view_name, comment, 'view' FROM duckdb_views() WHERE {where} "
        "ORDER BY 1, 2"
    )
    columns: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for r in rows(
        "SELECT schema_name, table_name, column_name, data_type, is_nullable, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND NOT internal ORDER BY schema_name, table_name, column_index"
    ):
        columns.setdefault((r[0], r[1]), []).append(r[2:])
    declared = {  # (table, column) -> the type DuckDB did not keep
        (str(table), str(column)): str(decl)
        for table, column, decl in meta_rows(conn, "declared_types", "table_name, column_name, declared")
    }
    pks: dict[tuple[str, str], tuple[str, ...]] = {}
    fks: dict[tuple[str, str], list[ForeignKey]] = {}
    for schema, table, kind, cols, ref_table, ref_cols in rows(
        "SELECT schema_name, table_name, constraint_type, constraint_column_names, referenced_table, "
        "referenced_column_names FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') ORDER BY constraint_index"
    ):
        if kind == "PRIMARY KEY":
            pks[(schema, table)] = tuple(cols)
        else:
            fks.setdefault((schema, table), []).append(ForeignKey(tuple(cols), ref_table, tuple(ref_cols)))

    tables: list[TableInfo] = []
    for schema, table, comment, kind in objects:
        key = (schema, table)
        name = table if schema == "main" else f"{schema}.{table}"
        qualified = f"{_q(schema)}.{_q(table)}"
        pk = pks.get(key, ())
        infos = [
            ColumnInfo(
                name=cname,
                type=_declared(str(dtype), declared.get((table, cname)) if schema == "main" else None),
                pg_type=pg_type_name(str(dtype), "duckdb") or "text",
                nullable=bool(nullable) and cname not in pk,
                primary_key=cname in pk,
                description=ccomment or "",
            )
            for cname, dtype, nullable, ccomment in columns.get(key, [])
        ]
        for col in infos:
            if samples > 0 and col.pg_type in TEXT_TYPES:
                col.samples = _samples(conn, qualified, col.name, samples)
        tables.append(
            TableInfo(name, infos, pk, fks.get(key, []), _count(conn, qualified), kind, comment or "")
        )
    return tables


def meta_rows(conn: Connection, table: str, columns: str) -> list[tuple[Any, ...]]:
    """``columns`` of ``askgres_meta.<table>`` (:data:`connectors.ddl.META_SCHEMA`): what the
    file keeps of its schema that DuckDB drops; none when the file has no such table."""
    if not conn.execute(f"SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND "
                        f"schema_name = '{META_SCHEMA}' AND table_name = '{table}'").rows:
        return []
    return conn.execute(f"SELECT {columns} FROM {META_SCHEMA}.{table}").all_rows()


def _declared(dtype: str, declared: str | None) -> str:
    """The type to report: the declared one kept in ``askgres_meta`` (``NVARCHAR(200)``)
    where DuckDB has plain ``VARCHAR`` and the declaration is a kind of it."""
    if declared is None or dtype != "VARCHAR" or pg_type_name(declared, "duckdb") not in ("varchar", "text", "bpchar"):
        return dtype
    return declared


def _count(conn: DuckdbConnection, qualified: str) -> int:
    try:
        return int(conn.execute(f"SELECT count(*) FROM {qualified}", timeout=10.0).all_rows()[0][0])
    except E.PgError as e:  # a slow or broken view: no count rather than no schema
        log.warning("introspect.count_failed", table=qualified, sqlstate=e.sqlstate, error=e.message)
        return 0


def _samples(conn: DuckdbConnection, qualified: str, column: str, n: int) -> list[str]:
    """Up to ``n`` distinct non-empty values among the first rows (cheap on any size)."""
    c = _q(column)
    sql = (
        f"SELECT DISTINCT {c} FROM (SELECT {c} FROM {qualified} WHERE {c} IS NOT NULL "
        f"AND {c} <> '' LIMIT 1000) LIMIT {int(n)}"
    )
    try:
        return [str(r[0]) for r in conn.execute(sql, timeout=5.0).rows]
    except E.PgError as e:
        log.warning("introspect.samples_failed", table=qualified, column=column, sqlstate=e.sqlstate, error=e.message)
        return []
