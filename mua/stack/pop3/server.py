"""The world's POP3 server (the MS's other face): listeners, sessions, the command loop.
Named as `mua.stack.imap.server` is: each is its protocol's server.

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
import logging
from typing import Any

from mua.core.legs import Protocol
from mua.stack.chaos import (
    POP3_PERMANENT,
    POP3_TEMPORARY,
    Disruption,
    Fault,
    next_fault,
    pick,
)
from mua.stack.imap.command_reader import read_line
from mua.stack.imap.protocol import LineTooLong
from mua.stack.mailserver import MailServer, MailSession
from mua.stack.pop3 import commands, oauth_auth
from mua.stack.pop3.maildrop import Maildrop
from mua.stack.pop3.state import Close, Pop3Limits, State
from mua.stack.users import Mailbox

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024  # RETR writes this much, then waits for the socket to drain


class Session(MailSession):
    """One client connection (what it shares with an IMAP one: `mua.stack.mailserver`)."""

    server: Pop3Server

    def __init__(
        self,
        server: Pop3Server,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        implicit: bool,
    ) -> None:
        super().__init__(server, reader, writer, implicit=implicit)
        self.state = State.AUTHORIZATION
        self.maildrop: Maildrop | None = None
        self.pending_user: str | None = None

    # -- I/O -------------------------------------------------------------------------------

    @property
    def may_authenticate(self) -> bool:
        return self.tls_active or self.server.cleartext_auth

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
                raise Close from exc
            raise commands.Bad("Line too long") from exc
        except TimeoutError as exc:
            await self.send("-ERR Autologout; idle for too long")
            raise Close from exc
        return None if raw is None else raw.decode("utf-8", "replace").rstrip("\r\n")

    def _timeout(self) -> float:
        if self.state is State.AUTHORIZATION:
            return self.unauthenticated_timeout
        idle: float = self.server.limits.idle_timeout
        return idle

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
            except Close:
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
        except (commands.Bad, Close, ConnectionError):
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
            raise Close
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
        if not await self.upgrade_to_tls("STLS", "+OK Begin TLS negotiation"):
            raise Close

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


class Pop3Server(MailServer):
    """The 995-role and 110-role listeners (`mua.stack.mailserver`) and the maildrop locks."""

    protocol = Protocol.POP3
    port_roles = (995, 110)
    limits: Pop3Limits

    default_limits = Pop3Limits

    def __init__(self, **options: Any) -> None:  # MailServer's keyword arguments
        super().__init__(**options)
        self._locked: set[str] = set()

    def lock(self, address: str) -> bool:
        """Take the exclusive maildrop lock of RFC 1939 section 4; False when it is held."""
        if address in self._locked:
            return False
        self._locked.add(address)
        return True

    def unlock(self, address: str) -> None:
        self._locked.discard(address)

    def new_session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, implicit: bool
    ) -> Session:
        return Session(self, reader, writer, implicit=implicit)

    def refusal_line(self, refusal: str) -> str:
        return f"-ERR [SYS/TEMP] {self.hostname}: {refusal}"

    def session_ended(self, session: Session) -> None:
        if session.user is not None:  # a session that never reached UPDATE deletes nothing
            self.unlock(session.user.address)
