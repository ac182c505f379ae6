"""SQL on the ``askgres`` schema: the state store seen from any client.

* ``SELECT ... FROM askgres.failures | asks | pairs | training_runs | models``: any query
  over those tables, run read-only on the state SQLite (the ``askgres.`` prefix stripped
  by sqlglot). Open to every user.
* ``SELECT askgres.feedback('wrong' [, 'correct SQL'])``: marks the session's last
  answered question wrong (see :mod:`nl2sql.failures`). Open to every user.
* ``UPDATE askgres.pairs SET status = 'approved' [, sql = ..., question = ..., note = ...]
  WHERE ...``, ``INSERT INTO askgres.pairs (database, question, sql) VALUES (...)``,
  ``DELETE FROM askgres.pairs WHERE ...``: admins only (others get 42501). Updates set
  ``reviewed_by`` and ``updated_at``; approvals reach the example index at once.

Nothing else goes through this path: no other table, no other statement.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sqlglot
import structlog
from sqlglot import exp
from sqlglot.errors import SqlglotError

from connectors.base import Backend, Column
from connectors.sqlite_functions import install as install_functions
from gateway.api import Notice, Outcome
from gateway.errors import (
    DataException,
    FeatureNotSupported,
    InsufficientPrivilege,
    PgError,
    QueryCanceled,
    SyntaxError_,
    UndefinedFunction,
    UndefinedObject,
    UndefinedTable,
)
from nl2sql.failures import NothingToMark, mark_wrong
from nl2sql.store import DDL, Store
from nl2sql.validate import ValidationError, check_read_only, parse_query

log = structlog.get_logger("askgres.admin")

SCHEMA = "askgres"
READABLE = frozenset({"failures", "asks", "pairs", "training_runs", "models"})
WRITABLE = "pairs"
PAIR_EDITABLE = frozenset({"status", "sql", "question", "note", "database"})
PAIR_INSERTABLE = frozenset({"database", "question", "sql", "status", "note"})
STATUSES = frozenset({"pending", "approved", "rejected"})
READ_TIMEOUT_S = 10.0

_MENTION = re.compile(r'\b"?askgres"?\s*\.\s*"?[A-Za-z_]', re.IGNORECASE)
_STRINGS_COMMENTS = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.DOTALL)


def names_askgres(sql: str) -> bool:
    """True when ``sql`` (outside strings and comments) names the ``askgres`` schema."""
    if "askgres" not in sql.lower():
        return False
    return _MENTION.search(_STRINGS_COMMENTS.sub(" ", sql)) is not None


@dataclass
class AdminContext:
    """Who asks, and the hooks the admin path needs from the service."""

    store: Store
    backends: dict[str, Backend]
    session_id: str
    user: str
    is_admin: bool
    database: str = ""
    on_pairs_changed: Callable[[], None] | None = None
    last_context: Callable[[str], dict[str, Any] | None] | None = None
    notices: list[Notice] = field(default_factory=list)


@lru_cache(maxsize=256)
def _parse(sql: str) -> exp.Expression:
    try:
        statements = [s for s in sqlglot.parse(sql, read="postgres") if s is not None]
    except SqlglotError as e:
        raise SyntaxError_(f"syntax error in askgres statement: {str(e).splitlines()[0]}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Expression):
        raise SyntaxError_("one statement at a time on the askgres schema")
    return statements[0]


def run(sql: str, ctx: AdminContext) -> Outcome:
    """Run one statement on the ``askgres`` schema (blocking: call it in an executor)."""
    tree = _parse(sql).copy()
    if tree.find(exp.Parameter, exp.Placeholder) is not None:
        raise FeatureNotSupported(f"parameters ($1, %s) are not supported in statements on the {SCHEMA} schema",
                                  hint="Write the values into the statement.")
    if isinstance(tree, (exp.Select, exp.SetOperation, exp.Subquery)):
        call = _feedback_call(tree)
        if call is not None:
            return _feedback(call, ctx)
        return _select(tree, ctx)
    if isinstance(tree, (exp.Update, exp.Insert, exp.Delete)):
        table = tree.find(exp.Table)
        name = table.name.lower() if table is not None else ""
        if table is None or table.db.lower() != SCHEMA or name != WRITABLE:
            target = f"{SCHEMA}.{name}" if table is not None and table.db else name or "?"
            raise InsufficientPrivilege(f"permission denied for table {target}",
                                        hint=f"Only {SCHEMA}.{WRITABLE} can be changed, by an admin.")
        if not ctx.is_admin:
            raise InsufficientPrivilege(f"permission denied for table {SCHEMA}.{WRITABLE}",
                                        hint="Reviewing training pairs needs an admin user.")
        if isinstance(tree, exp.Update):
            return _update(tree, ctx)
        if isinstance(tree, exp.Insert):
            return _insert(tree, ctx)
        return _delete(tree, ctx)
    raise FeatureNotSupported(f"{tree.key.upper()} is not supported on the {SCHEMA} schema",
                              hint=f"Use SELECT on {SCHEMA}.failures/pairs/... and UPDATE/INSERT/DELETE on {SCHEMA}.pairs.")


# -- reading -------------------------------------------------------------------------------


def _feedback_call(tree: exp.Expression) -> exp.Anonymous | None:
    for dot in tree.find_all(exp.Dot):
        if isinstance(dot.this, exp.Identifier) and dot.this.name.lower() == SCHEMA:
            fn = dot.expression
            if isinstance(fn, exp.Anonymous):
                if str(fn.this).lower() == "feedback":
                    return fn
                raise UndefinedFunction(f"function {SCHEMA}.{fn.this}() does not exist",
                                        hint=f"{SCHEMA}.feedback('wrong'[, 'correct SQL']) is the one function.")
    return None


def _strip_schema(tree: exp.Expression) -> None:
    """Point every table at the state store; anything outside ``askgres`` is refused."""
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise FeatureNotSupported(f"table functions are not supported on the {SCHEMA} schema")
        name = table.name.lower()
        if not table.db and name in ctes:
            continue
        if table.db.lower() != SCHEMA or table.args.get("catalog") is not None:
            raise InsufficientPrivilege(
                f"permission denied for relation {table.sql()}",
                hint=f"Statements on the {SCHEMA} schema may only read {', '.join(sorted(READABLE))}.",
            )
        if name not in READABLE:
            raise UndefinedTable(f'relation "{SCHEMA}.{table.name}" does not exist')
        table.set("db", None)
        table.set("this", exp.to_identifier(name))


def _name_like_postgres(tree: exp.Expression) -> None:
    """Unnamed result columns get PostgreSQL's names: ``count``, ``max``, ``?column?``."""
    if not isinstance(tree, exp.Select):
        return
    for i, proj in enumerate(list(tree.expressions)):
        if isinstance(proj, (exp.Alias, exp.Column, exp.Star)):
            continue
        if isinstance(proj, exp.Func):
            name = str(proj.this).lower() if isinstance(proj, exp.Anonymous) else proj.sql_name().lower()
        else:
            name = "?column?"
        tree.expressions[i].replace(exp.alias_(proj.copy(), name, quoted=True))


