"""A throw-away PostgreSQL 15 loaded with Chinook: the reference that benchmarks and
differential tests compare askgres with.

    with pg_reference(sqlite_path) as pg:
        subprocess.run(["psql", pg.dsn, "-c", 'SELECT count(*) FROM "Track"'])

``initdb`` into a temporary directory, ``postgres`` on a free port of 127.0.0.1 (unix
socket in the same directory, trust authentication), then the tables of the SQLite
Chinook file are created with the canonical PostgreSQL Chinook names (quoted, mixed
case), primary keys, foreign keys and ``IFK_`` indexes, and the rows are COPYed in.
PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` system
user (or ``nobody``), which owns the temporary directory.

``python -m bench.pg_reference [SQLITE]`` starts one and waits (Ctrl-C stops it).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PG_BIN = Path(os.environ.get("ASKGRES_PG_BIN", "/usr/lib/postgresql/15/bin"))
SHARED_CHINOOK = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "chinook" / "Chinook_Sqlite.sqlite"


class PgReferenceError(RuntimeError):
    """The reference PostgreSQL could not be started or loaded."""


@dataclass(frozen=True)
class PgInfo:
    """Where the reference server listens."""

    host: str
    port: int
    user: str
    dbname: str
    socket_dir: Path
    data_dir: Path
    pid: int | None = None  # the postmaster

    @property
    def dsn(self) -> str:
        """libpq keyword/value string (psql, psycopg)."""
        return f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"

    @property
    def url(self) -> str:
        """``postgresql://`` URL (asyncpg, SQLAlchemy with ``postgresql+psycopg://``)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    def env(self) -> dict[str, str]:
        """Environment for psql/pgbench: PGHOST, PGPORT, PGUSER, PGDATABASE."""
        env = dict(os.environ)
        env.update(PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user, PGDATABASE=self.dbname)
        env.pop("PGPASSWORD", None)
        return env


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def available() -> bool:
    """True when the PostgreSQL 15 server binaries and psql are installed."""
    return (PG_BIN / "initdb").exists() and (PG_BIN / "postgres").exists() and shutil.which("psql") is not None


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PgReferenceError("running as root and neither a 'postgres' nor a 'nobody' user exists")


def _popen_kwargs(account: pwd.struct_passwd | None) -> dict[str, Any]:
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [], "cwd": "/"}


# --- schema translation -------------------------------------------------------------

_TYPE_MAP = (
    (re.compile(r"^(N?VARCHAR|CHARACTER VARYING|VARYING CHARACTER|NVARCHAR)\s*\((\d+)\)$"), "VARCHAR({1})"),
    (re.compile(r"^N?CHAR(ACTER)?\s*\((\d+)\)$"), "CHAR({1})"),
    (re.compile(r"^(NUMERIC|DECIMAL)\s*\((\d+)\s*,\s*(\d+)\)$"), "NUMERIC({1},{2})"),
    (re.compile(r"^(INTEGER|INT|INT4|MEDIUMINT|SMALLINT|TINYINT)$"), "INT"),
    (re.compile(r"^(BIGINT|INT8|HUGEINT)$"), "BIGINT"),
    (re.compile(r"^(DATETIME|TIMESTAMP)$"), "TIMESTAMP"),
    (re.compile(r"^DATE$"), "DATE"),
    (re.compile(r"^(REAL|FLOAT|DOUBLE|DOUBLE PRECISION)$"), "DOUBLE PRECISION"),
    (re.compile(r"^(NUMERIC|DECIMAL)$"), "NUMERIC"),
    (re.compile(r"^(BOOLEAN|BOOL)$"), "BOOLEAN"),
    (re.compile(r"^(BLOB|BYTEA)$"), "BYTEA"),
)


