"""The outbound MTA: runs the durable queue, relays, retries with backoff, bounces.

A temporary failure (4xx, no answer, DNS trouble) is retried on a growing schedule; a
permanent one (5xx) or the end of the retry window sends a delivery status notification to
the sender (RFC 5321 section 4.5.4.1 and 6.1; RFC 3464) — except for a bounce, which is
never bounced (RFC 5321 section 6.1: the null reverse-path).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import logging
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from mua.net.https_post import HttpsPostError
from mua.stack.bounce import delivery_status_notification
from mua.stack.events import EventLog
from mua.stack.queue import MailQueue, QueueEntry
from mua.stack.relay import RelayClient, RelayOutcome
from mua.stack.tlsrpt import (
    DailyReport,
    ReportOutcome,
    TlsReportLog,
    daily_report,
    write_daily_report,
)
from mua.stack.tlsrpt_https import ReportPoster, https_uris
from mua.stack.tlsrpt_mail import mailto_recipients, report_message

log = logging.getLogger(__name__)

# Postfix waits minutes between tries and keeps a message for 5 days; the demo world and the
# tests pass shorter schedules.
DEFAULT_RETRY_DELAYS = (60.0, 300.0, 900.0, 1800.0, 3600.0)
DEFAULT_RETRY_WINDOW = 5 * 24 * 3600.0


class Mta:
    def __init__(
        self,
        *,
        hostname: str,
        queue: MailQueue,
        relay: RelayClient,
        events: EventLog,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
        retry_window: float = DEFAULT_RETRY_WINDOW,
        tls_reports: TlsReportLog | None = None,
        report_poster: ReportPoster | None = None,
    ) -> None:
        """`tls_reports`: where each relay session is recorded for TLS-RPT (RFC 8460);
        `report_poster`: how reports reach `https:` rua URIs (none: they are not sent)."""
        self.hostname = hostname
        self.tls_reports = tls_reports
        self.report_poster = report_poster
        self.queue = queue
        self.relay = relay
        self.events = events
        self.retry_delays = retry_delays
        self.retry_window = retry_window
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy: set[str] = set()
        self._attempts: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Look at the queue now (a message was queued). Safe to call from the loop only."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mta-queue")

    async def stop(self) -> None:
        """Stop the queue runner and any relay under way. A message cut off mid-relay stays
        in the queue (it is removed only after the MX's 250) and is tried again later."""
        tasks = [t for t in (self._task, *self._attempts) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:  # asyncio.wait: a cancellation of the caller is not swallowed with theirs
            await asyncio.wait(tasks)
        self._task = None
        self._attempts.clear()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            now = time.time()
            entries = await asyncio.to_thread(self.queue.entries)
            due = [e for e in entries if e.next_attempt <= now and e.id not in self._busy]
            for entry in due:
                self._busy.add(entry.id)
                task = asyncio.create_task(self._attempt(entry))
                self._attempts.add(task)
                task.add_done_callback(self._attempts.discard)
                task.add_done_callback(lambda _t, qid=entry.id: self._done(qid))
            waits = [e.next_attempt - now for e in entries if e.next_attempt > now]
            timeout = min(waits) if waits else None
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as
            # the event is set (an attempt cancelled by stop() sets it), and stop() then
            # waited for ever on a runner that went on running.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def _done(self, queue_id: str) -> None:
        self._busy.discard(queue_id)
        self._wake.set()  # a bounce may have been queued, or the entry rescheduled

    async def _attempt(self, entry: QueueEntry) -> None:
        try:
            await self._deliver(entry)
        except Exception:  # one broken message must not stop the queue
            log.exception("queue entry %s failed unexpectedly; will retry", entry.id)
            entry.next_attempt = time.time() + self._delay(entry.attempts)
            await asyncio.to_thread(self.queue.save, entry)

    async def _deliver(self, entry: QueueEntry) -> None:
        data = await asyncio.to_thread(self.queue.message, entry)
        by_domain: dict[str, list[str]] = defaultdict(list)
        for rcpt in entry.recipients:
            by_domain[rcpt.rpartition("@")[2].lower()].append(rcpt)
        # RFC 8689: what the sender asked of the transport travels with the queued message.
        asked = {
            "requiretls": bool(entry.meta.get("requiretls")),
            "ignore_policy": bool(entry.meta.get("tls_required_no")),
        }
        outcomes = await asyncio.gather(
            *(
                self.relay.deliver(d, entry.sender, rcpts, data, **asked)
                for d, rcpts in by_domain.items()
            )
        )
        if self.tls_reports is not None and not entry.meta.get("tlsrpt"):
            # RFC 8460 section 3: the sessions that carry a report are not themselves counted.
            await asyncio.to_thread(self._record_tls, list(zip(by_domain, outcomes, strict=True)))
        entry.attempts += 1
        temporary: dict[str, str] = {}
        permanent: dict[str, str] = {}
        for outcome in outcomes:
            self._record(entry, outcome)
            temporary.update(outcome.temporary)
            permanent.update(outcome.permanent)
        expired = bool(temporary) and time.time() - entry.created >= self.retry_window
        if expired:
            permanent.update(temporary)
            temporary = {}
        if permanent:
            remote = next((o.remote for o in outcomes if o.permanent), None)
            await self._bounce(entry, data, permanent, remote, expired=expired)
        if temporary:
            entry.recipients = [r for r in entry.recipients if r in temporary]
            entry.last_error = "; ".join(sorted(set(temporary.values())))
            entry.next_attempt = time.time() + self._delay(entry.attempts - 1)
            await asyncio.to_thread(self.queue.save, entry)
            self.events.write(
                "deferred",
                queue_id=entry.id,
                message_id=entry.message_id,
                recipients=entry.recipients,
                reason=entry.last_error,
                next_attempt=entry.next_attempt,
            )
        else:
            await asyncio.to_thread(self.queue.remove, entry)

    def _record(self, entry: QueueEntry, outcome: RelayOutcome) -> None:
        ids = {"queue_id": entry.id, "message_id": entry.message_id}
        if outcome.leg is not None:
            self.events.leg(
                outcome.leg,
                side="client",
                recipients=outcome.delivered,
                policy=outcome.policy,
                **ids,
            )
        if outcome.delivered:
            self.events.write("relayed", recipients=outcome.delivered, remote=outcome.remote, **ids)

    async def _bounce(
        self,
        entry: QueueEntry,
        data: bytes,
        failures: dict[str, str],
        remote: str | None,
        *,
        expired: bool,
    ) -> None:
        self.events.write(
            "bounced",
            queue_id=entry.id,
            message_id=entry.message_id,
            recipients=sorted(failures),
            reasons=failures,
        )
        if not entry.sender:
            log.warning("dropping undeliverable bounce %s: %s", entry.id, failures)
            return
        report = delivery_status_notification(
            reporting_mta=self.hostname,
            sender=entry.sender,
            original=data,
            failures=failures,
            arrival=entry.created,
            remote=remote,
            expired=expired,
        )
        # RFC 8689 section 5: a non-delivery report of a REQUIRETLS message goes with
        # REQUIRETLS too (it quotes the original's header section).
        meta = {"requiretls": True} if entry.meta.get("requiretls") else {}
        await asyncio.to_thread(self.queue.enqueue, "", [entry.sender], report, meta=meta)

    def _record_tls(self, outcomes: list[tuple[str, RelayOutcome]]) -> None:
        assert self.tls_reports is not None
        for domain, outcome in outcomes:
            for session in outcome.sessions:
                self.tls_reports.record(domain, session)

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

    def _delay(self, attempt: int) -> float:
        return self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
