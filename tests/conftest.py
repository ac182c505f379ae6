"""Shared fixtures: the real gateway (``askgres serve``) in a subprocess.

- ``gateway`` (session): the Chinook demo as ``chinook`` (SQLite) and ``chinook_duckdb``,
  trust auth on 127.0.0.1. Unpacks as ``host, port, data_dir = gateway``; also has
  ``.dsn()``, ``.url()``, ``.psql(...)``, ``.connect()``, ``.log_text()``.
- ``gateway_factory`` (per test): ``gateway_factory(users={...}, max_connections=3,
  databases=[...], demo=False, ...)`` starts another gateway with those settings (the
  TOML file it writes holds them) and stops it after the test.
- ``dsn`` / ``psql``: shortcuts to the session gateway (``psql("-c", "SELECT 1")``).

Every gateway runs ``askgres serve --port 0 --config FILE --log-json`` with its stderr in a
log file; the fixture reads the bound port from the ``server.listening`` event, polls
until a TCP connect succeeds, and at teardown asserts the process is still alive, sends
SIGTERM, and asserts a clean exit (status 0). The demo is built once per session
(``chinook_demo``) and copied into each gateway's data directory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fixtures_chinook import chinook_demo, seed_demo  # noqa: F401  (chinook_demo is a fixture)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_USER = "tester"
START_TIMEOUT_S = 180.0  # a cold start may build indexes or load the model
SERVE_CMD = [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main(prog_name='askgres'))"]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (str, Path)):
        return json.dumps(str(v))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {v!r} as TOML")


def to_toml(settings: dict[str, Any]) -> str:
    """Top-level keys as ``key = value``; tables, and lists of tables, as inline values."""
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in settings.items())


@dataclass
class Gateway:
    host: str
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    config_path: Path
    settings: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.host, self.port, self.data_dir))

    def dsn(self, dbname: str = "chinook", *, user: str = DEFAULT_USER, password: str | None = None, **extra: Any) -> str:
        parts = {"host": self.host, "port": self.port, "dbname": dbname, "user": user, "sslmode": "disable", **extra}
        if password is not None:
            parts["password"] = password
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def url(self, dbname: str = "chinook", *, user: str = DEFAULT_USER, password: str | None = None) -> str:
        auth = user + (f":{password}" if password is not None else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def psql(
        self, *args: str, db: str = "chinook", user: str = DEFAULT_USER, password: str | None = None,
        input: str | None = None, check: bool = True, timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``psql -X -h HOST -p PORT -U USER -d DB ARGS`` and return its result."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if password is not None:
            env["PGPASSWORD"] = password
        env["PGCONNECT_TIMEOUT"] = "10"
        cmd = ["psql", "-X", "-h", self.host, "-p", str(self.port), "-U", user, "-d", db, *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"psql {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def connect(self, dbname: str = "chinook", **kwargs: Any) -> Any:
        """A psycopg 3 connection (autocommit unless told otherwise)."""
        import psycopg

        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("user", DEFAULT_USER)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(host=self.host, port=self.port, dbname=dbname, sslmode="disable", **kwargs)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_events(self, event: str | None = None) -> list[dict[str, Any]]:
        out = []
        for line in self.log_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and (event is None or rec.get("event") == event):
                out.append(rec)
        return out

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the server and wait; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError(f"gateway ignored signal {sig} for {timeout}s:\n{self.tail()}") from None
        return int(self.proc.returncode)

    def tail(self, n: int = 4000) -> str:
        return self.log_text()[-n:]


def _wait_listening(proc: subprocess.Popen[bytes], log_path: Path, host: str, timeout: float) -> int:
    """Poll the log for ``server.listening`` and the port for a TCP connect."""
    deadline = time.monotonic() + timeout
    port: int | None = None
    delay = 0.02
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"askgres serve exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-4000:]}")
        if port is None and log_path.exists():
            for line in log_path.read_text(errors="replace").splitlines():
                if '"server.listening"' in line:
                    port = int(json.loads(line)["port"])
                    break
        if port is not None:
            try:
                with socket.create_connection((host, port), timeout=1):
                    return port
            except OSError:
                pass
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    proc.kill()
    raise RuntimeError(f"askgres serve did not listen within {timeout}s:\n{log_path.read_text(errors='replace')[-4000:]}")


def cancelled(conn: Any, sql: str, *, after_s: float) -> tuple[Any, float]:
    """Run ``sql`` on a psycopg connection that sends a CancelRequest after ``after_s``
    seconds; returns the ``QueryCanceled`` it must raise, and the seconds it took."""
    import psycopg

    timer = threading.Timer(after_s, conn.cancel)
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(psycopg.errors.QueryCanceled) as info:
            conn.execute(sql)
        return info.value, time.monotonic() - t0
    finally:
        timer.join()


def launch_gateway(workdir: Path, settings: dict[str, Any], *, demo_dir: Path | None = None,
                   timeout: float = START_TIMEOUT_S) -> Gateway:
    """Write ``settings`` to a TOML file and start ``askgres serve`` with it."""
    workdir.mkdir(parents=True, exist_ok=True)
    settings = {"host": "127.0.0.1", "data_dir": str(workdir / "data"), **settings}
    # Training runs start only where a test asks for them (tests/test_learner_loop.py):
    # elsewhere a test's failures must not spawn a fine-tuning process.
    settings.setdefault("learner", {"auto": False})
    # Nor must a test's gateway spend a core for a minute writing synthetic examples
    # (nl2sql/synthetic.py) unless the test is about them.
    settings["ask"] = {"synthetic_examples": 0, **settings.get("ask", {})}
    data_dir = Path(settings["data_dir"])
    if demo_dir is not None and not settings.get("databases"):
        seed_demo(demo_dir, data_dir)
    config_path = workdir / "askgres.toml"
    config_path.write_text(to_toml(settings))
    log_path = workdir / "gateway.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASKGRES_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("HF_HUB_OFFLINE", "1")
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [*SERVE_CMD, "serve", "--config", str(config_path), "--port", "0", "--log-json"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        port = _wait_listening(proc, log_path, settings["host"], timeout)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        raise
    return Gateway(settings["host"], port, data_dir, proc, log_path, config_path, settings)


def finish_gateway(gw: Gateway) -> None:
    """Teardown: the server must have survived the tests and must stop cleanly."""
    alive = gw.alive()
    rc = gw.stop()
    assert alive, f"the gateway died during the tests (exit {gw.proc.returncode}):\n{gw.tail()}"
    assert rc == 0, f"the gateway exited with {rc} on SIGTERM:\n{gw.tail()}"


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory, chinook_demo: Path) -> Iterator[Gateway]:  # noqa: F811
    gw = launch_gateway(tmp_path_factory.mktemp("gateway"), {}, demo_dir=chinook_demo)
    yield gw
    finish_gateway(gw)


GatewayFactory = Callable[..., Gateway]


@pytest.fixture
def gateway_factory(tmp_path_factory: pytest.TempPathFactory, chinook_demo: Path) -> Iterator[GatewayFactory]:  # noqa: F811
    started: list[Gateway] = []

    def start(*, demo: bool = True, check_teardown: bool = True, **settings: Any) -> Gateway:
        gw = launch_gateway(tmp_path_factory.mktemp("gw"), settings, demo_dir=chinook_demo if demo else None)
        gw.settings["_check_teardown"] = check_teardown
        started.append(gw)
        return gw

    yield start
    for gw in started:
        if gw.settings.get("_check_teardown", True) and gw.proc.returncode is None:
            finish_gateway(gw)
        else:
            gw.stop()


@pytest.fixture
def dsn(gateway: Gateway) -> str:
    return gateway.dsn()


@pytest.fixture
def psql(gateway: Gateway) -> Callable[..., subprocess.CompletedProcess[str]]:
    return gateway.psql
