"""The sans-IO reader: feed it bytes as they arrive, take complete messages out.

It starts in startup mode (untyped packets: StartupMessage, SSLRequest, GSSENCRequest,
CancelRequest) and switches to typed messages after a StartupMessage. Lengths are
checked before any body is awaited: a length under 4, over 1 GB (10000 bytes for a
startup packet), or an unknown type byte is a :class:`ProtocolViolation` at once, so a
stream of garbage is refused without waiting for a body that will never come.
"""

from __future__ import annotations

from typing import TypeVar

from gateway.errors import PgError, ProtocolViolation
from gateway.protocol.constants import FE, MAX_MESSAGE_LENGTH, MAX_STARTUP_LENGTH
from gateway.protocol.copy import CopyData, CopyDone, CopyFail
from gateway.protocol.extended import (
    Bind,
    BoundExecute,
    Close,
    Describe,
    Execute,
    Flush,
    Parse,
    Sync,
    peek_bound_execute,
)
from gateway.protocol.framing import I32, FrontendMessage
from gateway.protocol.simple import FunctionCall, Query, Terminate
from gateway.protocol.startup import PasswordMessage, StartupMessage, StartupPacket, decode_startup

M = TypeVar("M", bound=FrontendMessage)

FRONTEND: dict[bytes, type[FrontendMessage]] = {
    FE.BIND: Bind,
    FE.CLOSE: Close,
    FE.COPY_DATA: CopyData,
    FE.COPY_DONE: CopyDone,
    FE.COPY_FAIL: CopyFail,
    FE.DESCRIBE: Describe,
    FE.EXECUTE: Execute,
    FE.FLUSH: Flush,
    FE.FUNCTION_CALL: FunctionCall,
    FE.PARSE: Parse,
    FE.PASSWORD: PasswordMessage,
    FE.QUERY: Query,
    FE.SYNC: Sync,
    FE.TERMINATE: Terminate,
}

_BY_CODE: dict[int, type[FrontendMessage]] = {code[0]: cls for code, cls in FRONTEND.items()}


class Reader:
    """Frames and decodes frontend messages.

    :meth:`read` returns the next complete message or ``None`` when more bytes are
    needed. A malformed message raises :class:`PgError` after it has been consumed, so
    the stream stays in step; ``error.context["message_type"]`` names the message it
    came from. Framing errors (lengths, unknown types) are fatal: the stream cannot be
    resynchronised and the connection must be closed.
    """

    def __init__(self, *, startup: bool = True, max_length: int = MAX_MESSAGE_LENGTH) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._startup = startup
        self._max = max_length

    @property
    def in_startup(self) -> bool:
        return self._startup

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def peek_bound_execute(self) -> BoundExecute | None:
        """The next messages as one Bind/Describe/Execute/Sync run of the unnamed portal,
        if that is what they are (nothing is consumed: :meth:`skip_to` its ``end``)."""
        if self._startup:
            return None
        return peek_bound_execute(self._buf, self._pos)

    def peek(self, cls: type[M]) -> tuple[M, int] | None:
        """The next message and where it ends, if it is a whole, well-formed ``cls``;
        else ``None`` (:meth:`read` reports what is wrong). Nothing is consumed:
        :meth:`skip_to` its end."""
        buf, pos = self._buf, self._pos
        if self._startup or len(buf) - pos < 5 or buf[pos] != cls.type[0]:
            return None
        end = pos + 1 + I32.unpack_from(buf, pos + 1)[0]
        if end > len(buf) or end < pos + 5:
            return None
        try:
            return cls.decode(bytes(buf[pos + 5 : end])), end
        except PgError:
            return None

    def take_rest(self) -> bytes:
        """The bytes not consumed yet, removed from the reader."""
        rest = bytes(self._buf[self._pos :])
        self._buf.clear()
        self._pos = 0
        return rest

    def skip_to(self, end: int) -> None:
        """Consume the messages up to ``end`` (found by :meth:`peek_bound_execute` or :meth:`peek`)."""
        self._pos = end

    def read(self) -> FrontendMessage | StartupPacket | None:
        if self._startup:
            return self._read_startup()
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if avail < 1:
            return None
        cls = _BY_CODE.get(buf[pos])
        if cls is None:
            raise ProtocolViolation(f"invalid frontend message type {buf[pos]}")
        if avail < 5:
            return None
        length = I32.unpack_from(buf, pos + 1)[0]
        if length < 4 or length > self._max:
            raise ProtocolViolation(f"invalid message length {length}")
        end = pos + 1 + length
        if avail < 1 + length:
            return None
        payload = bytes(buf[pos + 5 : end])
        self._pos = end
        try:
            return cls.decode(payload)
        except PgError as e:
            e.context["message_type"] = cls.type
            raise

    def _read_startup(self) -> StartupPacket | None:
        avail = len(self._buf) - self._pos
        if avail < 4:
            return None
        length = I32.unpack_from(self._buf, self._pos)[0]
        if length < 8 or length > MAX_STARTUP_LENGTH:
            raise ProtocolViolation(f"invalid length of startup packet {length}")
        if avail < length:
            return None
        payload = bytes(self._buf[self._pos + 4 : self._pos + length])
        self._pos += length
        msg = decode_startup(payload)
        if isinstance(msg, StartupMessage):  # after SSLRequest/GSSENCRequest another one follows
            self._startup = False
        return msg
