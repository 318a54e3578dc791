"""What the world's SMTP servers (MSA and MX) share on top of aiosmtpd."""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import ssl
from collections.abc import Callable
from typing import Any, AnyStr

from aiosmtpd.smtp import MISSING, SMTP, syntax

from mua.core.tls_facts import TlsFacts, TlsMode
from mua.net.tls import facts_from_ssl_object
from mua.stack.chaos import SMTP_PERMANENT, SMTP_TEMPORARY, ChaosSource, Fault, pick
from mua.stack.limits import ConnectionGate
from mua.stack.smtp_paths import PATH, PATH_PREFIX, PLAIN_PATH, REQUIRETLS
from mua.stack.smtp_wire import MemoryBudget
from mua.stack.smtpd_data import Overflow, receive_data

DATA_SIZE_LIMIT = 25 * 1024 * 1024  # advertised with SIZE (RFC 1870)
# Message data all sessions of one server may hold in memory at once: eight messages of the
# largest size; past it a message is read to its end and answered 452 (try again later).
DATA_MEMORY = 8 * DATA_SIZE_LIMIT
IDLE_TIMEOUT = 300.0  # RFC 5321 section 4.5.3.2.7: a server waits at least 5 minutes
# RFC 5321 section 4.5.3.1.8: at least 100 recipients must be taken; more get 452 (section
# 4.5.3.1.10) and the client sends them in another transaction.
MAX_RECIPIENTS = 100


AUTH_LINE_LIMIT = 12288 + 2  # RFC 4954 section 4, with its CRLF


class _AiosmtpdNoise(logging.Filter):
    """Drops two warnings aiosmtpd 1.4.6 logs for every session that does nothing wrong:
    its own use of the deprecated Session.login_data on every successful AUTH, and the
    auth_require_tls=False notice on the implicit-TLS listener, where TLS is already on."""

    NOISE = ("Session.login_data is deprecated", "auth_require_tls == False")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(n in message for n in self.NOISE)


logging.getLogger("mail.log").addFilter(_AiosmtpdNoise())
log = logging.getLogger(__name__)


