"""Several server processes on one port (``workers`` > 1).

One Python process serves from one core (the GIL): under pgbench it sits at 100% of a
core while the machine's other cores idle. With ``workers = N`` the ``askgres serve``
process becomes a supervisor that starts N worker processes, each a full gateway
(:class:`gateway.server.Server`) listening on the same address with ``SO_REUSEPORT``, so
the kernel spreads new connections over them. A connection stays in the worker that
accepted it.

What the workers share, and how:

- **The port.** The supervisor binds it first without listening (so ``port = 0`` resolves
  to one number and a port in use fails before anything starts); workers bind the same
  port with ``SO_REUSEPORT`` and listen.
- **Cancel requests.** A CancelRequest arrives on a new connection, which may land in
  another worker than the session it names. A worker that does not know the key passes
  it on, as a datagram on a Unix socket, to every other worker
  (:meth:`gateway.server.Server.cancel`). Session ids (``pg_backend_pid()``) are distinct
  across workers: worker ``w`` numbers its sessions ``1000 + w``, ``1000 + w + N``, ...
- **The model.** Each worker loads its own; a lock file (``DATA_DIR/run/llm.lock``) lets
  one completion run at a time on the machine, as one process would
  (:class:`nl2sql.llm.LlamaGenerator`).
- **Indexes and the store.** LanceDB writes take a lock file; the store is SQLite in WAL mode.
- **The learner trigger** runs in worker 0 only.

The supervisor restarts a worker that dies (its connections are lost, the others' are
not), stops every worker on SIGTERM/SIGINT, and gives up when workers keep dying at
start-up. ``DATA_DIR/run/workers.json`` lists the workers' process ids.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import structlog

from gateway.config import Settings

log = structlog.get_logger("askgres.workers")

STOP_TIMEOUT_S = 30.0
RESTART_DELAY_S = 1.0
EARLY_DEATH_S = 10.0
"""A worker that dies this soon after starting counts towards :data:`MAX_EARLY_DEATHS`."""
MAX_EARLY_DEATHS = 3


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process is told: its index, how many there are, where the others'
    cancel sockets are."""

    index: int
    count: int
    run_dir: Path

    def cancel_socket(self, index: int | None = None) -> Path:
        return self.run_dir / f"cancel-{self.index if index is None else index}.sock"


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with ``SO_REUSEPORT``, not listening: it holds the
    port (resolving 0 to a free one) and fails at once when another server has it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _worker_main(settings: Settings, spec: WorkerSpec) -> None:
    """Entry of a worker process (spawned: nothing inherited but the arguments)."""
    from gateway.logs import configure_logging
    from gateway.server import run_server

    configure_logging(json=settings.log_json, level=settings.log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the supervisor decides
    structlog.contextvars.bind_contextvars(worker=spec.index)
    run_server(settings, worker=spec)


class Supervisor:
    """Starts, watches and stops the worker processes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.count = settings.workers
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: dict[int, Any] = {}
        self._started: dict[int, float] = {}
        self._early_deaths = 0
        self._stopping = False
        self.run_dir = Path(tempfile.mkdtemp(prefix="askgres-run-"))  # short: Unix socket paths are limited
        self.state_dir = settings.data_dir / "run"

    def prepare(self) -> None:
        """What workers must not race on: the demo databases and the bundled model file."""
        from connectors.registry import configured_databases

        configured_databases(self.settings)  # builds the Chinook demo once when none are configured
        try:
            from nl2sql.models import bundled_gguf

            if self.settings.ask.backend == "llama" and self.settings.ask.model_path is None:
                bundled_gguf(self.settings.data_dir)
        except ImportError:  # pragma: no cover - nl2sql absent
            pass

    def start(self, index: int) -> None:
        spec = WorkerSpec(index=index, count=self.count, run_dir=self.run_dir)
        proc = self._ctx.Process(target=_worker_main, args=(self.settings, spec), name=f"askgres-worker-{index}")
        proc.start()
        self._procs[index] = proc
        self._started[index] = time.monotonic()
        log.info("workers.started", worker=index, pid=proc.pid)
        self._write_state()

    def _write_state(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = {"supervisor": os.getpid(), "port": self.settings.port,
                 "workers": {str(i): p.pid for i, p in sorted(self._procs.items())}}
        tmp = self.state_dir / f".workers.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_dir / "workers.json")

    def stop(self, *_: Any) -> None:
        self._stopping = True

    def run(self) -> int:
        """Until SIGTERM/SIGINT (exit 0) or workers that keep dying at start (exit 1)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.stop)
        try:
            for i in range(self.count):
                self.start(i)
            while not self._stopping:
                sentinels = [p.sentinel for p in self._procs.values()]
                wait(sentinels, timeout=0.5)
                for index, proc in list(self._procs.items()):
                    if proc.is_alive() or self._stopping:
                        continue
                    lived = time.monotonic() - self._started[index]
                    log.error("workers.died", worker=index, pid=proc.pid, exitcode=proc.exitcode, lived_s=round(lived, 1))
                    if lived < EARLY_DEATH_S:
                        self._early_deaths += 1
                        if self._early_deaths >= MAX_EARLY_DEATHS:
                            log.error("workers.giving_up", deaths=self._early_deaths)
                            return 1
                    time.sleep(RESTART_DELAY_S)
                    if not self._stopping:
                        self.start(index)
            return 0
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        procs = [p for p in self._procs.values() if p.is_alive()]
        for p in procs:
            p.terminate()  # SIGTERM: the worker tells its clients 57P01 and closes
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                log.warning("workers.kill", pid=p.pid)
                p.kill()
                p.join(5)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        (self.state_dir / "workers.json").unlink(missing_ok=True)
        log.info("workers.stopped")


def run_workers(settings: Settings) -> int:
    """Blocking entry of ``askgres serve`` with ``workers`` > 1; returns the exit status."""
    from gateway.auth import check_listen_address

    check_listen_address(settings.host, settings.users)
    reserved = reserve_port(settings.host, settings.port)
    try:
        port = int(reserved.getsockname()[1])
        supervisor = Supervisor(settings.model_copy(update={"port": port}))
        supervisor.prepare()
        log.info("workers.starting", host=settings.host, port=port, workers=settings.workers)
        return supervisor.run()
    finally:
        reserved.close()
