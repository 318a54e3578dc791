"""The inbound MX of one provider: SMTP on the 25 role, STARTTLS offered, own domain only.

It accepts mail for its own users from anyone (that is what an MX is for), refuses to relay
(`550 5.7.1`), and hands each message to the MDA in-process (the delivery leg is internal),
or with `lmtp` set over the network to a separate store host (mua.stack.lmtp).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import logging
import re
import ssl
from collections.abc import Callable

from aiosmtpd.smtp import SMTP, Envelope, Session

from mua.core.i18n import T_
from mua.core.legs import Endpoint, Leg, Protocol, Role, Source
from mua.core.tls_facts import TlsFacts, TlsMode
from mua.net.dns import Resolver
from mua.stack.chaos import ChaosOptions
from mua.stack.events import EventLog
from mua.stack.limits import ConnectionGate, ConnectionLimits
from mua.stack.lmtp import LmtpClient
from mua.stack.mda import Mda
from mua.stack.mx_auth import checker
from mua.stack.queue import new_queue_id
from mua.stack.received_writer import prepend_header, received_header, with_keyword
from mua.stack.smtp_wire import MemoryBudget
from mua.stack.smtpd import (
    DATA_MEMORY,
    DATA_SIZE_LIMIT,
    IDLE_TIMEOUT,
    MAX_RECIPIENTS,
    OpenSessions,
    WorldSMTP,
    bound_port,
    listen,
    peer_ip,
    session_tls,
)
from mua.stack.users import UserDirectory

log = logging.getLogger(__name__)

_headers = email.parser.BytesHeaderParser(policy=email.policy.compat32)


class InboundHandler:
    def __init__(self, *, hostname: str, users: UserDirectory, mda: Mda, events: EventLog) -> None:
        self.hostname = hostname
        self.users = users
        self.mda = mda
        self.events = events
        self.actual_port: int | None = None
        self.lmtp: LmtpClient | None = None  # delivery to a separate store host, when set
        # The world's validating resolver, set once the world's DNS answers (World.start):
        # DKIM, ARC and DMARC are checked through it (mx_auth.py).
        self.resolver: Resolver | None = None

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        _, _, domain = address.rpartition("@")
        if domain.lower() != self.users.domain:
            return f"550 5.7.1 <{address}>: Relay access denied"
        if self.users.get(address) is None:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        tls = session_tls(server, TlsMode.STARTTLS)
        client = peer_ip(server)
        queue_id = new_queue_id()
        message_id = str(_headers.parsebytes(data).get("Message-ID", "")).strip() or None
        check = checker(
            data,
            self.hostname,
            self.resolver,
            ip=client,
            mail_from=envelope.mail_from or "",
            helo=session.host_name or "",
        )

        def stamped(rcpt: str, results: str) -> bytes:
            value = received_header(
                helo=session.host_name,
                peer_ip=client,
                by=self.hostname,
                protocol=with_keyword("ESMTP", tls=bool(tls.encrypted), authenticated=False),
                queue_id=queue_id,
                recipient=rcpt,
                tls=tls,
            )
            # The checks' record goes on top, as a milter after the MTA would put it.
            return prepend_header(
                prepend_header(data, "Received", value), "Authentication-Results", results
            )

        if self.lmtp is not None:
            results = await asyncio.to_thread(check)
            self._checked(results, message_id, client)
            try:
                for rcpt in envelope.rcpt_tos:  # an LmtpError is an OSError: 451 below
                    await self.lmtp.deliver(envelope.mail_from or "", rcpt, stamped(rcpt, results))
            except OSError:
                log.exception("delivery failed for a message from %s", client)
                return "451 4.3.0 Error: could not write to the mailbox, try again later"
        else:
            users = []
            for rcpt in envelope.rcpt_tos:
                user = self.users.get(rcpt)
                assert user is not None  # handle_RCPT let only our users in
                users.append((rcpt, user.user))
            # the checks and the mailbox writes in one trip to a worker thread
            failed = await asyncio.to_thread(
                self._check_and_deliver, check, stamped, users, message_id, client
            )
            if failed is not None:
                log.error("delivery failed for a message from %s", client, exc_info=failed)
                return "451 4.3.0 Error: could not write to the mailbox, try again later"
        ids = {"message_id": message_id, "queue_id": queue_id, "recipients": envelope.rcpt_tos}
        self.events.leg(self._relay_leg(tls, session.host_name or client), side="server", **ids)
        for leg in self._delivery_legs() if self.lmtp is None else []:  # else the store's
            self.events.leg(leg, side="server", **ids)
        return f"250 2.0.0 Ok: queued as {queue_id}"

    def _check_and_deliver(
        self,
        check: Callable[[], str],
        stamped: Callable[[str, str], bytes],
        users: list[tuple[str, str]],
        message_id: str | None,
        client: str,
    ) -> OSError | None:
        """In a worker thread: the checks, their record, and the message, stamped, into each
        (recipient, user)'s mailbox; the OSError that stopped a delivery, if one did (an
        error recording the checks is raised, as it was before any delivery)."""
        results = check()
        self._checked(results, message_id, client)
        try:
            for rcpt, user in users:
                self.mda.deliver(user, stamped(rcpt, results))
        except OSError as exc:
            return exc
        return None

    def _checked(self, results: str, message_id: str | None, client: str) -> None:
        """What the checks found, for the event log as for the message (Authentication-Results)."""
        spf = re.search(r"\bspf=(\w+)", results)  # the MAIL FROM identity's, first
        self.events.write(
            "authenticated",
            message_id=message_id,
            results=results,
            ip=client,
            spf=spf.group(1) if spf else None,
        )

    def _relay_leg(self, tls: TlsFacts, client: str) -> Leg:
        return Leg(
            Endpoint(Role.MTA, client),
            Endpoint(Role.MX, self.hostname),
            Protocol.SMTP,
            tls,
            Source.OBSERVED,
            port_role=25,
            port_actual=self.actual_port,
        )

    def _delivery_legs(self) -> list[Leg]:
        host = self.hostname
        return [
            Leg(
                Endpoint(Role.MX, host),
                Endpoint(Role.MDA, host),
                Protocol.INTERNAL,
                TlsFacts.unknown(),
                Source.OBSERVED,
                note=T_("Handed to the delivery agent inside the same server."),
            ),
            Leg(
                Endpoint(Role.MDA, host),
                Endpoint(Role.MS, host),
                Protocol.INTERNAL,
                TlsFacts.unknown(),
                Source.OBSERVED,
                note=T_("Written to the mailbox the message store serves, on the same host."),
            ),
        ]


class Mx:
    def __init__(
        self,
        *,
        hostname: str,
        users: UserDirectory,
        mda: Mda,
        events: EventLog,
        tls_context: ssl.SSLContext | None,
        host: str = "127.0.0.1",
        idle_timeout: float = IDLE_TIMEOUT,
        data_size_limit: int = DATA_SIZE_LIMIT,
        requiretls: bool = True,
        limits: ConnectionLimits | None = None,
        max_recipients: int = MAX_RECIPIENTS,
        chaos: ChaosOptions | None = None,
        data_memory: int = DATA_MEMORY,
    ) -> None:
        """`tls_context` None makes an MX that offers no STARTTLS (the plaintext scenario);
        `requiretls` False one that does not offer REQUIRETLS (RFC 8689); `chaos` makes it
        misbehave (`mua stack --chaos`, mua.stack.chaos). `data_memory`: the bytes of
        message data its sessions may hold at once (mua.stack.smtpd_data)."""
        self._chaos = chaos.source("mx", f"{hostname} 25") if chaos is not None else None
        self.hostname = hostname
        self.host = host
        self.handler = InboundHandler(hostname=hostname, users=users, mda=mda, events=events)
        self._tls_context = tls_context
        self._idle_timeout = idle_timeout
        self._data_size_limit = data_size_limit
        self._requiretls = requiretls
        self._max_recipients = max_recipients
        self.gate = ConnectionGate(limits or ConnectionLimits())
        self._server: asyncio.Server | None = None
        self._sessions = OpenSessions()  # closed at stop (smtpd.OpenSessions)
        self.budget = MemoryBudget(data_memory)  # shared by its sessions

    def _factory(self) -> Callable[[], SMTP]:
        def make() -> SMTP:
            return WorldSMTP(
                self.handler,
                hostname=self.hostname,
                ident="mua",
                data_size_limit=self._data_size_limit,
                timeout=self._idle_timeout,
                tls_context=self._tls_context,
                require_starttls=False,  # RFC 3207 section 4: a public MX must not require it
                auth_required=False,
                requiretls=self._requiretls,
                gate=self.gate,
                max_recipients=self._max_recipients,
                chaos=self._chaos,
                sessions=self._sessions,
                budget=self.budget,
            )

        return make

    async def start(self, port: int = 0) -> int:
        self._sessions = OpenSessions()  # a stopped MX's refuses new sessions: started anew
        self._server = await listen(self._factory(), self.host, port)
        self.handler.actual_port = bound_port(self._server)
        return self.handler.actual_port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._sessions.close()
