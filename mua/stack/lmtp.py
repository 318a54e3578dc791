"""Delivery to another host: LMTP (RFC 2033) from the MX to a separate store host.

Some providers keep the mailboxes on hosts of their own, and their MX hands each message
over the network with LMTP (Postfix's `lmtp:` transport to Dovecot's LMTP server); the
delivery leg then crosses a network, in clear or over TLS (the table's "LMTPS to another
host" row: amber; in clear: red). `ProviderOptions.lmtp` turns it on for a provider: the
store host `store.<domain>` listens (implicit TLS with a certificate from the world's CA,
or in clear), writes with the provider's MDA, and records the legs it saw; the MX's
`LmtpClient` sends one transaction per recipient, so each DATA has exactly one reply (an
LMTP server answers DATA once per accepted recipient, section 4.2).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import logging
import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from mua.core.i18n import T_
from mua.core.legs import Endpoint, Leg, Protocol, Role, Source
from mua.core.tls_facts import TlsFacts, TlsMode
from mua.net.tls import client_context
from mua.stack.events import EventLog
from mua.stack.mda import Mda
from mua.stack.smtpd import bound_port, listen, peer_ip, session_tls
from mua.stack.users import UserDirectory

log = logging.getLogger(__name__)

LMTP_PORT_ROLE = 24  # the port commonly given to LMTP over a network (Dovecot's default)
_headers = email.parser.BytesHeaderParser(policy=email.policy.compat32)


class LmtpMode(StrEnum):
    TLS = "tls"  # implicit TLS, the store host's certificate verified by the MX
    CLEAR = "clear"


class LmtpError(OSError):
    """The store host could not be reached or refused the message (the MX answers 451)."""


class _StoreHandler:
    def __init__(self, hostname: str, users: UserDirectory, mda: Mda, events: EventLog) -> None:
        self.hostname = hostname
        self.users = users
        self.mda = mda
        self.events = events
        self.implicit = False
        self.actual_port: int | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.users.get(address) is None:
            return f"550 5.1.1 <{address}>: User unknown in this store"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        tls = session_tls(server, TlsMode.IMPLICIT)
        replies = []
        for rcpt in envelope.rcpt_tos:
            user = self.users.get(rcpt)
            assert user is not None  # handle_RCPT let only our users in
            try:
                await asyncio.to_thread(self.mda.deliver, user.user, data)
            except OSError:
                log.exception("the store could not write a message for %s", rcpt)
                replies.append(f"451 4.3.0 <{rcpt}> could not write to the mailbox")
                continue
            replies.append(f"250 2.0.0 <{rcpt}> delivered")
        message_id = str(_headers.parsebytes(data).get("Message-ID", "")).strip() or None
        ids = {"message_id": message_id, "recipients": list(envelope.rcpt_tos)}
        for leg in self._legs(tls, session.host_name or peer_ip(server)):
            self.events.leg(leg, side="server", **ids)
        return "\r\n".join(replies)

    def _legs(self, tls: TlsFacts, client: str) -> list[Leg]:
        if tls.encrypted:
            note = T_(
                "LMTP over TLS from the MX to a separate store host: encrypted on the network, "
                "which a delivery inside one host would not cross at all."
            )
        else:
            note = T_(
                "LMTP in clear from the MX to a separate store host: the message crossed the "
                "network unencrypted; LMTP over TLS, or delivery on one host, avoids that."
            )
        return [
            Leg(
                Endpoint(Role.MX, client),
                Endpoint(Role.MDA, self.hostname),
                Protocol.LMTP,
                tls,
                Source.OBSERVED,
                port_role=LMTP_PORT_ROLE,
                port_actual=self.actual_port,
                note=note,
            ),
            Leg(
                Endpoint(Role.MDA, self.hostname),
                Endpoint(Role.MS, self.hostname),
                Protocol.INTERNAL,
                TlsFacts.unknown(),
                Source.OBSERVED,
                note=T_("Written to the mailbox the message store serves, on the same host."),
            ),
        ]


class StoreHost:
    """The store host's LMTP server (implicit TLS when given a context, else in clear)."""

    def __init__(
        self,
        *,
        hostname: str,
        users: UserDirectory,
        mda: Mda,
        events: EventLog,
        tls_context: ssl.SSLContext | None,
        host: str = "127.0.0.1",
    ) -> None:
        self.hostname = hostname
        self.host = host
        self.handler = _StoreHandler(hostname, users, mda, events)
        self._tls_context = tls_context
        self._server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> int:
        def make() -> SMTP:
            return LMTP(self.handler, hostname=self.hostname, ident="mua", timeout=60.0)

        self._server = await listen(make, self.host, port, self._tls_context)
        self.handler.actual_port = bound_port(self._server)
        return self.handler.actual_port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


@dataclass(frozen=True)
class LmtpClient:
    """The MX's side: hands one message for one recipient to the store host."""

    helo: str  # the MX's name, for LHLO
    host: str
    port: int
    server_name: str  # the store host's name, verified against the world's CA
    ca_file: Path | None  # None: in clear
    timeout: float = 30.0

    async def deliver(self, sender: str, recipient: str, data: bytes) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self._deliver(sender, recipient, data)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            if isinstance(exc, LmtpError):
                raise
            raise LmtpError(f"LMTP to {self.server_name} failed: {exc}") from exc

    async def _deliver(self, sender: str, recipient: str, data: bytes) -> None:
        context = client_context(self.ca_file) if self.ca_file is not None else None
        reader, writer = await asyncio.open_connection(
            self.host,
            self.port,
            ssl=context,
            server_hostname=self.server_name if context is not None else None,
        )
        try:
            await _reply(reader, "greeting")
            for command in (
                f"LHLO {self.helo}",
                f"MAIL FROM:<{sender}>",
                f"RCPT TO:<{recipient}>",
                "DATA",
            ):
                writer.write(command.encode() + b"\r\n")
                await _reply(reader, command.split()[0])
            writer.write(_dot_stuffed(data) + b".\r\n")
            await _reply(reader, "DATA (message)")
            writer.write(b"QUIT\r\n")
            await writer.drain()
        finally:
            writer.close()


async def _reply(reader: asyncio.StreamReader, after: str) -> str:
    """One (possibly multi-line) reply; a 4xx or 5xx raises LmtpError."""
    lines = []
    while True:
        line = (await reader.readline()).decode("utf-8", "replace")
        if not line:
            raise LmtpError(f"the store host closed the connection after {after}")
        lines.append(line.rstrip("\r\n"))
        if len(line) < 4 or line[3] != "-":
            break
    if lines[-1][:1] not in ("2", "3"):
        raise LmtpError(f"the store host answered {lines[-1]!r} to {after}")
    return lines[-1]


def _dot_stuffed(data: bytes) -> bytes:
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)
