"""Where client tests connect: the conftest's ``gateway`` (Chinook as ``chinook`` on SQLite
and ``chinook_duckdb`` on DuckDB) and a scratch gateway serving two empty read-write
databases (``scratch_sqlite``, ``scratch_duckdb``) for tests that write.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ["chinook", "chinook_duckdb"]
SCRATCH = {"chinook": "scratch_sqlite", "chinook_duckdb": "scratch_duckdb"}
USER = "postgres"  # the same user name on askgres (trust on loopback) and the reference server


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    dbname: str
    user: str = USER
    password: str | None = None

    @classmethod
    def of(cls, info: Any) -> Endpoint:
        """From a :class:`bench.pg_reference.PgInfo` or anything with host/port/dbname."""
        return cls(host=info.host, port=int(info.port), dbname=info.dbname, user=getattr(info, "user", USER))

    @property
    def dsn(self) -> str:
        pw = f" password={self.password}" if self.password else ""
        return f"host={self.host} port={self.port} dbname={self.dbname} user={self.user}{pw} sslmode=disable"

    @property
    def url(self) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.dbname}"

    def db(self, dbname: str) -> Endpoint:
        return replace(self, dbname=dbname)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gateway_endpoint(gw: Any) -> Endpoint:
    host = getattr(gw, "host", "127.0.0.1")
    port = getattr(gw, "port")
    return Endpoint(host=host, port=int(port), dbname="chinook")


def chinook_endpoint(request: pytest.FixtureRequest, dbname: str) -> Endpoint:
    gw = request.getfixturevalue("gateway")
    return _gateway_endpoint(gw).db(dbname)


class ServeProcess:
    """``askgres serve`` in a subprocess with the given databases (a JSON list for
    ``ASKGRES_DATABASES``), on a free port, stopped with SIGTERM."""

    def __init__(self, data_dir: Path, databases: list[dict[str, Any]]) -> None:
        self.port = _free_port()
        self.host = "127.0.0.1"
        env = dict(os.environ)
        env.update(
            ASKGRES_DATA_DIR=str(data_dir),
            ASKGRES_DATABASES=json.dumps(databases),
            ASKGRES_LOG_LEVEL="warning",
            PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        )
        self.log = data_dir / "serve.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())",
                 "serve", "--host", self.host, "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT),
            )
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"askgres serve exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"askgres serve not listening: {self.log.read_text()[-3000:]}")
                time.sleep(0.1)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_scratch_dbs(directory: Path) -> list[dict[str, Any]]:
    """Two empty read-write databases, one per backend."""
    import sqlite3

    directory.mkdir(parents=True, exist_ok=True)
    sqlite_path, duck_path = directory / "scratch.sqlite", directory / "scratch.duckdb"
    sqlite3.connect(sqlite_path).close()
    try:
        import duckdb

        duckdb.connect(str(duck_path)).close()
    except ImportError:
        pass
    return [
        {"name": "scratch_sqlite", "kind": "sqlite", "path": str(sqlite_path)},
        {"name": "scratch_duckdb", "kind": "duckdb", "path": str(duck_path)},
    ]


@pytest.fixture(scope="session")
def scratch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data = tmp_path_factory.mktemp("scratch-gw")
    server = ServeProcess(data, make_scratch_dbs(data / "dbs"))
    try:
        yield server
        assert server.alive(), "the scratch gateway died during the tests"
    finally:
        server.stop()


def scratch_endpoint(request: pytest.FixtureRequest, backend: str) -> Endpoint:
    server: ServeProcess = request.getfixturevalue("scratch_server")
    return Endpoint(host=server.host, port=server.port, dbname=SCRATCH[backend])
