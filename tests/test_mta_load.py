"""The MTA under load: a restart with a full queue, and a queue that changes as it is read.

Issue #14 faults 1 and 4: a restart started every queued message at once (hundreds of relay
sessions, the world's DNS swamped, "MX lookup ... no answer within 3 s" deferrals); and the
queue runner worked from a stale listing, retrying entries already delivered
(FileNotFoundError, "queue entry failed unexpectedly", "unreadable spool file").
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from pathlib import Path

import dns.asyncquery
import pytest

from mua.net.dns import Resolver
from mua.stack.events import EventLog
from mua.stack.mta import Mta
from mua.stack.queue import MailQueue
from mua.stack.relay import RelayClient
from mua.stack.world import World
from tests.conftest import eventually, fast_options, maildir_messages

# Postfix's default_destination_concurrency_limit, which the MTA follows.
PER_DESTINATION = 20


def raw_message(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@a.test"
    msg["To"] = "bob@b.test"
    msg["Subject"] = f"Load {n}"
    msg["Message-ID"] = f"<load-{n}@a.test>"
    msg.set_content(f"Message {n}.\n")
    return msg.as_bytes()


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts relay sessions open at once (`peak`) and in all (`total`)."""
    count = {"open": 0, "peak": 0, "total": 0}
    original = RelayClient._session

    async def counted(self: RelayClient, *args, **kwargs):
        count["open"] += 1
        count["total"] += 1
        count["peak"] = max(count["peak"], count["open"])
        try:
            return await original(self, *args, **kwargs)
        finally:
            count["open"] -= 1

    monkeypatch.setattr(RelayClient, "_session", counted)
    return count


async def test_a_restart_with_300_queued_drains_within_the_concurrency_limit(
    tmp_path: Path, sessions: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    world = World(tmp_path / "world", fast_options())
    queue = world.providers["a.test"].queue
    for n in range(300):  # queued while the world is stopped, as a crash leaves them
        queue.enqueue(
            "alice@a.test", ["bob@b.test"], raw_message(n), message_id=f"<load-{n}@a.test>"
        )
    with caplog.at_level(logging.INFO, logger="mua"):
        async with world:
            await eventually(lambda: len(queue) == 0, timeout=100, what="the queue to drain")
            delivered = await eventually(
                lambda: len(maildir_messages(world, "bob@b.test")) == 300,
                what="300 messages in Bob's Maildir",
            )
    assert delivered
    events = world.events.read()
    assert [e for e in events if e["event"] == "deferred"] == []
    assert "no answer within" not in caplog.text
    assert sum(len(e["recipients"]) for e in events if e["event"] == "relayed") == 300
    assert sessions["total"] == 300  # one session each, none retried
    assert 1 < sessions["peak"] <= PER_DESTINATION


async def test_a_queue_under_load_logs_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Messages queued while others are delivered: no entry is tried after it left."""
    with caplog.at_level(logging.WARNING):
        async with World(tmp_path / "world", fast_options()) as world:
            provider = world.providers["a.test"]
            assert provider.mta is not None
            for n in range(200):
                await asyncio.to_thread(
                    provider.queue.enqueue,
                    "alice@a.test",
                    ["bob@b.test"],
                    raw_message(n),
                    message_id=f"<load-{n}@a.test>",
                )
                provider.mta.wake()
            await eventually(
                lambda: len(maildir_messages(world, "bob@b.test")) == 200,
                timeout=100,
                what="200 messages in Bob's Maildir",
            )
            await eventually(lambda: len(provider.queue) == 0, what="the queue to drain")
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in problems] == []
    assert len(maildir_messages(world, "bob@b.test")) == 200


def test_retries_are_spread_around_their_schedule(tmp_path: Path) -> None:
    """A herd deferred together is not retried together: each delay gets +-10% jitter."""

    mta = Mta(
        hostname="smtp.a.test",
        queue=MailQueue(tmp_path / "queue"),
        relay=RelayClient("smtp.a.test", Resolver(("127.0.0.1", 53))),
        events=EventLog(tmp_path / "events.jsonl"),
        retry_delays=(60.0, 300.0),
    )
    first = [mta._delay(0) for _ in range(200)]
    assert all(54.0 <= d <= 66.0 for d in first)
    assert len({round(d, 3) for d in first}) > 100
    assert all(270.0 <= mta._delay(5) <= 330.0 for _ in range(50))


async def test_a_herd_of_lookups_sends_each_query_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 deliveries asking for b.test's MX at once share one answer: each question (MX,
    DNSKEY, DS...) goes to the name server once."""
    sent: list[str] = []
    original = dns.asyncquery.udp_with_fallback

    async def counted(query, *args, **kwargs):
        sent.append(str(query.question[0]))
        return await original(query, *args, **kwargs)

    monkeypatch.setattr(dns.asyncquery, "udp_with_fallback", counted)
    resolver = world.resolver()
    answers = await asyncio.gather(*(resolver.mx("b.test") for _ in range(200)))
    assert {a.records[0].host for a in answers} == {"mx.b.test"}
    assert sent
    assert len(sent) == len(set(sent))


async def test_an_unreadable_queue_file_is_logged_and_the_rest_delivered(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    provider = world.providers["a.test"]
    assert provider.mta is not None
    (provider.queue.directory / "BROKEN.msg").write_bytes(b"not json\n")
    with caplog.at_level(logging.ERROR):
        provider.queue.enqueue("alice@a.test", ["bob@b.test"], raw_message(1))
        provider.mta.wake()
        await eventually(lambda: maildir_messages(world, "bob@b.test"), what="the delivery")
    assert "unreadable spool file" in caplog.text