def _read_only_connection(store: Store) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
    conn.execute("PRAGMA query_only = 1")
    return conn


@lru_cache(maxsize=1)
def _declared_types() -> dict[str, str]:
    """Column name -> PostgreSQL type, from the store's DDL (for columns with no value)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(DDL)
        out: dict[str, str] = {}
        for table in READABLE:
            for _cid, name, decl, *_ in conn.execute(f"PRAGMA table_info({table})"):
                out.setdefault(name, {"INTEGER": "int8", "REAL": "float8"}.get(str(decl).upper(), "text"))
        return out
    finally:
        conn.close()


def _pg_type(values: list[Any], name: str = "") -> str:
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, int):
            return "int8"
        if isinstance(v, float):
            return "float8"
        if isinstance(v, bytes):
            return "bytea"
        return "text"
    return _declared_types().get(name, "text")


def _select(tree: exp.Expression, ctx: AdminContext) -> Outcome:
    try:
        check_read_only(tree)
    except ValidationError as e:
        raise InsufficientPrivilege(e.message) from None
    _strip_schema(tree)
    _name_like_postgres(tree)
    sql = tree.sql(dialect="sqlite")
    conn = _read_only_connection(ctx.store)
    function_errors = install_functions(conn)  # regexp (~), md5, split_part... as on user databases
    deadline = time.monotonic() + READ_TIMEOUT_S
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        cur = conn.execute(sql)
        rows = [tuple(r) for r in cur.fetchall()]
        names = [d[0] for d in cur.description or []]
    except sqlite3.OperationalError as e:
        if "interrupted" in str(e):
            raise QueryCanceled(f"canceling statement due to statement timeout ({READ_TIMEOUT_S:g}s)") from None
        raise function_errors.take() or _sqlite_error(e) from None
    except sqlite3.Error as e:
        raise function_errors.take() or _sqlite_error(e) from None
    finally:
        conn.close()
    columns = [Column(n, _pg_type([r[i] for r in rows], n)) for i, n in enumerate(names)]
    return Outcome(tag=f"SELECT {len(rows)}", columns=columns, rows=rows)


def _sqlite_error(e: sqlite3.Error) -> PgError:
    msg = str(e)
    if "no such column" in msg:
        from gateway.errors import UndefinedColumn

        return UndefinedColumn(msg.replace("no such column", "column does not exist"))
    if "no such table" in msg:
        return UndefinedTable(msg)
    return SyntaxError_(msg)


# -- feedback ------------------------------------------------------------------------------


def _literal(node: exp.Expression | None, what: str) -> Any:
    if node is None:
        return None
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else (float(node.this) if "." in node.this else int(node.this))
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -_literal(node.this, what)
    raise DataException(f"{what}: only literal values are accepted here, not {node.sql()}")


def _feedback(call: exp.Anonymous, ctx: AdminContext) -> Outcome:
    args = list(call.expressions)
    if not args or len(args) > 2:
        raise UndefinedFunction(f"function {SCHEMA}.feedback() takes 'wrong' and optionally the correct SQL")
    verdict = str(_literal(args[0], "feedback") or "").strip().lower()
    if verdict != "wrong":
        raise DataException(f"unknown feedback {verdict!r}: use {SCHEMA}.feedback('wrong'[, 'correct SQL'])")
    correct = _literal(args[1], "correct SQL") if len(args) > 1 else None
    if correct is not None:
        correct = str(correct).strip().rstrip(";").strip() or None
    context = ctx.last_context(ctx.session_id) if ctx.last_context else None
    if correct is not None:
        database = (context or {}).get("database") or ctx.database
        _check_pair_sql(correct, database, ctx)
    try:
        failure_id, pair_id, ask = mark_wrong(
            ctx.store, session_id=ctx.session_id, correct_sql=correct, user=ctx.user, context=context,
        )
    except NothingToMark as e:
        raise UndefinedObject(str(e), hint="Ask a question (-- ask: ...) first; feedback marks the last answer.") from None
    message = f"Marked the answer to \"{ask['question']}\" as wrong (failure {failure_id})"
    if pair_id is not None:
        message += f"; the correct SQL awaits review as pair {pair_id}"
    return Outcome(
        tag="SELECT 1",
        columns=[Column("feedback", "text"), Column("failure_id", "int8"), Column("pair_id", "int8")],
        rows=[(message, failure_id, pair_id)],
        notices=[Notice(message + ".")],
    )


# -- writing pairs -------------------------------------------------------------------------


def _check_pair_sql(sql: str, database: str, ctx: AdminContext) -> None:
    """A pair's SQL must be one read-only query in its database's dialect."""
    backend = ctx.backends.get(database)
    dialect = backend.dialect if backend is not None else "sqlite"
    try:
        check_read_only(parse_query(sql, dialect))
    except ValidationError as e:
        raise SyntaxError_(f"the pair's SQL is not a valid read-only query: {e.message}") from None


def _where_sql(tree: exp.Expression) -> str:
    where = tree.args.get("where")
    if where is None:
        return "1 = 1"
    cond = where.this.copy()
    _strip_schema(cond)
    for col in cond.find_all(exp.Column):
        if col.table.lower() in (SCHEMA, WRITABLE) or col.args.get("db") is not None:
            col.set("db", None)
            col.set("table", None)
    return str(cond.sql(dialect="sqlite"))


def _update(tree: exp.Update, ctx: AdminContext) -> Outcome:
    sets: dict[str, Any] = {}
    for assignment in tree.expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise FeatureNotSupported("UPDATE askgres.pairs takes SET column = value")
        column = assignment.this.name.lower()
        if column not in PAIR_EDITABLE:
            raise InsufficientPrivilege(f"column {column} of {SCHEMA}.{WRITABLE} cannot be changed",
                                        hint=f"Editable: {', '.join(sorted(PAIR_EDITABLE))}.")
        sets[column] = _literal(assignment.expression, column)
    if "status" in sets and sets["status"] not in STATUSES:
        raise DataException(f"status must be one of {', '.join(sorted(STATUSES))}")
    for key in ("sql", "question", "database"):
        if key in sets and not (isinstance(sets[key], str) and sets[key].strip()):
            raise DataException(f"{key} must be a non-empty string")
    if "sql" in sets:
        sets["sql"] = sets["sql"].strip().rstrip(";").strip()
    where = _where_sql(tree)
    now = ctx.store.now()
    with ctx.store.tx() as c:
        rows = c.execute(f"SELECT id, database, sql, status, failure_id FROM pairs WHERE {where}").fetchall()
        for row in rows:
            status = sets.get("status", row["status"])
            if status == "approved":
                _check_pair_sql(sets.get("sql", row["sql"]), sets.get("database", row["database"]), ctx)
        values = {**sets, "reviewed_by": ctx.user, "updated_at": now}
        assign = ", ".join(f"{k} = ?" for k in values)
        ids = [int(r["id"]) for r in rows]
        for pid in ids:
            c.execute(f"UPDATE pairs SET {assign} WHERE id = ?", (*values.values(), pid))
        for row in rows:
            if sets.get("status", row["status"]) == "approved" and row["failure_id"] is not None:
                c.execute("UPDATE failures SET correct_sql = ? WHERE id = ?",
                          (sets.get("sql", row["sql"]), row["failure_id"]))
    log.info("admin.pairs_updated", user=ctx.user, ids=ids, set=sorted(sets))
    _changed(ctx)
    return Outcome(tag=f"UPDATE {len(ids)}")


def _insert(tree: exp.Insert, ctx: AdminContext) -> Outcome:
    target = tree.this
    if not isinstance(target, exp.Schema):
        raise FeatureNotSupported(f"INSERT INTO {SCHEMA}.pairs needs a column list: (database, question, sql)")
    columns = [c.name.lower() for c in target.expressions]
    unknown = [c for c in columns if c not in PAIR_INSERTABLE]
    if unknown:
        raise InsufficientPrivilege(f"column {unknown[0]} of {SCHEMA}.pairs cannot be set",
                                    hint=f"Columns: {', '.join(sorted(PAIR_INSERTABLE))}.")
    missing = {"database", "question", "sql"} - set(columns)
    if missing:
        raise DataException(f"INSERT INTO {SCHEMA}.pairs needs {', '.join(sorted(missing))}")
    values = tree.expression
    if not isinstance(values, exp.Values):
        raise FeatureNotSupported(f"INSERT INTO {SCHEMA}.pairs takes VALUES (...)")
    now = ctx.store.now()
    records = []
    for tup in values.expressions:
        items = tup.expressions if isinstance(tup, exp.Tuple) else [tup]
        if len(items) != len(columns):
            raise DataException("INSERT has a different number of values than columns")
        rec = {col: _literal(v, col) for col, v in zip(columns, items)}
        rec.setdefault("status", "approved")
        if rec["status"] not in STATUSES:
            raise DataException(f"status must be one of {', '.join(sorted(STATUSES))}")
        if rec["database"] not in ctx.backends:
            raise UndefinedObject(f'database "{rec["database"]}" does not exist')
        rec["sql"] = str(rec["sql"]).strip().rstrip(";").strip()
        if not str(rec["question"]).strip():
            raise DataException("question must be a non-empty string")
        _check_pair_sql(rec["sql"], rec["database"], ctx)
        records.append(rec)
    ids = []
    with ctx.store.tx() as c:
        for rec in records:
            cur = c.execute(
                "INSERT INTO pairs (created_at, updated_at, database, question, sql, source, status, reviewed_by, note) "
                "VALUES (?, ?, ?, ?, ?, 'admin', ?, ?, ?)",
                (now, now, rec["database"], str(rec["question"]).strip(), rec["sql"], rec["status"], ctx.user,
                 str(rec.get("note") or "")),
            )
            ids.append(int(cur.lastrowid or 0))
    log.info("admin.pairs_inserted", user=ctx.user, ids=ids)
    _changed(ctx)
    return Outcome(tag=f"INSERT 0 {len(ids)}")


def _delete(tree: exp.Delete, ctx: AdminContext) -> Outcome:
    where = _where_sql(tree)
    with ctx.store.tx() as c:
        n = c.execute(f"DELETE FROM pairs WHERE {where}").rowcount
    log.info("admin.pairs_deleted", user=ctx.user, n=n)
    _changed(ctx)
    return Outcome(tag=f"DELETE {max(n, 0)}")


def _changed(ctx: AdminContext) -> None:
    if ctx.on_pairs_changed is not None:
        ctx.on_pairs_changed()
