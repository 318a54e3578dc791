"""The world's IMAP server (the MS): listeners, sessions, and the connection-level commands.

Implicit TLS on the 993 role, STARTTLS on the 143 role (RFC 8314; RFC 3501 section 6.2.1).
Before TLS the server says LOGINDISABLED and refuses LOGIN and AUTHENTICATE (RFC 3501
section 6.2.3, RFC 8314 section 5.4), unless the world was built with `cleartext_auth` (a
legacy server, for the scenario that shows a password crossing in clear). The commands are
answered by the handlers of the session's state, in the table `COMMANDS` built here from the
modules named for the states (`any_state`, `unauthenticated`, `authenticated`,
`selected_commands`, `ordering_commands`); the states and the errors handlers raise are
`session`'s. Named as `mua.stack.pop3.server` is: each is its protocol's server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mua.core.legs import Protocol
from mua.stack.chaos import IMAP_PERMANENT, IMAP_TEMPORARY, Fault, next_fault, pick
from mua.stack.imap import (
    any_state,
    authenticated,
    command_reader,
    mailstore,
    ordering_commands,
    protocol,
    selected_commands,
    unauthenticated,
)
from mua.stack.imap.mailfolder import Folder
from mua.stack.imap.mailstore import MailStore
from mua.stack.imap.selected import SelectedMailbox
from mua.stack.imap.session import CloseConnection, No, State
from mua.stack.mailserver import MailServer, MailSession
from mua.stack.users import Mailbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImapLimits:
    max_line: int = 64 * 1024
    max_literal: int = 50 * 1024 * 1024  # APPEND of a large message, after login
    max_literal_unauthenticated: int = 8 * 1024  # nothing legitimate needs more before login
    unauthenticated_timeout: float = 60.0
    # RFC 3501 section 5.4: an autologout timer must be at least 30 minutes.
    idle_timeout: float = 30 * 60.0
    max_bad_commands: int = 20


Handler = Callable[["Session", protocol.Command], Awaitable[None]]

# Which handler answers which command in each state (RFC 3501 section 6); none in LOGOUT.
COMMANDS: dict[State, dict[str, Handler]] = {
    State.NOT_AUTHENTICATED: {**any_state.COMMANDS, **unauthenticated.COMMANDS},
    State.AUTHENTICATED: {**any_state.COMMANDS, **authenticated.COMMANDS},
    State.SELECTED: {
        **any_state.COMMANDS,
        **authenticated.COMMANDS,
        **selected_commands.COMMANDS,
        **ordering_commands.COMMANDS,
    },
}


class Session(MailSession):
    """One client connection (what it shares with a POP3 one: `mua.stack.mailserver`)."""

    server: ImapServer

    def __init__(
        self,
        server: ImapServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        implicit: bool,
    ) -> None:
        super().__init__(server, reader, writer, implicit=implicit)
        self.state = State.NOT_AUTHENTICATED
        self.store: MailStore | None = None
        self.selected: SelectedMailbox | None = None
        self.condstore = False
        self.changed = asyncio.Event()  # set when the store reports a change to our user's mail

    # -- I/O -------------------------------------------------------------------------------

    async def send(self, *lines: str | bytes) -> None:
        for line in lines:
            data = line if isinstance(line, bytes) else line.encode("utf-8")
            self.writer.write(data + b"\r\n")
        await self.writer.drain()

    def closing(self) -> bool:
        return self.writer.is_closing()

    async def _continue(self) -> None:
        await self.send("+ Ready for literal data")
        # Ask for an immediate ACK of the literal: imaplib sends the literal and its closing
        # CRLF in two writes, and with Nagle's algorithm plus delayed ACKs the CRLF would
        # wait ~40 ms (measured; Dovecot sets TCP_QUICKACK the same way).
        sock = self.writer.get_extra_info("socket")
        if sock is not None and hasattr(socket, "TCP_QUICKACK"):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    # -- the command loop -------------------------------------------------------------------

    async def run(self) -> None:
        limits = self.server.limits
        await self.send(f"* OK [CAPABILITY {self.capabilities()}] {self.server.hostname} ready")
        while self.state is not State.LOGOUT:
            authenticated = self.state is not State.NOT_AUTHENTICATED
            try:
                raw = await command_reader.read_command(
                    self.reader,
                    self._continue,
                    max_line=limits.max_line,
                    max_literal=(
                        limits.max_literal if authenticated else limits.max_literal_unauthenticated
                    ),
                    timeout=limits.idle_timeout if authenticated else self.unauthenticated_timeout,
                )
            except TimeoutError:
                await self.send("* BYE Autologout; idle for too long")
                return
            except protocol.LiteralTooBig as exc:
                # RFC 7888 section 4: the literal may already be on its way; the only safe
                # answer is to refuse it and close.
                tag = exc.tag or "*"
                await self.send(f"{tag} NO [TOOBIG] {exc}", "* BYE Literal too big")
                return
            except protocol.ProtocolError as exc:
                if await self._refuse(exc.tag or "*", exc):
                    return
                continue
            if raw is None:
                return  # the client went away
            try:
                command = protocol.parse_command(raw)
            except protocol.ProtocolError as exc:
                if await self._bad(exc.tag or "*", str(exc)):
                    return
                continue
            try:
                await self.dispatch(command)
            except CloseConnection:
                return
            except protocol.ProtocolError as exc:  # IDLE's DONE, AUTHENTICATE's response
                if await self._refuse(command.tag, exc):
                    return
            except (ConnectionError, asyncio.IncompleteReadError):
                return

    async def _refuse(self, tag: str, exc: protocol.ProtocolError) -> bool:
        """BAD for a line that breaks the syntax; True when the session must end: a line
        whose end never came (what follows it is no command), or too many bad ones."""
        if isinstance(exc, protocol.LineTooLong) and exc.must_close:
            await self.send(f"{tag} BAD {exc}", "* BYE Command line too long")
            return True
        return await self._bad(tag, str(exc))

    async def _bad(self, tag: str, message: str) -> bool:
        """Answer BAD; True when the client has been bad too often and is sent away."""
        self.bad_commands += 1
        await self.send(f"{tag} BAD {message}")
        if self.bad_commands >= self.server.limits.max_bad_commands:
            await self.send("* BYE Too many invalid commands")
            return True
        return False

    async def dispatch(self, command: protocol.Command) -> None:
        handler = COMMANDS.get(self.state, {}).get(command.name)
        if handler is None:
            if not any(command.name in handlers for handlers in COMMANDS.values()):
                raise protocol.ProtocolError(f"Unknown command {command.name[:20]}", command.tag)
            raise protocol.ProtocolError(
                f"{command.name} is not allowed in the {self.state.value} state", command.tag
            )
        if self.chaos is not None and command.name != "LOGOUT" and await self._chaos(command):
            return
        try:
            await handler(self, command)
        except (protocol.ProtocolError, CloseConnection, ConnectionError):
            raise
        except No as exc:
            await self.send(f"{command.tag} NO {exc}")
        except mailstore.InvalidFolderName as exc:  # the client's mistake (RFC 5530)
            await self.send(f"{command.tag} NO [CANNOT] {exc}")
        except Exception:
            log.exception("IMAP command %s failed", command.name)
            await self.send(f"{command.tag} NO [SERVERBUG] The server failed; try again")

    async def _chaos(self, command: protocol.Command) -> bool:
        """True when a fault took the command's place: it was answered NO or BAD and not
        carried out. A dropped connection raises CloseConnection; a stalled command is
        carried out late, unless the client went away meanwhile."""
        assert self.chaos is not None
        disruption = await next_fault(self.chaos, command.name, self.reader)
        if disruption is None:
            return False
        if disruption.fault is Fault.DROP:
            if disruption.choice < 0.5:
                await self.send("* BYE [UNAVAILABLE] chaos: closing the connection")
            else:
                self.writer.transport.abort()
            raise CloseConnection
        replies = IMAP_TEMPORARY if disruption.fault is Fault.TEMPORARY else IMAP_PERMANENT
        await self.send(f"{command.tag} {pick(replies, disruption)}")
        return True

    # -- what the handlers share -------------------------------------------------------------

    async def send_updates(self, *, allow_expunge: bool = True) -> None:
        """Untagged responses for what changed in the selected mailbox since the client last
        heard (EXPUNGE held back while `allow_expunge` is false: `SelectedMailbox.updates`)."""
        if self.selected is None:
            return
        selected = self.selected
        # New mail raises UIDNEXT; flag changes and expunges raise HIGHESTMODSEQ. Read them
        # before the snapshot: a change in between only costs one more comparison later.
        state = (selected.folder.uidnext, selected.folder.highestmodseq)
        if state == selected.synced_state:
            return  # nothing changed: skip comparing every message of a large mailbox
        current = await asyncio.to_thread(selected.folder.messages)
        before = len(selected.uids)
        lines = selected.updates(current, allow_expunge=allow_expunge)
        if allow_expunge or len(current) >= before:
            selected.synced_state = state
        if lines and lines[-1].endswith(" EXISTS") and not selected.readonly:
            selected.recent_uids.update(await asyncio.to_thread(selected.folder.claim_recent))
            lines.append(f"* {len(selected.recent_uids)} RECENT")
        if lines:
            await self.send(*lines)

    def folder(self, name: str) -> Folder:
        """The signed-in user's mailbox `name`; NO [NONEXISTENT] when there is none."""
        assert self.store is not None
        try:
            return self.store.folder(name)
        except mailstore.NoSuchFolder as exc:
            raise No(f"[NONEXISTENT] No mailbox {name}") from exc

    def writable(self) -> SelectedMailbox:
        """The selected mailbox, for a command that changes it; NO [READ-ONLY] after EXAMINE."""
        selected = self.selected
        assert selected is not None
        if selected.readonly:
            raise No("[READ-ONLY] The mailbox is open read-only (EXAMINE)")
        return selected

    # -- connection-level commands -----------------------------------------------------------

    def capabilities(self) -> str:
        caps = ["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE"]
        if self.state is State.NOT_AUTHENTICATED:
            if self.tls_active:
                caps.append("AUTH=PLAIN")
                if self.server.token_verifier is not None:  # OAuth2 (oauth_auth.py)
                    caps += ["AUTH=XOAUTH2", "AUTH=OAUTHBEARER"]
            elif self.server.cleartext_auth:
                caps += ["STARTTLS", "AUTH=PLAIN"]
            else:
                caps += ["STARTTLS", "LOGINDISABLED"]
        else:
            caps += ["UIDPLUS", "MOVE", "SPECIAL-USE", "CONDSTORE", "UNSELECT", "CHILDREN"]
            caps += ["SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"]
        return " ".join(caps)

    async def starttls(self, tag: str) -> None:
        if self.tls_active:
            await self.send(f"{tag} BAD TLS is already active")
            return
        if not await self.upgrade_to_tls("STARTTLS", f"{tag} OK Begin TLS negotiation now"):
            raise CloseConnection

    async def login(self, tag: str, username: str, password: str) -> None:
        if not self.tls_active and not self.server.cleartext_auth:
            await self.send(f"{tag} NO [PRIVACYREQUIRED] LOGIN is disabled before STARTTLS")
            return
        mailbox = self.server.users.authenticate(username, password)
        if mailbox is None:
            log.info("IMAP login failed for %r from %s", username, self.peer)
            await asyncio.sleep(self.server.failed_login_delay)
            await self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
            return
        await self.signed_in(tag, mailbox)

    async def signed_in(self, tag: str, mailbox: Mailbox) -> None:
        """LOGIN, AUTHENTICATE PLAIN or a bearer token proved who this is."""
        self.user = mailbox
        self.store = self.server.store_for(mailbox)
        self.state = State.AUTHENTICATED
        self.server.attach(self)
        await self.send(f"{tag} OK [CAPABILITY {self.capabilities()}] Logged in")

    async def authenticate_plain(self, tag: str, initial: str | None) -> None:
        if not self.tls_active and not self.server.cleartext_auth:
            await self.send(f"{tag} NO [PRIVACYREQUIRED] Authentication is disabled before TLS")
            return
        if initial is None:  # no SASL-IR: ask for it (RFC 4959 / RFC 3501 6.2.2)
            await self.send("+ ")
            line = await command_reader.read_line(
                self.reader, max_line=self.server.limits.max_line, timeout=60
            )
            if line is None:
                raise CloseConnection
            initial = line.decode("ascii", "replace").strip()
        if initial == "*":
            await self.send(f"{tag} BAD Authentication cancelled")
            return
        try:
            decoded = base64.b64decode(initial, validate=True).decode("utf-8")
            _authzid, username, password = decoded.split("\0")
        except (ValueError, UnicodeDecodeError):
            await self.send(f"{tag} BAD Invalid SASL PLAIN response")
            return
        await self.login(tag, username, password)


