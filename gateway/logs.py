"""structlog setup: human-readable by default, JSON lines with ``log_json``."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

# structlog's ConsoleRenderer layout (colors off): what :class:`LeanConsoleRenderer` copies.
_LEVEL_WIDTH = 9  # len("exception"), the longest level name it knows
_EVENT_WIDTH = 30
_QUOTE_IF = frozenset(" \t=\r\n\"'")
_ABSENT = object()


class LeanConsoleRenderer:
    """structlog's ``ConsoleRenderer(colors=False)``, the same text for the same event,
    at a fraction of its cost: one event is logged per query, and the full renderer
    (column objects, a StringIO per value) cost more than answering a point select.
    Events carrying an exception or a stack go to the full renderer."""

    def __init__(self) -> None:
        self._full = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)

    def __call__(self, logger: Any, name: str, event_dict: structlog.types.EventDict) -> str:
        if "exception" in event_dict or "exc_info" in event_dict or "stack" in event_dict:
            return str(self._full(logger, name, event_dict))
        parts: list[str] = []
        timestamp = event_dict.pop("timestamp", _ABSENT)
        if timestamp is not _ABSENT:
            parts.append(str(timestamp))
        level = event_dict.pop("level", _ABSENT)
        if level is not _ABSENT:
            parts.append(f"[{str(level):<{_LEVEL_WIDTH}}]")
        event = event_dict.pop("event", _ABSENT)
        if event is not _ABSENT:
            parts.append(f"{str(event):<{_EVENT_WIDTH}}")
        for key in ("logger", "logger_name"):
            value = event_dict.pop(key, _ABSENT)
            if value is not _ABSENT:
                parts.append(f"[{value}]")
        for key in sorted(event_dict):
            value = event_dict[key]
            if isinstance(value, str) and not _QUOTE_IF.intersection(value):
                parts.append(f"{key}={value}")
            else:
                parts.append(f"{key}={value!r}")
        return " ".join(p for p in parts if p).rstrip(" ")


def configure_logging(*, json: bool = False, level: str = "info") -> None:
    lvl = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
    ]
    renderer: structlog.types.Processor = structlog.processors.JSONRenderer() if json else LeanConsoleRenderer()
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
