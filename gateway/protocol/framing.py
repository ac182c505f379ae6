"""Message base classes and the byte-level helpers every message family uses.

A message is a small dataclass. Backend messages know how to :meth:`Message.encode`
themselves; frontend messages also :meth:`FrontendMessage.decode` from their payload
(the bytes after the type byte and the length). Nothing here touches a socket.
"""

from __future__ import annotations

import struct
from typing import ClassVar, Self

from gateway.errors import DataException, ProtocolViolation

I16 = struct.Struct("!h")
U16 = struct.Struct("!H")
I32 = struct.Struct("!i")
U32 = struct.Struct("!I")
I64 = struct.Struct("!q")


def cstr(text: str) -> bytes:
    """A NUL-terminated UTF-8 string."""
    return text.encode() + b"\x00"


def frame(type_: bytes, payload: bytes) -> bytes:
    """Type byte, int32 length (counting itself), payload."""
    return type_ + I32.pack(len(payload) + 4) + payload


class Message:
    """Base of every message. ``type`` is the type byte (empty for the untyped startup
    packets)."""

    type: ClassVar[bytes] = b""

    def payload(self) -> bytes:
        return b""

    def encode(self) -> bytes:
        body = self.payload()
        if not self.type:
            return I32.pack(len(body) + 4) + body
        return frame(self.type, body)


class FrontendMessage(Message):
    """A message a client sends; the server decodes it from its payload."""

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        if payload:
            raise ProtocolViolation("invalid message format")
        return cls()


class Cursor:
    """Reads fields from one message payload; running past its end, or a string with no
    terminator, is a :class:`ProtocolViolation` (the length said less than the fields)."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _unpack(self, st: struct.Struct) -> int:
        end = self.pos + st.size
        if end > len(self.data):
            raise ProtocolViolation("insufficient data left in message")
        (value,) = st.unpack_from(self.data, self.pos)
        self.pos = end
        return int(value)

    def int16(self) -> int:
        return self._unpack(I16)

    def uint16(self) -> int:
        return self._unpack(U16)

    def int32(self) -> int:
        return self._unpack(I32)

    def uint32(self) -> int:
        return self._unpack(U32)

    def byte(self) -> bytes:
        return self.take(1)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolViolation("insufficient data left in message")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out

    def cstring(self) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise ProtocolViolation("invalid string in message")
        raw = self.data[self.pos : end]
        self.pos = end + 1
        try:
            return raw.decode()
        except UnicodeDecodeError as e:
            raise DataException('invalid byte sequence for encoding "UTF8"', sqlstate="22021") from e

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def done(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolViolation("invalid message format")
