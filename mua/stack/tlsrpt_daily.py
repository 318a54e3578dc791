"""Each UTC day's TLS reports, sent once, the day after (RFC 8460 section 4.1).

Section 4.1: a report covers a full UTC day, and "to avoid unintentionally overloading the
system processing the reports, the reports should be delivered after some delay, perhaps
several hours". So after each midnight UTC, at a moment drawn at random from the next
`SPREAD` seconds (or at a fixed time of day when one is given), the task sends yesterday's
report to every policy domain the MTA recorded sessions for; `send` (the MTA's
`send_tls_report`) looks up whether the domain publishes a TLS-RPT record and where to.

What was sent is written to `state_file` in the world directory before the next domain is
tried, so a restart neither sends a day twice nor forgets one: a task started after its
moment (the world was down at midnight) sends yesterday's reports at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from mua.stack.tlsrpt import TlsReportLog, day_start

log = logging.getLogger(__name__)

SPREAD = 2 * 3600.0  # the random delay after midnight is drawn from [0, SPREAD)
# asyncio sleeps on the monotonic clock, which stands still while a laptop is suspended:
# the wall clock is read again at least this often, so midnight is not overslept by hours.
RECHECK = 600.0
KEEP_DAYS = 40  # days remembered in the state file

SendReport = Callable[[str, dt.date], Awaitable[list[str]]]


class DailyTlsReports:
    """Sends yesterday's reports once a day, from `start()` until `stop()`.

    `clock` is the wall clock (seconds since the epoch, like `time.time`) that decides what
    "yesterday" and "midnight" are; by default the session log's. `send_at` is the UTC time
    of day to send at; None draws a random moment in the first `SPREAD` seconds of each day.
    """

    def __init__(
        self,
        send: SendReport,
        sessions: TlsReportLog,
        state_file: Path,
        *,
        send_at: dt.time | None = None,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.send = send
        self.sessions = sessions
        self.state_file = Path(state_file)
        self.send_at = send_at
        self.clock = clock or sessions.clock
        self.next_run: float | None = None  # when the task wakes next (set after each pass)
        self._rng = rng or random.Random()
        self._delays: dict[dt.date, float] = {}
        self._task: asyncio.Task[None] | None = None

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
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            log.warning("%s is not JSON; starting a new record of sent reports", self.state_file)
            return {}
        return state if isinstance(state, dict) else {}

    async def send_day(self, day: dt.date) -> dict[str, list[str]]:
        """Send `day`'s report to each domain with sessions that day not sent to yet; what
        was sent now, per domain."""
        start = day_start(day)
        domains = await asyncio.to_thread(self.sessions.domains, start, start + 86400)
        done_before = (await asyncio.to_thread(self.sent)).get(day.isoformat(), {})
        now: dict[str, list[str]] = {}
        for domain in sorted(domains - set(done_before)):
            try:
                now[domain] = await self.send(domain, day)
            except Exception:  # one domain's trouble must not stop the others, or tomorrow
                log.exception("TLS report for %s of %s could not be sent", domain, day)
                now[domain] = []
            await asyncio.to_thread(self._remember, day, domain, now[domain])
        if now:
            log.info("TLS reports of %s: %s", day, now)
        return now

    async def _run(self) -> None:
        handled: dt.date | None = None
        while True:
            now = self.clock()
            yesterday = dt.datetime.fromtimestamp(now, dt.UTC).date() - dt.timedelta(days=1)
            if yesterday != handled and now >= self.send_time(yesterday):
                await self.send_day(yesterday)
                handled = yesterday
            self.next_run = self.send_time(
                yesterday + dt.timedelta(days=1) if yesterday == handled else yesterday
            )
            await asyncio.sleep(max(0.0, min(self.next_run - self.clock(), RECHECK)))

    def _remember(self, day: dt.date, domain: str, uris: list[str]) -> None:
        state = self.sent()
        state.setdefault(day.isoformat(), {})[domain] = uris
        oldest = (day - dt.timedelta(days=KEEP_DAYS)).isoformat()
        state = {d: v for d, v in sorted(state.items()) if d >= oldest}
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_name(f".{self.state_file.name}.{time.time_ns()}.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(state, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_file)
