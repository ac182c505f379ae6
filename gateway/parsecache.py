"""Parse results and simple-protocol plans reused within a session.

Extended-protocol clients that do not name their statements (``pgbench -M extended``,
psycopg, node-postgres) send the same Parse before every execution. Splitting, looking
for a question, classifying and planning the same text again each time costs more than
running a point select, so a session keeps the :class:`~gateway.api.Prepared` of plain SQL
whose plan does not change between executions (no session functions to fold), keyed by
the text and the declared parameter types and tagged with the schema generation it was
planned under: DDL invalidates it like the plan cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

from gateway.api import Prepared

SIZE = 256  # statements kept per session


class _GenerationLRU:
    """key -> value, tagged with the schema generation it was made under (an entry of an
    older generation is dropped on lookup); least recently used first out."""

    def __init__(self, size: int = SIZE) -> None:
        self._entries: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()
        self._size = size

    def _get(self, key: Hashable, generation: int) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] != generation:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def _put(self, key: Hashable, generation: int, value: Any) -> None:
        self._entries[key] = (generation, value)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


class ParseCache(_GenerationLRU):
    """(sql, declared types) -> Prepared."""

    def get(self, sql: str, param_types: Sequence[str | None], generation: int) -> Prepared | None:
        prepared: Prepared | None = self._get((sql, tuple(param_types)), generation)
        return prepared

    def put(self, sql: str, param_types: Sequence[str | None], generation: int, prepared: Prepared) -> None:
        self._put((sql, tuple(param_types)), generation, prepared)


class SimplePlans(_GenerationLRU):
    """Simple-protocol statements already known to be one plain SQL statement, by their
    literal template (:func:`gateway.literals.template`, trailing ``;`` and blanks
    dropped): the next text with the same template skips splitting, the question and
    utility checks and planning, and binds its constants to the same plan. What those
    steps decide depends only on the text around the constants, which the template keeps
    (comments and quoted names included). Tagged with the schema generation."""

    @staticmethod
    def key(template: str) -> str:
        return template.rstrip(" \t\r\n;")

    def get(self, template: str, generation: int) -> Any | None:
        return self._get(self.key(template), generation)

    def put(self, template: str, generation: int, plan: Any) -> None:
        self._put(self.key(template), generation, plan)
