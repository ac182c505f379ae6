"""COPY ... TO STDOUT: CopyOutResponse, CopyData per row (text format), CopyDone. CopyData,
CopyDone and CopyFail from a client are decoded too (askgres does not take COPY FROM
STDIN; they are ignored outside a copy, as PostgreSQL does)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from connectors.base import Column
from gateway.protocol.constants import BE, FE, FORMAT_TEXT
from gateway.protocol.framing import I16, I32, Cursor, FrontendMessage, Message
from gateway.protocol.types import encoder


@dataclass
class CopyOutResponse(Message):
    type: ClassVar[bytes] = BE.COPY_OUT_RESPONSE
    format: int = FORMAT_TEXT
    column_formats: list[int] = field(default_factory=list)

    def payload(self) -> bytes:
        return bytes([self.format]) + I16.pack(len(self.column_formats)) + b"".join(I16.pack(f) for f in self.column_formats)


@dataclass
class CopyData(FrontendMessage):
    type: ClassVar[bytes] = BE.COPY_DATA
    data: bytes = b""

    def payload(self) -> bytes:
        return self.data

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        return cls(data=payload)


@dataclass
class CopyDone(FrontendMessage):
    type: ClassVar[bytes] = BE.COPY_DONE


@dataclass
class CopyFail(FrontendMessage):
    type: ClassVar[bytes] = FE.COPY_FAIL
    message: str = ""

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        cur = Cursor(payload)
        message = cur.cstring()
        cur.done()
        return cls(message=message)


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\b": "\\b", "\f": "\\f", "\v": "\\v"})


class CopyRowEncoder:
    """Encodes result tuples as CopyData messages in COPY's text format: tab-separated,
    ``\\N`` for NULL, backslash escapes, one line per row."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self._encoders = [encoder(c.pg_type, FORMAT_TEXT) for c in columns]

    def encode(self, row: Sequence[Any]) -> bytes:
        fields = [
            "\\N" if v is None else enc(v).decode().translate(_ESCAPES) for enc, v in zip(self._encoders, row)
        ]
        body = ("\t".join(fields) + "\n").encode()
        return BE.COPY_DATA + I32.pack(len(body) + 4) + body
