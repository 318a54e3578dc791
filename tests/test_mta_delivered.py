"""Nothing after a remote 250 leads to a resend (issue #14 faults 2 and 3).

The MTA records a delivery in its queue as soon as the MX has answered 250, before QUIT,
before the other destinations of the same message and before any bookkeeping; a failure of
the bookkeeping (the event log on a full disk) is logged, never retried as a delivery.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from mua.stack.events import EventLog
from mua.stack.relay import RelayClient
from mua.stack.world import World
from tests.conftest import FAST, eventually, fast_options, maildir_messages
from tests.stackhelp import send
from tests.test_mta_load import raw_message


class FullDisk(EventLog):
    """An event log on a disk that has no space left."""

    def write(self, event: str, **fields: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(self.path))


async def test_a_full_disk_for_the_event_log_never_resends(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    a = world.providers["a.test"]
    assert a.mta is not None
    a.mta.events = FullDisk(world.events.path)
    with caplog.at_level(logging.ERROR):
        await send(world, "alice@a.test", ["bob@b.test"], subject="Once")
        await eventually(lambda: maildir_messages(world, "bob@b.test"), what="the delivery")
        await eventually(lambda: len(a.queue) == 0, what="the queue to forget it")
        # A second message due after several retry periods: once it is in, any resend of
        # the first would have happened.
        later = time.time() + 3 * max(FAST["retry_delays"])
        a.queue.enqueue("alice@a.test", ["bob@b.test"], raw_message(1), next_attempt=later)
        a.mta.wake()
        await eventually(
            lambda: len(maildir_messages(world, "bob@b.test")) >= 2, what="the later message"
        )
    bob = maildir_messages(world, "bob@b.test")
    assert sum(b"Subject: Once" in m for m in bob) == 1
    assert len(bob) == 2
    assert "No space left on device" in caplog.text


async def test_a_delivery_is_recorded_before_the_other_destinations_finish(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One message to b.test and a.test; a.test's MX is slow. Bob's copy is recorded as
    delivered (queue and event log) while a.test's is still under way: a crash then resends
    only to Alice."""
    release = asyncio.Event()
    original = RelayClient.deliver

    async def slow_a(self: RelayClient, domain: str, *args, **kwargs):
        if domain == "a.test":
            await release.wait()
        return await original(self, domain, *args, **kwargs)

    monkeypatch.setattr(RelayClient, "deliver", slow_a)
    a = world.providers["a.test"]
    await send(world, "alice@a.test", ["bob@b.test", "alice@a.test"], subject="Both")
    await eventually(lambda: maildir_messages(world, "bob@b.test"), what="Bob's copy")

    def waiting() -> list[list[str]]:
        return [e.recipients for e in a.queue.entries()]

    await eventually(lambda: waiting() == [["alice@a.test"]], what="Bob recorded as done")

    def relayed() -> list[dict]:
        return [e for e in world.events.read() if e["event"] == "relayed"]

    await eventually(relayed, what="the event log's record of Bob's copy")
    assert [e["recipients"] for e in relayed()] == [["bob@b.test"]]
    assert relayed()[0]["acked"] <= relayed()[0]["settled"] <= relayed()[0]["written"]
    release.set()
    await eventually(lambda: maildir_messages(world, "alice@a.test"), what="Alice's copy")
    await eventually(lambda: len(a.queue) == 0, what="an empty queue")
    assert len(maildir_messages(world, "bob@b.test")) == 1


async def test_a_delivered_message_whose_removal_a_power_cut_undid_is_not_sent_again(
    tmp_path: Path,
) -> None:
    """The queue file's removal after the MX's 250 is not fsync'ed (the "relayed" record
    is): a power cut may bring the file back. At the next start the record says the
    message left; the file is removed, not sent again."""
    directory = tmp_path / "world"
    queue = World(directory, fast_options()).providers["a.test"].queue
    entry = queue.enqueue("alice@a.test", ["bob@b.test"], raw_message(1), message_id="<l@a>")
    queued = directory / "a.test" / "queue" / f"{entry.id}.msg"
    before = queued.read_bytes()
    async with World(directory, fast_options()) as world:
        await eventually(lambda: maildir_messages(world, "bob@b.test"), what="the delivery")
        await eventually(lambda: len(queue) == 0, what="the queue to forget it")
    queued.write_bytes(before)  # the removal undone, as a power cut can
    async with World(directory, fast_options()) as world:
        await eventually(lambda: len(queue) == 0, what="the file to be removed at start")
        # Had it been sent again, a later message would find its copy there first.
        world.providers["a.test"].queue.enqueue("alice@a.test", ["bob@b.test"], raw_message(2))
        world.providers["a.test"].mta.wake()
        await eventually(
            lambda: len(maildir_messages(world, "bob@b.test")) >= 2, what="the later message"
        )
        bob = maildir_messages(world, "bob@b.test")
    assert sum(b"Subject: Load 1" in m for m in bob) == 1
    assert len(bob) == 2


def test_the_relayed_records_skip_a_line_cut_short(tmp_path: Path) -> None:
    events = EventLog(tmp_path / "events.jsonl")
    events.write("relayed", queue_id="Q1", recipients=["bob@b.test"])
    events.write("relayed", queue_id="Q2", recipients=["carol@b.test"])
    events.write("deferred", queue_id="Q1", recipients=["dave@b.test"])
    with events.path.open("ab") as f:
        f.write(b'{"time":1,"event":"relayed","queue_id":"Q1","recipients":["eve@b')
    assert events.relayed({"Q1"}) == {"Q1": {"bob@b.test"}}
