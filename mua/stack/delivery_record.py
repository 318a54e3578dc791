"""The MTA's record of a delivery, written the moment the MX has answered 250.

SMTP has an inherent window (RFC 5321 section 6.1; RFC 1047): between the MX's 250 and the
sender forgetting the message, a crash means the message is sent again. This keeps it as
short as it can be: the relay calls `delivered` before QUIT, before the message's other
destinations finish and before any bookkeeping. When no recipient is left (the common
case) the queue file is unlinked right there on the event loop, a few microseconds after
the 250 was read: from then on a killed process cannot resend it. The fsync of the queue
directory (what a power loss needs) follows in a worker thread of its own (not the shared
pool, where the herd's reads and the MDA's writes queue); a message with recipients left
has its queue file rewritten there, without the delivered ones.

Then, in the same thread, the event log: the relay leg and a "relayed" record carrying the
time of the 250 (`acked`), of the queue's record (`settled`) and of its fsync (`synced`),
itself fsync'ed, so the log's record of a delivery is as durable as the delivery. A failure
of either is logged and never turns into a resend: the recipients are gone from the entry
in memory, so this MTA does not try them again; only a crash before the queue's record
reaches the disk can.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from mua.stack.events import EventLog
from mua.stack.queue import MailQueue, QueueEntry
from mua.stack.relay import RelayOutcome

log = logging.getLogger(__name__)


class DeliveryRecorder:
    def __init__(self, queue: MailQueue, events: Callable[[], EventLog]) -> None:
        """`events`: the event log to write to (looked up at each record)."""
        self.queue = queue
        self._events = events
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mta-record")

    async def stop(self) -> None:
        """Wait for the records under way (their relay may have been cancelled after 250)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True)

    async def delivered(self, entry: QueueEntry, outcome: RelayOutcome) -> None:
        """`outcome.delivered` took the message: drop them from `entry`, durably. The caller
        holds the entry's lock (one rewrite of its file at a time)."""
        assert self._executor is not None, "the recorder is not started"
        entry.recipients = [r for r in entry.recipients if r not in outcome.delivered]
        snapshot = replace(entry, recipients=list(entry.recipients))
        settled = None
        if not snapshot.recipients:
            try:
                self.queue.remove(snapshot, sync=False)  # an unlink: microseconds
                settled = time.time()
            except OSError:
                pass  # told below, where the removal is tried again
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._write, snapshot, outcome, settled)

    def _write(self, entry: QueueEntry, outcome: RelayOutcome, settled: float | None) -> None:
        try:
            if entry.recipients:
                self.queue.save(entry)
            elif settled is None:
                self.queue.remove(entry)
            else:
                self.queue.sync()
        except OSError as exc:
            log.error(
                "queue entry %s: delivered to %s, but the queue could not record it (%s); "
                "it is not tried again while the MTA runs",
                entry.id,
                ", ".join(outcome.delivered),
                exc,
            )
        synced = time.time()
        ids = {"queue_id": entry.id, "message_id": entry.message_id}
        events = self._events()
        try:
            if outcome.leg is not None:
                events.leg(
                    outcome.leg,
                    side="client",
                    recipients=outcome.delivered,
                    policy=outcome.policy,
                    **ids,
                )
            events.write(
                "relayed",
                durable=True,
                recipients=outcome.delivered,
                remote=outcome.remote,
                acked=outcome.acked,
                settled=settled or synced,
                synced=synced,
                **ids,
            )
        except OSError as exc:
            log.error(
                "event log: the delivery of %s to %s not recorded: %s",
                entry.id,
                ", ".join(outcome.delivered),
                exc,
            )
