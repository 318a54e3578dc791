"""The world's POP3 server (the MS's other face): listeners, sessions, the command loop.

Implicit TLS on the 995 role (RFC 8314), STLS on the 110 role (RFC 2595); USER/PASS and
AUTH PLAIN (RFC 5034) only once TLS is up, so no password crosses in clear. CAPA (RFC 2449)
with its response codes ([IN-USE], [AUTH], [SYS/TEMP], RFC 2449 and RFC 3206). The
maildrop is INBOX of the same store the IMAP server serves (`maildrop.py`); one session at
a time holds a user's maildrop: a second one is refused with `-ERR [IN-USE]`.

Hand-written on asyncio: no well-kept asyncio POP3 server exists, and Twisted's
(`twisted.mail.pop3`) is bound to Twisted's reactor. It has the IMAP server's limits and
its care with hostile input: a line-length limit (the rest of an overlong line is read and
dropped, a line that never ends closes the connection), a count of bad commands, an
autologout timer (short before login, RFC 1939's ten minutes after), and the connection
gates of `mua.stack.limits`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from mua.core.legs import Endpoint, Leg, Protocol, Role, Source
from mua.core.tls import TlsFacts, TlsMode
from mua.net.tls import facts_from_ssl_object
from mua.stack.chaos import (
    POP3_PERMANENT,
    POP3_TEMPORARY,
    ChaosOptions,
    Disruption,
    Fault,
    next_fault,
    pick,
)
from mua.stack.events import EventLog
from mua.stack.imap.mailstore import MailStore
from mua.stack.imap.protocol import LineTooLong, read_line
from mua.stack.limits import ConnectionGate, ConnectionLimits
from mua.stack.pop3 import commands, oauth_auth
from mua.stack.pop3.maildrop import Maildrop
from mua.stack.pop3.state import Pop3Limits, State
from mua.stack.users import Mailbox, UserDirectory

if TYPE_CHECKING:
    from mua.stack.oauth_tokens import TokenVerifier

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024  # RETR writes this much, then waits for the socket to drain


class Session:
    """One client connection."""

    def __init__(
        self,
        server: Pop3Server,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        implicit: bool,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.implicit = implicit
        self.state = State.AUTHORIZATION
        self.user: Mailbox | None = None
        self.maildrop: Maildrop | None = None
        self.pending_user: str | None = None
        peer = writer.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else "unknown"
        self.bad_commands = 0
        self.unauthenticated_timeout = server.limits.unauthenticated_timeout
        self.chaos = server.chaos[implicit]  # `mua stack --chaos` (mua.stack.chaos)

    # -- I/O -------------------------------------------------------------------------------

    @property
    def tls_active(self) -> bool:
        return self.writer.get_extra_info("ssl_object") is not None

    @property
    def may_authenticate(self) -> bool:
        return self.tls_active or self.server.cleartext_auth

    def tls_facts(self) -> TlsFacts:
        ssl_object = self.writer.get_extra_info("ssl_object")
        if ssl_object is None:
            return TlsFacts.cleartext()
        mode = TlsMode.IMPLICIT if self.implicit else TlsMode.STARTTLS
        return facts_from_ssl_object(ssl_object, mode, verified=None)

    async def send(self, *lines: str) -> None:
        self.writer.write(b"".join(line.encode("utf-8") + b"\r\n" for line in lines))
        await self.writer.drain()

    async def send_multiline(self, status: str, body: bytes) -> None:
        """A status line and a dot-stuffed body, in chunks: a client that stops reading
        (or vanishes) mid-RETR holds no more than a socket buffer of it."""
        self.writer.write(status.encode("utf-8") + b"\r\n")
        for start in range(0, len(body), _CHUNK):
            if self.writer.is_closing():
                raise ConnectionResetError("the client went away during a multi-line response")
            self.writer.write(body[start : start + _CHUNK])
            await self.writer.drain()

    async def read_line(self) -> str | None:
        """One line (without its end) for a SASL exchange; None when the client has gone.
        A line over the limit is a bad command (or, never ending, the end of the session);
        silence past the autologout timer ends the session."""
        try:
            raw = await read_line(
                self.reader, max_line=self.server.limits.max_line, timeout=self._timeout()
            )
        except LineTooLong as exc:
            if exc.must_close:
                await self.send("-ERR Line too long; closing")
                raise commands.Close from exc
            raise commands.Bad("Line too long") from exc
        except TimeoutError as exc:
            await self.send("-ERR Autologout; idle for too long")
            raise commands.Close from exc
        return None if raw is None else raw.decode("utf-8", "replace").rstrip("\r\n")

    def _timeout(self) -> float:
        if self.state is State.AUTHORIZATION:
            return self.unauthenticated_timeout
        return self.server.limits.idle_timeout

    def drop(self) -> Maildrop:
        assert self.maildrop is not None
        return self.maildrop

    def log_failure(self, what: str) -> None:
        log.exception("%s for %s", what, self.user.address if self.user else self.peer)

    # -- the command loop -------------------------------------------------------------------

    async def run(self) -> None:
        await self.send(f"+OK {self.server.hostname} POP3 server ready")
        while self.state is not State.UPDATE:
            try:
                raw = await read_line(
                    self.reader, max_line=self.server.limits.max_line, timeout=self._timeout()
                )
            except TimeoutError:
                await self.send("-ERR Autologout; idle for too long")
                return
            except LineTooLong as exc:
                if exc.must_close:
                    await self.send("-ERR Line too long; closing")
                    return
                if await self._bad("Line too long"):
                    return
                continue
            if raw is None:
                return  # the client went away: no UPDATE state, nothing is deleted
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            word, _, rest = line.partition(" ")
            name = word.upper()
            # PASS's argument is the rest of the line: a password may hold spaces
            args = ([rest] if rest else []) if name == "PASS" else rest.split()
            try:
                await self.dispatch(name, args)
            except commands.Close:
                return
            except commands.Bad as exc:
                if await self._bad(str(exc)):
                    return

    async def _bad(self, message: str) -> bool:
        """-ERR for a malformed or unknown command; True when the client is sent away."""
        self.bad_commands += 1
        if self.bad_commands >= self.server.limits.max_bad_commands:
            await self.send(f"-ERR {message}; too many invalid commands, closing")
            return True
        await self.send(f"-ERR {message}")
        return False

    async def dispatch(self, name: str, args: list[str]) -> None:
        handler = commands.handler_for(name, self.state)
        if handler is None:
            if not commands.known(name):
                raise commands.Bad(f"Unknown command {name[:20]!r}")
            raise commands.Bad(f"{name} is not allowed in the {self.state.value} state")
        if self.chaos is not None and name != "QUIT":  # QUIT commits the deletions: spared
            disruption = await next_fault(self.chaos, name, self.reader)
            if disruption is not None:
                await self._chaos(disruption)
                return
        try:
            await handler(self, args)
        except (commands.Bad, commands.Close, ConnectionError):
            raise
        except Exception:
            log.exception("POP3 command %s failed", name)
            await self.send("-ERR [SYS/TEMP] The server failed; try again")

    async def _chaos(self, disruption: Disruption) -> None:
        """Answer a command with the fault that takes its place; a drop closes the session
        before UPDATE, so nothing is deleted (RFC 1939 section 6)."""
        if disruption.fault is Fault.DROP:
            if disruption.choice < 0.5:
                await self.send("-ERR [SYS/TEMP] chaos: closing the connection")
            else:
                self.writer.transport.abort()
            raise commands.Close
        replies = POP3_TEMPORARY if disruption.fault is Fault.TEMPORARY else POP3_PERMANENT
        await self.send(pick(replies, disruption))

    # -- the connection-level steps ---------------------------------------------------------

    def capabilities(self) -> list[str]:
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.state is State.AUTHORIZATION:
            if self.may_authenticate:
                caps += ["USER", " ".join(["SASL PLAIN", *oauth_auth.mechanisms(self)])]
            if not self.tls_active:
                caps.append("STLS")
        return [*caps, "IMPLEMENTATION mua"]

    async def starttls(self) -> None:
        if self.tls_active:
            await self.send("-ERR TLS is already active")
            return
        # What the client pipelined after STLS came in clear and must not run as if
        # protected (the command-injection attack, RFC 2595 section 3.1 / RFC 8314 5.4).
        self.reader._buffer.clear()  # type: ignore[attr-defined]  # asyncio keeps no public API
        await self.send("+OK Begin TLS negotiation")
        try:
            await self.writer.start_tls(self.server.tls_context, ssl_handshake_timeout=30.0)
        except (ssl.SSLError, ConnectionError, TimeoutError) as exc:
            log.info("STLS handshake with %s failed: %s", self.peer, exc)
            raise commands.Close from exc

    async def login(self, username: str, password: str) -> None:
        mailbox = self.server.users.authenticate(username, password)
        if mailbox is None:
            log.info("POP3 login failed for %r from %s", username, self.peer)
            await asyncio.sleep(self.server.failed_login_delay)
            await self.send("-ERR [AUTH] Invalid credentials")
            return
        await self.open_maildrop(mailbox)

    async def open_maildrop(self, mailbox: Mailbox) -> None:
        """Signed in (a password or a token): lock the maildrop, enter TRANSACTION."""
        if not self.server.lock(mailbox.address):
            await self.send("-ERR [IN-USE] The maildrop is in use by another POP3 session")
            return
        self.user = mailbox
        try:
            store = self.server.store_for(mailbox)
            self.maildrop = await asyncio.to_thread(lambda: Maildrop(store.folder("INBOX")))
        except Exception:
            self.server.unlock(mailbox.address)
            self.user = None
            self.log_failure("opening the POP3 maildrop failed")
            await self.send("-ERR [SYS/TEMP] The maildrop cannot be opened; try again")
            return
        self.state = State.TRANSACTION
        count, octets = self.maildrop.stat()
        await self.send(f"+OK Maildrop locked: {count} messages ({octets} octets)")

    def enter_update(self) -> None:
        self.state = State.UPDATE

    def record_retrieval(self, message_id: str | None, uid: int) -> None:
        """The MS -> MUA leg as the server saw it, when a client downloads a message."""
        leg = Leg(
            Endpoint(Role.MS, self.server.hostname),
            Endpoint(Role.MUA, self.peer),
            Protocol.POP3,
            self.tls_facts(),
            Source.OBSERVED,
            port_role=995 if self.implicit else 110,
            port_actual=self.writer.get_extra_info("sockname")[1],
        )
        assert self.user is not None
        self.server.events.leg(
            leg, side="server", message_id=message_id, uid=uid, user=self.user.address
        )


class Pop3Server:
    def __init__(
        self,
        *,
        hostname: str,
        users: UserDirectory,
        store_for: Callable[[Mailbox], MailStore],
        events: EventLog,
        tls_context: ssl.SSLContext,
        host: str = "127.0.0.1",
        limits: Pop3Limits | None = None,
        failed_login_delay: float = 0.5,
        connection_limits: ConnectionLimits | None = None,
        cleartext_auth: bool = False,
        chaos: ChaosOptions | None = None,
    ) -> None:
        self.hostname = hostname
        self.chaos = {  # each listener's own fault source (mua.stack.chaos)
            implicit: chaos.source("pop3", f"{hostname} {995 if implicit else 110}")
            if chaos is not None
            else None
            for implicit in (True, False)
        }
        # a legacy provider (only in the scenarios that show one): USER/PASS and AUTH on
        # the 110 role without STLS, so the password crosses in clear
        self.cleartext_auth = cleartext_auth
        self.token_verifier: TokenVerifier | None = None  # OAuth2 tokens (pop3/oauth_auth.py)
        self.users = users
        self.store_for = store_for
        self.events = events
        self.tls_context = tls_context
        self.host = host
        self.limits = limits or Pop3Limits()
        self.failed_login_delay = failed_login_delay
        # one gate per listener (995 role, 110 role): mua.stack.limits
        self.gates = {
            implicit: ConnectionGate(connection_limits or ConnectionLimits())
            for implicit in (True, False)
        }
        self._locked: set[str] = set()
        self._servers: list[asyncio.Server] = []
        self._sessions: set[Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def lock(self, address: str) -> bool:
        """Take the exclusive maildrop lock of RFC 1939 section 4; False when it is held."""
        if address in self._locked:
            return False
        self._locked.add(address)
        return True

    def unlock(self, address: str) -> None:
        self._locked.discard(address)

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
            log.info("refused a POP3 connection: %s", refusal)
            writer.write(f"-ERR [SYS/TEMP] {self.hostname}: {refusal}\r\n".encode())
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
            return
        self._tasks.add(task)
        session = Session(self, reader, writer, implicit=implicit)
        session.unauthenticated_timeout = gate.idle_timeout(session.unauthenticated_timeout)
        self._sessions.add(session)
        try:
            await session.run()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            log.debug("POP3 client %s went away: %s", session.peer, exc)
        except Exception:
            log.exception("POP3 session with %s failed", session.peer)
        finally:
            if session.user is not None:
                self.unlock(session.user.address)
            gate.release(address)
            self._sessions.discard(session)
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.CancelledError):
                await writer.wait_closed()
