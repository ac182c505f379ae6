"""What the benchmarks share: an ``askgres serve`` subprocess on a free port, pgbench runs
and their parsing, the machine description, tables and JSON output."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.pg_reference import PgInfo, free_port

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "out"

# Point select by primary key: the script the 0.5x target is defined on.
POINT_SELECT = '\\set id random(1, 3503)\nSELECT "Name" FROM "Track" WHERE "TrackId" = :id;\n'


@dataclass(frozen=True)
class Target:
    """One server to benchmark: a label and how pgbench reaches it."""

    label: str
    host: str
    port: int
    user: str
    dbname: str
    pid: int | None = None  # the server process (and its children): CPU time per transaction

    @classmethod
    def from_pg(cls, label: str, pg: PgInfo) -> Target:
        return cls(label=label, host=pg.host, port=pg.port, user=pg.user, dbname=pg.dbname, pid=pg.pid)


@dataclass
class PgbenchResult:
    target: str
    mode: str
    clients: int
    threads: int
    duration_s: int
    tps: float | None = None
    latency_ms: float | None = None
    latency_stddev_ms: float | None = None
    transactions: int | None = None
    failed: int | None = None
    error: str | None = None
    server_cpu_us: float | None = None  # user + system CPU of the server per transaction
    extra: dict[str, Any] = field(default_factory=dict)


def askgres_command() -> list[str]:
    """The ``askgres`` console script, or the same entry point through this interpreter."""
    exe = shutil.which("askgres")
    if exe:
        return [exe]
    return [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())"]


def wait_listening(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float, log: Path,
                   what: str = "askgres serve") -> None:
    """Until ``proc`` accepts connections on ``host:port``; its log's tail in the error when
    it exits or does not listen within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not listening after {timeout}s: {log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def _descendants(pid: int) -> list[int]:
    """``pid``'s live child processes, their children, and so on (Linux ``/proc``)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                kids = [int(k) for k in task.read_text().split()]
            except (OSError, ValueError):
                continue
            out += kids
            todo += kids
    return out


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time so far of a process and its live descendants (the workers
    of ``askgres serve`` with ``workers`` > 1), with that of their children that have
    exited (PostgreSQL's backends), from Linux ``/proc``; ``None`` when it is gone."""
    total = 0.0
    for i, p in enumerate([pid, *_descendants(pid)]):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            if i == 0:
                return None
    return total


def wait_quiet(pid: int, *, timeout: float = 180.0, busy: float = 0.05, quiet_for: int = 2) -> float:
    """Wait until the server has warmed up: its CPU use below ``busy`` (share of a core)
    for ``quiet_for`` consecutive seconds (the ask pipeline loads its model and indexes in
    the background after the port opens; measuring meanwhile measures that). Returns the
    seconds waited."""
    started = time.monotonic()
    quiet = 0
    last = _cpu_seconds(pid)
    while last is not None and quiet < quiet_for and time.monotonic() - started < timeout:
        time.sleep(1.0)
        now = _cpu_seconds(pid)
        if now is None:
            break
        quiet = quiet + 1 if now - last < busy else 0
        last = now
    return time.monotonic() - started


@contextlib.contextmanager
def askgres_server(
    *,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    wrap: Sequence[str] = (),
    start_timeout: float = 180.0,
    warm: bool = True,
) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """Run ``askgres serve --port <free>`` with its own data directory (the Chinook demo is
    built there on first start). ``wrap`` prefixes the command (e.g. a profiler). With
    ``warm``, wait until its background warm-up is over (:func:`wait_quiet`)."""
    own = data_dir is None
    data = Path(tempfile.mkdtemp(prefix="askgres-bench-")) if data_dir is None else data_dir
    port = free_port()
    log = data / "serve.log"
    full_env = dict(os.environ)
    full_env.update({"ASKGRES_DATA_DIR": str(data), "ASKGRES_LOG_LEVEL": "warning", "PYTHONPATH": str(ROOT)})
    full_env.update(env or {})
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*wrap, *askgres_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=str(ROOT), start_new_session=True,
        )
    try:
        wait_listening("127.0.0.1", port, proc, start_timeout, log)
        if warm and not wrap:
            wait_quiet(proc.pid)
        yield "127.0.0.1", port, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if own:
            shutil.rmtree(data, ignore_errors=True)


_FLOAT = r"([0-9]+(?:\.[0-9]+)?)"


def parse_pgbench(text: str) -> dict[str, Any]:
    """The figures of pgbench's summary (PostgreSQL 15 wording)."""
    out: dict[str, Any] = {}
    pats = {
        "tps": rf"^tps = {_FLOAT} \(without initial connection time\)",
        "latency_ms": rf"^latency average = {_FLOAT} ms",
        "latency_stddev_ms": rf"^latency stddev = {_FLOAT} ms",
        "transactions": r"^number of transactions actually processed: (\d+)",
        "failed": r"^number of failed transactions: (\d+)",
    }
    for key, pat in pats.items():
        m = re.search(pat, text, re.M)
        if m:
            out[key] = int(m.group(1)) if key in ("transactions", "failed") else float(m.group(1))
    return out


def run_pgbench(
    target: Target,
    script: Path,
    *,
    clients: int,
    mode: str,
    duration_s: int,
    threads: int | None = None,
) -> PgbenchResult:
    """One bounded pgbench run; errors are recorded, not raised, so a table still prints."""
    threads = threads or max(1, min(clients, os.cpu_count() or 1))
    res = PgbenchResult(target=target.label, mode=mode, clients=clients, threads=threads, duration_s=duration_s)
    argv = [
        "pgbench", "-n", "-f", str(script), "-M", mode, "-c", str(clients), "-j", str(threads),
        "-T", str(duration_s), "-h", target.host, "-p", str(target.port), "-U", target.user, target.dbname,
    ]
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    cpu0 = _cpu_seconds(target.pid) if target.pid else None
    cpu1: float | None = None
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration_s + 120)
    except subprocess.TimeoutExpired:
        res.error = f"pgbench did not finish in {duration_s + 120}s"
        return res
    if cpu0 is not None and target.pid:
        time.sleep(0.2)  # PostgreSQL's backends exit and are reaped after pgbench disconnects
        cpu1 = _cpu_seconds(target.pid)
    figures = parse_pgbench(proc.stdout)
    for k, v in figures.items():
        setattr(res, k, v)
    if cpu0 is not None and cpu1 is not None and res.transactions:
        res.server_cpu_us = (cpu1 - cpu0) * 1e6 / res.transactions
    if proc.returncode != 0 or res.tps is None:
        res.error = (proc.stderr.strip() or proc.stdout.strip())[-600:] or f"pgbench exited {proc.returncode}"
    return res


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    pgbench = subprocess.run(["pgbench", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pgbench": pgbench,
    }


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pasted as is into the README); cells are shown with ``str``."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def write_json(name: str, payload: dict[str, Any]) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = OUT_DIR / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def result_dict(r: PgbenchResult) -> dict[str, Any]:
    return asdict(r)


def write_script(directory: Path, text: str = POINT_SELECT, name: str = "point_select.sql") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def check_tools() -> None:
    missing = [t for t in ("pgbench", "psql") if shutil.which(t) is None]
    if missing:
        raise SystemExit(f"missing on PATH: {', '.join(missing)} (apt-get install postgresql-client-15)")