class WorldSMTP(SMTP):
    """aiosmtpd's server with the enhanced status code RFC 3207 section 4 implies, and the
    REQUIRETLS extension (RFC 8689).

    aiosmtpd answers a mail command before STARTTLS with a bare `530 Must issue a STARTTLS
    command first`; RFC 3207 gives the text and RFC 3463 the 5.7.0 class (Postfix writes
    the same), so the one line is rewritten here rather than copying the command loop.

    REQUIRETLS is advertised only once the session is on TLS: RFC 8689 section 2 allows the
    MAIL FROM parameter only on a TLS session, so offering it in clear would offer something
    the client may not use (and an attacker on the path could edit it anyway). A MAIL FROM
    with REQUIRETLS in clear is refused; accepted, it is kept in `envelope.mail_options`.
    """

    _in_ehlo = False
    _admitted: str | None = None  # the client's address, once the gate let it in
    _refused = False
    _close_after_reply = False  # a chaos 421 was chosen: the connection ends after it

    def __init__(
        self,
        *args: Any,
        requiretls: bool = True,
        gate: ConnectionGate | None = None,
        max_recipients: int = MAX_RECIPIENTS,
        chaos: ChaosSource | None = None,
        sessions: OpenSessions | None = None,
        budget: MemoryBudget | None = None,
        **kwargs: Any,
    ) -> None:
        """`requiretls` False: a server without the extension (as most MX hosts still are):
        nothing advertised, and a MAIL FROM with the parameter is refused as unknown (555).
        `gate` counts the listener's connections (mua.stack.limits); one over its limits is
        answered 421 and closed. `max_recipients`: accepted RCPTs per transaction.
        `chaos`: the listener's fault source (mua.stack.chaos), asked before every command
        but QUIT and before the message of a DATA is handed over. `sessions`: the listener's
        open sessions, which its owner ends when it stops. `budget`: the bytes of message
        data the listener's sessions may hold at once (mua.stack.smtpd_data)."""
        # RFC 4954 section 4: an AUTH line may be 12,288 octets (an OAuth2 token's is ~1.5 KB);
        # aiosmtpd sizes its reader by line_length_limit, so it is raised for the reader only,
        # and every other command keeps its 512 (DATA lines their 1,000) as before.
        self.line_length_limit = AUTH_LINE_LIMIT
        super().__init__(*args, **kwargs)
        self.line_length_limit = SMTP.line_length_limit
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self.command_size_limits["AUTH"] = AUTH_LINE_LIMIT
        self.requiretls = requiretls
        self.gate = gate
        self.max_recipients = max_recipients
        self.chaos = chaos
        self.sessions = sessions
        self.budget = budget
        if chaos is not None:
            for name, method in list(self._smtp_methods.items()):
                if name != "QUIT":
                    self._smtp_methods[name] = self._chaotic(name, method)

    # -- chaos (mua.stack.chaos): a fault comes instead of the work, never after it -----------

    def _chaotic(self, name: str, method: Callable[[str | None], Any]) -> Callable[..., Any]:
        @functools.wraps(method)  # keeps the __smtp_syntax__ attributes HELP reads
        async def run(arg: str | None) -> None:
            reply = await self._chaos_reply(name)
            if reply is None:
                await method(arg)
            elif reply:
                await self.push(reply)

        return run

    async def _chaos_reply(self, command: str) -> str | None:
        """None: carry `command` out (after a stall, perhaps). Else the reply to give
        instead of it: an error, or "" once the connection has been dropped."""
        assert self.chaos is not None
        disruption = self.chaos.draw(command)
        if disruption is None:
            return None
        if disruption.fault is Fault.STALL:
            # A client that gives up meanwhile closes the connection, which cancels this
            # command (aiosmtpd's connection_lost): its work is then never done.
            await asyncio.sleep(disruption.seconds)
            return None
        if disruption.fault is Fault.DROP:
            if isinstance(self.transport, asyncio.WriteTransport):
                self.transport.abort()
            return ""
        replies = SMTP_TEMPORARY if disruption.fault is Fault.TEMPORARY else SMTP_PERMANENT
        reply = pick(replies, disruption).format(host=self.hostname)
        self._close_after_reply = reply.startswith("421")
        return reply

    async def _call_handler_hook(self, command: str, *args: Any) -> Any:
        if command == "DATA" and self.chaos is not None:  # the message is in; not queued yet
            reply = await self._chaos_reply("end of DATA")
            if reply is not None:
                return reply
        return await super()._call_handler_hook(command, *args)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.gate is not None and self._admitted is None:  # not the STARTTLS upgrade
            peer = transport.get_extra_info("peername")
            address = peer[0] if isinstance(peer, tuple) else "unknown"
            refusal = self.gate.admit(address)
            if refusal is not None:  # before any session state: nothing to clean up
                self._refused = True
                log.info("refused a connection: %s", refusal)
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(f"421 4.7.0 {self.hostname} Error: {refusal}\r\n".encode())
                transport.close()
                return
            self._admitted = address
            self._timeout_duration = self.gate.idle_timeout(self._timeout_duration)
        stopped = self.sessions is not None and not self.sessions.add(self)
        super().connection_made(transport)
        if stopped and isinstance(transport, asyncio.Transport):
            transport.abort()  # cut now; connection_lost then ends the session as any other

    def eof_received(self) -> bool | None:
        if self._refused:
            return False
        return super().eof_received()

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self.gate is not None and self._admitted is not None:
            self.gate.release(self._admitted)
            self.gate = None  # released once, whatever calls follow
        if self.sessions is not None:
            self.sessions.discard(self)
        super().connection_lost(error)

    def over_tls(self) -> bool:
        transport = self.transport
        return transport is not None and transport.get_extra_info("ssl_object") is not None

    async def push(self, status: AnyStr) -> None:
        reply = status if isinstance(status, str) else status.decode("utf-8")  # str from aiosmtpd
        if reply == "530 Must issue a STARTTLS command first":
            reply = "530 5.7.0 Must issue a STARTTLS command first"
        if self._in_ehlo and reply == "250 HELP" and self.requiretls and self.over_tls():
            await super().push(f"250-{REQUIRETLS}")
        await super().push(reply)
        if self._close_after_reply and self.transport is not None:
            self.transport.close()

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        self._in_ehlo = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._in_ehlo = False

    # RFC 5321 section 4.1.2: a path is always in angle brackets. aiosmtpd accepts
    # `MAIL FROM:<unterminated` as if it were an address; these answer 501 instead.
    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        if arg and PATH_PREFIX.match(arg) and not PATH.match(arg):
            await self.push("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        requiretls = False
        if arg and self.requiretls and self.session is not None and self.session.extended_smtp:
            path, _, params = arg.partition(">")
            kept = [p for p in params.split() if p.upper() != REQUIRETLS]
            requiretls = len(kept) != len(params.split())
            if requiretls and not self.over_tls():
                # RFC 8689 section 2 forbids the parameter outside TLS but prescribes no
                # reply: 530 answers a command that needs TLS first (RFC 3207 section 4),
                # 5.7.10 "Encryption needed" is the status section 4.2.1 gives a relay that
                # cannot get a TLS session.
                await self.push("530 5.7.10 REQUIRETLS needs a TLS session: issue STARTTLS first")
                return
            arg = f"{path}>{' ' if kept else ''}{' '.join(kept)}"
        had_sender = self.envelope is not None and self.envelope.mail_from is not None
        await super().smtp_MAIL(arg)
        envelope = self.envelope
        if requiretls and envelope is not None and envelope.mail_from and not had_sender:
            envelope.mail_options.append(REQUIRETLS)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str | None) -> None:
        """aiosmtpd's DATA, read by mua.stack.smtpd_data.receive_data so that what the
        message holds in memory is taken from the listener's budget (452 when it has none).
        The content is bytes: none of the world's servers sets aiosmtpd's `decode_data`."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            received = await receive_data(
                self._reader,
                size_limit=self.data_size_limit,
                line_limit=self.line_length_limit,
                budget=self.budget,
            )
        except asyncio.CancelledError:  # the connection was lost during DATA
            self._writer.close()
            raise
        try:
            if received.overflow is not Overflow.NONE:
                self.envelope = self._create_envelope()  # the post-DATA state
                await self.push(received.overflow.value)
                return
            content = received.content()
            self.envelope.content = self.envelope.original_content = content
            status = MISSING
            if "DATA" in self._handle_hooks:
                status = await self._call_handler_hook("DATA")
            self.envelope = self._create_envelope()  # the post-DATA state
            await self.push("250 OK" if status is MISSING else status)
        finally:  # once the handler is done with the message (the MX: queued or delivered)
            received.release()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's, with a plain path read by a regular expression: its own builds a
        typing.Protocol class on every call and runs the RFC 5322 parser, a tenth of the
        MX's time per message. Anything else (quoted, literal, comments) goes to it."""
        plain = PLAIN_PATH.match(arg)
        if plain is None:
            return super()._getaddr(arg)
        address = plain.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, arg[plain.end() :]

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        if arg and PATH_PREFIX.match(arg) and not PATH.match(arg):
            await self.push("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        envelope = self.envelope
        if envelope is not None and len(envelope.rcpt_tos) >= self.max_recipients:
            await self.push("452 4.5.3 Too many recipients")
            return
        await super().smtp_RCPT(arg)


class OpenSessions:
    """The open sessions of one aiosmtpd listener, ended when it stops: Python 3.11's
    `asyncio.Server` forgets the connections it accepted (3.12's `close_clients` does not),
    so a session a client left open would outlive the world and its socket be closed only
    by the garbage collector ("unclosed transport")."""

    def __init__(self) -> None:
        self._sessions: set[WorldSMTP] = set()
        self._closed = False

    def add(self, session: WorldSMTP) -> bool:
        """False once the listener has stopped: a connection accepted just before its
        `Server.close()` gets its transport a turn of the loop later, after `close` here
        (Python 3.11's `wait_closed` waits for nothing), and must be cut, not served."""
        if self._closed:
            return False
        self._sessions.add(session)
        return True

    def discard(self, session: WorldSMTP) -> None:
        self._sessions.discard(session)

    async def close(self) -> None:
        """Cut every open session (the socket under a TLS one too) and let each end;
        sessions that start from now on are cut at once."""
        self._closed = True
        for session in list(self._sessions):
            raw = getattr(session, "_original_transport", None) or session.transport
            if isinstance(raw, asyncio.Transport):
                raw.abort()
        for _ in range(10):  # connection_lost runs on the next turns of the loop
            if not self._sessions:
                return
            await asyncio.sleep(0)


def session_tls(server: SMTP, mode: TlsMode) -> TlsFacts:
    """What protected this session, seen from the server: it does not know whether the
    client verified our certificate, so `verified` is None."""
    transport = server.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport else None
    if ssl_object is None:
        return TlsFacts.cleartext()
    return facts_from_ssl_object(ssl_object, mode, verified=None)


def peer_ip(server: SMTP) -> str:
    peer = server.session.peer if server.session else None
    return peer[0] if isinstance(peer, tuple) else "unknown"


async def listen(
    factory: Callable[[], SMTP], host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host, port, ssl=ssl_context)


def bound_port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port
