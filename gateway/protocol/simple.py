"""Simple query: the Query message (one or more statements in one string) and Terminate.

The server answers a Query with the messages of :mod:`gateway.protocol.rows` per
statement, then ReadyForQuery (:mod:`gateway.protocol.startup`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from gateway.protocol.constants import FE
from gateway.protocol.framing import Cursor, FrontendMessage, cstr


@dataclass
class Query(FrontendMessage):
    type: ClassVar[bytes] = FE.QUERY
    sql: str = ""

    def payload(self) -> bytes:
        return cstr(self.sql)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        if payload.find(0) == len(payload) - 1:
            try:
                return cls(sql=payload[:-1].decode())
            except UnicodeDecodeError:
                pass
        cur = Cursor(payload)
        sql = cur.cstring()
        cur.done()
        return cls(sql=sql)


@dataclass
class Terminate(FrontendMessage):
    type: ClassVar[bytes] = FE.TERMINATE


@dataclass
class FunctionCall(FrontendMessage):
    """The legacy fast-path function call; askgres refuses it (0A000), so its body is
    kept unparsed."""

    type: ClassVar[bytes] = FE.FUNCTION_CALL
    body: bytes = b""

    def payload(self) -> bytes:
        return self.body

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        return cls(body=payload)
