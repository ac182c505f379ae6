"""Startup and authentication of a client connection: the startup packet (refusing
SSL/GSS encryption, answering CancelRequest), SCRAM-SHA-256 unless the server trusts,
the session opened with the startup parameters as settings, then ParameterStatus,
BackendKeyData and the first ReadyForQuery. A mixin of
:class:`gateway.connection.Connection`, which provides the message and byte plumbing."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

from gateway.api import SessionEngine
from gateway.errors import FeatureNotSupported, InvalidAuthorization, PgError, ProtocolViolation
from gateway.protocol.constants import REFUSE_ENCRYPTION
from gateway.protocol.framing import FrontendMessage, Message
from gateway.protocol.startup import (
    AuthenticationOk,
    AuthenticationSASL,
    AuthenticationSASLContinue,
    AuthenticationSASLFinal,
    BackendKeyData,
    CancelRequest,
    GSSENCRequest,
    NegotiateProtocolVersion,
    ParameterStatus,
    PasswordMessage,
    ReadyForQuery,
    SASLInitialResponse,
    SASLResponse,
    SSLRequest,
    StartupMessage,
    StartupPacket,
)

if TYPE_CHECKING:
    from gateway.connection import Connection, Hub

STARTUP_TIMEOUT_S = 60.0  # PostgreSQL's authentication_timeout
# Startup parameters that are not settings.
_NOT_SETTINGS = {"user", "database", "options", "replication"}


class ClientGone(Exception):
    """The client closed the connection (or it broke) while we were talking."""


def startup_settings(params: dict[str, str]) -> dict[str, str]:
    """Settings a client asks for at startup: plain parameters (``application_name``,
    ``DateStyle``...) and ``-c name=value`` / ``--name=value`` inside ``options``."""
    out = {k: v for k, v in params.items() if k not in _NOT_SETTINGS and not k.startswith("_pq_.")}
    words = params.get("options", "").replace("\\ ", "\x00").split()
    i = 0
    while i < len(words):
        word = words[i].replace("\x00", " ")
        item = None
        if word == "-c" and i + 1 < len(words):
            item = words[i + 1].replace("\x00", " ")
            i += 1
        elif word.startswith("-c"):
            item = word[2:]
        elif word.startswith("--"):
            item = word[2:]
        if item and "=" in item:
            name, value = item.split("=", 1)
            out[name.replace("-", "_")] = value
        i += 1
    return out


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Handshake:
    """Startup and authentication; the connection provides what is declared here."""

    hub: Hub
    session: SessionEngine | None
    pid: int
    secret: int
    _out: bytearray
    _reported: dict[str, str]
    _log: Any

    if TYPE_CHECKING:
        async def _next(self) -> FrontendMessage | StartupPacket | None: ...

        def send(self, msg: Message) -> None: ...

        async def flush(self) -> None: ...

    # -- startup and authentication ---------------------------------------------------
    async def _startup_in_time(self) -> bool:
        """A client gets ``STARTUP_TIMEOUT_S`` to finish startup and authentication."""
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_S):
                return await self._startup()
        except TimeoutError:
            raise ProtocolViolation("canceling authentication due to timeout") from None

    async def _startup(self) -> bool:
        msg = await self._next()
        while isinstance(msg, (SSLRequest, GSSENCRequest)):
            self._out += REFUSE_ENCRYPTION
            await self.flush()
            msg = await self._next()
        if msg is None:
            return False
        if isinstance(msg, CancelRequest):
            self.hub.cancel(msg.pid, msg.secret)
            return False
        if not isinstance(msg, StartupMessage):
            raise ProtocolViolation("expected a startup packet")
        if msg.major != 3:
            error = FeatureNotSupported(
                f"unsupported frontend protocol {msg.major}.{msg.minor}: server supports 3.0 to 3.0"
            )
            error.severity = "FATAL"
            raise error
        unknown = [k for k in msg.params if k.startswith("_pq_.")]
        if msg.minor > 0 or unknown:
            self.send(NegotiateProtocolVersion(minor=0, unrecognized=unknown))
        user = msg.params.get("user")
        if not user:
            raise InvalidAuthorization("no PostgreSQL user name specified in startup packet")
        database = msg.params.get("database") or user
        self._log = self._log.bind(user=user, db=database)
        self.pid, self.secret = self.hub.admit(cast("Connection", self))
        await self._authenticate(user)
        self.send(AuthenticationOk())
        self.session = self.hub.engine.open_session(database=database, user=user, is_admin=self.hub.auth.is_admin(user))
        engine_pid = getattr(self.session, "pid", None)
        if isinstance(engine_pid, int) and engine_pid > 0:  # so that pg_backend_pid() matches BackendKeyData
            self.pid, self.secret = self.hub.rekey(cast("Connection", self), engine_pid)
        await self._apply_settings(startup_settings(msg.params))
        self._reported = dict(self.session.parameter_status())
        for name, value in self._reported.items():
            self.send(ParameterStatus(name, value))
        self.send(BackendKeyData(self.pid, self.secret))
        self.send(ReadyForQuery(self.session.tx_status))
        await self.flush()
        self._log = self._log.bind(pid=self.pid)
        self._log.info("conn.open")
        return True

    async def _authenticate(self, user: str) -> None:
        if self.hub.auth.trust:
            return
        exchange = self.hub.auth.begin(user)
        self.send(AuthenticationSASL(list(exchange.mechanisms)))
        await self.flush()
        initial = SASLInitialResponse.of(await self._password_message())
        self.send(AuthenticationSASLContinue(exchange.server_first(initial.mechanism, initial.data)))
        await self.flush()
        final = SASLResponse.of(await self._password_message())
        self.send(AuthenticationSASLFinal(exchange.server_final(final.data)))

    async def _password_message(self) -> PasswordMessage:
        msg = await self._next()
        if msg is None:
            raise ClientGone()
        if not isinstance(msg, PasswordMessage):
            raise ProtocolViolation(f"expected SASL response, got message type {msg.type!r}")
        return msg

    async def _apply_settings(self, settings: dict[str, str]) -> None:
        """Startup parameters become session settings, as if SET (unknown ones are
        ignored with a log line, not refused)."""
        assert self.session is not None
        for name, value in settings.items():
            if not name.replace("_", "").isalnum():
                continue
            try:
                await self.session.run_simple(f"SET {name} TO {_quote_literal(value)}")
            except PgError as e:
                self._log.info("conn.startup_setting_ignored", name=name, value=value, error=e.message)

