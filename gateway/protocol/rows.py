"""Results: RowDescription (with PostgreSQL type OIDs), DataRow, CommandComplete and
EmptyQueryResponse, and :class:`RowEncoder`, which turns result tuples into DataRow
bytes for a given set of column types and formats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from connectors.base import Column
from gateway.errors import InternalError
from gateway.protocol.constants import BE, FORMAT_TEXT
from gateway.protocol.framing import I16, I32, U32, Message, cstr
from gateway.protocol.types import encoder, oid_of, typlen_of

_NULL = I32.pack(-1)


@dataclass
class FieldDescription:
    name: str
    type_oid: int
    typlen: int
    format: int = FORMAT_TEXT
    typmod: int = -1
    table_oid: int = 0
    column_number: int = 0

    @classmethod
    def of(cls, column: Column, fmt: int = FORMAT_TEXT) -> FieldDescription:
        return cls(name=column.name, type_oid=oid_of(column.pg_type), typlen=typlen_of(column.pg_type), format=fmt)

    def encode(self) -> bytes:
        return (
            cstr(self.name)
            + U32.pack(self.table_oid)
            + I16.pack(self.column_number)
            + U32.pack(self.type_oid)
            + I16.pack(self.typlen)
            + I32.pack(self.typmod)
            + I16.pack(self.format)
        )


@dataclass
class RowDescription(Message):
    type: ClassVar[bytes] = BE.ROW_DESCRIPTION
    fields: list[FieldDescription] = field(default_factory=list)

    @classmethod
    def of(cls, columns: Sequence[Column], formats: Sequence[int] | None = None) -> RowDescription:
        fmts = list(formats) if formats is not None else [FORMAT_TEXT] * len(columns)
        return cls([FieldDescription.of(c, f) for c, f in zip(columns, fmts, strict=True)])

    def payload(self) -> bytes:
        return I16.pack(len(self.fields)) + b"".join(f.encode() for f in self.fields)


@dataclass
class DataRow(Message):
    """``values`` already encoded (text or binary); ``None`` is SQL NULL."""

    type: ClassVar[bytes] = BE.DATA_ROW
    values: list[bytes | None] = field(default_factory=list)

    def payload(self) -> bytes:
        parts = [I16.pack(len(self.values))]
        for v in self.values:
            parts.append(_NULL if v is None else I32.pack(len(v)) + v)
        return b"".join(parts)


@dataclass
class CommandComplete(Message):
    type: ClassVar[bytes] = BE.COMMAND_COMPLETE
    tag: str = ""

    def payload(self) -> bytes:
        return cstr(self.tag)


@dataclass
class EmptyQueryResponse(Message):
    type: ClassVar[bytes] = BE.EMPTY_QUERY_RESPONSE


class RowEncoder:
    """Encodes result tuples as complete DataRow messages, one encoder per column chosen
    once from the column's type and its format."""

    __slots__ = ("_encoders", "_head")

    def __init__(self, columns: Sequence[Column], formats: Sequence[int] | None = None) -> None:
        fmts = list(formats) if formats is not None else [FORMAT_TEXT] * len(columns)
        self._encoders = [encoder(c.pg_type, f) for c, f in zip(columns, fmts, strict=True)]
        self._head = I16.pack(len(columns))

    def encode(self, row: Sequence[Any]) -> bytes:
        if len(row) != len(self._encoders):
            raise InternalError(f"row has {len(row)} values but the result has {len(self._encoders)} columns")
        parts = [self._head]
        for enc, value in zip(self._encoders, row):
            if value is None:
                parts.append(_NULL)
            else:
                data = enc(value)
                parts.append(I32.pack(len(data)))
                parts.append(data)
        body = b"".join(parts)
        return BE.DATA_ROW + I32.pack(len(body) + 4) + body


class ShapeCache:
    """RowDescription bytes and a :class:`RowEncoder` per result shape (columns and
    formats), made once: a statement run again and again has the same shape. Bounded
    (cleared when full)."""

    __slots__ = ("_shapes", "_size")

    def __init__(self, size: int = 64) -> None:
        self._shapes: dict[tuple[Any, ...], tuple[bytes, RowEncoder]] = {}
        self._size = size

    def get(self, columns: Sequence[Column], formats: Sequence[int] | None = None) -> tuple[bytes, RowEncoder]:
        key = (tuple(columns), None if formats is None else tuple(formats))
        shape = self._shapes.get(key)
        if shape is None:
            if len(self._shapes) >= self._size:
                self._shapes.clear()
            shape = self._shapes[key] = (RowDescription.of(columns, formats).encode(), RowEncoder(columns, formats))
        return shape
