"""The MSA: SMTP submission (RFC 6409) for one provider's users.

Two listeners: implicit TLS (the 465 role, RFC 8314) and STARTTLS (the 587 role, RFC 3207).
AUTH is offered and accepted only over TLS; only authenticated users may send, and only
from their own address. A message is in the durable queue before the 250 reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import email.utils
import functools
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any

from mua.core.i18n import T_
from mua.core.legs import Endpoint, Leg, Protocol, Role, Source
from mua.core.tls_facts import TlsFacts
from mua.stack.chaos import ChaosOptions, Disruption
from mua.stack.events import EventLog
from mua.stack.limits import ConnectionGate, ConnectionLimits
from mua.stack.oauth_tokens import TokenCheck
from mua.stack.queue import MailQueue, QueueEntry, new_queue_id
from mua.stack.received_writer import prepend_header, received_header, with_keyword
from mua.stack.session_threads import SessionThreads
from mua.stack.smtp_oauth import check_bearer
from mua.stack.smtp_paths import REQUIRETLS
from mua.stack.smtp_wire import ClientGone, MemoryBudget, SmtpWire
from mua.stack.smtpd import DATA_MEMORY, DATA_SIZE_LIMIT, IDLE_TIMEOUT, MAX_RECIPIENTS
from mua.stack.submission_commands import SubmissionSession
from mua.stack.submission_session import (
    BearerRefusal,
    Listener,
    Submitted,
    Transaction,
)
from mua.stack.users import Mailbox, UserDirectory

log = logging.getLogger(__name__)

_headers = email.parser.BytesHeaderParser(policy=email.policy.compat32)


@dataclass(frozen=True)
class MsaPorts:
    implicit_tls: int
    starttls: int
    legacy: int = 0  # the 25 role, submission in clear; 0 when not offered


class SubmissionHandler:
    """The decisions of one listener of the MSA, asked by its session threads
    (mua.stack.submission_session.SubmissionRules)."""

    def __init__(
        self,
        *,
        hostname: str,
        users: UserDirectory,
        queue: MailQueue,
        events: EventLog,
        implicit: bool,
        on_queued: Callable[[], object],
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
        self.token_verifier: TokenCheck | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # the one that started the MSA

    def check_password(
        self, mechanism: str, login: str, password: str, peer: str
    ) -> Mailbox | None:
        mailbox = self.users.authenticate(login, password)
        if mailbox is None:
            log.info("AUTH %s failed for %r from %s", mechanism, login, peer)
        return mailbox

    def check_bearer(self, mechanism: str, message: bytes, peer: str) -> Mailbox | BearerRefusal:
        return check_bearer(self.token_verifier, self.loop, mechanism, message)

    def sender(self, mailbox: Mailbox, address: str) -> str | None:
        if address.lower() != mailbox.address.lower():
            # Postfix's reject_sender_login_mismatch answer.
            return (
                f"553 5.7.1 <{address}>: Sender address rejected: not owned by user {mailbox.user}"
            )
        return None

    def recipient(self, address: str) -> str | None:
        if "@" not in address:
            return f"501 5.1.3 <{address}>: Recipient address must be a full address"
        return None

    def queue_message(self, message: Submitted) -> str:
        mailbox = message.mailbox
        data = message.data
        headers = _headers.parsebytes(_header_section(data))  # once: the checks below read it
        foreign = _foreign_author(headers, mailbox.address)
        if foreign is not None:
            log.info("refused a message from %s with %s", mailbox.address, foreign)
            return f"550 5.7.1 {foreign} is not an address of user {mailbox.user}"
        tls = message.tls
        data, message_id = self._complete_headers(data, headers)
        envelope = message.transaction
        rcpt = envelope.rcpt_tos[0] if len(envelope.rcpt_tos) == 1 else None
        value = received_header(
            helo=message.helo,
            peer_ip=message.peer_ip,
            by=self.hostname,
            protocol=with_keyword("ESMTP", tls=bool(tls.encrypted), authenticated=True),
            queue_id="{queue_id}",
            recipient=rcpt,
            tls=tls,
            authenticated_as=mailbox.address,
        )
        leg = self._submission_leg(tls, message.peer_ip)
        meta: dict[str, Any] = {"submission": {"tls": tls.to_json(), "port": self.role_port}}
        meta |= _transport_request(envelope, headers)
        try:
            entry = self._enqueue(envelope, data, value, message_id, meta)
        except OSError:
            log.exception("could not queue a message from %s", mailbox.address)
            return "451 4.3.0 Error: queue file write error, try again later"
        legs = [leg, self._handoff] if self.internal_handoff else [leg]
        self.events.legs(legs, side="server", message_id=message_id, queue_id=entry.id)
        self.on_queued()
        return f"250 2.0.0 Ok: queued as {entry.id}"

    @functools.cached_property
    def _handoff(self) -> Leg:
        """The same for every message: built once (the event log encodes it once too)."""
        return Leg(
            Endpoint(Role.MSA, self.hostname),
            Endpoint(Role.MTA, self.hostname),
            Protocol.INTERNAL,
            TlsFacts.unknown(),
            Source.OBSERVED,
            note=T_("Queued on disk by the same server that accepted it."),
        )

    def _enqueue(
        self,
        envelope: Transaction,
        data: bytes,
        received: str,
        message_id: str,
        meta: dict[str, Any],
    ) -> QueueEntry:
        # The Received field names the queue id and must be inside the queued bytes:
        # draw the id first, then write once.
        queue_id = new_queue_id()
        data = prepend_header(data, "Received", received.replace("{queue_id}", queue_id))
        assert envelope.mail_from is not None  # DATA comes after MAIL FROM
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


def _header_section(data: bytes) -> bytes:
    """The header fields of a message, without the body the parser would read line by line."""
    end = data.find(b"\r\n\r\n")
    return data if end < 0 else data[: end + 4]


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


def _transport_request(envelope: Transaction, headers: Message) -> dict[str, bool]:
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
    587 role and a third listener on the 25 role, submission in clear (no STARTTLS).

    `on_queued` is called in the session's thread once a message is queued, before its 250:
    it must be thread-safe (the provider's hops to its event loop; the MSA process writes a
    line to its parent)."""

    def __init__(
        self,
        *,
        hostname: str,
        users: UserDirectory,
        queue: MailQueue,
        events: EventLog,
        tls_context: ssl.SSLContext,
        on_queued: Callable[[], object],
        host: str = "127.0.0.1",
        idle_timeout: float = IDLE_TIMEOUT,
        data_size_limit: int = DATA_SIZE_LIMIT,
        data_memory: int = DATA_MEMORY,
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
        self._listeners: list[SessionThreads] = []
        self._idle_timeout = idle_timeout
        self._data_size_limit = data_size_limit
        self._budget = MemoryBudget(data_memory)  # shared by the listeners' sessions
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

    def _listener(self, role: int) -> Listener:
        context = self._tls_context
        chaos = self._chaos[role]
        lock = threading.Lock()  # a chaos source's random generator, shared by the sessions

        def draw(command: str) -> Disruption | None:
            assert chaos is not None
            with lock:
                return chaos.draw(command)

        return Listener(
            role=role,
            implicit=role == 465,
            starttls=(lambda wire: wire.starttls(context)) if role == 587 else None,
            # legacy submission (the 25 role) and `cleartext_auth`: AUTH in clear on purpose
            require_tls=role == 587 and not self.cleartext_auth,
            data_size_limit=self._data_size_limit,
            budget=self._budget,
            max_recipients=self._max_recipients,
            chaos=draw if chaos is not None else None,
        )

    def _serve(self, role: int) -> Callable[[SmtpWire], None]:
        handler, listener = self._handlers[role], self._listener(role)

        def serve(wire: SmtpWire) -> None:
            if role == 465:
                try:
                    wire.starttls(self._tls_context)
                except ClientGone as gone:
                    log.info("submission on %s: %s", role, gone)
                    return
            SubmissionSession(wire, handler, listener).run()

        return serve

    def _refuse(self, role: int) -> Callable[[SmtpWire, str], None]:
        def refuse(wire: SmtpWire, why: str) -> None:
            with contextlib.suppress(ClientGone):
                if role == 465:
                    wire.starttls(self._tls_context)
                wire.write(f"421 4.7.0 {self.hostname} Error: {why}")

        return refuse

    def accept_tokens(self, verifier: TokenCheck) -> None:
        """OAuth2: AUTH XOAUTH2 and OAUTHBEARER check bearer tokens with `verifier`."""
        for handler in self._handlers.values():
            handler.token_verifier = verifier

    async def start(
        self, implicit_port: int = 0, starttls_port: int = 0, legacy_port: int = 0
    ) -> MsaPorts:
        loop = asyncio.get_running_loop()
        roles = {465: implicit_port, 587: starttls_port}
        if self.cleartext_auth:
            roles[25] = legacy_port
        bound: dict[int, int] = {}
        try:
            for role, port in roles.items():
                self._handlers[role].loop = loop
                gate = self.legacy_gate if role == 25 else self.gates[role == 465]
                threads = SessionThreads(
                    f"msa {self.hostname} {role}",
                    gate,
                    self._serve(role),
                    self._refuse(role),
                    self._idle_timeout,
                )
                bound[role] = threads.start(self.host, port)
                self._listeners.append(threads)
                self._handlers[role].actual_port = bound[role]
        except OSError:
            await self.stop()
            raise
        return MsaPorts(bound[465], bound[587], bound.get(25, 0))

    def use_smarthost(self) -> None:
        """The provider's MTA hands every message to a smarthost (its leg is recorded there)."""
        for handler in self._handlers.values():
            handler.internal_handoff = False

    async def stop(self) -> None:
        listeners, self._listeners = self._listeners, []
        for threads in listeners:
            await asyncio.to_thread(threads.stop)
