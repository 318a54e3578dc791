"""Intermediate hosts on the way from a.test to b.test: a smarthost, relays, filters.

Real mail often crosses more servers than MSA -> MTA -> MX: a provider's MSA hands its mail
to a separate outbound host (a smarthost, on the 25 role or on the 587 role with AUTH), an
outbound filter, a recipient's inbound filter in front of its MX. Each hop is its own SMTP
session with its own TLS state, and the journey is only as safe as its weakest leg.

`WorldOptions.hops` lists such hosts in order (`HopSpec`); the world starts a `RelayHost`
for each one: a listener (STARTTLS offered with a certificate from the world's CA, or not at
all; AUTH required on the 587 role), a durable queue, and its own MTA, which relays to the
next hop and from the last one to b.test's MX as any MTA does (MX lookup, DANE, MTA-STS).
Every MTA records the leg it sent over (`NextHop` in relay.py gives the roles), so the
journey shows one leg per hop.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import logging
import secrets
import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mua.core.legs import Role
from mua.core.tls_facts import TlsMode
from mua.stack.events import EventLog
from mua.stack.mta import Mta
from mua.stack.queue import MailQueue, new_queue_id
from mua.stack.received_writer import prepend_header, received_header, with_keyword
from mua.stack.relay import NextHop, RelayClient
from mua.stack.smtp_wire import MemoryBudget
from mua.stack.smtpd import (
    DATA_MEMORY,
    OpenSessions,
    WorldSMTP,
    bound_port,
    listen,
    peer_ip,
    session_tls,
)

log = logging.getLogger(__name__)
_headers = email.parser.BytesHeaderParser(policy=email.policy.compat32)
_AUTH_WITHOUT_TLS_WARNING = "Requiring AUTH while not requiring TLS"


@dataclass(frozen=True)
class HopSpec:
    """One host between a.test's MSA and b.test's MX, in the order the mail crosses them."""

    host: str  # "out.a.test", "filter.b.test"
    tls: bool = True  # offers STARTTLS (a certificate from the world's CA)
    port_role: int = 25  # 587: a smarthost that takes AUTH after STARTTLS
    smarthost: bool = False  # the MSA's smarthost: the leg into it is the MSA -> MTA handoff

    def next_hop(self, login: tuple[str, str] | None) -> NextHop:
        return NextHop(
            self.host,
            port_role=self.port_role,
            from_role=Role.MSA if self.smarthost else Role.MTA,
            to_role=Role.MTA,
            login=login if self.port_role == 587 else None,
        )


class _RelayHandler:
    def __init__(self, host: RelayHost) -> None:
        self.host = host

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and (
                auth_data.login.decode(),
                auth_data.password.decode(),
            )
            == self.host.login
        )
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if "@" not in address:
            return f"501 5.1.3 <{address}>: Recipient address must be a full address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        tls = session_tls(server, TlsMode.STARTTLS)
        message_id = str(_headers.parsebytes(data).get("Message-ID", "")).strip()
        queue_id = new_queue_id()
        value = received_header(
            helo=session.host_name,
            peer_ip=peer_ip(server),
            by=self.host.hostname,
            protocol=with_keyword(
                "ESMTP", tls=bool(tls.encrypted), authenticated=self.host.spec.port_role == 587
            ),
            queue_id=queue_id,
            recipient=envelope.rcpt_tos[0] if len(envelope.rcpt_tos) == 1 else None,
            tls=tls,
        )
        stamped = prepend_header(data, "Received", value)
        try:
            await asyncio.to_thread(
                self.host.queue.enqueue,
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                stamped,
                message_id=message_id,
                queue_id=queue_id,
            )
        except OSError:
            log.exception("%s could not queue a message", self.host.hostname)
            return "451 4.3.0 Error: queue file write error, try again later"
        assert self.host.mta is not None
        self.host.mta.wake()
        return f"250 2.0.0 Ok: queued as {queue_id}"


class RelayHost:
    """One intermediate host: listener, queue, and an MTA that sends on (see the module)."""

    def __init__(
        self,
        spec: HopSpec,
        directory: Path,
        events: EventLog,
        tls_context: ssl.SSLContext | None,
        *,
        retry_delays: tuple[float, ...],
        relay_timeout: float,
    ) -> None:
        self.spec = spec
        self.hostname = spec.host
        self.events = events
        self.queue = MailQueue(Path(directory) / "queue")
        # a relay account for the smarthost's AUTH, made up per world
        self.login = ("relay", secrets.token_urlsafe(12))
        self._tls_context = tls_context if spec.tls else None
        self._retry_delays = retry_delays
        self._relay_timeout = relay_timeout
        self._server: asyncio.Server | None = None
        self._sessions = OpenSessions()  # closed at stop (smtpd.OpenSessions)
        self._budget = MemoryBudget(DATA_MEMORY)  # what its sessions' messages hold at once
        self.mta: Mta | None = None
        self.port = 0

    async def start_listener(self, port: int = 0) -> int:
        self._sessions = OpenSessions()  # a stopped listener's refuses new sessions
        handler = _RelayHandler(self)
        auth = self.spec.port_role == 587

        def make() -> SMTP:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=_AUTH_WITHOUT_TLS_WARNING)
                return WorldSMTP(
                    handler,
                    hostname=self.hostname,
                    ident="mua",
                    tls_context=self._tls_context,
                    require_starttls=False,
                    auth_required=auth,
                    auth_require_tls=True,
                    authenticator=handler.authenticate if auth else None,
                    sessions=self._sessions,
                    budget=self._budget,
                )

        self._server = await listen(make, "127.0.0.1", port)
        self.port = bound_port(self._server)
        return self.port

    def start_mta(self, make_relay: Callable[..., RelayClient], next_hop: NextHop | None) -> None:
        """`make_relay(hostname, next_hop)`: a relay client as the providers' MTAs have."""
        self.mta = Mta(
            hostname=self.hostname,
            queue=self.queue,
            relay=make_relay(self.hostname, next_hop),
            events=self.events,
            retry_delays=self._retry_delays,
        )
        self.mta.start()

    async def stop(self) -> None:
        if self.mta is not None:
            await self.mta.stop()
            self.mta = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._sessions.close()
