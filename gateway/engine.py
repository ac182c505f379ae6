"""The SQL engine: :class:`GatewayEngine` (one per server) and :class:`Session` (one per
client), implementing :mod:`gateway.api`.

A statement goes through: question? (``-- ask:``) -> the asker; aborted transaction? ->
25P02 unless it ends the transaction; utility (BEGIN, SET, SHOW, DECLARE, COPY...) ->
answered here (:mod:`gateway.utility`); ``askgres.*`` -> the asker's admin SQL; otherwise
parsed once (cached), session functions folded (``version()``, ``current_setting``...),
then run on the shadow catalog when it names catalog relations or functions, else
translated and run on the session's backend connection.

Blocking calls run in the engine's thread pool, one at a time per session, under the
statement timeout; :meth:`Session.cancel` interrupts the running one (57014).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import structlog
from sqlglot import exp

from connectors.base import Backend, Column, Connection, Result
from gateway import catalog as cat
from gateway import catalog_data as cd
from gateway import literals, utility
from gateway.api import Asker, Outcome, Prepared, TxStatus
from gateway.config import Settings
from gateway.errors import (
    FeatureNotSupported,
    InFailedTransaction,
    InternalError,
    InvalidCatalogName,
    PgError,
    QueryCanceled,
    ReadOnlyTransaction,
    SyntaxError_,
)
from gateway.functions import SessionInfo, fold_session_functions
from gateway.guc import SessionSettings
from gateway.plans import PLAN_CACHE, DatabaseState, Handle, Plan, as_described, outcome_from_answer
from gateway.parsecache import ParseCache, SimplePlans
from gateway.casts import assigned_parameter, check_assignments, compared_parameter
from gateway.grouping import check_grouping
from gateway.params import (
    SchemaIndex,
    name_insert_columns,
    short_insert_table,
    expression_typer,
    infer_param_types,
    result_columns,
    typed_by_params,
)
from gateway.quickread import QuickReads
from gateway.sqlsplit import split_statements, strip_comments
from gateway.statements import Utility, classify
from gateway.dialects import compared_parameters
from gateway.translate import (
    ISO_STAMP,
    add_pg_output_names,
    command_tag,
    param_number,
    parse,
    statement_info,
    to_backend,
)

from nl2sql.intercept import extract_question

log = structlog.get_logger("askgres.engine")
T = TypeVar("T")

_CATALOG_INDEX = SchemaIndex(cd.catalog_schema())


class GatewayEngine:
    """One per server: the databases, their schemas and catalogs, the thread pool.

    The backends belong to whoever opened them (the server closes them after
    :meth:`close`)."""

    def __init__(self, settings: Settings, backends: dict[str, Backend], *, asker: Asker | None = None,
                 sessions: tuple[int, int] = (0, 1)) -> None:
        """``sessions``: (this worker's index, number of workers); session ids are
        ``1000 + index + k * workers``, distinct across the workers of a port."""
        self.settings = settings
        self.backends = backends
        self.asker = asker
        workers = max(8, min(settings.max_connections, 64) + 4)
        self.quick = QuickReads()
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="askgres-sql")
        self.dbs: dict[str, DatabaseState] = {}
        self.sessions: dict[int, Session] = {}
        self.pids = itertools.count(1000 + sessions[0], max(1, sessions[1]))
        self.started = time.time()

    def databases(self) -> list[str]:
        return sorted(self.backends)

    def open_session(self, *, database: str, user: str, is_admin: bool) -> Session:
        backend = self.backends.get(database)
        if backend is None:
            raise InvalidCatalogName(f'database "{database}" does not exist')
        state = self.dbs.get(database)
        if state is None:
            state = self.dbs[database] = DatabaseState(backend)
        session = Session(self, state, database=database, user=user, is_admin=is_admin)
        self.sessions[session.pid] = session
        return session

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            with contextlib.suppress(Exception):
                await session.close()
        for state in self.dbs.values():
            if state.shadow is not None:
                state.shadow.close()
                state.shadow = None
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def run_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    # -- schema and catalog -------------------------------------------------------------------
    async def schema_index(self, state: DatabaseState) -> SchemaIndex:
        if state.schema is None:
            async with state.lock:
                if state.schema is None:
                    generation = state.generation
                    t0 = time.perf_counter()
                    schema = await self.run_blocking(state.backend.introspect, samples=0)
                    if generation == state.generation:
                        state.schema = schema
                        state.index = SchemaIndex(schema)
                    log.info("engine.introspected", db=state.backend.name, tables=len(schema.tables),
                             ms=round((time.perf_counter() - t0) * 1000, 1))
        return state.index

    async def shadow(self, state: DatabaseState) -> cat.ShadowCatalog:
        index = await self.schema_index(state)
        if state.shadow is None or state.shadow_generation != state.generation:
            async with state.lock:
                if state.shadow is None or state.shadow_generation != state.generation:
                    generation = state.generation
                    t0 = time.perf_counter()
                    assert index.schema is not None
                    indexes, names = await self.run_blocking(utility.backend_extras, state.backend)
                    shadow = await self.run_blocking(
                        cat.ShadowCatalog, database=state.backend.name, schema=index.schema,
                        databases=self.databases(), users=sorted(self.settings.users), indexes=indexes, names=names)
                    old, state.shadow, state.shadow_generation = state.shadow, shadow, generation
                    if old is not None:
                        old.close()
                    log.info("catalog.built", db=state.backend.name, ms=round((time.perf_counter() - t0) * 1000, 1))
        assert state.shadow is not None
        return state.shadow


# --- a session --------------------------------------------------------------------------------


class Session:
    """One client's session. See the module docstring."""

    def __init__(self, engine: GatewayEngine, state: DatabaseState, *, database: str, user: str,
                 is_admin: bool) -> None:
        self.engine = engine
        self.state = state
        self.backend = state.backend
        self.database = database
        self.user = user
        self.is_admin = is_admin
        self.pid = next(engine.pids)
        self.session_id = f"{database}:{self.pid}"
        self.settings = SessionSettings(user=user, is_admin=is_admin, overrides={
            "port": str(engine.settings.port), "max_connections": str(engine.settings.max_connections),
            "listen_addresses": engine.settings.host})
        self.info = SessionInfo(database=database, user=user, pid=self.pid, settings=self.settings,
                                server_host=engine.settings.host, server_port=engine.settings.port,
                                started=engine.started)
        self._status: TxStatus = "I"
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()
        self._busy = False
        self._ask_cancel: threading.Event | None = None
        """Set by :meth:`cancel` while a question is being answered."""
        self._cursor: Any = None  # the session's cursor on the shadow catalog
        self._cursor_shadow: cat.ShadowCatalog | None = None
        self._settings_version = -1
        self.cursors: dict[str, utility.Cursor] = {}
        self.sql_prepared: dict[str, Prepared] = {}
        self.parsed = ParseCache()  # Parse results of plain SQL, reused (gateway.parsecache)
        self.simple_plans = SimplePlans()  # plain statements by literal template (gateway.parsecache)
        self.savepoints: list[tuple[str, int]] = []  # (name, writes before it)
        self.writes = 0  # statements that wrote in the current transaction
        self.ddl_in_tx = False  # the schema changed in the open transaction
        self.read_only_tx = False
        self.query_started: float | None = None
        self.current_query = ""  # backend SQL running now
        self.current_text = ""  # the client's statement running now
        self.closed = False

    # -- api.SessionEngine ----------------------------------------------------------------
    @property
    def tx_status(self) -> TxStatus:
        return self._status

    def parameter_status(self) -> dict[str, str]:
        return self.settings.reportable()

    def describe_cursor(self, name: str) -> list[Column] | None:
        """The columns of a DECLAREd cursor (a client's Describe Portal on its name), or
        ``None`` when there is no such cursor."""
        cur = self.cursors.get(name)
        return cur.columns if cur is not None else None

    def cancel(self) -> None:
        ask = self._ask_cancel
        if ask is not None:
            ask.set()
        conn = self._conn
        if conn is not None and self._busy:
            conn.interrupt()
        cursor = self._cursor
        if cursor is not None and self._busy:
            with contextlib.suppress(Exception):
                cursor.interrupt()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.engine.sessions.pop(self.pid, None)
        self.cancel()  # a statement still running ends now; wait for its thread to let go
        try:
            await asyncio.wait_for(self._lock.acquire(), timeout=10)
            locked = True
        except asyncio.TimeoutError:
            locked = False
        try:
            conn, self._conn = self._conn, None
            cursor, self._cursor = self._cursor, None
            if conn is not None:
                def release() -> None:
                    if self._status != "I":
                        with contextlib.suppress(Exception):
                            conn.execute("ROLLBACK")
                    conn.close()

                with contextlib.suppress(Exception):
                    await self.engine.run_blocking(release)
            if cursor is not None:
                with contextlib.suppress(Exception):
                    cursor.close()
        finally:
            if locked:
                self._lock.release()

    async def run_simple(self, sql: str) -> list[Outcome]:
        try:
            return await self._run_simple(sql)
        except PgError:
            raise
        except Exception as e:
            raise self._bug(e) from e

    def run_simple_now(self, sql: str) -> Outcome | None:
        """The outcome of a simple-protocol query answered at once (a quick read, as
        :meth:`execute_now`): a statement whose text, constants aside, was planned
        before. ``None``: anything else, answered by :meth:`run_simple`."""
        if self.closed or self._status == "E":
            return None
        tpl = literals.template(sql)
        if tpl is None:
            return None
        text, values = tpl
        plan = self.simple_plans.get(text, self.state.generation)
        if plan is None or _has_stamp(values):
            return None
        self.current_text = sql
        return self._outcome_now(plan, values, None)

    async def _run_simple(self, sql: str) -> list[Outcome]:
        self._check_open()
        tpl = literals.template(sql)
        plan = None if tpl is None else self.simple_plans.get(tpl[0], self.state.generation)
        if plan is not None and tpl is not None and not _has_stamp(tpl[1]):
            self.current_text = sql
            try:
                self._check_not_aborted(None)
                return [await self._run_plan(plan, tpl[1])]
            except PgError as e:
                self._failed()
                e.context["done"] = []
                raise
        pieces = [p for p in split_statements(sql) if strip_comments(p).strip() or extract_question(p)]
        if not pieces:
            return [Outcome(tag="", is_empty=True)]
        outcomes: list[Outcome] = []
        implicit = len(pieces) > 1 and self._status == "I" and self._needs_implicit_tx(pieces)
        if implicit:
            await self._backend_call("BEGIN")
            self._status = "T"
        for piece in pieces:
            try:
                outcomes.append(await self._run_text(piece))
            except PgError as e:
                if implicit and self._status != "I":
                    await self._abort_implicit()
                e.context["done"] = outcomes
                raise
        if implicit and self._status == "T":
            await self._backend_call("COMMIT")
            self._status = "I"
            self._end_transaction(committed=True)
        return outcomes

    async def prepare(self, sql: str, param_types: Sequence[str | None]) -> Prepared:
        try:
            return await self._prepare(sql, param_types)
        except PgError:
            raise
        except Exception as e:
            raise self._bug(e) from e

    def prepare_now(self, sql: str, param_types: Sequence[str | None]) -> Prepared | None:
        """The statement as prepared before (the same text and parameter types, the schema
        unchanged), at once; ``None``: call :meth:`prepare`."""
        if self.closed or self._status == "E":
            return None
        reused = self.parsed.get(sql, param_types, self.state.generation)
        if reused is not None:
            self.current_text = reused.handle.text
        return reused

    async def _prepare(self, sql: str, param_types: Sequence[str | None]) -> Prepared:
        self._check_open()
        reused = self.parsed.get(sql, param_types, self.state.generation)
        if reused is not None:
            self.current_text = reused.handle.text
            try:
                self._check_not_aborted(None)
            except PgError:
                self._failed()
                raise
            return reused
        pieces = [p for p in split_statements(sql) if strip_comments(p).strip() or extract_question(p)]
        if not pieces:
            return Prepared(sql, [t or "text" for t in param_types], None, Handle("empty", sql), is_empty=True)
        if len(pieces) > 1:
            raise SyntaxError_("cannot insert multiple commands into a prepared statement")
        text = pieces[0]
        try:
            prepared = await self._prepare_text(sql, text, param_types)
        except PgError:
            self._failed()
            raise
        handle = prepared.handle
        if isinstance(handle, Handle) and handle.kind == "sql" and handle.plan is not None and not handle.plan.dynamic:
            self.parsed.put(sql, param_types, self.state.generation, prepared)
        return prepared

    async def execute(self, prepared: Prepared, params: Sequence[Any]) -> Outcome:
        try:
            return await self._execute(prepared, params)
        except PgError:
            raise
        except Exception as e:
            raise self._bug(e) from e

    def _bug(self, e: Exception) -> InternalError:
        """A bug must reach the client as an error (XX000), not a dropped connection: logged,
        the transaction failed."""
        log.exception("engine.internal_error", db=self.database)
        self._failed()
        return InternalError(f"internal error: {type(e).__name__}: {e}")

    def execute_now(self, prepared: Prepared, params: Sequence[Any]) -> Outcome | None:
        """The outcome of a prepared short read answered at once, on the calling thread (a
        quick read: :mod:`gateway.quickread`), or ``None``: anything else, or a read that
        turned out not to be short, goes through :meth:`execute`. Saves the coroutines
        and the generality of the full path for what pgbench and drivers repeat most:
        Bind/Execute of a point select."""
        handle = prepared.handle
        if self.closed or self._status == "E" or not isinstance(handle, Handle) or handle.kind != "sql":
            return None
        if handle.plan is None:
            return None
        return self._outcome_now(handle.plan, list(params), prepared.columns)

    def hot_reader(self, prepared: Prepared) -> Callable[[Sequence[Any]], list[Any] | None] | None:
        """For a prepared read that :meth:`execute_now` answered and that a driver runs over
        and over (pgbench ``-M prepared``): a function of the parameters that answers as
        :meth:`execute_now` does, with the rows of its outcome (in the columns Describe
        announced) or ``None`` (then :meth:`execute_now` runs it: a transaction in error,
        a busy session, a read that turned out long, an error to report); its command tag
        is ``SELECT`` and the row count. The checks that depend on the plan are made here, once; those that
        depend on the session, at every call. ``None``: not such a statement."""
        handle = prepared.handle
        columns = prepared.columns
        if not isinstance(handle, Handle) or handle.kind != "sql" or columns is None or self._conn is None:
            return None
        plan = handle.plan
        if plan is None or plan.dynamic or plan.route != "backend" or plan.backend is None or plan.backend.pre \
                or plan.info.verb != "SELECT" or plan.info.is_write or not plan.info.returns_rows:
            return None
        conn, sql, bind, n_params = self._conn, plan.backend.sql, plan.backend.bind, plan.n_params
        read = self.engine.quick.hot_reader(conn, sql, len(columns))
        if read is None:
            return None
        lock = self._lock
        compared = plan.compared

        def hot(params: Sequence[Any]) -> list[Any] | None:
            if self._conn is not conn or self.closed or self._status == "E" or lock.locked() \
                    or len(params) < n_params:
                return None
            self.current_query = sql
            if compared:
                try:
                    params = _compared(plan, params)
                except PgError:  # execute_now reports it
                    return None
            return read(bind(params))  # type: ignore[arg-type]

        return hot

    def _outcome_now(self, plan: Plan, params: list[Any], described: list[Column] | None) -> Outcome | None:
        """``plan`` run as a quick read when it can be (:meth:`execute_now`,
        :meth:`run_simple_now`); ``None``: not one."""
        if plan.dynamic or plan.route != "backend" or len(params) < plan.n_params:
            return None
        try:
            params = _compared(plan, params)
            result = self._quick_read(plan, params)
            if result is None:
                return None
            return self._outcome(plan, result, described)
        except PgError:
            self._failed()
            raise
        except Exception as e:
            raise self._bug(e) from e

    async def _execute(self, prepared: Prepared, params: Sequence[Any]) -> Outcome:
        self._check_open()
        handle = prepared.handle
        if prepared.is_empty or not isinstance(handle, Handle) or handle.kind == "empty":
            return Outcome(tag="", is_empty=True)
        try:
            if handle.kind == "ask":
                self._check_not_aborted(None)
                return await self._execute_question(prepared, handle)
            if handle.kind == "utility":
                assert handle.util is not None
                return await utility.run(self, handle.util, params=params)
            if handle.kind == "admin":
                self._check_not_aborted(None)
                if handle.outcome is not None:
                    out, handle.outcome = handle.outcome, None
                    return out
                return await self._admin(handle.text)
            assert handle.plan is not None
            self._check_not_aborted(None)
            return await self._run_plan(handle.plan, list(params), prepared.columns)
        except PgError:
            self._failed()
            raise

    # -- statements ------------------------------------------------------------------------
    async def _run_text(self, text: str) -> Outcome:
        self.current_text = text
        try:
            question = extract_question(text)
            if question is not None:
                self._check_not_aborted(None)
                return await self._ask(question)
            util = classify(text)
            if util is not None:
                return await utility.run(self, util)
            self._check_not_aborted(None)
            asker = self.engine.asker
            if asker is not None and asker.is_admin_sql(text):
                return await self._admin(text)
            plan, params = await self._plan_simple(text)
            return await self._run_plan(plan, params)
        except PgError:
            self._failed()
            raise

    async def _prepare_text(self, sql: str, text: str, param_types: Sequence[str | None]) -> Prepared:
        declared = [t or "text" for t in param_types]
        self.current_text = text
        question = extract_question(text)
        if question is not None:
            self._check_not_aborted(None)
            outcome = await self._ask(question)
            return Prepared(sql, declared, outcome.columns, Handle("ask", text, outcome=outcome))
        util = classify(text)
        if util is not None:
            columns = await utility.describe(self, util)
            return Prepared(sql, declared, columns, Handle("utility", text, util=util))
        self._check_not_aborted(None)
        asker = self.engine.asker
        if asker is not None and asker.is_admin_sql(text):
            first = strip_comments(text).strip().split(None, 1)[0].lower() if strip_comments(text).strip() else ""
            if first in ("select", "with", "table", "values", "show"):
                outcome = await self._admin(text)
                return Prepared(sql, declared, outcome.columns, Handle("admin", text, outcome=outcome))
            return Prepared(sql, declared, None, Handle("admin", text))
        plan = await self._plan(text)
        key = tuple(param_types)
        types = plan.param_types.get(key)
        if types is None:
            index = _CATALOG_INDEX if plan.route == "catalog" else self.state.index
            types = plan.param_types[key] = infer_param_types(plan.tree, param_types, index)
        if types and plan.route == "backend" and typed_by_params(plan.tree):
            plan = await self._typed_plan(plan, types)
        if len(types) in plan.described and not plan.dynamic:
            columns = plan.described[len(types)]
        else:
            columns = await self._describe(plan, len(types))
            if not plan.dynamic:
                plan.described[len(types)] = columns
        return Prepared(sql, list(types), columns, Handle("sql", text, plan=plan))

    async def _typed_plan(self, plan: Plan, types: list[str]) -> Plan:
        """``plan`` compiled for these parameter types (``"Milliseconds" / $1`` divides
        integers as integers, and its column is an integer, only when $1 is one)."""
        key = tuple(types)
        variant = plan.variants.get(key)
        if variant is None:
            variant = Plan(tree=plan.tree, info=plan.info, route=plan.route, dynamic=plan.dynamic,
                           n_params=plan.n_params, typed_params=list(types))
            if not plan.dynamic:
                await self._compile(variant, plan.tree)
            if plan.info.returns_rows:  # DuckDB cannot type a ``?`` it is only told at Execute
                variant.inferred = result_columns(plan.tree, self.state.index, types)
            plan.variants[key] = variant
        return variant

    async def _plan_simple(self, text: str) -> tuple[Plan, list[Any]]:
        """The plan of a simple-protocol statement: shared by all statements that differ
        only in their constants when that is safe (:mod:`gateway.literals`)."""
        tpl = literals.template(text)
        state = self.state
        if tpl is not None and tpl[0] not in state.no_template and not _has_stamp(tpl[1]):
            try:
                plan = await self._make_plan(tpl[0], template=len(tpl[1]))
            except PgError:
                plan = None
            if plan is not None:
                if not plan.dynamic:
                    self.simple_plans.put(tpl[0], state.generation, plan)
                return plan, tpl[1]
            if len(state.no_template) > PLAN_CACHE:
                state.no_template.clear()
            state.no_template.add(tpl[0])
        return await self._plan(text), []

    async def _plan(self, text: str) -> Plan:
        plan = await self._make_plan(text, template=0)
        assert plan is not None
        return plan

    async def _make_plan(self, text: str, *, template: int) -> Plan | None:
        """The plan of ``text``; ``template`` > 0: ``text`` is a literal template with that
        many parameters, and ``None`` means it must not be used as one."""
        state = self.state
        index = await self.engine.schema_index(state)
        key = (text, state.generation)
        plan = state.plans.get(key)
        if plan is not None:
            state.plans.move_to_end(key)
            return plan
        tree = parse(text)
        if template and not literals.values_only(tree, template):
            return None
        info = statement_info(tree)
        add_pg_output_names(tree)
        probe = tree.copy()
        dynamic = fold_session_functions(probe, self.info, dry_run=True)
        user_tables = set(index.tables)
        route = "catalog" if cat.references_catalog(tree, user_tables=user_tables) else "backend"
        if template and route == "catalog":
            return None
        if route == "catalog" and (info.is_write or info.is_ddl):
            raise FeatureNotSupported("the system catalogs of askgres cannot be modified")
        plan = Plan(tree=tree, info=info, route=route, dynamic=dynamic)
        plan.n_params = max([0, *[int(p.this.this) for p in tree.find_all(exp.Parameter)
                                  if isinstance(p.this, exp.Literal) and not p.this.is_string]])
        if not dynamic:
            await self._compile(plan, tree)
        if self.backend.dialect == "sqlite" and info.returns_rows and route == "backend":
            plan.inferred = result_columns(tree, index)
        if not dynamic:
            state.plans[key] = plan
            if len(state.plans) > PLAN_CACHE:
                state.plans.popitem(last=False)
        return plan

    async def _compile(self, plan: Plan, tree: exp.Expr) -> None:
        if plan.route == "catalog":
            shadow = await self.engine.shadow(self.state)
            plan.catalog_sql, plan.catalog_order, plan.session_tables = cat.to_catalog_sql(tree, shadow)
        else:
            short = short_insert_table(tree)
            if short is not None:
                name_insert_columns(tree, await self._table_columns(short[0]))
            if self.backend.dialect == "sqlite" and plan.info.is_write:  # SQLite stores whatever it is given
                plan.assigned = check_assignments(tree, self.state.index.table)
            elif self.backend.dialect == "sqlite" and plan.info.returns_rows:  # and answers ungrouped columns
                check_grouping(tree, self.state.index.table)
            typer = expression_typer(tree, self.state.index, plan.typed_params)
            # a simple query's text constants, bound as parameters: read as the type they are compared with
            plan.compared = compared_parameters(tree, typer, param_number)
            plan.backend = to_backend(tree, self.backend.dialect, output_names=False, typer=typer)

    async def _run_plan(self, plan: Plan, params: list[Any], described: list[Column] | None = None) -> Outcome:
        """``described``: the columns Describe announced (see :meth:`_outcome`)."""
        if len(params) < plan.n_params:  # a simple query naming $n (Bind checks its own count)
            raise PgError(f"there is no parameter ${len(params) + 1}", sqlstate="42P02")
        if plan.dynamic:  # session functions take this execution's values (and parameters)
            tree = plan.tree.copy()
            fold_session_functions(tree, self.info, params=params)
            compiled = Plan(tree=tree, info=plan.info, route=plan.route, dynamic=False, inferred=plan.inferred,
                            n_params=plan.n_params, typed_params=plan.typed_params)
            await self._compile(compiled, tree)
            plan = compiled
        params = _compared(plan, _read_params(params, plan.assigned, assigned_parameter))
        if plan.route == "catalog":
            result = await self._catalog_call(plan, params)
        else:
            if plan.info.is_write and (self.read_only_tx or self.settings.get("transaction_read_only") == "on"):
                raise ReadOnlyTransaction(f"cannot execute {plan.info.verb} in a read-only transaction")
            assert plan.backend is not None
            for pre in plan.backend.pre:
                await self._backend_call(pre)
            result = self._quick_read(plan, params) or await self._backend_call(plan.backend.sql,
                                                                               plan.backend.bind(params))
            if plan.info.is_write:
                self.writes += 1
            if plan.info.is_ddl:
                self.state.invalidate()
                self.ddl_in_tx = self._status != "I"
        return self._outcome(plan, result, described)

    @staticmethod
    def _outcome(plan: Plan, result: Result, described: list[Column] | None = None) -> Outcome:
        """``described``: the columns Describe announced, used when the run gives as many."""
        columns = result.columns
        if columns is not None and described is not None and len(described) == len(columns):
            columns = described
        elif columns is not None and plan.inferred is not None and len(plan.inferred) == len(columns):
            columns = [Column(c.name, inf.pg_type) if inf is not None else c for c, inf in zip(columns, plan.inferred)]
        if plan.info.returns_rows or (columns is not None and plan.info.verb == "SELECT"):
            if plan.info.verb in ("INSERT", "UPDATE", "DELETE"):  # RETURNING: the tag counts them all
                rows = result.all_rows()
                return Outcome(tag=command_tag(plan.info, len(rows)), columns=columns, rows=rows)
            count = len(result.rows) if isinstance(result.rows, list) else 0  # streamed: the tag counts what is sent
            return Outcome(tag=command_tag(plan.info, count), columns=columns or [], rows=result.rows)
        return Outcome(tag=command_tag(plan.info, result.rowcount))

    async def _describe(self, plan: Plan, n_params: int) -> list[Column] | None:
        """Result columns without running the statement (Describe before Execute)."""
        if not plan.info.returns_rows:
            return None
        dummy: list[Any] = [None] * max(n_params, plan.n_params)
        if plan.info.verb != "SELECT":
            cols = result_columns(plan.tree, self.state.index, plan.typed_params)
            return [c or Column("?column?", "text") for c in cols] if cols is not None else None
        if plan.dynamic:
            tree = plan.tree.copy()
            fold_session_functions(tree, self.info, dry_run=True)
            compiled = Plan(tree=tree, info=plan.info, route=plan.route, dynamic=False, typed_params=plan.typed_params)
            await self._compile(compiled, tree)
        else:
            compiled = plan
        if compiled.route == "catalog":
            assert compiled.catalog_sql is not None
            probe = Plan(tree=compiled.tree, info=compiled.info, route="catalog", dynamic=False,
                         catalog_sql=f"SELECT * FROM ({compiled.catalog_sql}) AS askgres_describe LIMIT 0",
                         catalog_order=compiled.catalog_order, session_tables=compiled.session_tables)
            result = await self._catalog_call(probe, dummy)
            return result.columns
        assert compiled.backend is not None
        sql = f"SELECT * FROM ({compiled.backend.sql}) AS askgres_describe LIMIT 0"
        result = await self._backend_call(sql, compiled.backend.bind(dummy))
        columns = result.columns or []
        names = _output_names(plan.tree)  # the wrapper query renamed repeated names (Name:1, Name_1)
        if names is not None and len(names) == len(columns):
            columns = [Column(n, c.pg_type) for n, c in zip(names, columns)]
        inferred = plan.inferred
        if inferred is None and self.backend.dialect == "sqlite":
            inferred = result_columns(plan.tree, self.state.index, plan.typed_params)
        if inferred is not None and len(inferred) == len(columns):
            columns = [Column(c.name, inf.pg_type) if inf is not None else c for c, inf in zip(columns, inferred)]
        return columns

    async def _table_columns(self, table: str) -> list[str]:
        """A table's column names as this session sees them (its own uncommitted DDL
        included, which introspection from another connection would miss)."""
        known = self.state.index.table(table)
        if known is not None and not self.ddl_in_tx:
            return [c.name for c in known.columns]
        quoted = '"' + table.replace('"', '""') + '"'
        sql = (f"PRAGMA table_info({quoted})" if self.backend.dialect == "sqlite"
               else f"SELECT column_name FROM (DESCRIBE {quoted})")
        try:
            result = await self._backend_call(sql)
        except PgError:
            return []
        return [str(r[1] if self.backend.dialect == "sqlite" else r[0]) for r in result.rows]

    # -- questions and admin SQL ---------------------------------------------------------------
    async def _execute_question(self, prepared: Prepared, handle: Handle) -> Outcome:
        """A prepared question's execution: the first returns the answer made at Parse (the
        model is asked once for Parse, Describe and Execute); each later one asks again, as
        the same text sent again would, so its rows are the data's of now and its SQL the
        active model's (drivers prepare what a session repeats: psycopg after five runs).
        An answer whose columns differ from those described is 0A000, as PostgreSQL says of
        a prepared statement whose result type changed."""
        if handle.outcome is not None:
            out, handle.outcome = handle.outcome, None
            return out
        question = extract_question(handle.text)
        assert question is not None
        out = await self._ask(question)
        fitted = as_described(list(prepared.columns or []), out)
        if fitted is None:
            got, described = [c.pg_type for c in out.columns or []], [c.pg_type for c in prepared.columns or []]
            raise FeatureNotSupported(
                "cached plan must not change result type",
                detail=f"the question was answered with {len(got)} column(s) ({', '.join(got)}), "
                       f"prepared with {len(described)} ({', '.join(described)})",
                hint="Prepare the question again.")
        return fitted

    async def _ask(self, question: str) -> Outcome:
        asker = self.engine.asker
        if asker is None:
            raise FeatureNotSupported(
                "questions (-- ask: ...) are not enabled on this server",
                hint="The ask pipeline (nl2sql) is not installed or failed to start; plain SQL still works.")
        cancel = self._ask_cancel = threading.Event()
        try:
            answer = await asker.answer(question, database=self.database, session_id=self.session_id,
                                        user=self.user, cancel=cancel)
        finally:
            self._ask_cancel = None
        return outcome_from_answer(answer)

    async def _admin(self, text: str) -> Outcome:
        asker = self.engine.asker
        assert asker is not None
        return await asker.admin_sql(text, database=self.database, session_id=self.session_id, user=self.user,
                                     is_admin=self.is_admin)

    # -- transactions ------------------------------------------------------------------------
    def _needs_implicit_tx(self, pieces: list[str]) -> bool:
        """Several statements in one Query run in one transaction (as in PostgreSQL) when
        none of them controls transactions itself and one of them writes."""
        writes = False
        for p in pieces:
            if extract_question(p) is not None:
                return False
            util = classify(p)
            if util is not None:
                if util.kind in ("begin", "commit", "rollback", "savepoint", "release", "rollback_to", "discard",
                                 "prepare", "execute", "declare"):
                    return False
                continue
            first = strip_comments(p).strip().split(None, 1)[0].lower()
            if first in ("insert", "update", "delete", "create", "drop", "alter", "with", "merge", "truncate"):
                writes = True
            if first in ("vacuum", "checkpoint", "attach", "detach", "pragma", "install", "load"):
                return False
        return writes

    async def _abort_implicit(self) -> None:
        with contextlib.suppress(PgError):
            await self._backend_call("ROLLBACK")
        self._status = "I"
        self._end_transaction(committed=False)

    def _check_open(self) -> None:
        if self.closed:
            raise PgError("the session is closed", sqlstate="08003")

    def _check_not_aborted(self, util: Utility | None) -> None:
        if self._status == "E" and (util is None or util.kind not in ("commit", "rollback", "rollback_to")):
            raise InFailedTransaction("current transaction is aborted, commands ignored until end of transaction block")

    def _failed(self) -> None:
        if self._status == "T":
            self._status = "E"

    def _end_transaction(self, *, committed: bool) -> None:
        self.settings.end_transaction(committed=committed)
        self.savepoints.clear()
        self.writes = 0
        if self.ddl_in_tx:  # introspection saw the schema from outside the transaction
            self.state.invalidate()
            self.ddl_in_tx = False
        self.read_only_tx = False
        for name in [n for n, c in self.cursors.items() if not c.hold]:
            del self.cursors[name]

    # -- blocking calls ----------------------------------------------------------------------
    def _timeout(self) -> float | None:
        t = self.settings.statement_timeout_s() or self.engine.settings.statement_timeout_s
        return t if t and t > 0 else None

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.backend.connect(read_only=self.backend.read_only)
            for stmt in utility.session_setup(self.backend.dialect):
                with contextlib.suppress(PgError):
                    conn.execute(stmt)
            self._conn = conn
        return self._conn

    def _quick_read(self, plan: Plan, params: list[Any]) -> Result | None:
        """A short read answered on the event loop (:mod:`gateway.quickread`); ``None``:
        run it in the executor."""
        conn, backend = self._conn, plan.backend
        if conn is None or backend is None or backend.pre or self._lock.locked() or self.closed \
                or plan.info.verb != "SELECT" or plan.info.is_write:
            return None
        self.current_query = backend.sql
        return self.engine.quick.try_read(conn, backend.sql, backend.bind(params))

    async def _call(self, fn: Callable[[], T]) -> T:
        async with self._lock:
            if self.closed:
                raise PgError("the session is closed", sqlstate="08003")
            self._busy = True
            fut = asyncio.get_running_loop().run_in_executor(self.engine.executor, fn)
            try:
                return await asyncio.shield(fut)
            except asyncio.CancelledError:
                self.cancel()
                with contextlib.suppress(BaseException):
                    await fut
                raise
            finally:
                self._busy = False

    async def _backend_call(self, sql: str, params: Sequence[Any] = ()) -> Result:
        timeout = self._timeout()
        self.current_query = sql

        def run() -> Result:
            conn = self._connection()
            return conn.execute(sql, list(params), timeout=timeout)

        t0 = time.perf_counter()
        try:
            return await self._call(run)
        except QueryCanceled:
            raise
        except PgError:
            raise
        except Exception as e:  # a connector bug must still reach the client as an error
            log.exception("engine.backend_error", db=self.database)
            raise InternalError(f"backend error: {e}") from e
        finally:
            self.query_started = None
            log.debug("engine.backend_call", db=self.database, ms=round((time.perf_counter() - t0) * 1000, 2))

    async def _catalog_call(self, plan: Plan, params: list[Any]) -> Result:
        shadow = await self.engine.shadow(self.state)
        assert plan.catalog_sql is not None
        bound = [params[i] for i in plan.catalog_order]
        sql = plan.catalog_sql
        tree = plan.tree
        activity = utility.activity_rows(self.engine) if "pg_stat_activity" in plan.session_tables else None
        cursors = utility.cursor_rows(self) if "pg_cursors" in plan.session_tables else None

        def run() -> Result:
            if self._cursor is None or self._cursor_shadow is not shadow:
                if self._cursor is not None:
                    with contextlib.suppress(Exception):
                        self._cursor.close()
                self._cursor = shadow.cursor()
                self._cursor_shadow = shadow
                self._settings_version = -1
            if "pg_settings" in plan.session_tables and self._settings_version != self.settings.version:
                utility.fill_temp(self._cursor, "pg_settings", self.settings.pg_settings_rows())
                self._settings_version = self.settings.version
            if activity is not None:
                utility.fill_temp(self._cursor, "pg_stat_activity", activity)
            if cursors is not None:
                utility.fill_temp(self._cursor, "pg_cursors", cursors)
            return cat.run_catalog(self._cursor, sql, bound, tree=tree)

        return await self._call(run)


def _output_names(tree: exp.Expr) -> list[str] | None:
    """The names PostgreSQL gives a query's columns (``add_pg_output_names`` aliased each
    select item), or ``None`` where a ``*`` leaves them to the backend."""
    while isinstance(tree, exp.SetOperation):
        tree = tree.this
    if not isinstance(tree, exp.Select):
        return None
    if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
           for e in tree.expressions):
        return None
    return [e.alias_or_name for e in tree.expressions]


def _read_params(params: Sequence[Any], which: Sequence[tuple[int, T]], read: Callable[[Any, T], Any]) -> list[Any]:
    """``params`` with ``$n`` read as ``read(value, how)`` for each ``(n, how)`` of ``which``
    (a copy; ``params`` itself when there are none)."""
    if not which:
        return params if isinstance(params, list) else list(params)
    out = list(params)
    for n, how in which:
        if n <= len(out):
            out[n - 1] = read(out[n - 1], how)
    return out


def _compared(plan: Plan, params: Sequence[Any]) -> list[Any]:
    """``params`` with the text constants a plan compares with typed expressions read as
    that type (:attr:`Plan.compared`, :func:`gateway.casts.compared_parameter`)."""
    return _read_params(params, plan.compared, compared_parameter)


def _has_stamp(values: Sequence[Any]) -> bool:
    """An ISO timestamp among a template's values: translated as a constant, not bound."""
    return any(isinstance(v, str) and ISO_STAMP.fullmatch(v.strip()) for v in values)
