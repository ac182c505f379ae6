"""A minimal PostgreSQL client over a raw socket, for tests that need exact messages
(PortalSuspended, EmptyQueryResponse, malformed input). Frontend messages come from the
codec (:mod:`gateway.protocol`); backend messages are split into (type, payload)."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from gateway.protocol.errors import ErrorResponse
from gateway.protocol.framing import Message
from gateway.protocol.startup import StartupMessage


@dataclass
class Reply:
    type: bytes
    payload: bytes

    @property
    def error(self) -> ErrorResponse:
        assert self.type in (b"E", b"N"), self
        return ErrorResponse.decode(self.payload)


def split(data: bytes) -> tuple[list[Reply], bytes]:
    """Complete backend messages in ``data`` and the incomplete rest."""
    out: list[Reply] = []
    i = 0
    while i + 5 <= len(data):
        n = struct.unpack("!i", data[i + 1 : i + 5])[0]
        if i + 1 + n > len(data):
            break
        out.append(Reply(data[i : i + 1], data[i + 5 : i + 1 + n]))
        i += 1 + n
    return out, data[i:]


class RawClient:
    def __init__(self, host: str, port: int, *, timeout: float = 15) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._rest = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, *msgs: Message | bytes) -> None:
        self.sock.sendall(b"".join(m if isinstance(m, bytes) else m.encode() for m in msgs))

    def startup(self, user: str = "tester", database: str = "chinook") -> list[Reply]:
        self.send(StartupMessage({"user": user, "database": database}))
        return self.until_ready()

    def until_ready(self) -> list[Reply]:
        """Everything up to and including ReadyForQuery."""
        return self.until(b"Z")

    def until(self, last: bytes) -> list[Reply]:
        got: list[Reply] = []
        while True:
            msgs, self._rest = split(self._rest)
            for i, m in enumerate(msgs):
                got.append(m)
                if m.type == last:
                    rest = b"".join(x.type + struct.pack("!i", len(x.payload) + 4) + x.payload for x in msgs[i + 1 :])
                    self._rest = rest + self._rest
                    return got
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed by the server after {[m.type for m in got]}")
            self._rest += data

    def read_to_eof(self) -> list[Reply]:
        """Everything the server sends until it closes the connection."""
        data = self._rest
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            data += chunk
        msgs, rest = split(data)
        assert not rest, f"trailing bytes {rest!r}"
        return msgs
