"""Startup and authentication: the untyped startup packets (StartupMessage, SSLRequest,
GSSENCRequest, CancelRequest), SASL exchange messages, and what the server sends until
the first ReadyForQuery (Authentication*, ParameterStatus, BackendKeyData,
NegotiateProtocolVersion, ReadyForQuery)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

from gateway.errors import ProtocolViolation
from gateway.protocol.constants import (
    AUTH_CLEARTEXT_PASSWORD,
    AUTH_OK,
    AUTH_SASL,
    AUTH_SASL_CONTINUE,
    AUTH_SASL_FINAL,
    BE,
    CANCEL_REQUEST_CODE,
    FE,
    GSSENC_REQUEST_CODE,
    SSL_REQUEST_CODE,
)
from gateway.protocol.framing import I32, Cursor, FrontendMessage, Message, cstr

# --- frontend: the untyped startup packets ------------------------------------------


@dataclass
class StartupMessage(FrontendMessage):
    """Protocol version and the connection parameters (``user``, ``database``,
    ``application_name``, ``options``, ``_pq_.*`` protocol options...)."""

    params: dict[str, str] = field(default_factory=dict)
    major: int = 3
    minor: int = 0

    def payload(self) -> bytes:
        body = I32.pack((self.major << 16) | self.minor)
        body += b"".join(cstr(k) + cstr(v) for k, v in self.params.items())
        return body + b"\x00"

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        cur = Cursor(payload)
        version = cur.int32()
        params: dict[str, str] = {}
        while True:
            if cur.remaining() == 0:
                raise ProtocolViolation("invalid startup packet layout: expected terminator as last byte")
            key = cur.cstring()
            if not key:
                break
            params[key] = cur.cstring()
        cur.done()
        return cls(params=params, major=version >> 16, minor=version & 0xFFFF)


@dataclass
class SSLRequest(FrontendMessage):
    def payload(self) -> bytes:
        return I32.pack(SSL_REQUEST_CODE)


@dataclass
class GSSENCRequest(FrontendMessage):
    def payload(self) -> bytes:
        return I32.pack(GSSENC_REQUEST_CODE)


@dataclass
class CancelRequest(FrontendMessage):
    """Sent on a new connection: interrupt the query of the session with this key."""

    pid: int = 0
    secret: int = 0

    def payload(self) -> bytes:
        return I32.pack(CANCEL_REQUEST_CODE) + I32.pack(self.pid) + I32.pack(self.secret)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        cur = Cursor(payload)
        cur.int32()
        pid, secret = cur.int32(), cur.int32()
        cur.done()
        return cls(pid=pid, secret=secret)


StartupPacket = StartupMessage | SSLRequest | GSSENCRequest | CancelRequest


def decode_startup(payload: bytes) -> StartupPacket:
    """Decode the payload of an untyped startup packet by the code in its first int32."""
    code = Cursor(payload).int32()
    if code == SSL_REQUEST_CODE:
        return SSLRequest.decode(payload[4:])
    if code == GSSENC_REQUEST_CODE:
        return GSSENCRequest.decode(payload[4:])
    if code == CANCEL_REQUEST_CODE:
        return CancelRequest.decode(payload)
    return StartupMessage.decode(payload)


# --- frontend: the password / SASL messages (all type 'p') ---------------------------


@dataclass
class PasswordMessage(FrontendMessage):
    """Any ``p`` message; what it holds depends on what the server asked for, so it is
    decoded further with :meth:`SASLInitialResponse.of` or :meth:`SASLResponse.of`."""

    type: ClassVar[bytes] = FE.PASSWORD
    data: bytes = b""

    def payload(self) -> bytes:
        return self.data

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        return cls(data=payload)


@dataclass
class SASLInitialResponse(FrontendMessage):
    type: ClassVar[bytes] = FE.PASSWORD
    mechanism: str = ""
    data: bytes | None = None

    def payload(self) -> bytes:
        if self.data is None:
            return cstr(self.mechanism) + I32.pack(-1)
        return cstr(self.mechanism) + I32.pack(len(self.data)) + self.data

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        cur = Cursor(payload)
        mechanism = cur.cstring()
        n = cur.int32()
        data = None if n == -1 else cur.take(n)
        cur.done()
        return cls(mechanism=mechanism, data=data)

    @classmethod
    def of(cls, msg: PasswordMessage) -> Self:
        return cls.decode(msg.data)


@dataclass
class SASLResponse(FrontendMessage):
    type: ClassVar[bytes] = FE.PASSWORD
    data: bytes = b""

    def payload(self) -> bytes:
        return self.data

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        return cls(data=payload)

    @classmethod
    def of(cls, msg: PasswordMessage) -> Self:
        return cls.decode(msg.data)


# --- backend -------------------------------------------------------------------------


@dataclass
class AuthenticationOk(Message):
    type: ClassVar[bytes] = BE.AUTHENTICATION

    def payload(self) -> bytes:
        return I32.pack(AUTH_OK)


@dataclass
class AuthenticationCleartextPassword(Message):
    type: ClassVar[bytes] = BE.AUTHENTICATION

    def payload(self) -> bytes:
        return I32.pack(AUTH_CLEARTEXT_PASSWORD)


@dataclass
class AuthenticationSASL(Message):
    type: ClassVar[bytes] = BE.AUTHENTICATION
    mechanisms: list[str] = field(default_factory=lambda: ["SCRAM-SHA-256"])

    def payload(self) -> bytes:
        return I32.pack(AUTH_SASL) + b"".join(cstr(m) for m in self.mechanisms) + b"\x00"


@dataclass
class AuthenticationSASLContinue(Message):
    type: ClassVar[bytes] = BE.AUTHENTICATION
    data: bytes = b""

    def payload(self) -> bytes:
        return I32.pack(AUTH_SASL_CONTINUE) + self.data


@dataclass
class AuthenticationSASLFinal(Message):
    type: ClassVar[bytes] = BE.AUTHENTICATION
    data: bytes = b""

    def payload(self) -> bytes:
        return I32.pack(AUTH_SASL_FINAL) + self.data


@dataclass
class ParameterStatus(Message):
    type: ClassVar[bytes] = BE.PARAMETER_STATUS
    name: str = ""
    value: str = ""

    def payload(self) -> bytes:
        return cstr(self.name) + cstr(self.value)


@dataclass
class BackendKeyData(Message):
    type: ClassVar[bytes] = BE.BACKEND_KEY_DATA
    pid: int = 0
    secret: int = 0

    def payload(self) -> bytes:
        return I32.pack(self.pid) + I32.pack(self.secret)


@dataclass
class NegotiateProtocolVersion(Message):
    """The newest minor version the server speaks, and the ``_pq_.`` options it does not
    know."""

    type: ClassVar[bytes] = BE.NEGOTIATE_PROTOCOL_VERSION
    minor: int = 0
    unrecognized: list[str] = field(default_factory=list)

    def payload(self) -> bytes:
        return I32.pack(self.minor) + I32.pack(len(self.unrecognized)) + b"".join(cstr(o) for o in self.unrecognized)


@dataclass
class ReadyForQuery(Message):
    """``status``: ``I`` idle, ``T`` in a transaction block, ``E`` in a failed one."""

    type: ClassVar[bytes] = BE.READY_FOR_QUERY
    status: str = "I"

    def payload(self) -> bytes:
        return self.status.encode()
