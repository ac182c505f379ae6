"""Client authentication.

No users configured: trust, like a fresh ``initdb``, and only on a loopback address:
:func:`check_listen_address` refuses to start otherwise. Every user is then an admin.

Users configured: SCRAM-SHA-256 (RFC 7677) with the ``scramp`` package, the server's
keys derived once from each configured password. A wrong password and an unknown user
fail the same way, at the end of the exchange, with 28P01 (as PostgreSQL does: an
unknown user runs a mock exchange so that the two cannot be told apart).
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Mapping
from typing import Any

from scramp import ScramException, ScramMechanism

from gateway.config import UserConfig
from gateway.errors import InvalidPassword, ProtocolViolation

SCRAM_SHA_256 = "SCRAM-SHA-256"
SCRAM_ITERATIONS = 4096  # PostgreSQL's default scram_iterations

AuthInfo = tuple[Any, ...]  # (salt, stored_key, server_key, iterations) from scramp


class UnsafeListenAddress(RuntimeError):
    """Raised at startup: a non-loopback address with no users configured."""


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addrs = {str(info[4][0]).split("%", 1)[0] for info in infos}
    return bool(addrs) and all(ipaddress.ip_address(a).is_loopback for a in addrs)


def check_listen_address(host: str, users: Mapping[str, UserConfig]) -> None:
    """Refuse a non-loopback listen address when nobody needs to log in."""
    if not users and not is_loopback(host):
        raise UnsafeListenAddress(
            f"refusing to listen on {host!r} with no users configured: anyone who can reach it "
            "could connect without a password. Listen on 127.0.0.1, or add users under [users] "
            "in the configuration (passwords are checked with SCRAM-SHA-256)."
        )


class ScramExchange:
    """One SCRAM-SHA-256 exchange, server side: client-first -> server-first,
    client-final -> server-final. Raises 28P01 when the proof is wrong or the user
    unknown."""

    mechanisms = (SCRAM_SHA_256,)

    def __init__(self, mechanism: ScramMechanism, auth_info: AuthInfo | None, mock_info: AuthInfo, user: str) -> None:
        self.user = user
        self._known = auth_info is not None
        info = auth_info if auth_info is not None else mock_info
        # PostgreSQL ignores the user name inside the SCRAM message (libpq leaves it
        # empty): the startup packet's user is the one checked.
        self._server = mechanism.make_server(lambda _name: info)

    def _failed(self) -> InvalidPassword:
        return InvalidPassword(f'password authentication failed for user "{self.user}"')

    def server_first(self, mechanism: str, client_first: bytes | None) -> bytes:
        if mechanism not in self.mechanisms:
            raise ProtocolViolation("client selected an invalid SASL authentication mechanism")
        if client_first is None:
            raise ProtocolViolation("malformed SCRAM message (empty message)")
        try:
            self._set_client_first(client_first.decode())
            return str(self._server.get_server_first()).encode()
        except (ScramException, UnicodeDecodeError, KeyError, ValueError) as e:
            raise ProtocolViolation("malformed SCRAM message", detail=str(e)) from None

    def _set_client_first(self, message: str) -> None:
        """libpq sends an empty user name (``n,,n=,r=...``), which scramp's parser
        refuses. Parse with a placeholder name, then put back the bare message the client
        sent: the proofs are computed over it."""
        header_end = message.find(",", message.find(",") + 1)
        bare = message[header_end + 1 :]
        if header_end < 0 or not bare.startswith("n=,"):
            self._server.set_client_first(message)
            return
        self._server.set_client_first(message[: header_end + 1] + "n=*," + bare[3:])
        self._server.client_first_bare = bare

    def server_final(self, client_final: bytes) -> bytes:
        try:
            self._server.set_client_final(client_final.decode())
        except ScramException:
            raise self._failed() from None
        except (UnicodeDecodeError, KeyError, ValueError) as e:
            raise ProtocolViolation("malformed SCRAM message", detail=str(e)) from None
        if not self._known:
            raise self._failed()
        return str(self._server.get_server_final()).encode()


class Authenticator:
    """Knows the configured users; makes one :class:`ScramExchange` per login."""

    def __init__(self, users: Mapping[str, UserConfig]) -> None:
        self._users = dict(users)
        self._mechanism = ScramMechanism(SCRAM_SHA_256)
        self._info: dict[str, AuthInfo] = {
            name: tuple(self._mechanism.make_auth_info(u.password, iteration_count=SCRAM_ITERATIONS))
            for name, u in self._users.items()
        }
        self._mock = tuple(
            self._mechanism.make_auth_info(secrets.token_hex(16), iteration_count=SCRAM_ITERATIONS)
        )

    @property
    def trust(self) -> bool:
        """No users configured: everyone gets in (the listener is loopback-only)."""
        return not self._users

    def is_admin(self, user: str) -> bool:
        if self.trust:
            return True
        cfg = self._users.get(user)
        return bool(cfg and cfg.admin)

    def begin(self, user: str) -> ScramExchange:
        return ScramExchange(self._mechanism, self._info.get(user), self._mock, user)
