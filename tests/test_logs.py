"""Logging: the console renderer is the same text as structlog's ConsoleRenderer (colors off),
at the cost one event per query can afford; no line is lost while a model loads."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import structlog

from gateway.logs import LeanConsoleRenderer
from fixtures_chinook import base_model  # noqa: F401  (fixture)

VALUES: list[Any] = [0, 1.5, -3, None, True, False, "", "a", "with space", "a=b", "it's", 'q"', "tab\t", "nl\n", "ü",
                     [1, "x"], {"k": "v"}, b"by", Path("/tmp/x y"), dt.datetime(2024, 1, 2), ("t",), 10**20]
KEYS = ["ms", "rows", "tag", "peer", "db", "user", "pid", "error", "message", "a", "Z", "_x", "logger", "logger_name"]


def test_lean_console_renderer_matches_structlogs() -> None:
    full = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    lean = LeanConsoleRenderer()
    rng = random.Random(7)
    events: list[dict[str, Any]] = [
        {"event": "query", "ms": 0.123, "rows": 1, "tag": "SELECT 1", "peer": "127.0.0.1:5555", "level": "info",
         "timestamp": "2026-11-22T19:12:15.986034Z"},
        {"event": "a-very-long-event-name-longer-than-thirty-chars", "level": "warning", "timestamp": "T"},
        {"event": "bare"},
    ]
    for _ in range(3000):
        ev = {k: rng.choice(VALUES) for k in rng.sample(KEYS, rng.randint(0, len(KEYS)))}
        if rng.random() < 0.9:
            ev["event"] = rng.choice(["query", "conn.open", 5, "", "x y", None])
        if rng.random() < 0.9:
            ev["level"] = rng.choice(["info", "warning", "debug", "error", "critical"])
        if rng.random() < 0.9:
            ev["timestamp"] = rng.choice(["2026-11-22T19:12:15.986034Z", ""])
        events.append(ev)
    for ev in events:
        assert lean(None, "info", dict(ev)) == full(None, "info", dict(ev)), ev


def test_exceptions_are_rendered_by_structlog() -> None:
    lean = LeanConsoleRenderer()
    try:
        raise ValueError("boom")
    except ValueError as e:
        text = lean(None, "error", {"event": "failed", "level": "error", "exc_info": e})
    assert text.startswith("[error    ] failed") and "ValueError: boom" in text and "Traceback" in text


LOADS_WHILE_LOGGING = """
import json, sys, threading, time
import structlog
from gateway.logs import configure_logging
from nl2sql.llm import open_llama

configure_logging(json=True)
log = structlog.get_logger("askgres.test")
done = threading.Event()

def chatter():
    i = 0
    while not done.is_set() or i < 200:
        log.info("tick", i=i)
        print(f"printed {i}", file=sys.stderr if i % 2 else sys.stdout)
        i += 1
        time.sleep(0.001)
    log.info("ticks", n=i)

t = threading.Thread(target=chatter)
t.start()
for _ in range(3):
    open_llama(sys.argv[1], n_ctx=256)
    open_llama(sys.argv[1], vocab_only=True)
done.set()
t.join()
print("PRINTED", file=sys.stderr)
"""


def test_log_lines_survive_a_model_load(base_model: Path) -> None:
    """A gateway loads models while it serves (at start, at a hot swap): every line the
    other threads log or print meanwhile reaches the log (llama-cpp-python's quiet mode
    pointed the process's stderr at /dev/null while it loaded; a swap of ``sys.stderr`` for
    the whole process would catch other threads' prints), and stderr works after."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", LOADS_WHILE_LOGGING, str(base_model)], capture_output=True,
                         text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    events = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    ticks = [e["i"] for e in events if e["event"] == "tick"]
    n = next(e["n"] for e in events if e["event"] == "ticks")
    assert ticks == list(range(n)), f"{n - len(ticks)} of {n} lines lost"
    printed = {int(line.split()[1]) for line in (out.stdout + out.stderr).splitlines() if line.startswith("printed ")}
    assert printed == set(range(n)), f"{n - len(printed)} of {n} printed lines lost"  # prints of other threads too
    assert out.stderr.rstrip().endswith("PRINTED")
    assert "Model metadata" not in out.stderr and "llama_model_loader" not in out.stderr  # its chatter stays out


def test_streams_stand_in_for_the_real_ones_during_a_load() -> None:
    """While a model loads, ``sys.stdout``/``sys.stderr`` are stand-ins: the loading thread's
    writes go to the load's buffer, and the rest of the stream's face is the real one's
    (encoding, fileno), for other threads that ask."""
    import io
    import sys
    import threading

    from nl2sql.llm import _own_output

    real = io.TextIOWrapper(io.BytesIO(), encoding="latin-1", write_through=True)
    seen: list[str] = []
    buffer = io.StringIO()
    old = sys.stdout
    sys.stdout = real
    try:
        with _own_output(buffer):
            print("loading thread")
            other = threading.Thread(target=lambda: print("other thread"))
            other.start()
            other.join()
            seen.append(sys.stdout.encoding)
    finally:
        sys.stdout = old
    real.flush()
    assert buffer.getvalue() == "loading thread\n" and real.buffer.getvalue() == b"other thread\n"  # type: ignore[attr-defined]
    assert seen == ["latin-1"]
