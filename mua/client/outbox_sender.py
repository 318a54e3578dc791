"""Sending what waits in the Outbox: submit, then file a copy in Sent, keep the leg's facts.

Temporary failures (the server is down, 4xx, a timeout) are retried with backoff; permanent
ones (5xx, a refused password, a certificate that does not verify) leave the message in the
Outbox, marked failed with the one-sentence reason, until the user acts.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.parser import BytesHeaderParser

from mua.core.account import Account
from mua.core.i18n import T_
from mua.core.legs import Endpoint, Leg, Protocol, Role, Source
from mua.net.errors import NetError
from mua.net.oauth import OAuthError
from mua.net.sasl_oauth import BearerAuth
from mua.net.submission import SubmissionEndpoint, SubmissionResult, submit
from mua.store.cache import MailCache
from mua.store.outbox import Outbox, OutboxEntry

log = logging.getLogger(__name__)

RETRY_DELAYS = (30.0, 120.0, 600.0, 1800.0, 3600.0)


@dataclass(frozen=True)
class SendOutcome:
    entry: OutboxEntry
    sent: bool
    result: SubmissionResult | None = None
    error: str | None = None
    saved_to_sent: bool = False


def submission_endpoint(account: Account) -> SubmissionEndpoint:
    s = account.smtp
    return SubmissionEndpoint(s.host, s.port, s.security, s.ca_file, s.server_name)


def submission_leg(account: Account, result: SubmissionResult) -> Leg:
    """The MUA -> MSA leg as this client observed it: kept beside the sent message."""
    return Leg(
        Endpoint(Role.MUA, socket.gethostname()),
        Endpoint(Role.MSA, account.smtp.server_name or account.smtp.host),
        Protocol.SUBMISSION,
        result.tls,
        Source.OBSERVED,
        port_role=result.port_role,
        port_actual=result.port_actual,
        note=(
            T_(
                "Observed by this client when it sent the message: no TLS, so your password "
                "crossed in clear, as this account allows; anyone on the path could read it."
            )
            if result.password_in_clear
            else T_("Observed by this client when it sent the message.")
        ),
        auth=result.auth,
    )


class OutboxSender:
    def __init__(
        self,
        outbox: Outbox,
        *,
        account: Callable[[str], Account | None],
        password: Callable[[Account], str],
        cache: MailCache,
        save_to_sent: Callable[[Account, bytes], Awaitable[bool]],
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        timeout: float = 30.0,
        bearer: Callable[[Account], BearerAuth | None] | None = None,
    ) -> None:
        """`save_to_sent(account, message)` files the copy (IMAP APPEND) and says whether it
        could; it is not called for accounts whose server files sent mail itself.
        `bearer(account)`: an OAuth2 account's tokens (None: it signs in with a password)."""
        self.outbox = outbox
        self._account = account
        self._password = password
        self._bearer = bearer
        self.cache = cache
        self._save_to_sent = save_to_sent
        self.retry_delays = retry_delays
        self.timeout = timeout

    async def send_due(self, now: float | None = None) -> list[SendOutcome]:
        return [await self.send(entry) for entry in self.outbox.due(now)]

    async def send(self, entry: OutboxEntry) -> SendOutcome:
        account = self._account(entry.account)
        if account is None:
            return self._fail(
                entry,
                T_("The account of this message no longer exists; send it from another account."),
                permanent=True,
            )
        message = self.outbox.message(entry)
        bearer = self._bearer(account) if self._bearer is not None else None
        try:
            result = await submit(
                submission_endpoint(account),
                without_bcc(message),
                username=account.smtp.username,
                password=None if bearer is not None else self._password(account),
                bearer=bearer,
                sender=account.address,
                recipients=_recipients(message),
                timeout=self.timeout,
                allow_cleartext=account.cleartext_consent,
                allow_cleartext_auth=account.allow_cleartext_auth,
            )
        except OAuthError as exc:  # no token to be had: kept until the user signs in again
            return self._fail(entry, exc.args[0], permanent=False)
        except NetError as exc:
            reason = exc.args[0] if len(exc.args) == 1 else str(exc)  # a Text: shown translated
            return self._fail(entry, reason, permanent=not exc.temporary)
        self.cache.add_observed_leg(
            account.key, entry.message_id, submission_leg(account, result).to_record(1)
        )
        saved = False
        try:
            if not account.server_saves_sent:
                saved = await self._save_to_sent(account, message)
        except Exception as exc:  # sent is sent: a failed copy must not resend it
            log.warning("sent %s but could not file it in Sent: %s", entry.message_id, exc)
        self.outbox.remove(entry)
        return SendOutcome(entry, True, result=result, saved_to_sent=saved)

    def _fail(self, entry: OutboxEntry, reason: str, *, permanent: bool) -> SendOutcome:
        entry.attempts += 1
        entry.last_error = reason
        entry.failed = permanent
        if not permanent:
            delay = self.retry_delays[min(entry.attempts - 1, len(self.retry_delays) - 1)]
            entry.next_attempt = time.time() + delay
        self.outbox.save(entry)
        log.info(
            "message %s not sent (%s): %s",
            entry.message_id,
            "failed" if permanent else "will retry",
            reason,
        )
        return SendOutcome(entry, False, error=reason)


def _recipients(message: bytes) -> list[str]:
    """Envelope recipients from To, Cc and Bcc (the message as composed)."""
    from email.utils import getaddresses

    headers = BytesHeaderParser().parsebytes(message)
    fields = [*headers.get_all("To", []), *headers.get_all("Cc", []), *headers.get_all("Bcc", [])]
    return [address for _name, address in getaddresses(fields) if address]


def without_bcc(message: bytes) -> bytes:
    """The message minus its Bcc field (RFC 5322 section 3.6.3: Bcc recipients get the
    message, nobody sees the field). Byte-level, so nothing else of the message changes."""
    header, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        header, sep, body = message.partition(b"\n\n")
    lines = header.splitlines(keepends=True)
    kept, skipping = [], False
    for line in lines:
        if line[:1] in (b" ", b"\t"):  # a folded continuation belongs to the field above
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith(b"bcc:")
        if not skipping:
            kept.append(line)
    return b"".join(kept) + sep + body
