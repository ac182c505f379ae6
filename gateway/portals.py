"""Extended-query state of one connection: prepared statements, portals, and the rows a
portal still has to send.

A portal keeps the :class:`~gateway.api.Outcome` of its execution and a
:class:`RowSource` over its rows, so that a row-limited Execute can stop (PortalSuspended)
and the next Execute of the same portal carry on where it stopped.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from connectors.base import Column
from gateway.api import Outcome, Prepared
from gateway.errors import InvalidCursorName, InvalidSqlStatementName, PgError
from gateway.protocol.rows import RowEncoder
from gateway.protocol.types import UNKNOWN_OID, Decoder, decoder, name_of, oid_of

_SELECT_TAG = re.compile(r"^SELECT \d+$")


@dataclass
class Statement:
    """A Parse result: the engine's :class:`Prepared` and the parameter type OIDs the
    client sees in ParameterDescription and Bind decodes with."""

    prepared: Prepared
    param_oids: list[int]
    declared: tuple[int, ...] = ()  # the OIDs Parse declared (0: infer), which param_oids come from
    # what each combination of Bind format fields comes to (Connection._bind_shape)
    bind_shapes: dict[bytes, BindShape] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, prepared: Prepared, declared: Sequence[int]) -> Statement:
        """Declared OIDs win; ``0`` (or a missing one) takes the engine's inferred type."""
        inferred = prepared.param_types
        n = max(len(declared), len(inferred))
        oids = []
        for i in range(n):
            if i < len(declared) and declared[i]:
                oids.append(declared[i])
            elif i < len(inferred):
                oids.append(oid_of(inferred[i]))
            else:
                oids.append(UNKNOWN_OID)
        return cls(prepared, oids, tuple(declared))


@dataclass(slots=True)
class BindShape:
    """What one statement's Bind with given format fields comes to: a decoder per
    parameter, the result formats, the portal's Describe answer (encoded) and the
    encoder of its rows."""

    decoders: list[Decoder]
    result_formats: list[int]
    description: bytes
    encoder: RowEncoder | None  # None: the statement returns no rows
    # the session's reader of this statement once it was answered at once (SessionEngine.hot_reader)
    hot: Callable[[Sequence[Any]], list[Any] | None] | None = None
    hot_tried: bool = False


def declared_type_names(oids: Sequence[int]) -> list[str | None]:
    """Parse's declared OIDs as type names for the engine (``None``: infer it)."""
    return [name_of(o) if o else None for o in oids]


def decode_params(oids: Sequence[int], formats: Sequence[int], raw: Sequence[bytes | None]) -> list[Any]:
    """Bind's raw values as Python objects, by type OID and format."""
    out: list[Any] = []
    for i, (oid, fmt, data) in enumerate(zip(oids, formats, raw, strict=True)):
        if data is None:
            out.append(None)
            continue
        try:
            out.append(decoder(oid, fmt)(data))
        except UnicodeDecodeError:
            raise PgError('invalid byte sequence for encoding "UTF8"', sqlstate="22021") from None
        except PgError as e:
            e.context.setdefault("parameter", i + 1)
            if e.sqlstate == "22P03":
                e.message = f"incorrect binary data format in bind parameter {i + 1}"
            raise
    return out


class RowSource:
    """Rows still to send. A list or tuple is sliced in place; any other iterator may
    block (a backend cursor), so it is advanced in the default executor."""

    __slots__ = ("_seq", "_it", "_pos")

    def __init__(self, rows: Iterator[tuple[Any, ...]] | Sequence[tuple[Any, ...]]) -> None:
        self._seq: Sequence[tuple[Any, ...]] | None = None
        self._it: Iterator[tuple[Any, ...]] | None = None
        if isinstance(rows, Sequence):
            self._seq = rows
        else:
            self._it = iter(rows)
        self._pos = 0

    def take_now(self, n: int) -> Sequence[tuple[Any, ...]] | None:
        """Up to ``n`` rows when they are in memory (fewer: the source is exhausted);
        ``None`` when getting them may block (use :meth:`take`)."""
        if self._seq is None:
            return None
        chunk = self._seq[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk

    async def take(self, n: int) -> Sequence[tuple[Any, ...]]:
        """Up to ``n`` rows; fewer means the source is exhausted."""
        chunk = self.take_now(n)
        if chunk is not None:
            return chunk
        assert self._it is not None
        it = self._it
        return await asyncio.get_running_loop().run_in_executor(None, lambda: list(islice(it, n)))


@dataclass
class Portal:
    """A bound statement: parameters decoded, result formats chosen, and, once executed,
    its outcome and the rows left."""

    statement: Statement
    params: list[Any]
    result_formats: list[int]
    outcome: Outcome | None = None
    source: RowSource | None = None
    done: bool = False
    columns: list[Column] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.columns is None:
            self.columns = self.statement.prepared.columns


def command_tag(tag: str, columns: list[Column] | None, sent: int) -> str:
    """``SELECT n`` counts the rows this Execute sent (after a PortalSuspended, only the
    last batch, as PostgreSQL does); other tags are the engine's."""
    if columns is not None and tag.startswith("SELECT") and (tag == "SELECT" or _SELECT_TAG.match(tag)):
        return f"SELECT {sent}"
    return tag


class Registry:
    """Named and unnamed statements and portals of one connection."""

    def __init__(self) -> None:
        self.statements: dict[str, Statement] = {}
        self.portals: dict[str, Portal] = {}

    def statement(self, name: str) -> Statement:
        stmt = self.statements.get(name)
        if stmt is None:
            raise InvalidSqlStatementName(f'prepared statement "{name}" does not exist')
        return stmt

    def portal(self, name: str) -> Portal:
        portal = self.portals.get(name)
        if portal is None:
            raise InvalidCursorName(f'portal "{name}" does not exist')
        return portal

    def add_statement(self, name: str, stmt: Statement) -> None:
        if name and name in self.statements:
            raise PgError(f'prepared statement "{name}" already exists', sqlstate="42P05")
        self.statements[name] = stmt

    def add_portal(self, name: str, portal: Portal) -> None:
        if name and name in self.portals:
            raise PgError(f'portal "{name}" already exists', sqlstate="42P03")
        self.portals[name] = portal

    def drop_unnamed(self) -> None:
        """A simple Query destroys the unnamed statement and portal."""
        self.statements.pop("", None)
        self.portals.pop("", None)

    def end_transaction(self) -> None:
        """Portals live until their transaction ends (no WITH HOLD cursors here)."""
        self.portals.clear()
