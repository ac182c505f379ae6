"""The utility statements a session answers itself: transaction control (BEGIN, COMMIT,
ROLLBACK, savepoints), SET/RESET/SHOW, DISCARD, DEALLOCATE, SQL-level PREPARE/EXECUTE,
cursors (DECLARE/FETCH/MOVE/CLOSE), COPY ... TO STDOUT, LISTEN/NOTIFY (refused).

Transaction status follows what each statement did: BEGIN puts the session in ``T`` only
once the backend accepted it; an error in ``T`` makes it ``E``; in ``E`` COMMIT rolls
back (tag ROLLBACK).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlglot
import structlog
from sqlglot import exp

from connectors.base import STREAM_AFTER, Backend, Column
from connectors.ddl import constraint_names
from connectors.duckdb import meta_rows
from gateway.api import Notice, Outcome
from gateway.catalog_data import ConstraintNames, IndexInfo
from gateway.errors import (
    FeatureNotSupported,
    InsufficientPrivilege,
    InvalidCursorName,
    InvalidSqlStatementName,
    PgError,
    DuplicatePreparedStatement,
    SyntaxError_,
)
from gateway.portals import RowSource
from gateway.statements import Utility

if TYPE_CHECKING:
    from gateway.engine import GatewayEngine, Session

log = structlog.get_logger("askgres.engine")


class ActiveSqlTransaction(PgError):
    sqlstate = "25001"


class NoActiveSqlTransaction(PgError):
    sqlstate = "25P01"


class DuplicateCursor(PgError):
    sqlstate = "42P03"


@dataclass
class Cursor:
    """A DECLAREd cursor and where FETCH is. Its rows are read from the backend as FETCH
    needs them (a long result is streamed by the connector), and kept for FETCH BACKWARD
    and ABSOLUTE; a cursor not declared SCROLL forgets rows far behind it, so that reading
    a long result forward holds only a window of it. WITH HOLD cursors are read whole when
    declared (PostgreSQL materialises them at COMMIT)."""

    name: str
    columns: list[Column]
    rows: list[tuple[Any, ...]]  # rows first+1 .. first+len(rows) of the result
    hold: bool = False
    pos: int = 0  # rows before the cursor (0: before the first row)
    statement: str = ""
    created: float = 0.0
    source: RowSource | None = None  # the rows not read yet (None: all read)
    first: int = 0  # rows forgotten before rows[0]
    scroll: bool = False

    @property
    def known(self) -> int:
        return self.first + len(self.rows)

    async def read_to(self, n: int | None) -> None:
        """Read rows from the source until ``n`` are known (``None``: all of them)."""
        while self.source is not None and (n is None or n > self.known):
            want = STREAM_AFTER if n is None else n - self.known
            more = await self.source.take(want)
            self.rows.extend(more)
            if len(more) < want:
                self.source = None

    def slice(self, start: int, stop: int) -> list[tuple[Any, ...]]:
        """Rows start+1 .. stop (0-based, as list slicing)."""
        if start < self.first:
            raise PgError("cursor can only scan forward", sqlstate="55000",
                          hint="Declare it with SCROLL option to enable backward scan.")
        return self.rows[start - self.first:stop - self.first]

    def forget_behind(self) -> None:
        if not self.scroll and self.pos - 1 - self.first > CURSOR_WINDOW:
            drop = self.pos - 1 - self.first
            del self.rows[:drop]
            self.first += drop


CURSOR_WINDOW = 10_000  # rows a cursor without SCROLL keeps behind its position


def session_setup(dialect: str) -> list[str]:
    """Statements run once on a session's backend connection for PostgreSQL semantics:
    integer division in DuckDB, case-sensitive LIKE in SQLite."""
    if dialect == "duckdb":
        return ["SET integer_division = true"]
    return ["PRAGMA case_sensitive_like = ON"]


# --- dispatch -------------------------------------------------------------------------------


async def describe(session: Session, util: Utility) -> list[Column] | None:
    """The columns a utility statement returns (for Describe)."""
    if util.kind == "show":
        if util.name == "all":
            return [Column("name", "text"), Column("setting", "text"), Column("description", "text")]
        display, _ = session.settings.show(util.name)
        return [Column(display, "text")]
    if util.kind in ("fetch",):
        cur = session.cursors.get(util.name)
        return cur.columns if cur is not None else None
    return None


async def run(session: Session, util: Utility, *, params: Sequence[Any] = ()) -> Outcome:
    session._check_not_aborted(util)
    handler = _HANDLERS.get(util.kind)
    if handler is None:
        raise FeatureNotSupported(f"{util.kind.upper()} is not supported by askgres")
    return await handler(session, util)


async def _begin(s: Session, u: Utility) -> Outcome:
    if s._status != "I":
        return Outcome(tag=u.tag, notices=[Notice("there is already a transaction in progress", severity="WARNING",
                                                  code="25001")])
    await s._backend_call("BEGIN")
    s._status = "T"
    s.writes = 0
    s.savepoints.clear()
    s.settings.begin()
    if u.isolation:
        s.settings.set("transaction_isolation", u.isolation, in_tx=True)
    if u.read_only is not None:
        s.read_only_tx = u.read_only
        s.settings.set("transaction_read_only", "on" if u.read_only else "off", in_tx=True)
    elif s.settings.get("default_transaction_read_only") == "on":
        s.read_only_tx = True
    return Outcome(tag=u.tag)


async def _commit(s: Session, u: Utility) -> Outcome:
    if s._status == "I":
        return Outcome(tag="COMMIT", notices=[Notice("there is no transaction in progress", severity="WARNING",
                                                     code="25P01")])
    if s._status == "E":
        await _backend_rollback(s)
        return Outcome(tag="ROLLBACK")
    try:
        await s._backend_call("COMMIT")
    except PgError:
        await _backend_rollback(s)
        raise
    s._status = "I"
    s._end_transaction(committed=True)
    return Outcome(tag="COMMIT")


async def _backend_rollback(s: Session) -> None:
    try:
        await s._backend_call("ROLLBACK")
    except PgError as e:  # the backend already ended it (DuckDB after some errors)
        log.debug("engine.rollback_ignored", error=e.message)
    s._status = "I"
    s._end_transaction(committed=False)


async def _rollback(s: Session, u: Utility) -> Outcome:
    if s._status == "I":
        return Outcome(tag="ROLLBACK", notices=[Notice("there is no transaction in progress", severity="WARNING",
                                                       code="25P01")])
    await _backend_rollback(s)
    return Outcome(tag="ROLLBACK")


async def _savepoint(s: Session, u: Utility) -> Outcome:
    if s._status == "I":
        raise NoActiveSqlTransaction("SAVEPOINT can only be used in transaction blocks")
    name = _ident(u.name)
    if s.backend.dialect == "sqlite":
        await s._backend_call(f'SAVEPOINT "{name}"')
    # DuckDB has no savepoints: remember how many writes came before this one, so that
    # ROLLBACK TO can be honoured when nothing needs undoing (drivers such as psycopg
    # open savepoints around their own catalog reads)
    s.savepoints.append((name, s.writes))
    return Outcome(tag="SAVEPOINT")


def _find_savepoint(s: Session, name: str) -> int:
    for i in range(len(s.savepoints) - 1, -1, -1):
        if s.savepoints[i][0] == name:
            return i
    raise PgError(f'savepoint "{name}" does not exist', sqlstate="3B001")


async def _release(s: Session, u: Utility) -> Outcome:
    if s._status == "I":
        raise NoActiveSqlTransaction("RELEASE SAVEPOINT can only be used in transaction blocks")
    name = _ident(u.name)
    i = _find_savepoint(s, name)
    if s.backend.dialect == "sqlite":
        await s._backend_call(f'RELEASE SAVEPOINT "{name}"')
    del s.savepoints[i:]
    return Outcome(tag="RELEASE")


async def _rollback_to(s: Session, u: Utility) -> Outcome:
    if s._status == "I":
        raise NoActiveSqlTransaction("ROLLBACK TO SAVEPOINT can only be used in transaction blocks")
    name = _ident(u.name)
    i = _find_savepoint(s, name)
    writes_before = s.savepoints[i][1]
    if s.backend.dialect == "sqlite":
        await s._backend_call(f'ROLLBACK TO SAVEPOINT "{name}"')
    elif s.writes != writes_before:
        raise FeatureNotSupported("DuckDB databases cannot roll back to a savepoint after writing",
                                  hint="Roll back the whole transaction.")
    elif s._status == "E":
        if s.writes:
            raise FeatureNotSupported("DuckDB databases cannot recover a failed transaction that wrote data",
                                      hint="Roll back the whole transaction.")
        # nothing written: a fresh transaction is the state the savepoint saw
        await s._backend_call("ROLLBACK")
        await s._backend_call("BEGIN")
    del s.savepoints[i + 1:]
    s._status = "T"
    return Outcome(tag="ROLLBACK")


def _ident(name: str) -> str:
    name = name.strip()
    if name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name.lower()


# --- settings --------------------------------------------------------------------------------


async def _set(s: Session, u: Utility) -> Outcome:
    value = None if u.values is None else ", ".join(u.values)
    s.settings.set(u.name, value, local=u.local, in_tx=s._status != "I")
    notices = []
    if u.local and s._status == "I":
        notices.append(Notice("SET LOCAL can only be used in transaction blocks", severity="WARNING", code="25P01"))
    return Outcome(tag="SET", notices=notices)


async def _set_transaction(s: Session, u: Utility) -> Outcome:
    if s._status == "I":
        return Outcome(tag="SET", notices=[Notice("SET TRANSACTION can only be used in transaction blocks",
                                                  severity="WARNING", code="25P01")])
    if u.isolation:
        s.settings.set("transaction_isolation", u.isolation, in_tx=True)
    if u.read_only is not None:
        s.read_only_tx = u.read_only
        s.settings.set("transaction_read_only", "on" if u.read_only else "off", in_tx=True)
    return Outcome(tag="SET")


async def _set_characteristics(s: Session, u: Utility) -> Outcome:
    if u.isolation:
        s.settings.set("default_transaction_isolation", u.isolation, in_tx=s._status != "I")
    if u.read_only is not None:
        s.settings.set("default_transaction_read_only", "on" if u.read_only else "off", in_tx=s._status != "I")
    return Outcome(tag="SET")


async def _set_role(s: Session, u: Utility) -> Outcome:
    role = (u.values or ["default"])[0]
    if role.lower() not in ("default", "none") and role.strip('"') != s.user:
        raise InsufficientPrivilege(f'permission denied to set role "{role}"')
    return Outcome(tag="SET")


async def _reset(s: Session, u: Utility) -> Outcome:
    if u.name.lower() == "all":
        s.settings.reset_all()
    else:
        s.settings.set(u.name, None, in_tx=s._status != "I")
    return Outcome(tag="RESET")


async def _show(s: Session, u: Utility) -> Outcome:
    if u.name == "all":
        rows = s.settings.all_rows()
        return Outcome(tag=f"SHOW", columns=[Column("name", "text"), Column("setting", "text"),
                                             Column("description", "text")], rows=rows)
    display, value = s.settings.show(u.name)
    return Outcome(tag="SHOW", columns=[Column(display, "text")], rows=[(value,)])


async def _discard(s: Session, u: Utility) -> Outcome:
    if u.name == "all":
        if s._status != "I":
            raise ActiveSqlTransaction("DISCARD ALL cannot run inside a transaction block")
        s.settings.reset_all()
        s.cursors.clear()
        s.sql_prepared.clear()
    return Outcome(tag=u.tag)


async def _deallocate(s: Session, u: Utility) -> Outcome:
    if u.name == "all":
        s.sql_prepared.clear()
    else:
        s.sql_prepared.pop(u.name, None)  # protocol-level statements live in the wire layer
    return Outcome(tag=u.tag)


async def _prepare(s: Session, u: Utility) -> Outcome:
    if u.name in s.sql_prepared:
        raise DuplicatePreparedStatement(f'prepared statement "{u.name}" already exists')
    s.sql_prepared[u.name] = await s.prepare(u.query, u.columns)
    return Outcome(tag="PREPARE")


async def _execute(s: Session, u: Utility) -> Outcome:
    prepared = s.sql_prepared.get(u.name)
    if prepared is None:
        raise InvalidSqlStatementName(f'prepared statement "{u.name}" does not exist')
    values = _literal_values(u.query) if u.query.strip() else []
    return await s.execute(prepared, values)


def _literal_values(text: str) -> list[Any]:
    try:
        select = sqlglot.parse_one(f"SELECT {text}", read="postgres")
    except sqlglot.errors.ParseError as e:
        raise SyntaxError_(f"syntax error in EXECUTE parameters: {text}") from e
    out: list[Any] = []
    for item in select.expressions:
        node = item.this if isinstance(item, exp.Cast) else item
        if isinstance(node, exp.Null):
            out.append(None)
        elif isinstance(node, exp.Boolean):
            out.append(bool(node.this))
        elif isinstance(node, exp.Literal):
            if node.is_string:
                out.append(str(node.this))
            else:
                text_value = str(node.this)
                out.append(float(text_value) if any(c in text_value for c in ".eE") else int(text_value))
        elif isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            v = str(node.this.this)
            out.append(-(float(v) if "." in v else int(v)))
        else:
            raise FeatureNotSupported("EXECUTE parameters must be constants in askgres")
    return out


async def _refuse_notify(s: Session, u: Utility) -> Outcome:
    raise FeatureNotSupported(f"{u.tag} is not supported by askgres",
                              hint="askgres has no asynchronous notifications; poll instead.")


async def _lock(s: Session, u: Utility) -> Outcome:
    if s._status == "I":
        raise NoActiveSqlTransaction("LOCK TABLE can only be used in transaction blocks")
    return Outcome(tag="LOCK TABLE")


async def _checkpoint(s: Session, u: Utility) -> Outcome:
    if s.backend.dialect == "duckdb":
        await s._backend_call("CHECKPOINT")
    return Outcome(tag="CHECKPOINT")


async def _load(s: Session, u: Utility) -> Outcome:
    raise FeatureNotSupported("LOAD is not supported by askgres")


# --- cursors and COPY ----------------------------------------------------------------------


async def _query_rows(s: Session, query: str) -> Outcome:
    plan = await s._plan(query)
    if not plan.info.returns_rows:
        raise SyntaxError_("cursor query must return rows")
    return await s._run_plan(plan, [])


async def _declare(s: Session, u: Utility) -> Outcome:
    if s._status == "I" and not u.hold:
        raise NoActiveSqlTransaction("DECLARE CURSOR can only be used in transaction blocks")
    if u.name in s.cursors:
        raise DuplicateCursor(f'cursor "{u.name}" already exists')
    out = await _query_rows(s, u.query)
    cursor = Cursor(u.name, out.columns or [], [], hold=u.hold, statement=s.current_text, created=time.time(),
                    scroll=u.scroll)
    if isinstance(out.rows, list):
        cursor.rows = out.rows
    else:
        cursor.source = RowSource(out.rows)
        if u.hold:
            await cursor.read_to(None)
    s.cursors[u.name] = cursor
    return Outcome(tag="DECLARE CURSOR")


async def _fetch(s: Session, u: Utility) -> Outcome:
    cur = s.cursors.get(u.name)
    if cur is None:
        raise InvalidCursorName(f'cursor "{u.name}" does not exist')
    rows: list[tuple[Any, ...]] = []
    if u.direction == "forward":
        await cur.read_to(None if u.count is None else cur.pos + u.count)
        n = cur.known  # all of them, or at least pos + count
        count = n - cur.pos if u.count is None else u.count
        rows = cur.slice(cur.pos, cur.pos + count)
        cur.pos = min(n + 1, cur.pos + count) if cur.pos + count > n else cur.pos + count
        cur.forget_behind()
    elif u.direction == "backward":
        count = cur.pos - 1 if u.count is None else u.count
        start = max(0, cur.pos - 1 - count)
        rows = list(reversed(cur.slice(start, max(0, cur.pos - 1))))
        cur.pos = max(0, cur.pos - count)
    elif u.direction in ("first", "last", "absolute", "relative"):
        target = 1 if u.direction == "first" else None
        if target is None and u.direction != "last":
            target = (u.count or 0) if u.direction == "absolute" else cur.pos + (u.count or 0)
        await cur.read_to(None if target is None or target < 0 else target)
        n = cur.known
        if target is None:
            target = n
        elif target < 0:
            target = n + 1 + target
        cur.pos = max(0, min(n + 1, target))
        rows = cur.slice(cur.pos - 1, cur.pos) if 1 <= cur.pos <= n else []
    if u.kind == "move":
        return Outcome(tag=f"MOVE {len(rows)}")
    return Outcome(tag=f"FETCH {len(rows)}", columns=cur.columns, rows=rows)


async def _close(s: Session, u: Utility) -> Outcome:
    if u.name == "all":
        s.cursors.clear()
    elif s.cursors.pop(u.name, None) is None:
        raise InvalidCursorName(f'cursor "{u.name}" does not exist')
    return Outcome(tag="CLOSE CURSOR")


async def _copy(s: Session, u: Utility) -> Outcome:
    if u.query:
        query = u.query
    else:
        cols = ", ".join(f'"{c}"' for c in u.columns) if u.columns else "*"
        query = f"SELECT {cols} FROM {u.name}"
    out = await _query_rows(s, query)
    rows = out.rows  # a long result stays streamed: its tag counts the rows sent
    tag = f"COPY {len(rows)}" if isinstance(rows, list) else ""
    return Outcome(tag=tag, columns=out.columns or [], rows=rows, copy_out=True)


_HANDLERS = {
    "begin": _begin, "commit": _commit, "rollback": _rollback, "savepoint": _savepoint, "release": _release,
    "rollback_to": _rollback_to, "set": _set, "set_transaction": _set_transaction,
    "set_characteristics": _set_characteristics, "set_role": _set_role, "reset": _reset, "show": _show,
    "discard": _discard, "deallocate": _deallocate, "prepare": _prepare, "execute": _execute,
    "listen": _refuse_notify, "notify": _refuse_notify, "unlisten": _refuse_notify, "declare": _declare,
    "fetch": _fetch, "move": _fetch, "close": _close, "copy": _copy, "lock": _lock, "checkpoint": _checkpoint,
    "load": _load,
}


# --- catalog support -------------------------------------------------------------------------


def _constraint_names(table: str, ddl: str, names: ConstraintNames) -> None:
    for kind, cols, name in constraint_names(ddl):
        _keep_name(names, table, kind, cols, name)


def _keep_name(names: ConstraintNames, table: str, kind: str, cols: tuple[str, ...], name: str) -> None:
    if kind == "p":
        names.primary[table.lower()] = name
    else:
        names.foreign[(table.lower(), cols)] = name


def backend_extras(backend: Backend) -> tuple[list[IndexInfo], ConstraintNames]:
    """What the connector's introspection does not report: indexes other than primary
    keys, and constraint names (SQLite keeps its ``CONSTRAINT name`` clauses). Blocking."""
    conn = backend.connect(read_only=True)
    out: list[IndexInfo] = []
    names = ConstraintNames()
    try:
        if backend.dialect == "sqlite":
            res = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL")
            for table, ddl in res.rows:
                _constraint_names(str(table), str(ddl), names)
            res = conn.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            for name, table, sql in res.rows:
                info = conn.execute(f"PRAGMA index_info(\"{str(name).replace(chr(34), chr(34) * 2)}\")")
                cols = [str(r[2]) for r in sorted(info.rows, key=lambda r: r[0]) if r[2] is not None]
                unique = bool(re.match(r"\s*create\s+unique", str(sql), re.IGNORECASE))
                out.append(IndexInfo(str(name), str(table), cols, unique))
        else:
            res = conn.execute("SELECT index_name, table_name, is_unique, expressions FROM duckdb_indexes() "
                               "WHERE schema_name = 'main'")
            for name, table, unique, expressions in res.rows:
                text = str(expressions or "").strip("[]")
                cols = [c.strip().strip('"') for c in text.split(",") if c.strip()]
                out.append(IndexInfo(str(name), str(table), cols, bool(unique)))
            for table, kind, cols, name in meta_rows(conn, "constraint_names", "table_name, kind, columns, name"):
                key = tuple(c.strip().lower() for c in str(cols).split(",") if c.strip())
                _keep_name(names, str(table), str(kind), key, str(name))
    except PgError as e:
        log.warning("catalog.indexes_unavailable", db=backend.name, error=e.message)
    finally:
        conn.close()
    return out, names


def fill_temp(cursor: Any, name: str, rows: list[tuple[Any, ...]]) -> None:
    from gateway.catalog import insert_rows
    from gateway.catalog_tables import SESSION_TABLES, duck_type

    cursor.execute(f'DELETE FROM temp.main."{name}"')
    insert_rows(cursor, f'temp.main."{name}"', [(c, duck_type(t)) for c, t in SESSION_TABLES[name]], rows)


def cursor_rows(s: Session) -> list[tuple[Any, ...]]:
    """``pg_cursors``: the session's open cursors."""
    import datetime as dt

    return [(c.name, c.statement, c.hold, False, True, dt.datetime.fromtimestamp(c.created, tz=dt.timezone.utc))
            for c in s.cursors.values()]


def activity_rows(engine: GatewayEngine) -> list[tuple[Any, ...]]:
    """``pg_stat_activity``: one row per session of the engine."""
    import datetime as dt

    rows: list[tuple[Any, ...]] = []
    now = time.time()
    for s in list(engine.sessions.values()):
        started = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc)
        state = {"I": "idle", "T": "idle in transaction", "E": "idle in transaction (aborted)"}[s.tx_status]
        if s._busy:
            state = "active"
        rows.append((16000 + engine.databases().index(s.database), s.database, s.pid, None, 10, s.user,
                     s.settings.get_or_none("application_name") or "", "127.0.0.1", None, None, started, None,
                     started, started, None, None, state, None, None, None, s.current_text, "client backend"))
    return rows
