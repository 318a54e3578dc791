"""The MSA: SMTP submission (RFC 6409) for one provider's users.

Two listeners: implicit TLS (the 465 role, RFC 8314) and STARTTLS (the 587 role, RFC 3207).
AUTH is offered and accepted only over TLS; only authenticated users may send, and only
from their own address. A message is in the durable queue before the 250 reply.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import email.utils
import logging
import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mua.core.i18n import T_
from mua.core.legs import Endpoint, Leg, Protocol, Role, Source
from mua.core.tls_facts import TlsFacts
from mua.stack.chaos import ChaosOptions
from mua.stack.events import EventLog
from mua.stack.limits import ConnectionGate, ConnectionLimits
from mua.stack.oauth_tokens import TokenCheck
from mua.stack.queue import MailQueue, QueueEntry, new_queue_id
from mua.stack.received_writer import prepend_header, received_header, with_keyword
from mua.stack.smtp_oauth import OAuthSubmission
from mua.stack.smtpd import (
    DATA_SIZE_LIMIT,
    IDLE_TIMEOUT,
    MAX_RECIPIENTS,
    REQUIRETLS,
    WorldSMTP,
    bound_port,
    listen,
    peer_ip,
    session_mode,
    session_tls,
)
from mua.stack.users import Mailbox, UserDirectory

log = logging.getLogger(__name__)

# aiosmtpd warns (and logs) for every connection on a listener built with auth_required and
# not auth_require_tls; on the implicit-TLS listener that combination is the correct one.
_AUTH_WITHOUT_TLS_WARNING = "Requiring AUTH while not requiring TLS"


_headers = email.parser.BytesHeaderParser(policy=email.policy.compat32)


@dataclass(frozen=True)
class MsaPorts:
    implicit_tls: int
    starttls: int
    legacy: int = 0  # the 25 role, submission in clear; 0 when not offered


class SubmissionHandler(OAuthSubmission):
    """aiosmtpd handler for one listener of the MSA."""

    def __init__(
        self,
        *,
        hostname: str,
        users: UserDirectory,
        queue: MailQueue,
        events: EventLog,
        implicit: bool,
        on_queued: Callable[[], None],
        role_port: int | None = None,
    ) -> None:
        self.hostname = hostname
        self.users = users
        self.queue = queue
        self.events = events
        self.implicit = implicit
        self.role_port = role_port or (465 if implicit else 587)
        self.on_queued = on_queued
        self.actual_port: int | None = None
        # False when a smarthost takes the message over the network: the MTA that sends
        # it there records that handoff leg (mua.stack.relay.NextHop), not this internal one.
        self.internal_handoff = True

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        mailbox = self.users.authenticate(login, auth_data.password.decode("utf-8", "replace"))
        if mailbox is None:
            log.info("AUTH %s failed for %r from %s", mechanism, login, peer_ip(server))
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=mailbox)

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        mailbox: object = session.auth_data  # aiosmtpd's types say None: it is what we gave
        assert isinstance(mailbox, Mailbox)  # aiosmtpd's auth_required ran before us
        if address.lower() != mailbox.address.lower():
            # Postfix's reject_sender_login_mismatch answer.
            return (
                f"553 5.7.1 <{address}>: Sender address rejected: not owned by user {mailbox.user}"
            )
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if "@" not in address:
            return f"501 5.1.3 <{address}>: Recipient address must be a full address"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        mailbox: object = session.auth_data
        assert isinstance(mailbox, Mailbox)
        data = envelope.original_content or b""
        headers = _headers.parsebytes(data)  # once: the checks below all read it
        foreign = _foreign_author(headers, mailbox.address)
        if foreign is not None:
            log.info("refused a message from %s with %s", mailbox.address, foreign)
            return f"550 5.7.1 {foreign} is not an address of user {mailbox.user}"
        mode = session_mode(server, self.implicit)
        tls = session_tls(server, mode)
        data, message_id = self._complete_headers(data, headers)
        rcpt = envelope.rcpt_tos[0] if len(envelope.rcpt_tos) == 1 else None
        value = received_header(
            helo=session.host_name,
            peer_ip=peer_ip(server),
            by=self.hostname,
            protocol=with_keyword("ESMTP", tls=bool(tls.encrypted), authenticated=True),
            queue_id="{queue_id}",
            recipient=rcpt,
            tls=tls,
            authenticated_as=mailbox.address,
        )
        leg = self._submission_leg(tls, peer_ip(server))
        meta: dict[str, Any] = {"submission": {"tls": tls.to_json(), "port": self.role_port}}
        meta |= _transport_request(envelope, headers)
        try:
            entry = await asyncio.to_thread(self._enqueue, envelope, data, value, message_id, meta)
        except OSError:
            log.exception("could not queue a message from %s", mailbox.address)
            return "451 4.3.0 Error: queue file write error, try again later"
        self.events.leg(leg, side="server", message_id=message_id, queue_id=entry.id)
        if self.internal_handoff:
            self._record_handoff(message_id, entry.id)
        self.on_queued()
        return f"250 2.0.0 Ok: queued as {entry.id}"

    def _record_handoff(self, message_id: str, queue_id: str) -> None:
        handoff = Leg(
            Endpoint(Role.MSA, self.hostname),
            Endpoint(Role.MTA, self.hostname),
            Protocol.INTERNAL,
            TlsFacts.unknown(),
            Source.OBSERVED,
            note=T_("Queued on disk by the same server that accepted it."),
        )
        self.events.leg(handoff, side="server", message_id=message_id, queue_id=queue_id)

    def _enqueue(
        self,
        envelope: Envelope,
        data: bytes,
        received: str,
        message_id: str,
        meta: dict[str, Any],
    ) -> QueueEntry:
        # The Received field names the queue id and must be inside the queued bytes:
        # draw the id first, then write once.
        queue_id = new_queue_id()
        data = prepend_header(data, "Received", received.replace("{queue_id}", queue_id))
        assert envelope.mail_from is not None  # handle_MAIL set it: aiosmtpd's order
        return self.queue.enqueue(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            data,
            message_id=message_id,
            meta=meta,
            queue_id=queue_id,
        )

    def _complete_headers(self, data: bytes, headers: Message) -> tuple[bytes, str]:
        """RFC 6409 section 8: an MSA may add a missing Message-ID and Date."""
        message_id = headers.get("Message-ID")
        if not message_id:
            message_id = email.utils.make_msgid(domain=self.hostname)
            data = prepend_header(data, "Message-ID", message_id)
        if not headers.get("Date"):
            data = prepend_header(data, "Date", email.utils.formatdate(usegmt=False))
        return data, str(message_id).strip()

    def _submission_leg(self, tls: TlsFacts, client_ip: str) -> Leg:
        return Leg(
            Endpoint(Role.MUA, client_ip),
            Endpoint(Role.MSA, self.hostname),
            Protocol.SUBMISSION,
            tls,
            Source.OBSERVED,
            port_role=self.role_port,
            port_actual=self.actual_port,
        )


def _foreign_author(headers: Message, own: str) -> str | None:
    """The first From: or Sender: address (as `From: <x>`) that is not the user's own.

    An MSA may refuse what its user may not send (RFC 6409 section 8); we refuse rather than
    add `Sender:` (RFC 5322 section 3.6.2), because the provider DKIM-signs it for the domain: a
    colleague's address in From: would arrive signed and aligned, a forgery that DMARC
    passes, and most readers show From: alone, never the Sender: beside it."""
    for name in ("From", "Sender"):
        values = [str(v) for v in headers.get_all(name, [])]
        for _display, address in email.utils.getaddresses(values):
            if address and address.lower() != own.lower():
                return f"{name}: <{address}>"
    return None


def _transport_request(envelope: Envelope, headers: Message) -> dict[str, bool]:
    """What the sender asked of the relay (RFC 8689): `requiretls` (the MAIL FROM parameter:
    authenticated TLS on every hop, section 4.2.1) or `tls_required_no` (the `TLS-Required: No`
    header field: recipient-domain policies may be ignored, sections 3 and 4.2.2). The
    parameter wins: with REQUIRETLS the header field is ignored (section 4.1)."""
    if REQUIRETLS in envelope.mail_options:
        return {"requiretls": True}
    value = headers.get("TLS-Required")
    if value is not None and str(value).strip().lower() == "no":
        return {"tls_required_no": True}
    return {}


class Msa:
    """The submission server of one provider: the 465 and 587 roles, and with `cleartext_auth`
    (a legacy setup, offered only in the scenarios that show one) AUTH without TLS on the
    587 role and a third listener on the 25 role, submission in clear (no STARTTLS)."""

    def __init__(
        self,
        *,
        hostname: str,
        users: UserDirectory,
        queue: MailQueue,
        events: EventLog,
        tls_context: ssl.SSLContext,
        on_queued: Callable[[], None],
        host: str = "127.0.0.1",
        idle_timeout: float = IDLE_TIMEOUT,
        data_size_limit: int = DATA_SIZE_LIMIT,
        limits: ConnectionLimits | None = None,
        max_recipients: int = MAX_RECIPIENTS,
        cleartext_auth: bool = False,
        chaos: ChaosOptions | None = None,
    ) -> None:
        self.hostname = hostname
        self._max_recipients = max_recipients
        # `mua stack --chaos`: each listener's own fault source (mua.stack.chaos)
        self._chaos = {
            role: chaos.source("msa", f"{hostname} {role}") if chaos is not None else None
            for role in (465, 587, 25)
        }
        self.cleartext_auth = cleartext_auth
        # one gate per listener (465 role, 587 role), as Postfix limits each service
        self.gates = {
            implicit: ConnectionGate(limits or ConnectionLimits()) for implicit in (True, False)
        }
        self.legacy_gate = ConnectionGate(limits or ConnectionLimits())  # the 25 role
        self.host = host
        self._tls_context = tls_context
        self._servers: list[asyncio.Server] = []
        self._options = {"idle_timeout": idle_timeout, "data_size_limit": data_size_limit}
        self._handlers = {
            role: SubmissionHandler(
                hostname=hostname,
                users=users,
                queue=queue,
                events=events,
                implicit=role == 465,
                on_queued=on_queued,
                role_port=role,
            )
            for role in (465, 587, 25)
        }

    def _factory(self, role: int) -> Callable[[], SMTP]:
        handler = self._handlers[role]

        def make() -> SMTP:
            with warnings.catch_warnings():
                # Raised for the implicit-TLS listener, where the transport is TLS, and for
                # the legacy listeners of `cleartext_auth`, which allow it on purpose.
                warnings.filterwarnings("ignore", message=_AUTH_WITHOUT_TLS_WARNING)
                return self._make_smtp(handler, role)

        return make

    def _make_smtp(self, handler: SubmissionHandler, role: int) -> SMTP:
        implicit = role == 465
        if role == 25:  # legacy submission: no TLS at all, AUTH in clear
            tls_context, require_tls = None, False
        else:
            tls_context = None if implicit else self._tls_context
            require_tls = not implicit and not self.cleartext_auth
        return WorldSMTP(
            handler,
            hostname=self.hostname,
            ident="mua",
            data_size_limit=self._options["data_size_limit"],
            timeout=self._options["idle_timeout"],
            authenticator=handler.authenticate,
            auth_required=True,
            # aiosmtpd 1.4.6 answers AUTH on an implicit-TLS listener with 538 unless
            # this is off (aiosmtpd issues #274, #281): the transport is TLS already.
            auth_require_tls=require_tls,
            tls_context=tls_context,
            require_starttls=require_tls,
            gate=self.legacy_gate if role == 25 else self.gates[implicit],
            max_recipients=self._max_recipients,
            chaos=self._chaos[role],
        )

    def accept_tokens(self, verifier: TokenCheck) -> None:
        """OAuth2: AUTH XOAUTH2 and OAUTHBEARER check bearer tokens with `verifier`."""
        for handler in self._handlers.values():
            handler.token_verifier = verifier

    async def start(
        self, implicit_port: int = 0, starttls_port: int = 0, legacy_port: int = 0
    ) -> MsaPorts:
        implicit = await listen(self._factory(465), self.host, implicit_port, self._tls_context)
        starttls = await listen(self._factory(587), self.host, starttls_port)
        self._servers = [implicit, starttls]
        if self.cleartext_auth:
            self._servers.append(await listen(self._factory(25), self.host, legacy_port))
        for role, server in zip((465, 587, 25), self._servers, strict=False):
            self._handlers[role].actual_port = bound_port(server)
        legacy = bound_port(self._servers[2]) if self.cleartext_auth else 0
        return MsaPorts(bound_port(implicit), bound_port(starttls), legacy)

    def use_smarthost(self) -> None:
        """The provider's MTA hands every message to a smarthost (its leg is recorded there)."""
        for handler in self._handlers.values():
            handler.internal_handoff = False

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers = []
