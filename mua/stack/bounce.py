"""Non-delivery reports: RFC 3464 delivery status notifications sent back to the sender."""

from __future__ import annotations

import email.utils
import re
import secrets

_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_CODE = re.compile(r"^\s*([245]\d\d)\b")


def status_of(reason: str, *, default: str = "5.0.0") -> str:
    """The RFC 3463 enhanced status in a server's reply, or `default`."""
    match = _STATUS.search(reason)
    return match.group(1) if match else default


def delivery_status_notification(
    *,
    reporting_mta: str,
    sender: str,
    original: bytes,
    failures: dict[str, str],
    arrival: float,
    remote: str | None = None,
    expired: bool = False,
) -> bytes:
    """A multipart/report for `sender` about each failed recipient and why.

    The original's header section is returned (text/rfc822-headers), not its body: enough
    to recognise the message, and it keeps a bounce small.
    """
    boundary = f"=_bounce_{secrets.token_hex(8)}"
    headers, _, _ = original.replace(b"\r\n", b"\n").partition(b"\n\n")
    human = "\n".join(f"<{rcpt}>: {reason}" for rcpt, reason in failures.items())
    why = (
        "it could not be delivered within the retry period"
        if expired
        else "the receiving server refused it"
    )
    per_recipient = []
    for rcpt, reason in failures.items():
        block = [
            f"Final-Recipient: rfc822; {rcpt}",
            "Action: failed",
            f"Status: {status_of(reason, default='4.4.7' if expired else '5.0.0')}",
        ]
        if remote:
            block.append(f"Remote-MTA: dns; {remote.split()[0]}")
        if _CODE.match(reason):
            block.append(f"Diagnostic-Code: smtp; {reason}")
        per_recipient.append("\n".join(block))
    text = f"""\
From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>
To: <{sender}>
Subject: Undelivered Mail Returned to Sender
Date: {email.utils.formatdate()}
Message-ID: {email.utils.make_msgid(domain=reporting_mta)}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

--{boundary}
Content-Type: text/plain; charset=utf-8

This is the mail system at {reporting_mta}.

Your message could not be delivered to one or more recipients because {why}:

{human}

--{boundary}
Content-Type: message/delivery-status

Reporting-MTA: dns; {reporting_mta}
Arrival-Date: {email.utils.formatdate(arrival)}

{chr(10).join(per_recipient)}

--{boundary}
Content-Type: text/rfc822-headers

{headers.decode("utf-8", "replace")}

--{boundary}--
"""
    return text.replace("\n", "\r\n").encode("utf-8")
