"""The asyncio server: listens, accepts, hands each client to a
:class:`gateway.connection.Connection`, keeps the cancel keys, and shuts down cleanly.

``run_server(settings)`` is the blocking entry of ``askgres serve`` (SIGINT/SIGTERM stop
it); :class:`Server` is the same thing usable in-process::

    server = Server(settings)
    port = await server.start()      # settings.port == 0 picks a free port
    ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import signal
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from gateway.api import Asker, Engine
from gateway.auth import Authenticator, UnsafeListenAddress, check_listen_address
from gateway.config import Settings
from gateway.connection import Connection
from gateway.errors import AdminShutdown, TooManyConnections

if TYPE_CHECKING:
    from gateway.workers import WorkerSpec

log = structlog.get_logger("askgres.server")
_CANCEL = struct.Struct("!ii")  # a forwarded CancelRequest: pid, secret


def make_asker(settings: Settings, backends: dict[str, Any]) -> Asker | None:
    """The ask pipeline, when :mod:`nl2sql` provides one."""
    try:
        from nl2sql.service import AskService
    except ImportError:
        log.warning("server.no_ask_pipeline")
        return None
    asker: Asker = AskService(settings, backends)
    return asker


def make_engine(settings: Settings, worker: WorkerSpec | None = None) -> tuple[Engine, dict[str, Any]]:
    """Open the backends named by ``settings`` (building the demo when none are) and the
    SQL engine over them. Blocking: run it in a thread."""
    from connectors.registry import open_backends
    from gateway.engine import GatewayEngine

    backends = open_backends(settings)
    sessions = (0, 1) if worker is None else (worker.index, worker.count)
    engine: Engine = GatewayEngine(settings, backends, asker=make_asker(settings, backends), sessions=sessions)
    return engine, backends


class WireProtocol(asyncio.StreamReaderProtocol):
    """The streams protocol, with the bytes offered first to the connection
    (:meth:`Connection.take_now`): what it answers at once never wakes its task."""

    take: Callable[[bytes], bytes] | None = None

    def data_received(self, data: bytes) -> None:
        take = self.take
        if take is not None:
            data = take(data)
            if not data:
                return
        super().data_received(data)


class Server:
    """The gateway's listener. ``engine`` may be given (tests, embedding); otherwise
    :meth:`start` opens the configured backends and builds the engine. ``worker``: this
    server is one of several processes on the port (:mod:`gateway.workers`)."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None, worker: WorkerSpec | None = None) -> None:
        self.settings = settings
        self.worker = worker
        self._cancel_sock: socket.socket | None = None
        self._engine = engine
        self._backends: dict[str, Any] = {}
        self.auth = Authenticator(settings.users)
        self._server: asyncio.Server | None = None
        self._conns: set[Connection] = set()
        self._keys: dict[tuple[int, int], Connection] = {}
        self._admitted = 0
        self._stopped = asyncio.Event()
        self.port: int | None = None
        self._trigger_task: asyncio.Task[None] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("server not started")
        return self._engine

    async def start(self) -> int:
        """Check the listen address, open the engine, listen. Returns the bound port."""
        check_listen_address(self.settings.host, self.settings.users)
        if self._engine is None:
            self._engine, self._backends = await asyncio.to_thread(make_engine, self.settings, self.worker)
        if self.worker is not None:
            self._listen_for_cancels(self.worker)
        loop = asyncio.get_running_loop()

        def protocol() -> WireProtocol:
            return WireProtocol(asyncio.StreamReader(loop=loop), self._on_client, loop=loop)

        self._server = await loop.create_server(
            protocol, host=self.settings.host, port=self.settings.port, backlog=1024, reuse_address=True,
            reuse_port=self.worker is not None,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        if self.worker is None or self.worker.index == 0:
            self._start_learner_trigger()
        log.info(
            "server.listening", host=self.settings.host, port=self.port, databases=self.engine.databases(),
            auth="trust" if self.auth.trust else "scram-sha-256", max_connections=self.settings.max_connections,
            **({} if self.worker is None else {"worker": self.worker.index, "workers": self.worker.count}),
        )
        return self.port

    def _listen_for_cancels(self, worker: WorkerSpec) -> None:
        """This worker's Unix datagram socket, where other workers pass on CancelRequests
        whose key they do not know."""
        path = worker.cancel_socket()
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.setblocking(False)
        self._cancel_sock = sock

        def on_datagram() -> None:
            while True:
                try:
                    data = sock.recv(64)
                except OSError:  # drained (BlockingIOError) or closed
                    return
                if len(data) == _CANCEL.size:
                    self._cancel_local(*_CANCEL.unpack(data))

        asyncio.get_running_loop().add_reader(sock.fileno(), on_datagram)

    def _forward_cancel(self, worker: WorkerSpec, pid: int, secret: int) -> None:
        data = _CANCEL.pack(pid, secret)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
            for index in range(worker.count):
                if index == worker.index:
                    continue
                try:
                    out.sendto(data, str(worker.cancel_socket(index)))
                except OSError as e:  # a worker restarting: its sessions are gone anyway
                    log.debug("server.cancel_forward_failed", worker=index, error=str(e))

    def _start_learner_trigger(self) -> None:
        """Watch failure counts and start training runs past the threshold (in their own
        processes; see :mod:`learner.trigger`)."""
        if not self.settings.learner.auto:
            return
        from learner.trigger import Trigger
        from nl2sql.store import Store

        trigger = Trigger(self.settings, Store(self.settings.state_db))
        self._trigger_task = asyncio.create_task(trigger.watch(self.engine.databases()), name="learner-trigger")

    async def serve_forever(self) -> None:
        """Until :meth:`stop` is called."""
        await self._stopped.wait()

    async def stop(self) -> None:
        """Close the listener, tell every client 57P01, close the engine and backends."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("server.stopping", connections=len(self._conns))
        if self._trigger_task is not None:
            self._trigger_task.cancel()
        if self._server is not None:
            self._server.close()
        if self._cancel_sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._cancel_sock.fileno())
            self._cancel_sock.close()
        conns = list(self._conns)
        if conns:
            await asyncio.gather(
                *(c.shutdown(AdminShutdown("terminating connection due to administrator command")) for c in conns),
                return_exceptions=True,
            )
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
            except asyncio.TimeoutError:
                log.warning("server.close_timeout")
        if self._engine is not None:
            try:
                await self._engine.close()
            except Exception:
                log.exception("server.engine_close_failed")
        for backend in self._backends.values():
            try:
                await asyncio.to_thread(backend.close)
            except Exception:
                log.exception("server.backend_close_failed", db=getattr(backend, "name", "?"))
        log.info("server.stopped")

    # -- the Hub a connection talks to ------------------------------------------------
    def admit(self, conn: Connection) -> tuple[int, int]:
        if self._admitted >= self.settings.max_connections:
            raise TooManyConnections("sorry, too many clients already")
        self._admitted += 1
        while True:
            key = (secrets.randbits(31) or 1, secrets.randbits(31))
            if key not in self._keys:
                break
        self._keys[key] = conn
        return key

    def rekey(self, conn: Connection, pid: int) -> tuple[int, int]:
        if self._keys.get((conn.pid, conn.secret)) is not conn:
            return conn.pid, conn.secret
        while True:
            key = (pid, secrets.randbits(31))
            if key not in self._keys:
                break
        del self._keys[(conn.pid, conn.secret)]
        self._keys[key] = conn
        return key

    def release(self, conn: Connection) -> None:
        if self._keys.pop((conn.pid, conn.secret), None) is conn:
            self._admitted -= 1

    def cancel(self, pid: int, secret: int) -> None:
        """A CancelRequest: cancel the session it names here, or pass it on to the other
        workers when this one does not know the key."""
        if not self._cancel_local(pid, secret) and self.worker is not None:
            self._forward_cancel(self.worker, pid, secret)

    def _cancel_local(self, pid: int, secret: int) -> bool:
        conn = self._keys.get((pid, secret))
        log.info("server.cancel_request", pid=pid, found=conn is not None)
        if conn is not None:
            conn.cancel_query()
        return conn is not None

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stopped.is_set():
            writer.close()
            return
        conn = Connection(self, reader, writer)
        protocol = writer.transport.get_protocol()
        if isinstance(protocol, WireProtocol):
            protocol.take = conn.take_now
        self._conns.add(conn)
        try:
            await conn.run()
        finally:
            self._conns.discard(conn)


async def serve(settings: Settings, worker: WorkerSpec | None = None) -> None:
    """Run until SIGINT or SIGTERM (SIGTERM only in a worker: its supervisor takes Ctrl-C)."""
    server = Server(settings, worker=worker)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM) if worker is None else (signal.SIGTERM,):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        # What start-up loaded (engine, backends, sqlglot, the ask pipeline's libraries) lives
        # as long as the server: keep it out of the collector's full passes.
        gc.collect()
        gc.freeze()
        await stop.wait()
        log.info("server.signal")
    finally:
        await server.stop()


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (its sockets and callbacks cost a fraction
    of asyncio's: the gateway's per-query overhead drops noticeably), else ``None``:
    asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_server(settings: Settings, *, worker: WorkerSpec | None = None) -> None:
    """Blocking entry of ``askgres serve``: one process, or with ``workers`` > 1 a
    supervisor of that many (:mod:`gateway.workers`), each of which comes back here with
    its ``worker``. A refused address or a port in use exits with a message."""
    try:
        if worker is None and settings.workers > 1:
            from gateway.workers import run_workers

            code = run_workers(settings)
            if code:
                raise SystemExit(code)
            return
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(settings, worker))
    except UnsafeListenAddress as e:
        log.error("server.refused", host=settings.host, reason=str(e))
        raise SystemExit(f"askgres: {e}") from None
    except OSError as e:
        log.error("server.listen_failed", host=settings.host, port=settings.port, error=str(e))
        raise SystemExit(f"askgres: cannot listen on {settings.host}:{settings.port}: {e}") from None
