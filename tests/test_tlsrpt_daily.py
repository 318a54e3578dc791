"""Each day's TLS reports sent once, after midnight UTC (RFC 8460 section 4.1), by the MTA's
own task: driven here by an injected clock instead of waiting for midnight."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import random
import time
from dataclasses import replace
from pathlib import Path

from mua.stack.demo import SCENARIOS, scenario_options
from mua.stack.tlsrpt import ReportOutcome, TlsReportLog, day_start
from mua.stack.tlsrpt_daily import SPREAD, DailyTlsReports
from mua.stack.world import World, WorldOptions
from tests.conftest import eventually
from tests.stackhelp import send

HTTPS_RUA = "https://tlsrpt.b.test/v1/tlsrpt"
DAY = dt.date(2025, 3, 1)


def _reporter(tmp_path: Path, **kwargs: object) -> DailyTlsReports:
    async def nothing(_domain: str, _day: dt.date, _only: object) -> ReportOutcome:
        return ReportOutcome()

    sessions = TlsReportLog(tmp_path / "sessions.jsonl")
    return DailyTlsReports(nothing, sessions, tmp_path / "sent.json", **kwargs)


def test_reports_go_at_a_random_moment_after_midnight_or_at_the_time_asked(
    tmp_path: Path,
) -> None:
    midnight = day_start(DAY) + 86400
    spread = _reporter(tmp_path, rng=random.Random(8460))
    at = spread.send_time(DAY)
    assert midnight <= at < midnight + SPREAD
    assert spread.send_time(DAY) == at  # drawn once per day
    fixed = _reporter(tmp_path, send_at=dt.time(1, 30))
    assert fixed.send_time(DAY) == midnight + 5400


def _options(**a_test: object) -> WorldOptions:
    """strip-dane (DANE defers alice's message to bob: a failure to report), b.test asking for
    reports at its own https endpoint; `a_test` sets the sending provider's clock."""
    options = scenario_options(SCENARIOS["strip-dane"])
    options.providers["b.test"] = replace(options.providers["b.test"], tlsrpt_rua=(HTTPS_RUA,))
    options.providers["a.test"] = replace(options.providers["a.test"], **a_test)
    return options


def _events(world: World, kind: str) -> list[dict]:
    return [e for e in world.events.read() if e["event"] == kind]


async def test_yesterdays_report_goes_once_at_midnight_and_not_again_after_a_restart(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "world"
    async with World(directory, _options()) as world:
        await send(world, "alice@a.test", ["bob@b.test"], subject="reported")
        await eventually(lambda: _events(world, "deferred"), what="deferral")
        sessions = world.providers["a.test"].mta.tls_reports.sessions("b.test", 0, 2**40)
    day = dt.datetime.fromtimestamp(sessions[0]["time"], dt.UTC).date()
    midnight = day_start(day) + 86400

    # The world again, its clock a second before that day's midnight; reports go at 00:00.
    offset = midnight - 1.0 - time.time()
    options = _options(clock=lambda: time.time() + offset, tlsrpt_send_at=dt.time(0))
    async with World(directory, options) as world:
        daily = world.providers["a.test"].daily_reports
        receiver = world.providers["b.test"].report_receiver
        assert daily is not None and receiver is not None
        (path,) = await eventually(receiver.received, what="the report after midnight")
        await eventually(lambda: daily.next_run == midnight + 86400, what="the next day")
        assert daily.sent() == {day.isoformat(): {"b.test": [HTTPS_RUA]}}
    report = json.loads(gzip.decompress(path.read_bytes()))
    assert report["date-range"]["start-datetime"] == f"{day.isoformat()}T00:00:00Z"
    (policy,) = report["policies"]
    assert policy["policy"]["policy-domain"] == "b.test"
    assert policy["summary"]["total-failure-session-count"] >= 1

    # Restarted a minute after midnight: that day's report has gone; it does not go again.
    options = _options(clock=lambda: time.time() + offset + 61, tlsrpt_send_at=dt.time(0))
    async with World(directory, options) as world:
        daily = world.providers["a.test"].daily_reports
        receiver = world.providers["b.test"].report_receiver
        assert daily is not None and receiver is not None
        await eventually(lambda: daily.next_run == midnight + 86400, what="the day handled")
        assert receiver.received() == [path]
        assert len(_events(world, "tlsrpt_posted")) == 1


async def test_the_world_stops_while_a_report_is_on_its_way(tmp_path: Path) -> None:
    """Stopping cancels a relay under way and the queue runner together: the runner must not
    miss its cancellation (Python 3.11's asyncio.wait_for swallows one that arrives as the
    event it waits for is set, which the cancelled relay does), or the world's stop waited
    until something else cancelled it, or for ever."""
    options = _options(retry_delays=(3600.0,))  # no retry ends a stop that hangs
    options.providers["b.test"] = replace(
        options.providers["b.test"],
        tlsrpt_rua=("mailto:tls-reports@b.test",),
        users=("bob", "tls-reports"),
    )
    world = World(tmp_path / "world", options)
    await world.start()
    try:
        await send(world, "alice@a.test", ["bob@b.test"], subject="reported")
        await eventually(lambda: _events(world, "deferred"), what="deferral")
        mta = world.providers["a.test"].mta
        assert mta is not None
        today = dt.datetime.now(dt.UTC).date()
        outcome = await mta.send_tls_report("b.test", today)
        assert outcome.sent == ("mailto:tls-reports@b.test",)
    finally:
        async with asyncio.timeout(20):  # a stop that missed its cancellation never ends
            await world.stop()


async def test_an_https_rua_that_refused_the_report_is_tried_again(tmp_path: Path) -> None:
    """The receiver is down when the report goes: the POST fails, and the MTA tries again on
    its retry schedule until the receiver takes it (for up to 24 hours)."""
    options = _options(retry_delays=(0.2, 0.4))
    async with World(tmp_path / "world", options) as world:
        await send(world, "alice@a.test", ["bob@b.test"], subject="reported")
        await eventually(lambda: _events(world, "deferred"), what="deferral")
        b = world.providers["b.test"]
        daily = world.providers["a.test"].daily_reports
        assert b.report_receiver is not None and b.ports is not None and daily is not None
        await b.report_receiver.stop()
        today = dt.datetime.now(dt.UTC).date()
        (outcome,) = (await daily.send_day(today)).values()
        assert outcome.sent == () and list(outcome.failed) == [HTTPS_RUA]
        (retry,) = daily.retries()
        assert (retry["domain"], retry["uris"], retry["tries"]) == ("b.test", [HTTPS_RUA], 0)
        assert daily.sent() == {today.isoformat(): {"b.test": []}}

        await b.report_receiver.start(b.ports.tlsrpt)
        (path,) = await eventually(b.report_receiver.received, what="the report, retried")
        await eventually(lambda: not daily.retries(), what="no retry left")
        assert daily.sent() == {today.isoformat(): {"b.test": [HTTPS_RUA]}}
        assert len(_events(world, "tlsrpt_failed")) >= 1
        assert len(_events(world, "tlsrpt_posted")) == 1
    report = json.loads(gzip.decompress(path.read_bytes()))
    assert report["policies"][0]["policy"]["policy-domain"] == "b.test"
