"""One client connection: startup and authentication (:mod:`gateway.handshake`), then
the simple and extended query protocols, over an asyncio stream pair.

Bytes go through the sans-IO :class:`gateway.protocol.Reader`; each message type has one
handler (``HANDLERS``), which turns it into calls on the session's
:class:`~gateway.api.SessionEngine` and its answers into backend messages. Output is
buffered and written where PostgreSQL writes: at ReadyForQuery, Flush, and whenever the
buffer grows large.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import structlog

from gateway.api import Engine, Outcome, SessionEngine
from gateway.auth import Authenticator
from gateway.handshake import ClientGone, Handshake
from connectors.base import Column
from gateway.errors import (
    FeatureNotSupported,
    InternalError,
    InvalidCursorName,
    PgError,
    ProtocolViolation,
)
from gateway.portals import (
    BindShape,
    Portal,
    Registry,
    RowSource,
    Statement,
    command_tag,
    decode_params,
    declared_type_names,
)
from gateway.protocol import Reader
from gateway.protocol.constants import FORMAT_TEXT, TARGET_STATEMENT
from gateway.protocol.copy import CopyData, CopyDone, CopyFail, CopyOutResponse, CopyRowEncoder
from gateway.protocol.errors import ErrorResponse, NoticeResponse
from gateway.protocol.extended import (
    Bind,
    BindComplete,
    BoundExecute,
    Close,
    CloseComplete,
    Describe,
    Execute,
    Flush,
    NoData,
    ParameterDescription,
    Parse,
    ParseComplete,
    PortalSuspended,
    Sync,
    expand_formats,
)
from gateway.protocol.framing import FrontendMessage, Message
from gateway.protocol.rows import CommandComplete, EmptyQueryResponse, RowDescription, ShapeCache
from gateway.protocol.simple import FunctionCall, Query, Terminate
from gateway.protocol.types import decoder
from gateway.protocol.startup import ParameterStatus, ReadyForQuery, StartupPacket

log = structlog.get_logger("askgres.wire")

READ_SIZE = 64 * 1024
FLUSH_AT = 256 * 1024  # write out once this much is buffered
ROW_CHUNK = 1000  # rows encoded between two chances for other clients to run
EXTENDED = (Parse, Bind, Describe, Execute, Close)
# Messages without fields, encoded once.
_PARSE_COMPLETE = ParseComplete().encode()
_BIND_COMPLETE = BindComplete().encode()
_CLOSE_COMPLETE = CloseComplete().encode()
_NO_DATA = NoData().encode()
_READY = {status: ReadyForQuery(status).encode() for status in "ITE"}
_EXECUTE_ALL = Execute("", 0)
_SYNC = Sync()
_BIND_SHAPES = 16  # Bind format combinations remembered per statement


@functools.lru_cache(maxsize=1024)
def _command_complete(tag: str, has_columns: bool, sent: int) -> bytes:
    """CommandComplete, encoded once per tag (``SELECT 1`` over and over)."""
    return CommandComplete(command_tag(tag, [] if has_columns else None, sent)).encode()


def _rows_at_once(outcome: Outcome) -> Sequence[Any] | None:
    """The rows of an outcome answered without waiting: in memory and at most
    :data:`ROW_CHUNK` of them (not COPY, not an empty query); ``None``: stream them."""
    rows = outcome.rows
    if (outcome.columns is None or outcome.copy_out or outcome.is_empty or not isinstance(rows, (list, tuple))
            or len(rows) > ROW_CHUNK):
        return None
    return rows


class Hub(Protocol):
    """What a connection needs from the server that accepted it."""

    auth: Authenticator

    @property
    def engine(self) -> Engine:
        ...

    def admit(self, conn: Connection) -> tuple[int, int]:
        """Count the connection in; its (pid, secret) cancel key. Raises 53300."""
        ...

    def rekey(self, conn: Connection, pid: int) -> tuple[int, int]:
        """Use ``pid`` (the engine's session id) in the cancel key instead."""
        ...

    def release(self, conn: Connection) -> None:
        ...

    def cancel(self, pid: int, secret: int) -> None:
        ...


class Connection(Handshake):
    def __init__(self, hub: Hub, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.hub = hub
        self._reader = reader
        self._writer = writer
        self._transport = writer.transport
        self._framer = Reader()
        self._out = bytearray()
        self._registry = Registry()
        self._skip_to_sync = False
        self._reported: dict[str, str] = {}
        self._status_seen: dict[str, str] | None = None  # the session's last parameter_status()
        self._shapes = ShapeCache()
        self._debug = False  # whether wire-level debug events are logged (decided after startup)
        self._info = True  # whether each query is logged (its level is enabled)
        self._shutdown: PgError | None = None
        self._sealed = False  # a FATAL went out: nothing may follow it
        self._parked = False  # the task waits for input with nothing buffered: take_now may answer
        self._inflight: asyncio.Task[None] | None = None  # an answer take_now began that had to wait
        self._inflight_error: Exception | None = None  # how it ended, when it failed
        self.session: SessionEngine | None = None
        self.pid = 0
        self.secret = 0
        self.task: asyncio.Task[Any] | None = None
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "local")
        self._log = log.bind(peer=self.peer)
        self._opened = time.perf_counter()
        # A handler returns an awaitable when it has to wait (the engine, the socket), else None.
        self._handlers: dict[type[FrontendMessage], Callable[[Any], Awaitable[None] | None]] = {
            Query: self._on_query,
            Parse: self._on_parse,
            Bind: self._on_bind,
            Describe: self._on_describe,
            Execute: self._on_execute,
            Close: self._on_close,
            Sync: self._on_sync,
            Flush: self._on_flush,
            FunctionCall: self._on_function_call,
            CopyData: self._ignore,
            CopyDone: self._ignore,
            CopyFail: self._ignore,
        }

    # -- lifecycle --------------------------------------------------------------------
    async def run(self) -> None:
        self.task = asyncio.current_task()
        reason = "client"
        try:
            if await self._startup_in_time():
                await self._serve()
        except ClientGone:
            reason = "gone"
        except PgError as e:
            reason = e.sqlstate
            await self._send_fatal(e)
        except asyncio.CancelledError:
            if self._shutdown is None:
                raise
            reason = self._shutdown.sqlstate
            self._out.clear()
            await self._send_fatal(self._shutdown)
        except Exception:
            reason = "internal"
            self._log.exception("conn.crashed")
            await self._send_fatal(InternalError("internal error in the askgres wire layer", sqlstate="XX000"))
        finally:
            await self._cleanup(reason)

    async def shutdown(self, error: PgError) -> None:
        """Server shutdown: interrupt what runs, tell the client ``error``, close."""
        self._shutdown = error
        if self.session is not None:
            self.session.cancel()
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.wait([self.task], timeout=5)

    def cancel_query(self) -> None:
        if self.session is not None:
            self.session.cancel()

    async def _cleanup(self, reason: str) -> None:
        self.hub.release(self)
        if self._inflight is not None:
            self._inflight.cancel()
        session, self.session = self.session, None
        if session is not None:
            try:
                await session.close()
            except Exception:
                self._log.exception("conn.session_close_failed")
            self._log.info(
                "conn.close", pid=self.pid, db=session.database, user=session.user, reason=reason,
                s=round(time.perf_counter() - self._opened, 3),
            )
        elif reason != "client":
            self._log.info("conn.refused", reason=reason)
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), timeout=5)
        except (OSError, asyncio.TimeoutError):
            pass

    # -- bytes ------------------------------------------------------------------------
    def send(self, msg: Message) -> None:
        self._out += msg.encode()

    async def flush(self) -> None:
        pending = self.flush_now()
        if pending is not None:
            await pending

    def flush_now(self) -> Awaitable[None] | None:
        """Hand what is buffered to the socket. Returns an awaitable only when the client
        reads slower than we write (a small answer is gone at once; a vanished client shows
        up as end of stream on the next read)."""
        if not self._out:
            return None
        if self._sealed:
            self._out.clear()
            return None
        data, self._out = self._out, bytearray()  # never written to again: no copy needed
        if self._debug:
            self._log.debug("wire.send", bytes=len(data), head=bytes(data[:200]))
        transport = self._transport  # the writer's: StreamWriter.write is transport.write
        try:
            transport.write(data)
        except (ConnectionError, OSError) as e:
            raise ClientGone() from e
        if transport.get_write_buffer_size() > FLUSH_AT:
            return self._drain()
        return None

    async def _drain(self) -> None:
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as e:
            raise ClientGone() from e

    async def _send_fatal(self, error: PgError) -> None:
        if error.severity not in ("FATAL", "PANIC"):
            error.severity = "FATAL"
        self.send(ErrorResponse.of(error))
        try:
            await asyncio.wait_for(self.flush(), timeout=5)
        except (ClientGone, asyncio.TimeoutError):
            pass
        self._sealed = True  # a read cancelled by the shutdown may finish after it: its answer is dropped

    async def _next(self) -> FrontendMessage | StartupPacket | None:
        """The next complete message; ``None`` at end of stream."""
        while True:
            msg = self._framer.read()
            if msg is not None:
                return msg
            if not await self._receive():
                return None

    async def _receive(self, *, park: bool = False) -> bool:
        """Wait for bytes and hand them to the framer; ``False`` at end of stream.
        ``park``: between messages, where :meth:`take_now` may answer what arrives."""
        self._parked = park and not self._framer.buffered
        try:
            data = await self._reader.read(READ_SIZE)
        except (ConnectionError, OSError) as e:
            raise ClientGone() from e
        finally:
            self._parked = False
        inflight, self._inflight = self._inflight, None
        if inflight is not None:  # an answer begun by take_now comes before what arrived since
            await inflight
        if self._inflight_error is not None:
            raise self._inflight_error
        if not data:
            if self._framer.buffered:
                self._log.info("conn.truncated", pid=self.pid, pending=self._framer.buffered)
            return False
        self._framer.feed(data)
        return True

    def take_now(self, data: bytes) -> bytes:
        """Bytes as they arrive, before the task sees them (the server's protocol calls
        this). While the task waits between messages, the runs drivers send for one
        execution (Bind/Describe/Execute/Sync, a simple Query) are answered here, so
        the task is not woken for them. Returns what is left for the task: anything
        else, from the first message not answered here on."""
        if not self._parked or self._inflight is not None or self._skip_to_sync:
            return data
        framer = self._framer
        framer.feed(data)
        try:
            while framer.buffered:
                handled, pending = self._take_run()
                if not handled:
                    query = framer.peek(Query)
                    if query is None:
                        break
                    framer.skip_to(query[1])
                    pending = self._query_now(query[0])
                if pending is not None:
                    self._inflight = asyncio.ensure_future(self._finish_inflight(pending))
                    break
        except Exception as e:  # the client is gone, a FATAL error: the task ends the connection
            self._reader.set_exception(e)
            return b""
        return framer.take_rest()

    def _query_now(self, msg: Query) -> Awaitable[None] | None:
        """:meth:`_on_query`, with the handling of its errors that the serve loop gives."""
        try:
            return self._on_query(msg)
        except PgError as e:
            if e.severity in ("FATAL", "PANIC"):
                raise
            self.send(ErrorResponse.of(e))
        except Exception as e:
            self._log.exception("conn.handler_failed", message="Query")
            self.send(ErrorResponse.of(InternalError(f"internal error: {e}")))
        return self._ready_now()

    async def _finish_inflight(self, pending: Awaitable[None]) -> None:
        try:
            await pending
        except Exception as e:  # the client is gone, a FATAL error: the task raises it
            self._inflight_error = e
            self._reader.set_exception(e)  # wakes the task if it waits for input
            return
        if self._inflight is asyncio.current_task():
            self._inflight = None

    # -- the message loop -------------------------------------------------------------
    async def _serve(self) -> None:
        is_enabled_for = getattr(self._log, "is_enabled_for", None)
        self._debug = bool(is_enabled_for(logging.DEBUG)) if is_enabled_for is not None else True
        self._info = bool(is_enabled_for(logging.INFO)) if is_enabled_for is not None else True
        framer = self._framer
        while True:
            if not self._skip_to_sync:
                handled, pending = self._take_run()
                if handled:
                    if pending is not None:
                        await pending
                    continue
            try:
                msg = framer.read()  # messages already received are handled before waiting for more
                if msg is None:
                    if await self._receive(park=True):
                        continue
                    return
            except PgError as e:
                if e.severity in ("FATAL", "PANIC"):
                    raise
                await self._fail(e, e.context.get("message_type"))
                continue
            if msg is None or isinstance(msg, Terminate):
                return
            if self._skip_to_sync and not isinstance(msg, Sync):
                continue
            if self._debug:
                self._log.debug("wire.recv", message=msg)
            handler = self._handlers.get(type(msg))
            if handler is None:
                raise ProtocolViolation(f"unexpected message type {msg.type!r} after startup")
            try:
                pending = handler(msg)
                if pending is not None:
                    await pending
            except PgError as e:
                if e.severity in ("FATAL", "PANIC"):
                    raise
                await self._fail(e, msg.type)
            except (ClientGone, asyncio.CancelledError):
                raise
            except Exception as e:
                self._log.exception("conn.handler_failed", message=type(msg).__name__)
                await self._fail(InternalError(f"internal error: {e}"), msg.type)

    async def _fail(self, error: PgError, message_type: bytes | None) -> None:
        """An ERROR: report it; in the extended protocol skip to Sync, in the simple one
        the query is over. Errors are flushed at once, as PostgreSQL does: a client that
        sent Parse/Describe/Flush must see the error although its Flush is discarded."""
        self.send(ErrorResponse.of(error))
        if message_type in (Query.type, FunctionCall.type):
            await self._ready()
        else:
            self._skip_to_sync = True
            await self.flush()

    async def _ready(self) -> None:
        pending = self._ready_now()
        if pending is not None:
            await pending

    def _ready_now(self) -> Awaitable[None] | None:
        """ParameterStatus for settings that changed, then ReadyForQuery, flushed (an
        awaitable only when the flush has to wait for the client)."""
        assert self.session is not None
        now = self.session.parameter_status()
        if now is not self._status_seen:  # sessions may hand out the same dict until a setting changes
            self._status_seen = now
            if now != self._reported:
                for name, value in now.items():
                    if self._reported.get(name) != value:
                        self.send(ParameterStatus(name, value))
                self._reported = dict(now)
        self._out += _READY[self.session.tx_status]
        return self.flush_now()

    # -- simple query -----------------------------------------------------------------
    def _on_query(self, msg: Query) -> Awaitable[None] | None:
        """A short read is answered here without waiting (a point select); anything
        else continues in :meth:`_query`."""
        assert self.session is not None
        self._registry.drop_unnamed()
        t0 = time.perf_counter()
        try:
            outcome = self.session.run_simple_now(msg.sql)
        except PgError as e:
            return self._answer(t0, list(e.context.get("done") or []), e)
        if outcome is None:
            return self._query(msg, t0)
        rows = _rows_at_once(outcome)
        if rows is None:
            return self._answer(t0, [outcome], None)
        assert outcome.columns is not None
        description, encoder = self._shapes.get(outcome.columns)
        self._out += description
        self._send_at_once(outcome, rows, encoder.encode, t0)
        return self._ready_now()

    async def _query(self, msg: Query, t0: float) -> None:
        assert self.session is not None
        error: PgError | None = None
        outcomes: list[Outcome] = []
        try:
            outcomes = await self.session.run_simple(msg.sql)
        except PgError as e:
            error = e
            outcomes = list(e.context.get("done") or [])
        await self._answer(t0, outcomes, error)

    async def _answer(self, t0: float, outcomes: list[Outcome], error: PgError | None) -> None:
        """The outcomes of a simple query, the error that ended it if any, ReadyForQuery."""
        rows = 0
        try:
            for outcome in outcomes:
                rows += await self._send_outcome(outcome)
            if not outcomes and error is None:
                self.send(EmptyQueryResponse())
        except PgError as e:
            error = e
        if error is not None:
            self.send(ErrorResponse.of(error))
        self._log_query(t0, rows, outcomes[-1].tag if outcomes else "", error)
        await self._ready()

    async def _send_outcome(self, outcome: Outcome) -> int:
        """One statement's answer in the simple protocol (text format)."""
        if outcome.is_empty:
            self.send(EmptyQueryResponse())
            return 0
        if outcome.copy_out:
            return await self._send_copy(outcome)
        sent = 0
        if outcome.columns is not None:
            description, encoder = self._shapes.get(outcome.columns)
            self._out += description
            sent, _ = await self._stream(RowSource(outcome.rows), encoder.encode, 0)
        self._finish(outcome, sent)
        return sent

    def _send_at_once(self, outcome: Outcome, rows: Sequence[Any], encode: Callable[[Any], bytes], t0: float) -> None:
        """Rows already in memory (:func:`_rows_at_once`), CommandComplete, the query's log line."""
        out = self._out
        for row in rows:
            out += encode(row)
        self._finish(outcome, len(rows))
        self._log_query(t0, len(rows), outcome.tag, None)

    def _finish(self, outcome: Outcome, sent: int) -> None:
        for notice in outcome.notices:
            self.send(NoticeResponse.of(notice))
        self._out += _command_complete(outcome.tag, outcome.columns is not None, sent)

    async def _send_copy(self, outcome: Outcome) -> int:
        columns = outcome.columns or []
        self.send(CopyOutResponse(FORMAT_TEXT, [FORMAT_TEXT] * len(columns)))
        sent, _ = await self._stream(RowSource(outcome.rows), CopyRowEncoder(columns).encode, 0)
        self.send(CopyDone())
        for notice in outcome.notices:
            self.send(NoticeResponse.of(notice))
        self.send(CommandComplete(outcome.tag if outcome.tag.startswith("COPY") else f"COPY {sent}"))
        return sent

    async def _stream(self, source: RowSource, encode: Callable[[Any], bytes], limit: int) -> tuple[int, bool]:
        """Send up to ``limit`` rows (0: all). Returns (rows sent, source exhausted)."""
        sent = 0
        while limit == 0 or sent < limit:
            want = ROW_CHUNK if limit == 0 else min(ROW_CHUNK, limit - sent)
            chunk = source.take_now(want)
            if chunk is None:
                chunk = await source.take(want)
            out = self._out
            for row in chunk:
                out += encode(row)
            sent += len(chunk)
            if len(chunk) < want:
                return sent, True
            if len(out) >= FLUSH_AT:
                await self.flush()
            else:
                await asyncio.sleep(0)
        return sent, False

    def _log_query(self, t0: float, rows: int, tag: str, error: PgError | None) -> None:
        if not self._info:
            return
        ms = round((time.perf_counter() - t0) * 1000, 3)
        if error is None:
            self._log.info("query", ms=ms, rows=rows, tag=tag)
        else:
            self._log.info("query", ms=ms, rows=rows, tag=tag, error=error.sqlstate, message=error.message)

    def _on_function_call(self, msg: FunctionCall) -> None:
        raise FeatureNotSupported("the fast-path function call interface is not supported")

    def _ignore(self, msg: FrontendMessage) -> None:
        """CopyData/CopyDone/CopyFail outside COPY FROM STDIN are ignored (as PostgreSQL
        does, so that a client's error recovery works)."""

    # -- extended query ---------------------------------------------------------------
    async def _on_parse(self, msg: Parse) -> None:
        assert self.session is not None
        if msg.name and msg.name in self._registry.statements:
            raise PgError(f'prepared statement "{msg.name}" already exists', sqlstate="42P05")
        prepared = await self.session.prepare(msg.sql, declared_type_names(msg.param_oids))
        self._registry.add_statement(msg.name, Statement.of(prepared, msg.param_oids))
        self._out += _PARSE_COMPLETE

    def _on_bind(self, msg: Bind) -> None:
        stmt = self._registry.statement(msg.statement)
        if msg.portal and msg.portal in self._registry.portals:
            raise PgError(f'portal "{msg.portal}" already exists', sqlstate="42P03")
        n = len(stmt.param_oids)
        if len(msg.params) != n:
            raise PgError(
                f'bind message supplies {len(msg.params)} parameters, but prepared statement "{msg.statement}" '
                f"requires {n}",
                sqlstate="08P01",
            )
        formats = expand_formats(msg.param_formats, n, what="parameter")
        params = decode_params(stmt.param_oids, formats, msg.params)
        columns = stmt.prepared.columns or []
        result_formats = expand_formats(msg.result_formats, len(columns), what="result")
        self._registry.add_portal(msg.portal, Portal(stmt, params, result_formats))
        self._out += _BIND_COMPLETE

    def _on_describe(self, msg: Describe) -> None:
        if msg.target == TARGET_STATEMENT:
            stmt = self._registry.statement(msg.name)
            self.send(ParameterDescription(stmt.param_oids))
            columns = None if stmt.prepared.is_empty else stmt.prepared.columns
            self.send(RowDescription.of(columns) if columns is not None else NoData())
            return
        if msg.name not in self._registry.portals:
            cursor_columns = self._describe_cursor(msg.name)
            self.send(RowDescription.of(cursor_columns) if cursor_columns is not None else NoData())
            return
        portal = self._registry.portal(msg.name)
        if portal.columns is None or portal.statement.prepared.is_empty:
            self._out += _NO_DATA
        else:
            self._out += self._shapes.get(portal.columns, portal.result_formats)[0]

    def _describe_cursor(self, name: str) -> list[Column] | None:
        """Describe of a portal the client never bound: a cursor made with SQL DECLARE
        (psycopg's named cursors do this). Sessions that keep such cursors answer through
        an optional ``describe_cursor(name)``; otherwise the portal does not exist."""
        describe = getattr(self.session, "describe_cursor", None)
        if describe is None:
            raise InvalidCursorName(f'portal "{name}" does not exist')
        columns: list[Column] | None = describe(name)
        return columns

    def _on_execute(self, msg: Execute) -> Awaitable[None] | None:
        """A short read of a fresh portal is answered here without waiting (the common
        Bind/Execute of a point select); anything else continues in :meth:`_execute`."""
        assert self.session is not None
        portal = self._registry.portal(msg.portal)
        if portal.outcome is not None:
            return self._execute(msg, portal, time.perf_counter(), False)
        t0 = time.perf_counter()
        try:
            outcome = self.session.execute_now(portal.statement.prepared, portal.params)
        except PgError as e:
            self._execution_failed(msg, t0, e)
            raise
        if outcome is None:
            return self._execute(msg, portal, t0, True)
        self._opened_portal(portal, outcome)
        rows = _rows_at_once(outcome)
        if rows is None or (msg.max_rows and len(rows) >= msg.max_rows):
            return self._execute(msg, portal, t0, True)
        assert outcome.columns is not None
        portal.done = True
        self._send_at_once(outcome, rows, self._shapes.get(outcome.columns, portal.result_formats)[1].encode, t0)
        return None

    def _execution_failed(self, msg: Execute, t0: float, error: PgError) -> None:
        """A portal whose execution failed is gone (the error is logged as its query)."""
        self._registry.portals.pop(msg.portal, None)
        self._log_query(t0, 0, "", error)

    def _opened_portal(self, portal: Portal, outcome: Outcome) -> None:
        portal.outcome = outcome
        portal.source = RowSource(outcome.rows)
        if outcome.columns is not None and len(outcome.columns) != len(portal.result_formats):
            # the engine learnt the columns only by running it: one format for all
            fmt = portal.result_formats[0] if portal.result_formats else FORMAT_TEXT
            portal.result_formats = [fmt] * len(outcome.columns)
        portal.columns = outcome.columns

    async def _execute(self, msg: Execute, portal: Portal, t0: float, first: bool) -> None:
        assert self.session is not None
        if portal.outcome is None:
            try:
                fresh = await self.session.execute(portal.statement.prepared, portal.params)
            except PgError as e:
                self._execution_failed(msg, t0, e)
                raise
            self._opened_portal(portal, fresh)
        outcome = portal.outcome
        assert outcome is not None and portal.source is not None
        if outcome.is_empty or portal.statement.prepared.is_empty:
            self.send(EmptyQueryResponse())
            return
        if portal.done:
            self.send(CommandComplete(command_tag(outcome.tag, outcome.columns, 0)))
            return
        if outcome.copy_out:
            sent = await self._send_copy(outcome)
            portal.done = True
            self._log_query(t0, sent, outcome.tag, None)
            return
        sent = 0
        if outcome.columns is not None:
            encoder = self._shapes.get(outcome.columns, portal.result_formats)[1]
            sent, exhausted = await self._stream(portal.source, encoder.encode, msg.max_rows)
            if msg.max_rows and sent == msg.max_rows and not exhausted:
                self.send(PortalSuspended())
                if first:
                    self._log_query(t0, sent, "suspended", None)
                return
        portal.done = True
        self._finish(outcome, sent)
        if first:
            self._log_query(t0, sent, outcome.tag, None)

    # -- Parse, Bind/Describe/Execute/Sync received together ----------------------------
    def _take_run(self) -> tuple[bool, Awaitable[None] | None]:
        """The next buffered messages answered at once when they are a Parse of a known
        statement or a whole Bind/Describe/Execute/Sync run (:meth:`_parse_now`,
        :meth:`_run_bound`). Returns (handled, awaitable to wait for)."""
        parse = self._framer.peek(Parse)
        if parse is not None:
            return self._parse_now(*parse), None
        run = self._framer.peek_bound_execute()
        if run is not None:
            return self._run_bound(run)
        return False, None

    def _parse_now(self, msg: Parse, end: int) -> bool:
        """A Parse of a statement the session prepared before (the same text and types),
        answered at once (what drivers send before each run of an unprepared query);
        ``False`` (nothing consumed): anything else, for :meth:`_on_parse`."""
        assert self.session is not None
        if msg.name:
            return False
        prepared = self.session.prepare_now(msg.sql, declared_type_names(msg.param_oids))
        if prepared is None:
            return False
        self._framer.skip_to(end)
        if self._debug:
            self._log.debug("wire.recv", message=msg)
        last = self._registry.statements.get("")
        if last is None or last.prepared is not prepared or last.declared != tuple(msg.param_oids):
            # the same statement again keeps what its Binds decode to (Statement.bind_shapes)
            self._registry.statements[""] = Statement.of(prepared, msg.param_oids)
        self._out += _PARSE_COMPLETE
        return True


    def _run_bound(self, run: BoundExecute) -> tuple[bool, Awaitable[None] | None]:
        """One execution of a prepared statement as drivers send it (pgbench -M prepared,
        psycopg, asyncpg): Bind, Describe and Execute of the unnamed portal and Sync, all
        received. Answered as the four handlers answer, without decoding four messages
        and dispatching each. Returns (handled, awaitable to wait for); declines (nothing
        consumed) what the handlers would refuse, so that they report it."""
        stmt = self._registry.statements.get(run.statement)
        if stmt is None or len(run.params) != len(stmt.param_oids):
            return False, None
        shape = stmt.bind_shapes.get(run.formats) or self._bind_shape(stmt, run)
        if shape is None:
            return False, None
        try:
            params = [None if raw is None else dec(raw) for dec, raw in zip(shape.decoders, run.params)]
        except Exception:  # the Bind handler reports it, with its parameter number
            return False, None
        session = self.session
        assert session is not None
        hot = shape.hot
        if hot is not None:
            t0 = time.perf_counter()
            read = hot(params)
            if read is not None:
                try:
                    return True, self._hot_answer(run, stmt, shape, params, read, t0)
                except PgError as e:
                    return True, self._encoding_failed(e, t0)
        self._bound_head(run, shape)
        prepared = stmt.prepared
        t0 = time.perf_counter()
        try:
            outcome = session.execute_now(prepared, params)
        except PgError as e:  # as in _on_execute: the unnamed portal, replaced by this one, is gone
            self._execution_failed(_EXECUTE_ALL, t0, e)
            self._execute_error(e)
            return True, self._on_sync(_SYNC)
        rows = _rows_at_once(outcome) if outcome is not None else None
        if outcome is None or rows is None or outcome.columns is not prepared.columns or shape.encoder is None:
            portal = self._registry.portals[""] = Portal(stmt, params, list(shape.result_formats))
            if outcome is not None:
                self._opened_portal(portal, outcome)
            return True, self._bound_rest(self._execute(_EXECUTE_ALL, portal, t0, True))
        try:
            self._send_at_once(outcome, rows, shape.encoder.encode, t0)
        except PgError as e:
            return True, self._encoding_failed(e, t0)
        if session.tx_status != "I":
            self._keep_run_portal(stmt, shape, params, outcome)
        if not shape.hot_tried:  # the next runs of this statement: _hot_answer
            shape.hot_tried = True
            shape.hot = session.hot_reader(prepared)
        return True, self._on_sync(_SYNC)

    def _encoding_failed(self, error: PgError, t0: float) -> Awaitable[None] | None:
        """A row of a run answered at once that its encoder refused (a value past its
        column's binary range): the rows before it, the error and ReadyForQuery, as the
        message handlers answer; the connection goes on."""
        self._execution_failed(_EXECUTE_ALL, t0, error)
        self._execute_error(error)
        return self._on_sync(_SYNC)

    def _bound_head(self, run: BoundExecute, shape: BindShape) -> bytearray:
        """A run taken up: BindComplete and the portal's description; the output buffer."""
        self._framer.skip_to(run.end)
        if self._debug:
            self._log.debug("wire.recv", message=run)
        out = self._out
        out += _BIND_COMPLETE
        if run.describe:
            out += shape.description
        return out

    def _hot_answer(
        self, run: BoundExecute, stmt: Statement, shape: BindShape, params: list[Any], rows: list[Any], t0: float
    ) -> Awaitable[None] | None:
        """What :meth:`_run_bound` answers for a run of a statement that the session read
        at once before and read again (``BindShape.hot``, :meth:`SessionEngine.hot_reader`):
        the same messages, without building its outcome."""
        assert shape.encoder is not None and self.session is not None
        out = self._bound_head(run, shape)
        encode = shape.encoder.encode
        for row in rows:
            out += encode(row)
        tag = f"SELECT {len(rows)}"
        out += _command_complete(tag, True, len(rows))
        self._log_query(t0, len(rows), tag, None)
        if self.session.tx_status != "I":
            self._keep_run_portal(stmt, shape, params, Outcome(tag=tag, columns=stmt.prepared.columns, rows=rows))
        return self._on_sync(_SYNC)

    def _keep_run_portal(self, stmt: Statement, shape: BindShape, params: list[Any], outcome: Outcome) -> None:
        """The unnamed portal of a run answered at once in a transaction block: it lives on,
        done, until the transaction ends (Sync drops it otherwise)."""
        self._registry.portals[""] = Portal(stmt, params, list(shape.result_formats), outcome=outcome,
                                            source=RowSource(()), done=True)

    def _bind_shape(self, stmt: Statement, run: BoundExecute) -> BindShape | None:
        param_formats, result_formats = run.format_codes()
        try:
            formats = expand_formats(param_formats, len(stmt.param_oids), what="parameter")
            columns = stmt.prepared.columns
            results = expand_formats(result_formats, len(columns or ()), what="result")
            decoders = [decoder(oid, fmt) for oid, fmt in zip(stmt.param_oids, formats, strict=True)]
        except PgError:
            return None
        encoder = None
        if columns is None or stmt.prepared.is_empty:
            description = _NO_DATA
        else:
            description, encoder = self._shapes.get(columns, results)
        if len(stmt.bind_shapes) >= _BIND_SHAPES:
            stmt.bind_shapes.clear()
        shape = stmt.bind_shapes[run.formats] = BindShape(decoders, results, description, encoder)
        return shape

    async def _bound_rest(self, pending: Awaitable[None]) -> None:
        """The Execute that had to wait, then the Sync."""
        try:
            await pending
        except (ClientGone, asyncio.CancelledError):
            raise
        except Exception as e:
            self._execute_error(e)
        ready = self._on_sync(_SYNC)
        if ready is not None:
            await ready

    def _execute_error(self, error: Exception) -> None:
        """An Execute failed: the ErrorResponse (the Sync that follows ends the skip)."""
        if isinstance(error, ClientGone) or (isinstance(error, PgError) and error.severity in ("FATAL", "PANIC")):
            raise error
        if not isinstance(error, PgError):
            self._log.exception("conn.handler_failed", message="Execute")
            error = InternalError(f"internal error: {error}")
        self.send(ErrorResponse.of(error))

    def _on_close(self, msg: Close) -> None:
        if msg.target == TARGET_STATEMENT:
            self._registry.statements.pop(msg.name, None)
        else:
            self._registry.portals.pop(msg.name, None)
        self._out += _CLOSE_COMPLETE

    def _on_sync(self, msg: Sync) -> Awaitable[None] | None:
        assert self.session is not None
        self._skip_to_sync = False
        if self.session.tx_status == "I":
            self._registry.end_transaction()
        return self._ready_now()

    def _on_flush(self, msg: Flush) -> Awaitable[None] | None:
        return self.flush_now()
