"""The MTA's TLS reports (RFC 8460): written to a directory, or sent to the domain's rua URIs
(`mailto:` through the MTA's own queue, `https:` by POST). Mixed into `Mta`."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from mua.net.https_post import HttpsPostError
from mua.stack.events import EventLog
from mua.stack.queue import MailQueue
from mua.stack.relay import RelayClient
from mua.stack.tlsrpt import (
    DailyReport,
    ReportOutcome,
    TlsReportLog,
    daily_report,
    write_daily_report,
)
from mua.stack.tlsrpt_https import ReportPoster, https_uris
from mua.stack.tlsrpt_mail import mailto_recipients, report_message

log = logging.getLogger("mua.stack.mta")


class TlsReporting:
    hostname: str
    queue: MailQueue
    relay: RelayClient
    events: EventLog
    tls_reports: TlsReportLog | None
    report_poster: ReportPoster | None

    def wake(self) -> None:
        raise NotImplementedError

    async def write_tls_report(self, domain: str, directory: Path, day: dt.date) -> Path | None:
        """RFC 8460 section 4: `domain`'s report for the UTC day `day`, written into
        `directory` when the domain publishes a TLS-RPT record; None when it does not."""
        if self.tls_reports is None:
            return None
        return await write_daily_report(
            self.tls_reports,
            self.relay.resolver,
            domain,
            directory,
            day=day,
            sender=self.hostname,
            contact=f"postmaster@{self.hostname}",
        )

    async def send_tls_report(
        self, domain: str, day: dt.date, only: Collection[str] | None = None
    ) -> ReportOutcome:
        """RFC 8460: send `domain`'s report for the UTC day `day` to every URI of its TLS-RPT
        record (section 3: a comma-separated list; the reporter may try each), or to those
        of them in `only` (a retry): `mailto:` through this MTA's own queue (section 5.3.1),
        `https:` by POST (section 5.3.2). Empty when the domain asks for no report; a failed
        POST is also logged and written to the event log.

        Section 3: reports are delivered despite any TLS failure, so the message is queued as
        `TLS-Required: No` would have it (the domain's DANE or MTA-STS policy does not stop
        it; an attacker who strips STARTTLS can read it), and its own relay sessions are not
        counted. The null reverse-path keeps a failed report from bouncing back and forth."""
        if self.tls_reports is None:
            return ReportOutcome()
        daily = await daily_report(
            self.tls_reports,
            self.relay.resolver,
            domain,
            day=day,
            sender=self.hostname,
            contact=f"postmaster@{self.hostname}",
        )
        if daily is None:
            return ReportOutcome()
        if only is not None:
            daily = replace(daily, rua=tuple(u for u in daily.rua if u in only))
        taken = set(await self._mail_report(daily))
        failed: dict[str, str] = {}
        for uri in https_uris(daily.rua):
            why = await self._post_report(uri, daily)
            if why is None:
                taken.add(uri)
            else:
                failed[uri] = why
        for uri in daily.rua:
            if urlsplit(uri).scheme.lower() not in ("mailto", "https"):
                log.info("TLS report for %s not sent to %s: an unknown scheme", domain, uri)
        return ReportOutcome(tuple(u for u in daily.rua if u in taken), failed)

    async def _mail_report(self, daily: DailyReport) -> list[str]:
        """Queue the report for the `mailto:` URIs; those URIs (none without an address)."""
        recipients = mailto_recipients(daily.rua)
        if not recipients:
            return []
        message_id = email.utils.make_msgid("tlsrpt", domain=self.hostname)
        data = report_message(
            daily,
            submitter=self.hostname,
            sender=f"tlsrpt-noreply@{self.hostname}",
            to=recipients,
            message_id=message_id,
        )
        meta = {"tls_required_no": True, "tlsrpt": True}
        entry = await asyncio.to_thread(
            self.queue.enqueue, "", recipients, data, message_id=message_id, meta=meta
        )
        self.wake()
        self.events.write(
            "tlsrpt_queued", domain=daily.domain, recipients=recipients, queue_id=entry.id
        )
        log.info("TLS report for %s queued for %s", daily.domain, ", ".join(recipients))
        return [u for u in daily.rua if mailto_recipients((u,))]

    async def _post_report(self, uri: str, daily: DailyReport) -> str | None:
        """POST the report to `uri`; None when it took it, else why not."""
        if self.report_poster is None:
            why = "this MTA has no HTTPS client"
        else:
            try:
                status = await self.report_poster.post(uri, daily)
            except HttpsPostError as exc:
                why = str(exc)
            else:
                log.info("TLS report for %s posted to %s (HTTP %d)", daily.domain, uri, status)
                self.events.write("tlsrpt_posted", domain=daily.domain, uri=uri, status=status)
                return None
        log.warning("TLS report for %s not accepted at %s: %s", daily.domain, uri, why)
        self.events.write("tlsrpt_failed", domain=daily.domain, uri=uri, reason=why)
        return why
