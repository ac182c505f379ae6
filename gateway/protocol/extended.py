"""Extended query: Parse, Bind, Describe, Execute, Sync, Close, Flush from the client;
ParseComplete, BindComplete, CloseComplete, ParameterDescription, NoData and
PortalSuspended from the server."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, Self

from gateway.errors import PgError, ProtocolViolation
from gateway.protocol.constants import BE, FE, FORMAT_BINARY, FORMAT_TEXT, TARGET_PORTAL, TARGET_STATEMENT
from gateway.protocol.framing import I16, I32, U32, Cursor, FrontendMessage, Message, cstr

# --- frontend ------------------------------------------------------------------------

# Each decoder has a fast path for well-formed messages (struct and bytes methods, no
# per-field calls) and falls back to the checked :class:`Cursor` path, which names what is
# wrong, whenever anything does not add up.
_MALFORMED = (ValueError, IndexError, struct.error)


def _param_values(buf: bytes | bytearray, pos: int, n: int, end: int) -> tuple[list[bytes | None], int]:
    """Bind's ``n`` parameter values from ``pos`` (each an int32 length, -1 for NULL, then
    the bytes), and where they end. ``ValueError`` when one runs past ``end``."""
    params: list[bytes | None] = []
    for _ in range(n):
        (length,) = I32.unpack_from(buf, pos)
        pos += 4
        if length == -1:
            params.append(None)
            continue
        if length < 0 or pos + length > end:
            raise ValueError("parameter past the end of Bind")
        params.append(bytes(buf[pos : pos + length]))
        pos += length
    return params, pos


def _cstrings(payload: bytes, n: int) -> tuple[list[str], int]:
    """``n`` NUL-terminated strings from the start of ``payload``, and where they end."""
    out: list[str] = []
    pos = 0
    for _ in range(n):
        end = payload.index(0, pos)
        out.append(payload[pos:end].decode())
        pos = end + 1
    return out, pos


@dataclass
class Parse(FrontendMessage):
    """``param_oids``: the types the client declares, ``0`` for "infer it"."""

    type: ClassVar[bytes] = FE.PARSE
    name: str = ""
    sql: str = ""
    param_oids: list[int] = field(default_factory=list)

    def payload(self) -> bytes:
        oids = b"".join(U32.pack(o) for o in self.param_oids)
        return cstr(self.name) + cstr(self.sql) + I16.pack(len(self.param_oids)) + oids

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        try:
            (name, sql), pos = _cstrings(payload, 2)
            (n,) = I16.unpack_from(payload, pos)
            if n >= 0 and pos + 2 + 4 * n == len(payload):
                return cls(name=name, sql=sql, param_oids=list(struct.unpack_from(f"!{n}I", payload, pos + 2)))
        except _MALFORMED:
            pass
        return cls._checked(payload)

    @classmethod
    def _checked(cls, payload: bytes) -> Self:
        cur = Cursor(payload)
        name, sql = cur.cstring(), cur.cstring()
        n = cur.int16()
        if n < 0:
            raise ProtocolViolation("invalid number of parameter types")
        oids = [cur.uint32() for _ in range(n)]
        cur.done()
        return cls(name=name, sql=sql, param_oids=oids)


@dataclass
class Bind(FrontendMessage):
    """``params`` are the raw values (``None`` is SQL NULL), still in their wire format."""

    type: ClassVar[bytes] = FE.BIND
    portal: str = ""
    statement: str = ""
    param_formats: list[int] = field(default_factory=list)
    params: list[bytes | None] = field(default_factory=list)
    result_formats: list[int] = field(default_factory=list)

    def payload(self) -> bytes:
        parts = [cstr(self.portal), cstr(self.statement), I16.pack(len(self.param_formats))]
        parts += [I16.pack(f) for f in self.param_formats]
        parts.append(I16.pack(len(self.params)))
        for p in self.params:
            parts.append(I32.pack(-1) if p is None else I32.pack(len(p)) + p)
        parts.append(I16.pack(len(self.result_formats)))
        parts += [I16.pack(f) for f in self.result_formats]
        return b"".join(parts)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        try:
            (portal, statement), pos = _cstrings(payload, 2)
            (nf,) = I16.unpack_from(payload, pos)
            if nf >= 0:
                formats = list(struct.unpack_from(f"!{nf}h", payload, pos + 2))
                pos += 2 + 2 * nf
                (n,) = I16.unpack_from(payload, pos)
                params, pos = _param_values(payload, pos + 2, n, len(payload))
                (nr,) = I16.unpack_from(payload, pos)
                if n >= 0 and nr >= 0 and pos + 2 + 2 * nr == len(payload):
                    result_formats = list(struct.unpack_from(f"!{nr}h", payload, pos + 2))
                    return cls(portal, statement, formats, params, result_formats)
        except _MALFORMED:
            pass
        return cls._checked(payload)

    @classmethod
    def _checked(cls, payload: bytes) -> Self:
        cur = Cursor(payload)
        portal, statement = cur.cstring(), cur.cstring()
        param_formats = [cur.int16() for _ in range(_count(cur))]
        params: list[bytes | None] = []
        for _ in range(_count(cur)):
            n = cur.int32()
            if n < -1:
                raise ProtocolViolation(f"invalid parameter length {n}")
            params.append(None if n == -1 else cur.take(n))
        result_formats = [cur.int16() for _ in range(_count(cur))]
        cur.done()
        return cls(portal, statement, param_formats, params, result_formats)


def _count(cur: Cursor) -> int:
    n = cur.int16()
    if n < 0:
        raise ProtocolViolation("invalid count in message")
    return n


@dataclass
class Describe(FrontendMessage):
    """``target`` is ``b"S"`` (a prepared statement) or ``b"P"`` (a portal)."""

    type: ClassVar[bytes] = FE.DESCRIBE
    target: bytes = TARGET_STATEMENT
    name: str = ""

    def payload(self) -> bytes:
        return self.target + cstr(self.name)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        target = payload[:1]
        if payload[-1:] == b"\x00" and payload.find(0, 1) == len(payload) - 1 \
                and target in (TARGET_STATEMENT, TARGET_PORTAL):
            try:
                return cls(target=target, name=payload[1:-1].decode())
            except UnicodeDecodeError:
                pass
        cur = Cursor(payload)
        target = _target(cur, "describe")
        name = cur.cstring()
        cur.done()
        return cls(target=target, name=name)


@dataclass
class Close(FrontendMessage):
    type: ClassVar[bytes] = FE.CLOSE
    target: bytes = TARGET_STATEMENT
    name: str = ""

    def payload(self) -> bytes:
        return self.target + cstr(self.name)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        cur = Cursor(payload)
        target = _target(cur, "close")
        name = cur.cstring()
        cur.done()
        return cls(target=target, name=name)


def _target(cur: Cursor, what: str) -> bytes:
    target = cur.byte()
    if target not in (TARGET_STATEMENT, TARGET_PORTAL):
        raise ProtocolViolation(f"invalid {what.upper()} message subtype {target[0]}")
    return target


@dataclass
class Execute(FrontendMessage):
    """``max_rows`` 0 means all of them."""

    type: ClassVar[bytes] = FE.EXECUTE
    portal: str = ""
    max_rows: int = 0

    def payload(self) -> bytes:
        return cstr(self.portal) + I32.pack(self.max_rows)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        end = payload.find(0)
        if end == len(payload) - 5:
            try:
                return cls(portal=payload[:end].decode(), max_rows=max(I32.unpack_from(payload, end + 1)[0], 0))
            except UnicodeDecodeError:
                pass
        cur = Cursor(payload)
        portal = cur.cstring()
        max_rows = cur.int32()
        cur.done()
        return cls(portal=portal, max_rows=max(max_rows, 0))


# The four messages libpq (pgbench -M prepared, psycopg) and most drivers send to run a
# prepared statement once, as they arrive together: Describe and Execute of the unnamed
# portal, all rows, then Sync.
_DESCRIBE_UNNAMED = b"D\x00\x00\x00\x06P\x00"
_EXECUTE_UNNAMED_ALL = b"E\x00\x00\x00\x09\x00\x00\x00\x00\x00"
_SYNC = b"S\x00\x00\x00\x04"


@dataclass(slots=True)
class BoundExecute:
    """Bind of the unnamed portal, an optional Describe of it, Execute of all its rows and
    Sync, found whole and well-formed in a receive buffer (:func:`peek_bound_execute`).
    ``formats`` is the Bind's raw parameter-format and result-format fields, a key for
    what they decode to; ``end`` is where the Sync ends."""

    statement: str
    formats: bytes
    params: list[bytes | None]
    describe: bool
    end: int

    def format_codes(self) -> tuple[list[int], list[int]]:
        """The parameter and result format codes, as Bind lists them."""
        (nf,) = I16.unpack_from(self.formats, 0)
        (nr,) = I16.unpack_from(self.formats, 2 + 2 * nf)
        return list(struct.unpack_from(f"!{nf}h", self.formats, 2)), list(
            struct.unpack_from(f"!{nr}h", self.formats, 4 + 2 * nf))


def peek_bound_execute(buf: bytes | bytearray, pos: int) -> BoundExecute | None:
    """The messages at ``pos`` as one :class:`BoundExecute`, or ``None`` when they are
    anything else, malformed or not all received (then the messages are read one by one,
    and the checked decoders report what is wrong)."""
    size = len(buf)
    if size - pos < 6 or buf[pos] != 0x42 or buf[pos + 5] != 0:  # Bind of the unnamed portal
        return None
    try:
        end = pos + 1 + I32.unpack_from(buf, pos + 1)[0]
        if end > size:
            return None
        name_end = buf.index(0, pos + 6, end)
        statement = buf[pos + 6 : name_end].decode()
        p = name_end + 1
        formats_at = p
        (nf,) = I16.unpack_from(buf, p)
        if nf < 0:
            return None
        p += 2 + 2 * nf
        formats = bytes(buf[formats_at:p])
        (n,) = I16.unpack_from(buf, p)
        params, p = _param_values(buf, p + 2, n, end)
        (nr,) = I16.unpack_from(buf, p)
        if n < 0 or nr < 0 or p + 2 + 2 * nr != end:
            return None
    except _MALFORMED + (UnicodeDecodeError,):
        return None
    formats += buf[p:end]
    describe = buf[end : end + 7] == _DESCRIBE_UNNAMED
    if describe:
        end += 7
    if buf[end : end + 10] != _EXECUTE_UNNAMED_ALL or buf[end + 10 : end + 15] != _SYNC:
        return None
    return BoundExecute(statement, formats, params, describe, end + 15)


@dataclass
class Sync(FrontendMessage):
    type: ClassVar[bytes] = FE.SYNC


@dataclass
class Flush(FrontendMessage):
    type: ClassVar[bytes] = FE.FLUSH


def expand_formats(codes: list[int], n: int, *, what: str) -> list[int]:
    """Bind's format-code list for ``n`` values: none (all text), one (for all), or one
    each. Anything else is a protocol violation (an ERROR, the stream is intact)."""
    for code in codes:
        if code not in (FORMAT_TEXT, FORMAT_BINARY):
            raise PgError(f"unsupported format code: {code}", sqlstate="22023")
    if not codes:
        return [FORMAT_TEXT] * n
    if len(codes) == 1:
        return codes * n
    if len(codes) != n:
        # PostgreSQL reports this as an ERROR: the stream itself is intact.
        raise PgError(f"bind message has {len(codes)} {what} formats but {n} {what}s", sqlstate="08P01")
    return list(codes)


# --- backend -------------------------------------------------------------------------


@dataclass
class ParseComplete(Message):
    type: ClassVar[bytes] = BE.PARSE_COMPLETE


@dataclass
class BindComplete(Message):
    type: ClassVar[bytes] = BE.BIND_COMPLETE


@dataclass
class CloseComplete(Message):
    type: ClassVar[bytes] = BE.CLOSE_COMPLETE


@dataclass
class NoData(Message):
    type: ClassVar[bytes] = BE.NO_DATA


@dataclass
class PortalSuspended(Message):
    type: ClassVar[bytes] = BE.PORTAL_SUSPENDED


@dataclass
class ParameterDescription(Message):
    type: ClassVar[bytes] = BE.PARAMETER_DESCRIPTION
    oids: list[int] = field(default_factory=list)

    def payload(self) -> bytes:
        return I16.pack(len(self.oids)) + b"".join(U32.pack(o) for o in self.oids)
