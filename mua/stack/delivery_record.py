"""The MTA's record of a delivery, written the moment the MX has answered 250.

SMTP has an inherent window (RFC 5321 section 6.1; RFC 1047): between the MX's 250 and the
sender forgetting the message, a crash means the message is sent again. This keeps it as
short as it can be: the relay calls `delivered` before QUIT, before the message's other
destinations finish and before any bookkeeping. When no recipient is left (the common
case) the queue file is unlinked right there on the event loop, a few microseconds after
the 250 was read: from then on a killed process cannot resend it. A message with
recipients left has its queue file rewritten (fsync'ed) without the delivered ones.

What makes a delivery survive a power cut is the event log's "relayed" record (the time of
the 250, `acked`, of the queue's record, `settled`, and of the record's own write,
`written`), fsync'ed before `delivered` returns. The unlink itself is not fsync'ed, as
Postfix does not fsync its queue directory after a removal: a power cut may bring the file
back, and `forget_recorded`, at the MTA's start, removes it again by its record. One fsync
per delivery then, and fewer under load: a thread of its own (not the shared pool, where
the herd's reads and the MDA's writes queue) writes every record that has come in while it
was busy and fsyncs the log once for all of them (a group commit); each waiter is released
only after the fsync that covers its record.

A failure of the event log (a full disk) is logged and never turns into a resend: the
queue directory is fsync'ed instead, so the removal is what survives; the recipients are
gone from the entry in memory, so this MTA does not try them again either.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from queue import SimpleQueue

from mua.stack.events import EventLog
from mua.stack.queue import MailQueue, QueueEntry
from mua.stack.relay import RelayOutcome

log = logging.getLogger(__name__)


@dataclass
class _Delivery:
    entry: QueueEntry  # a snapshot: its recipients are those still to deliver
    outcome: RelayOutcome
    settled: float | None  # when its queue file was unlinked (None: not yet)
    done: Future[None] = field(default_factory=Future)


class DeliveryRecorder:
    def __init__(self, queue: MailQueue, events: Callable[[], EventLog]) -> None:
        """`events`: the event log to write to (looked up at each record)."""
        self.queue = queue
        self._events = events
        self._pending: SimpleQueue[_Delivery | None] = SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mta-record", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Wait for the records under way (their relay may have been cancelled after 250)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._pending.put(None)
            await asyncio.to_thread(thread.join)

    async def delivered(self, entry: QueueEntry, outcome: RelayOutcome) -> None:
        """`outcome.delivered` took the message: drop them from `entry`, durably. The caller
        holds the entry's lock (one rewrite of its file at a time)."""
        assert self._thread is not None, "the recorder is not started"
        entry.recipients = [r for r in entry.recipients if r not in outcome.delivered]
        snapshot = replace(entry, recipients=list(entry.recipients))
        settled = None
        if not snapshot.recipients:
            try:
                self.queue.remove(snapshot, sync=False)  # an unlink: microseconds
                settled = time.time()
            except OSError:
                pass  # told below, where the removal is tried again
        delivery = _Delivery(snapshot, outcome, settled)
        self._pending.put(delivery)
        await asyncio.wrap_future(delivery.done)

    def forget_recorded(self, entries: list[QueueEntry | None]) -> list[QueueEntry | None]:
        """At start: `entries` less the recipients the event log says were delivered. A
        file left with none (its removal undone by a power cut) is removed, unsynced: its
        record stays the proof."""
        ids = {e.id for e in entries if e is not None}
        try:
            recorded = self._events().relayed(ids) if ids else {}
        except OSError as exc:
            log.error("event log unreadable; queued deliveries not checked: %s", exc)
            return entries
        left: list[QueueEntry | None] = []
        for entry in entries:
            done = recorded.get(entry.id) if entry is not None else None
            if entry is not None and done:
                entry.recipients = [r for r in entry.recipients if r not in done]
                log.info("queue entry %s: already delivered to %s", entry.id, ", ".join(done))
                try:
                    if entry.recipients:
                        self.queue.save(entry)
                    else:
                        self.queue.remove(entry, sync=False)
                except OSError as exc:
                    log.error("queue entry %s could not be updated: %s", entry.id, exc)
            if entry is None or entry.recipients:
                left.append(entry)
        return left

    def _run(self) -> None:
        """Record the deliveries in batches: all that came while the last batch was
        written share its fsync."""
        while True:
            batch = [self._pending.get()]
            while not self._pending.empty():
                batch.append(self._pending.get())
            deliveries = [d for d in batch if d is not None]
            try:
                if deliveries:
                    self._record(deliveries)
            except Exception:  # the thread must survive, and every waiter be released
                log.exception("deliveries not recorded")
            for delivery in deliveries:
                if delivery.done.set_running_or_notify_cancel():
                    delivery.done.set_result(None)
            if None in batch:
                return

    def _record(self, deliveries: list[_Delivery]) -> None:
        for delivery in deliveries:
            self._settle(delivery)
        events = self._events()
        unrecorded = []  # removals that only a fsync of the queue directory can keep
        for delivery in deliveries:
            try:
                self._write(events, delivery)
            except OSError as exc:
                unrecorded.append(delivery)
                log.error(
                    "event log: the delivery of %s to %s not recorded: %s",
                    delivery.entry.id,
                    ", ".join(delivery.outcome.delivered),
                    exc,
                )
        if len(unrecorded) < len(deliveries):
            try:
                events.sync()
            except OSError as exc:
                log.error("event log: %d deliveries not synced: %s", len(deliveries), exc)
                unrecorded = deliveries
        if any(d.settled is not None for d in unrecorded):
            try:
                self.queue.sync()
            except OSError as exc:
                log.error("queue: removals not synced: %s", exc)

    def _settle(self, delivery: _Delivery) -> None:
        """The queue's record, where the loop did not make it: a rewrite without the
        delivered recipients, or a removal the loop tried and failed."""
        entry = delivery.entry
        try:
            if entry.recipients:
                self.queue.save(entry)
                delivery.settled = time.time()
            elif delivery.settled is None:
                self.queue.remove(entry)
                delivery.settled = time.time()
        except OSError as exc:
            log.error(
                "queue entry %s: delivered to %s, but the queue could not record it (%s); "
                "it is not tried again while the MTA runs",
                entry.id,
                ", ".join(delivery.outcome.delivered),
                exc,
            )

    def _write(self, events: EventLog, delivery: _Delivery) -> None:
        entry, outcome = delivery.entry, delivery.outcome
        ids = {"queue_id": entry.id, "message_id": entry.message_id}
        if outcome.leg is not None:
            events.leg(
                outcome.leg,
                side="client",
                recipients=outcome.delivered,
                policy=outcome.policy,
                **ids,
            )
        written = time.time()
        events.write(
            "relayed",
            recipients=outcome.delivered,
            remote=outcome.remote,
            acked=outcome.acked,
            settled=delivery.settled or written,
            written=written,
            **ids,
        )
