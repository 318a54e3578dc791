"""The outbound MTA: runs the durable queue, relays, retries with backoff, bounces.

A temporary failure (4xx, no answer, DNS trouble) is retried on a growing schedule; a
permanent one (5xx) or the end of the retry window sends a delivery status notification to
the sender (RFC 5321 section 4.5.4.1 and 6.1; RFC 3464) — except for a bounce, which is
never bounced (RFC 5321 section 6.1: the null reverse-path).

Like Postfix's queue manager it bounds its work: at most `active_limit` messages in delivery
at once and `destination_limit` relay sessions per destination domain (Postfix's
default_destination_concurrency_limit, 20), so a restart with thousands queued does not
swamp the DNS or the MX. It keeps the queue in memory (read once, then only the new files):
an entry finished since a listing was read is never tried again. Retry times get a random
spread (jitter) so a herd deferred together is not retried together.

A delivery is recorded the moment the MX answers 250, before QUIT and before anything else
(`DeliveryRecorder`): the queue file is rewritten or removed, then the event log's
"relayed" record is written and fsync'ed (the removal is not: at start, a queue file whose
recipients all have a "relayed" record is removed, not sent). Nothing after the 250 can
cause a resend; a failure of the bookkeeping (a full disk) is logged, never retried as a
delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections import defaultdict

from mua.stack.bounce import delivery_status_notification
from mua.stack.delivery_record import DeliveryRecorder
from mua.stack.dkim_keys import DkimKeys
from mua.stack.events import EventLog
from mua.stack.mta_reports import TlsReporting
from mua.stack.queue import MailQueue, QueueEntry
from mua.stack.relay import RelayClient, RelayOutcome
from mua.stack.tlsrpt import TlsReportLog
from mua.stack.tlsrpt_https import ReportPoster

log = logging.getLogger(__name__)

# Postfix waits minutes between tries and keeps a message for 5 days; the demo world and the
# tests pass shorter schedules.
DEFAULT_RETRY_DELAYS = (60.0, 300.0, 900.0, 1800.0, 3600.0)
DEFAULT_RETRY_WINDOW = 5 * 24 * 3600.0
DESTINATION_LIMIT = 20  # Postfix: default_destination_concurrency_limit
ACTIVE_LIMIT = 100  # messages in delivery at once (Postfix: default_process_limit)
JITTER = 0.1  # a retry comes up to 10% earlier or later than its schedule says


class Mta(TlsReporting):
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
        destination_limit: int = DESTINATION_LIMIT,
        active_limit: int = ACTIVE_LIMIT,
        dkim: DkimKeys | None = None,
    ) -> None:
        """`tls_reports`: where each relay session is recorded for TLS-RPT (RFC 8460);
        `report_poster`: how reports reach `https:` rua URIs (none: they are not sent).
        `dkim`: the provider's keys; what its users submitted is signed as it leaves."""
        self.hostname = hostname
        self.tls_reports = tls_reports
        self.report_poster = report_poster
        self.queue = queue
        self.relay = relay
        self.events = events
        self.retry_delays = retry_delays
        self.retry_window = retry_window
        self.destination_limit = destination_limit
        self.dkim = dkim
        self.active_limit = active_limit
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy: set[str] = set()
        self._attempts: set[asyncio.Task[bool]] = set()
        self._waiting: dict[str, QueueEntry] = {}  # in the queue, not in delivery now
        self._rescan = True  # new files may be in the queue directory
        self._starting = False  # set by start(): its first look checks the event log
        self._scanning = False
        self._finished_in_scan: set[str] = set()  # finished while a listing was being read
        self._sessions: dict[str, asyncio.Semaphore] = {}  # per destination domain
        self._recorder = DeliveryRecorder(queue, lambda: self.events)

    def wake(self) -> None:
        """Look at the queue now (a message was queued). Safe to call from the loop only."""
        self._rescan = True
        self._wake.set()

    def start(self) -> None:
        self._rescan = True
        self._starting = True
        self._waiting.clear()
        self._recorder.start()
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
        self._busy.clear()
        await self.relay.close()  # QUIT the sessions kept for the next message
        await self._recorder.stop()  # every delivery the MXs took is on disk

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            if self._rescan:
                try:
                    await self._scan()
                except Exception:  # the runner must survive; the next wake looks again
                    log.exception("the queue could not be read")
                    self._rescan = True
            now = time.time()
            free = self.active_limit - len(self._busy)
            due = [e for e in self._waiting.values() if e.next_attempt <= now]
            if len(due) > free:
                due = sorted(due, key=lambda e: (e.next_attempt, e.created, e.id))[: max(free, 0)]
            for entry in due:
                del self._waiting[entry.id]
                self._busy.add(entry.id)
                task = asyncio.create_task(self._attempt(entry))
                self._attempts.add(task)
                task.add_done_callback(self._attempts.discard)
                task.add_done_callback(functools.partial(self._done, entry=entry))
            waits = [e.next_attempt - now for e in self._waiting.values() if e.next_attempt > now]
            timeout = min(waits) if waits else None
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as
            # the event is set (an attempt cancelled by stop() sets it), and stop() then
            # waited for ever on a runner that went on running.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _scan(self) -> None:
        """Learn the files queued since the last look (read in a worker thread). Entries
        in delivery, or finished while the listing was read, keep their in-memory state."""
        self._rescan = False
        self._scanning = True
        self._finished_in_scan.clear()
        known = set(self._waiting) | self._busy  # only the loop changes them
        try:
            ids, entries = await asyncio.to_thread(self._look, known)
            if self._starting:  # a power cut may have undone removals the event log recorded
                self._starting = False
                entries = await asyncio.to_thread(self._recorder.forget_recorded, entries)
        finally:
            self._scanning = False
        for entry in entries:
            if entry is None or entry.id in self._waiting or entry.id in self._busy:
                continue  # gone, or known already
            if entry.id not in self._finished_in_scan:
                self._waiting[entry.id] = entry
        for gone in set(self._waiting) - ids:  # removed by someone else
            del self._waiting[gone]

    def _look(self, known: set[str]) -> tuple[set[str], list[QueueEntry | None]]:
        """In a worker thread, one trip for both: the ids in the queue, and the entries of
        those not `known` (None for one gone since it was listed)."""
        ids = self.queue.ids()
        return ids, [self.queue.entry(i) for i in ids if i not in known]

    def _done(self, task: asyncio.Task[bool], entry: QueueEntry) -> None:
        self._busy.discard(entry.id)
        if self._scanning:
            self._finished_in_scan.add(entry.id)
        if not task.cancelled() and task.exception() is None and task.result():
            self._waiting[entry.id] = entry  # deferred: still queued, with its new time
        self._wake.set()  # a slot is free; a bounce may have been queued

    async def _attempt(self, entry: QueueEntry) -> bool:
        """Try `entry` once; whether it is still queued."""
        try:
            await self._deliver(entry)
        except Exception:  # one broken message must not stop the queue
            log.exception("queue entry %s failed unexpectedly; will retry", entry.id)
            if not entry.recipients:
                return False
            entry.next_attempt = time.time() + self._delay(entry.attempts)
            try:
                await asyncio.to_thread(self.queue.save, entry)
            except OSError as exc:
                log.error("queue entry %s could not be rescheduled: %s", entry.id, exc)
        return bool(entry.recipients)

    async def _deliver(self, entry: QueueEntry) -> None:
        data = await asyncio.to_thread(self._outgoing, entry)
        by_domain: dict[str, list[str]] = defaultdict(list)
        for rcpt in entry.recipients:
            by_domain[rcpt.rpartition("@")[2].lower()].append(rcpt)
        # RFC 8689: what the sender asked of the transport travels with the queued message.
        asked = {
            "requiretls": bool(entry.meta.get("requiretls")),
            "ignore_policy": bool(entry.meta.get("tls_required_no")),
        }
        lock = asyncio.Lock()  # one rewrite of the queue file at a time

        async def accepted(outcome: RelayOutcome) -> None:
            async with lock:
                await self._recorder.delivered(entry, outcome)

        async def relay(domain: str, recipients: list[str]) -> RelayOutcome:
            async with self._destination(domain):
                return await self.relay.deliver(
                    domain, entry.sender, recipients, data, accepted=accepted, **asked
                )

        outcomes = await asyncio.gather(*(relay(d, r) for d, r in by_domain.items()))
        opened = [(d, o) for d, o in zip(by_domain, outcomes, strict=True) if o.sessions]
        # RFC 8460 section 3: the sessions that carry a report are not themselves counted.
        # A message that rode reused sessions only opened none: no trip to a worker thread.
        if self.tls_reports is not None and not entry.meta.get("tlsrpt") and opened:
            try:
                await asyncio.to_thread(self._record_tls, opened)
            except OSError as exc:
                log.error("TLS-RPT sessions of %s not recorded: %s", entry.id, exc)
        entry.attempts += 1
        temporary: dict[str, str] = {}
        permanent: dict[str, str] = {}
        for outcome in outcomes:
            if not outcome.delivered:  # delivered ones were recorded at the 250
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
            self._rescan = True  # the bounce is a new file in the queue
        if not entry.recipients:
            return  # all delivered: the queue forgot it at the last 250
        if temporary:
            entry.recipients = [r for r in entry.recipients if r in temporary]
            entry.last_error = "; ".join(sorted(set(temporary.values())))
            entry.next_attempt = time.time() + self._delay(entry.attempts - 1)
            async with lock:
                await asyncio.to_thread(self.queue.save, entry)
            self._note(
                "deferred",
                queue_id=entry.id,
                message_id=entry.message_id,
                recipients=entry.recipients,
                reason=entry.last_error,
                next_attempt=entry.next_attempt,
            )
        else:
            entry.recipients = []
            await asyncio.to_thread(self.queue.remove, entry)

    def _outgoing(self, entry: QueueEntry) -> bytes:
        """The message as it leaves: what a user submitted gets the domain's DKIM signatures
        (RFC 6376: the domain vouches for it), made here rather than in the MSA, as Exim's
        transports sign, so that submission answers sooner (an RSA signature is the most
        expensive step of a message's acceptance); a bounce or report is sent as queued."""
        data = self.queue.message(entry)
        if self.dkim is not None and "submission" in entry.meta:
            data = self.dkim.sign(data)
        return data

    def _destination(self, domain: str) -> asyncio.Semaphore:
        """The sessions to `domain` that may run at once (shared by every message)."""
        slots = self._sessions.get(domain)
        if slots is None:
            slots = self._sessions[domain] = asyncio.Semaphore(self.destination_limit)
        return slots

    def _record(self, entry: QueueEntry, outcome: RelayOutcome) -> None:
        """The leg of a session that delivered nothing (bookkeeping: a failure is logged)."""
        if outcome.leg is None:
            return
        try:
            self.events.leg(
                outcome.leg,
                side="client",
                recipients=[],
                policy=outcome.policy,
                queue_id=entry.id,
                message_id=entry.message_id,
            )
        except OSError as exc:
            log.error("event log: the relay leg of %s not recorded: %s", entry.id, exc)

    def _note(self, event: str, **fields: object) -> None:
        """An event log record that is bookkeeping only: a failure is logged, not raised."""
        try:
            self.events.write(event, **fields)
        except OSError as exc:
            log.error("event log: %s of %s not recorded: %s", event, fields.get("queue_id"), exc)

    async def _bounce(
        self,
        entry: QueueEntry,
        data: bytes,
        failures: dict[str, str],
        remote: str | None,
        *,
        expired: bool,
    ) -> None:
        self._note(
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

    def _delay(self, attempt: int) -> float:
        delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
        return delay * random.uniform(1 - JITTER, 1 + JITTER)
