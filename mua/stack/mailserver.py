"""What the world's two mail-store servers (IMAP and POP3) share: the listeners and a session's
connection facts.

`MailServer` runs the two listeners of one protocol (implicit TLS on the 993/995 role, the
STARTTLS/STLS one on the 143/110 role), each behind its own connection gate
(`mua.stack.limits`) and with its own chaos source (`mua.stack.chaos`); it builds one session
per admitted connection and ends them all at `stop()`. `MailSession` is one connection: its
peer, its TLS facts, the switch to TLS on STARTTLS/STLS, and the MS -> MUA leg it records when
a client reads a message. The protocols themselves (greeting, commands, replies) stay in
`mua.stack.imap.server` and `mua.stack.pop3.server`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from mua.core.legs import Endpoint, Leg, Protocol, Role, Source
from mua.core.tls_facts import TlsFacts, TlsMode
from mua.net.tls import facts_from_ssl_object
from mua.stack.chaos import ChaosOptions
from mua.stack.events import EventLog
from mua.stack.limits import ConnectionGate, ConnectionLimits
from mua.stack.users import Mailbox, UserDirectory

if TYPE_CHECKING:
    from mua.stack.imap.mailstore import MailStore
    from mua.stack.oauth_tokens import TokenVerifier

log = logging.getLogger(__name__)


class MailSession:
    """One client connection to a `MailServer`; the subclass speaks the protocol (`run`)."""

    def __init__(
        self,
        server: MailServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        implicit: bool,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.implicit = implicit
        self.user: Mailbox | None = None
        peer = writer.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else "unknown"
        self.bad_commands = 0
        self.unauthenticated_timeout: float = server.limits.unauthenticated_timeout
        self.chaos = server.chaos[implicit]  # `mua stack --chaos` (mua.stack.chaos)

    async def run(self) -> None:
        raise NotImplementedError

    async def send(self, *lines: str) -> None:
        raise NotImplementedError

    @property
    def tls_active(self) -> bool:
        return self.writer.get_extra_info("ssl_object") is not None

    def tls_facts(self) -> TlsFacts:
        ssl_object = self.writer.get_extra_info("ssl_object")
        if ssl_object is None:
            return TlsFacts.cleartext()
        mode = TlsMode.IMPLICIT if self.implicit else TlsMode.STARTTLS
        return facts_from_ssl_object(ssl_object, mode, verified=None)

    async def upgrade_to_tls(self, command: str, ready: str) -> bool:
        """STARTTLS / STLS once the command was accepted: say `ready`, then the handshake.
        False when the handshake failed (the session must end)."""
        # What the client pipelined after the command came in clear and must not run as if
        # protected (the command-injection attack, RFC 2595 section 3.1 / RFC 8314 5.4).
        self.reader._buffer.clear()  # type: ignore[attr-defined]  # asyncio keeps no public API
        await self.send(ready)
        try:
            await self.writer.start_tls(self.server.tls_context, ssl_handshake_timeout=30.0)
        except (ssl.SSLError, ConnectionError, TimeoutError) as exc:
            log.info("%s handshake with %s failed: %s", command, self.peer, exc)
            return False
        return True

    def record_retrieval(self, message_id: str | None, uid: int) -> None:
        """The MS -> MUA leg as the server saw it, when a client reads or downloads a message."""
        implicit_role, starttls_role = self.server.port_roles
        leg = Leg(
            Endpoint(Role.MS, self.server.hostname),
            Endpoint(Role.MUA, self.peer),
            self.server.protocol,
            self.tls_facts(),
            Source.OBSERVED,
            port_role=implicit_role if self.implicit else starttls_role,
            port_actual=self.writer.get_extra_info("sockname")[1],
        )
        assert self.user is not None
        self.server.events.leg(
            leg, side="server", message_id=message_id, uid=uid, user=self.user.address
        )


class MailServer:
    """The two listeners of one mail-store protocol; the subclass names the protocol, its
    port roles and its session class, and words the refusal of a connection past a gate."""

    protocol: ClassVar[Protocol]
    port_roles: ClassVar[tuple[int, int]]  # (implicit TLS, STARTTLS/STLS)
    default_limits: ClassVar[type[Any]]  # the protocol's limits class

    def __init__(
        self,
        *,
        hostname: str,
        users: UserDirectory,
        store_for: Callable[[Mailbox], MailStore],
        events: EventLog,
        tls_context: ssl.SSLContext,
        host: str = "127.0.0.1",
        limits: Any = None,  # the protocol's limits; None: its `default_limits()`
        failed_login_delay: float = 0.5,
        connection_limits: ConnectionLimits | None = None,
        cleartext_auth: bool = False,
        chaos: ChaosOptions | None = None,
    ) -> None:
        self.hostname = hostname
        self.chaos = {  # each listener's own fault source (mua.stack.chaos)
            implicit: chaos.source(self.protocol.lower(), f"{hostname} {role}")
            if chaos is not None
            else None
            for implicit, role in zip((True, False), self.port_roles, strict=True)
        }
        # a legacy provider (only in the scenarios that show one): a password (and, for POP3,
        # a token) may cross before TLS, on purpose
        self.cleartext_auth = cleartext_auth
        self.token_verifier: TokenVerifier | None = None  # OAuth2, set by the provider
        self.users = users
        self.store_for = store_for
        self.events = events
        self.tls_context = tls_context
        self.host = host
        self.limits = limits or self.default_limits()
        self.failed_login_delay = failed_login_delay
        # one gate per listener (implicit role, STARTTLS role): mua.stack.limits
        self.gates = {
            implicit: ConnectionGate(connection_limits or ConnectionLimits())
            for implicit in (True, False)
        }
        self._servers: list[asyncio.Server] = []
        self._sessions: set[Any] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def new_session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, implicit: bool
    ) -> MailSession:
        raise NotImplementedError

    def refusal_line(self, refusal: str) -> str:
        """The one line a connection refused by a gate gets before it is closed."""
        raise NotImplementedError

    def session_ended(self, session: Any) -> None:
        """Called when a session's connection is over, before its gate slot is released."""

    async def start(self, implicit_port: int = 0, starttls_port: int = 0) -> tuple[int, int]:
        implicit = await asyncio.start_server(
            lambda r, w: self._serve(r, w, implicit=True),
            self.host,
            implicit_port,
            ssl=self.tls_context,
            ssl_handshake_timeout=30.0,
        )
        starttls = await asyncio.start_server(
            lambda r, w: self._serve(r, w, implicit=False), self.host, starttls_port
        )
        self._servers = [implicit, starttls]
        return (
            implicit.sockets[0].getsockname()[1],
            starttls.sockets[0].getsockname()[1],
        )

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for session in list(self._sessions):
            session.writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for server in self._servers:
            await server.wait_closed()
        self._servers = []

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, implicit: bool
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        gate = self.gates[implicit]
        peer = writer.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else "unknown"
        refusal = gate.admit(address)
        if refusal is not None:  # nothing of a session is built
            log.info("refused a %s connection: %s", self.protocol, refusal)
            writer.write(f"{self.refusal_line(refusal)}\r\n".encode())
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
            return
        self._tasks.add(task)
        session = self.new_session(reader, writer, implicit=implicit)
        session.unauthenticated_timeout = gate.idle_timeout(session.unauthenticated_timeout)
        self._sessions.add(session)
        try:
            await session.run()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            log.debug("%s client %s went away: %s", self.protocol, session.peer, exc)
        except Exception:
            log.exception("%s session with %s failed", self.protocol, session.peer)
        finally:
            self.session_ended(session)
            gate.release(address)
            self._sessions.discard(session)
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.CancelledError):
                await writer.wait_closed()