def pg_type(decl: str) -> str:
    """The PostgreSQL column type for a SQLite declared type (canonical Chinook mapping)."""
    d = " ".join(decl.upper().split())
    for pattern, template in _TYPE_MAP:
        m = pattern.match(d)
        if m:
            return template.format(*m.groups())
    return "TEXT"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_text(value: Any) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    s = str(value)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def load_script(sqlite_path: Path) -> str:
    """A psql script that recreates the SQLite database's tables, keys, indexes and rows."""
    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in src.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        head: list[str] = ["SET client_min_messages = warning;", "BEGIN;"]
        tail: list[str] = []
        for t in tables:
            cols = list(src.execute(f"PRAGMA table_info({_q(t)})"))
            pk = [c[1] for c in sorted((c for c in cols if c[5]), key=lambda c: c[5])]
            defs = [f"    {_q(c[1])} {pg_type(c[2] or '')}{' NOT NULL' if c[3] or c[5] else ''}" for c in cols]
            if pk:
                defs.append(f"    CONSTRAINT {_q('PK_' + t)} PRIMARY KEY ({', '.join(map(_q, pk))})")
            head.append(f"CREATE TABLE {_q(t)}\n(\n" + ",\n".join(defs) + "\n);")
            names = [c[1] for c in cols]
            head.append(f"COPY {_q(t)} ({', '.join(map(_q, names))}) FROM stdin;")
            for row in src.execute(f"SELECT {', '.join(map(_q, names))} FROM {_q(t)}"):
                head.append("\t".join(_copy_text(v) for v in row))
            head.append("\\.")
            fks: dict[int, list[tuple[str, str, str]]] = {}
            for fk in src.execute(f"PRAGMA foreign_key_list({_q(t)})"):
                fks.setdefault(fk[0], []).append((fk[2], fk[3], fk[4]))
            for parts in fks.values():
                ref = parts[0][0]
                local = [p[1] for p in parts]
                remote = [p[2] for p in parts]
                name = "FK_" + t + "".join(local)
                tail.append(
                    f"ALTER TABLE {_q(t)} ADD CONSTRAINT {_q(name)} FOREIGN KEY ({', '.join(map(_q, local))}) "
                    f"REFERENCES {_q(ref)} ({', '.join(map(_q, remote))}) ON DELETE NO ACTION ON UPDATE NO ACTION;"
                )
            for idx in src.execute(f"PRAGMA index_list({_q(t)})"):
                if idx[3] != "c":  # created by CREATE INDEX (not pk/unique constraints)
                    continue
                icols = [r[2] for r in src.execute(f"PRAGMA index_info({_q(idx[1])})")]
                unique = "UNIQUE " if idx[2] else ""
                tail.append(f"CREATE {unique}INDEX {_q(idx[1])} ON {_q(t)} ({', '.join(map(_q, icols))});")
        tail += ["COMMIT;", "ANALYZE;"]
        return "\n".join(head + tail) + "\n"
    finally:
        src.close()


# --- the server ----------------------------------------------------------------------


def _tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _psql(info: PgInfo, args: Sequence[str], *, input: str | None = None, dbname: str | None = None) -> str:
    env = info.env()
    if dbname:
        env["PGDATABASE"] = dbname
    proc = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *args],
        input=input, capture_output=True, text=True, env=env, timeout=300,
    )
    if proc.returncode != 0:
        raise PgReferenceError(f"psql {' '.join(args)} failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


@contextlib.contextmanager
def pg_reference(
    sqlite_path: Path | str | None = None,
    *,
    dbname: str = "chinook",
    port: int | None = None,
    settings: dict[str, str] | None = None,
    start_timeout: float = 60.0,
) -> Iterator[PgInfo]:
    """Start a PostgreSQL 15, load ``sqlite_path`` into database ``dbname`` (an empty
    database when ``None``), yield where it listens, stop it and delete its files."""
    if not available():
        raise PgReferenceError(f"PostgreSQL 15 server binaries not found in {PG_BIN}")
    account = _run_as()
    root = Path(tempfile.mkdtemp(prefix="askgres-pg-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        data = root / "data"
        if account is not None:
            os.chown(root, account.pw_uid, account.pw_gid)
        os.chmod(root, 0o755)
        kw = _popen_kwargs(account)
        init = subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, timeout=120, **kw,
        )
        if init.returncode != 0:
            raise PgReferenceError(f"initdb failed: {init.stderr.strip()[-2000:]}")
        port = port or free_port()
        opts = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(root),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "120",
            "shared_buffers": "64MB",
            "logging_collector": "off",
            **(settings or {}),
        }
        argv = [str(PG_BIN / "postgres"), "-D", str(data)]
        for k, v in opts.items():
            argv += ["-c", f"{k}={v}"]
        log_path = root / "postgres.log"
        with open(log_path, "wb") as log_file:
            if account is not None:
                os.chown(log_path, account.pw_uid, account.pw_gid)
            proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        info = PgInfo(host="127.0.0.1", port=port, user="postgres", dbname=dbname, socket_dir=root, data_dir=data,
                      pid=proc.pid)
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise PgReferenceError(f"postgres exited with {proc.returncode}: {_tail(log_path)}")
            ready = subprocess.run(
                ["pg_isready", "-q", "-h", info.host, "-p", str(port), "-U", "postgres", "-d", "postgres"],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise PgReferenceError(f"postgres did not accept connections in {start_timeout}s: {_tail(log_path)}")
            time.sleep(0.1)
        _psql(info, ["-c", f"CREATE DATABASE {_q(dbname)}"], dbname="postgres")
        if sqlite_path is not None:
            _psql(info, ["-f", "-"], input=load_script(Path(sqlite_path)))
        yield info
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def chinook_sqlite(workdir: Path) -> Path:
    """A SQLite Chinook file: the askgres demo built into ``workdir`` (the data askgres
    serves), else the canonical file in ``../shared/data``."""
    try:
        from connectors.chinook import build_demo
    except ImportError:
        build_demo = None
    if build_demo is not None:
        for db in build_demo(workdir):
            if db.kind == "sqlite":
                return Path(db.path)
    if SHARED_CHINOOK.exists():
        return SHARED_CHINOOK
    raise PgReferenceError("no Chinook SQLite file: connectors.chinook missing and ../shared/data absent")


def main() -> None:  # pragma: no cover - manual use
    import sys

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED_CHINOOK
    with pg_reference(path) as info:
        sys.stdout.write(f"PostgreSQL 15 with {path.name}: psql '{info.dsn}'  ({info.url})\nCtrl-C stops it.\n")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":  # pragma: no cover
    main()
