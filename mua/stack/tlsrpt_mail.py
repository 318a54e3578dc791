"""A TLS-RPT aggregate report as an email (RFC 8460 section 5.3.1), for the `mailto:` rua URIs.

The message is a multipart/report (RFC 6522) with `report-type="tlsrpt"`: a line for people,
then the gzip'd JSON report (section 5.2) as `application/tlsrpt+gzip`, named as section 5.1
says with `.json.gz`. The `TLS-Report-Domain` and `TLS-Report-Submitter` header fields name
the policy domain and the reporting MTA, and the Subject carries both and the report id.
(Section 3 also asks for a DKIM signature; the demo world signs nothing.)
"""

from __future__ import annotations

import email.policy
import email.utils
import gzip
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from urllib.parse import unquote, urlsplit

from mua.stack.tlsrpt import DailyReport

MEDIA_SUBTYPE = "tlsrpt+gzip"


def mailto_recipients(rua: tuple[str, ...]) -> list[str]:
    """The addresses of the `mailto:` URIs among `rua` (RFC 6068: comma-separated,
    percent-encoded, any `?headers` part ignored); https: URIs are not mail."""
    found: list[str] = []
    for uri in rua:
        parts = urlsplit(uri)
        if parts.scheme.lower() != "mailto":
            continue
        for address in unquote(parts.path).split(","):
            address = address.strip()
            if "@" in address and address not in found:
                found.append(address)
    return found


def report_message(
    daily: DailyReport, *, submitter: str, sender: str, to: list[str], message_id: str
) -> bytes:
    """The report for `to`, from `sender`, as wire bytes (CRLF)."""
    report_id = str(daily.report["report-id"])
    message = MIMEMultipart("report", report_type="tlsrpt")
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = message_id
    message["Subject"] = (
        f"Report Domain: {daily.domain} Submitter: {submitter} Report-ID: <{report_id}>"
    )
    message["TLS-Report-Domain"] = daily.domain
    message["TLS-Report-Submitter"] = submitter
    range_ = daily.report["date-range"]
    message.attach(
        MIMEText(
            f"This is an aggregate TLS report from {submitter} for {daily.domain}, "
            f"{range_['start-datetime']} to {range_['end-datetime']} (RFC 8460).\n",
            "plain",
            "us-ascii",
        )
    )
    attachment = MIMEApplication(gzip.compress(daily.json_bytes(), mtime=0), MEDIA_SUBTYPE)
    attachment.add_header("Content-Disposition", "attachment", filename=f"{daily.name}.json.gz")
    message.attach(attachment)
    return message.as_bytes(policy=email.policy.SMTP)