class ImapServer(MailServer):
    """The 993-role and 143-role listeners (`mua.stack.mailserver`); store changes to IDLE."""

    protocol = Protocol.IMAP
    port_roles = (993, 143)
    default_limits = ImapLimits
    limits: ImapLimits

    def __init__(self, **options: Any) -> None:  # MailServer's keyword arguments
        super().__init__(**options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watched: set[str] = set()

    async def start(self, implicit_port: int = 0, starttls_port: int = 0) -> tuple[int, int]:
        self._loop = asyncio.get_running_loop()
        return await super().start(implicit_port, starttls_port)

    def new_session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, implicit: bool
    ) -> Session:
        return Session(self, reader, writer, implicit=implicit)

    def refusal_line(self, refusal: str) -> str:
        return f"* BYE [UNAVAILABLE] {self.hostname}: {refusal}"  # RFC 5530

    def attach(self, session: Session) -> None:
        """Route store changes of this session's user to it (IDLE, NOOP updates)."""
        assert session.user is not None and session.store is not None
        address = session.user.address
        if address in self._watched:
            return
        self._watched.add(address)
        session.store.add_listener(lambda *_: self._changed(address))

    def _changed(self, address: str) -> None:
        """Called by the store, possibly from a worker thread (the MDA's)."""
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self._wake, address)

    def _wake(self, address: str) -> None:
        for session in self._sessions:
            if session.user is not None and session.user.address == address:
                session.changed.set()
