"""The console log renderer: the same text as structlog's ConsoleRenderer (colors off), at
the cost one event per query can afford."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import structlog

from gateway.logs import LeanConsoleRenderer

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
