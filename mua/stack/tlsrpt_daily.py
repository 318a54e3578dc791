"""Each UTC day's TLS reports, sent once, the day after (RFC 8460 section 4.1).

Section 4.1: a report covers a full UTC day, and "to avoid unintentionally overloading the
system processing the reports, the reports should be delivered after some delay, perhaps
several hours". So after each midnight UTC, at a moment drawn at random from the next
`SPREAD` seconds (or at a fixed time of day when one is given), the task sends yesterday's
report to every policy domain the MTA recorded sessions for; `send` (the MTA's
`send_tls_report`) looks up whether the domain publishes a TLS-RPT record and where to.

A failed delivery "SHOULD" be tried again "for up to 24 hours after the initial attempt"
(the RFC's Delivery Retry section): mail is retried by the MTA's queue; an `https:` URI that
refused the report is tried again here on the MTA's retry schedule, within those 24 hours.

What was sent, and what is still to be retried, is written to `state_file` in the world
directory after each domain, so a restart neither sends a day twice nor forgets one: a task
started after its moment (the world was down at midnight) sends yesterday's reports at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import random
import threading
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any

from mua import durable
from mua.stack.mta import DEFAULT_RETRY_DELAYS
from mua.stack.tlsrpt import ReportOutcome, TlsReportLog, day_start

log = logging.getLogger(__name__)

SPREAD = 2 * 3600.0  # the random delay after midnight is drawn from [0, SPREAD)
RETRY_WINDOW = 24 * 3600.0  # failed deliveries are retried this long after the first try
# asyncio sleeps on the monotonic clock, which stands still while a laptop is suspended:
# the wall clock is read again at least this often, so midnight is not overslept by hours.
RECHECK = 600.0
KEEP_DAYS = 40  # days remembered in the state file
_RETRY_KEYS = {"day", "domain", "uris", "first", "tries", "next"}

# (policy domain, day, only these rua URIs or all) -> where the report went
SendReport = Callable[[str, dt.date, Collection[str] | None], Awaitable[ReportOutcome]]


class DailyTlsReports:
    """Sends yesterday's reports once a day, from `start()` until `stop()`.

    `clock` is the wall clock (seconds since the epoch, like `time.time`) that decides what
    "yesterday" and "midnight" are; by default the session log's. `send_at` is the UTC time
    of day to send at; None draws a random moment in the first `SPREAD` seconds of each day.
    `retry_delays` space the retries of an `https:` URI that refused a report (the MTA's
    schedule: the last delay repeats until `RETRY_WINDOW` has passed since the first try).
    """

    def __init__(
        self,
        send: SendReport,
        sessions: TlsReportLog,
        state_file: Path,
        *,
        send_at: dt.time | None = None,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.send = send
        self.sessions = sessions
        self.state_file = Path(state_file)
        self.send_at = send_at
        self.retry_delays = retry_delays
        self.clock = clock or sessions.clock
        self.next_run: float | None = None  # when the task wakes next (set after each pass)
        self._rng = rng or random.Random()
        self._delays: dict[dt.date, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()  # a retry was scheduled from outside the task
        self._sending = asyncio.Lock()  # one sender at a time: the task, or a caller
        self._state_lock = threading.Lock()  # state updates run in worker threads

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="tlsrpt-daily")

    async def stop(self) -> None:
        """Stop the task; a domain cut off mid-send is sent again at the next start."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})  # a cancellation of the caller still propagates
            self._task = None

    def send_time(self, day: dt.date) -> float:
        """When the reports of `day` go: some time after its end."""
        delay: float
        if self.send_at is not None:
            delay = self.send_at.hour * 3600 + self.send_at.minute * 60 + self.send_at.second
        else:
            delay = self._delays.setdefault(day, self._rng.uniform(0.0, SPREAD))
        return day_start(day) + 86400 + delay

    def sent(self) -> dict[str, dict[str, list[str]]]:
        """Per UTC day (ISO date), per policy domain, the rua URIs that took the report ([]
        when none did, or the domain publishes no TLS-RPT record)."""
        return dict(self._state()["days"])

    def retries(self) -> list[dict[str, Any]]:
        """The deliveries still to be tried again: day, domain, uris, first, tries, next."""
        return list(self._state()["retries"])

    async def send_day(self, day: dt.date) -> dict[str, ReportOutcome]:
        """Send `day`'s report to each domain with sessions that day not sent to yet; where
        each went."""
        start = day_start(day)
        outcomes: dict[str, ReportOutcome] = {}
        async with self._sending:
            domains = await asyncio.to_thread(self.sessions.domains, start, start + 86400)
            done_before = (await asyncio.to_thread(self.sent)).get(day.isoformat(), {})
            for domain in sorted(domains - set(done_before)):
                outcome = outcomes[domain] = await self._send(domain, day, None)
                first = self.clock()
                retry = {"day": day.isoformat(), "domain": domain, "first": first, "tries": 0}
                await asyncio.to_thread(self._update, retry, outcome, first)
                if outcome.failed:
                    self._wake.set()
        if outcomes:
            log.info("TLS reports of %s: %s", day, {d: o.sent for d, o in outcomes.items()})
        return outcomes

    async def _run(self) -> None:
        handled: dt.date | None = None
        while True:
            try:
                handled = await self._pass(handled)
            except Exception:  # the task must outlive one bad pass (a full disk, say)
                log.exception("sending the TLS reports failed; trying again later")
                self.next_run = self.clock() + RECHECK
            assert self.next_run is not None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, min(self.next_run - self.clock(), RECHECK))):
                    await self._wake.wait()
            self._wake.clear()

    async def _pass(self, handled: dt.date | None) -> dt.date | None:
        """Send yesterday's reports if it is time and they have not gone, then the retries
        that are due; sets `next_run`. The day handled now."""
        now = self.clock()
        yesterday = dt.datetime.fromtimestamp(now, dt.UTC).date() - dt.timedelta(days=1)
        if yesterday != handled and now >= self.send_time(yesterday):
            await self.send_day(yesterday)
            handled = yesterday
        for retry in await asyncio.to_thread(self.retries):
            if retry["next"] <= self.clock():
                await self._retry(retry)
        upcoming = [r["next"] for r in await asyncio.to_thread(self.retries)]
        tomorrow = yesterday + dt.timedelta(days=1) if yesterday == handled else yesterday
        self.next_run = min([self.send_time(tomorrow), *upcoming])
        return handled

    async def _retry(self, retry: dict[str, Any]) -> None:
        day = dt.date.fromisoformat(retry["day"])
        async with self._sending:
            outcome = await self._send(retry["domain"], day, retry["uris"])
            retry = retry | {"tries": retry["tries"] + 1}
            await asyncio.to_thread(self._update, retry, outcome, self.clock())

    async def _send(self, domain: str, day: dt.date, only: list[str] | None) -> ReportOutcome:
        try:
            return await self.send(domain, day, only)
        except Exception:  # one domain's trouble must not stop the others, or tomorrow
            log.exception("TLS report for %s of %s could not be sent", domain, day)
            return ReportOutcome()

    def _update(self, retry: dict[str, Any], outcome: ReportOutcome, now: float) -> None:
        """Note where `retry`'s report went, and whether it is to be tried again."""
        with self._state_lock:
            self._note(retry, outcome, now)

    def _note(self, retry: dict[str, Any], outcome: ReportOutcome, now: float) -> None:
        state = self._state()
        day, domain = retry["day"], retry["domain"]
        sent = state["days"].setdefault(day, {}).setdefault(domain, [])
        sent.extend(u for u in outcome.sent if u not in sent)
        key = (day, domain)
        state["retries"] = [r for r in state["retries"] if (r["day"], r["domain"]) != key]
        if outcome.failed:
            # As the MTA's queue does: the last delay repeats, here until the window closes.
            due = now + self.retry_delays[min(retry["tries"], len(self.retry_delays) - 1)]
            if due < retry["first"] + RETRY_WINDOW:
                state["retries"].append(retry | {"uris": sorted(outcome.failed), "next": due})
            else:
                log.warning("TLS report for %s of %s given up: %s", domain, day, outcome.failed)
        oldest = (dt.date.fromisoformat(day) - dt.timedelta(days=KEEP_DAYS)).isoformat()
        state["days"] = {d: v for d, v in sorted(state["days"].items()) if d >= oldest}
        self._write(state)

    def _state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            state = {}
        except ValueError:
            log.warning("%s is not JSON; starting a new record of sent reports", self.state_file)
            state = {}
        if not isinstance(state, dict):
            state = {}
        days, retries = state.get("days"), state.get("retries")
        if not isinstance(retries, list):
            retries = []
        return {
            "days": days if isinstance(days, dict) else {},
            "retries": [r for r in retries if isinstance(r, dict) and r.keys() >= _RETRY_KEYS],
        }

    def _write(self, state: dict[str, Any]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(state, indent=1, sort_keys=True)
        durable.write_atomic(self.state_file, text.encode("utf-8"))
