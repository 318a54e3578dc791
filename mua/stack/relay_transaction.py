"""One mail transaction of a relay session (MAIL FROM, RCPT TO, DATA) and what came of it
for each recipient: delivered, or refused for now (4xx) or for good (5xx)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import aiosmtplib

from mua.core.legs import Leg
from mua.stack.tlsrpt import TlsSession


@dataclass
class RelayOutcome:
    delivered: list[str] = field(default_factory=list)
    temporary: dict[str, str] = field(default_factory=dict)  # recipient -> reason
    permanent: dict[str, str] = field(default_factory=dict)
    leg: Leg | None = None  # the relay leg as this client saw it, when a session got that far
    remote: str | None = None  # "mx.b.test [127.0.0.1]:20025"
    policy: str | None = None  # "DANE" or "MTA-STS" when one applied to the leg
    sessions: list[TlsSession] = field(default_factory=list)  # for TLS-RPT, every attempt
    acked: float | None = None  # when the MX's reply to the data came (time.time())


# Called with the outcome as soon as the MX has taken the message for `delivered`, before
# QUIT: the MTA records the delivery there, so the window in which a crash resends is short.
Accepted = Callable[[RelayOutcome], Awaitable[None]]


async def transaction(
    client: aiosmtplib.SMTP,
    sender: str,
    recipients: list[str],
    data: bytes,
    outcome: RelayOutcome,
    mail_options: list[str],
) -> bool:
    """Whether the transaction ended cleanly (the MX answered the data), so that the
    session may carry another; after a refusal aiosmtplib's RSET may have failed."""
    refused: Mapping[str, tuple[int, str]]  # recipient: (code, message)
    clean = False
    try:
        refused, _response = await client.sendmail(
            sender, recipients, data, mail_options=mail_options
        )
        outcome.acked = time.time()
        clean = True
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = {e.recipient: (e.code, e.message) for e in exc.recipients}
    except aiosmtplib.SMTPResponseException as exc:  # MAIL FROM or DATA refused
        all_failed(outcome, recipients, **{_kind(exc.code): f"{exc.code} {exc.message}"})
        return False
    for rcpt in recipients:
        if rcpt in refused:
            code, message = refused[rcpt]
            getattr(outcome, _kind(code))[rcpt] = f"{code} {message}"
        else:
            outcome.delivered.append(rcpt)
    return clean


def _kind(code: int) -> str:
    return "permanent" if 500 <= code < 600 else "temporary"


def all_failed(
    outcome: RelayOutcome, recipients: list[str], *, temporary: str = "", permanent: str = ""
) -> RelayOutcome:
    for rcpt in recipients:
        if permanent:
            outcome.permanent[rcpt] = permanent
        else:
            outcome.temporary[rcpt] = temporary
    return outcome
