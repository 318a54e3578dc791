"""Submitting to more recipients than a server takes in one transaction (RFC 5321 section
4.5.3.1.10): those put off with 452 go in another transaction on the same session.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib

log = logging.getLogger(__name__)


async def send_in_transactions(
    smtp: aiosmtplib.SMTP,
    message: EmailMessage | bytes,
    sender: str | None,
    recipients: Sequence[str] | None,
    options: list[str],
) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    """Send to every recipient: those a server put off with 452 (too many recipients in
    one transaction, RFC 5321 section 4.5.3.1.10) go in another transaction on the same
    session, until all are taken or a transaction takes none (those stay refused, as 452:
    temporary). aiosmtplib sends to the accepted ones and returns the others as errors."""

    async def one(to: Sequence[str] | None) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        if isinstance(message, bytes):
            assert sender is not None and to
            return await smtp.sendmail(sender, list(to), message, mail_options=options)
        return await smtp.send_message(message, sender=sender, recipients=to, mail_options=options)

    errors, reply = await one(recipients)
    errors = dict(errors)
    while again := [a for a, r in errors.items() if r.code == 452]:
        try:
            more, reply = await one(again)
        except aiosmtplib.SMTPRecipientsRefused:
            break  # none taken this time: no progress to be had in this session
        log.info("sent to %d recipient(s) in another transaction after 452", len(again))
        for address in again:
            errors.pop(address)
        errors.update(more)
    return errors, reply
