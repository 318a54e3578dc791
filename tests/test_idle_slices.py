"""New mail heard across IDLE slices (RFC 2177), against the world's IMAP server: the GUI
waits in slices of `idle_slice` seconds, and what arrives between two slices, as one
ends, while the IDLE connection is down or before the first slice (after the first sync)
must be reported by the next, not left for the next poll. What a server says in IDLE
that changes nothing (Dovecot's keepalive: tests/interop/test_idle_slices_dovecot.py)
does not count."""

from __future__ import annotations

from pathlib import Path

import pytest

from mua.client.idle_news import reports_change
from mua.core.compose import Draft
from mua.stack.world import World
from tests.client_fixtures import make_engine, memory_keyring  # noqa: F401
from tests.conftest import eventually

pytestmark = pytest.mark.usefixtures("memory_keyring")

BOB = "bob@b.test"


async def _delivered_to_bob(world: World, engine, subject: str) -> None:
    """alice writes to bob; back once bob's IMAP store has indexed the message (its
    Maildir file comes a moment before: an IDLE started in between would not hear of it)."""
    provider = world.providers["b.test"]
    mailbox = provider.users.get(BOB)
    assert mailbox is not None
    inbox = provider.store_for(mailbox).folder("INBOX")
    before = len(inbox.messages())
    outcome = await engine.send(Draft(sender="alice@a.test", to=(BOB,), subject=subject))
    assert outcome.sent, outcome.error
    await eventually(lambda: len(inbox.messages()) > before, what=f"{subject!r} indexed")


def test_only_changes_to_messages_are_news() -> None:
    # Untagged responses as imapclient's idle_check parses them (wire form beside each).
    assert reports_change([(3, b"EXISTS")])  # * 3 EXISTS
    assert reports_change([(2, b"EXPUNGE")])  # * 2 EXPUNGE
    assert reports_change([(1, b"FETCH", (b"FLAGS", (b"\\Seen",), b"MODSEQ", (5,)))])
    assert reports_change([(b"VANISHED", b"4:5")])  # * VANISHED 4:5 (RFC 7162)
    assert reports_change([(b"OK", b"Still here"), (4, b"EXISTS"), (1, b"RECENT")])
    assert not reports_change([])
    assert not reports_change([(b"OK", b"Still here")])  # Dovecot's keepalive
    assert not reports_change([(1, b"RECENT")])  # another session selected the folder
    assert not reports_change([(b"FLAGS", (b"\\Seen", b"$Junk"))])
    assert not reports_change([(b"NO", b"[ALERT] Disk quota nearly exceeded")])
    assert not reports_change([(b"BYE", b"Server", b"shutting", b"down.")])


async def test_mail_between_two_slices_is_reported_by_the_next(
    world: World, tmp_path: Path
) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", BOB)
    try:
        await engine.sync(BOB, ["INBOX"])
        assert await engine.wait_for_change(BOB, "INBOX", 0.2) is False  # quiet: DONE seen
        await _delivered_to_bob(world, engine, "Between slices")
        # The next slice reports it at once rather than after its 10 seconds (or the poll).
        assert await engine.wait_for_change(BOB, "INBOX", 10) is True
    finally:
        await engine.aclose()


async def test_mail_the_server_reports_as_a_slice_ends_counts(world: World, tmp_path: Path) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", BOB)
    try:
        await engine.sync(BOB, ["INBOX"])
        assert await engine.wait_for_change(BOB, "INBOX", 0.2) is False
        await _delivered_to_bob(world, engine, "As the slice ends")
        # A slice of no time: the server's EXISTS comes after the check, with DONE's answer.
        assert await engine.wait_for_change(BOB, "INBOX", 0) is True
    finally:
        await engine.aclose()


async def test_mail_while_the_idle_connection_was_down_is_reported(
    world: World, tmp_path: Path
) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", BOB)
    try:
        await engine.sync(BOB, ["INBOX"])
        assert await engine.wait_for_change(BOB, "INBOX", 0.2) is False
        engine.stop_idling()  # the IDLE connection drops (a network change, a suspend)
        await _delivered_to_bob(world, engine, "While it was down")
        assert await engine.wait_for_change(BOB, "INBOX", 10) is True  # on a new connection
        assert await engine.wait_for_change(BOB, "INBOX", 0.2) is False  # reported once
    finally:
        await engine.aclose()


async def test_mail_before_the_first_slice_is_reported(world: World, tmp_path: Path) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", BOB)
    try:
        await engine.sync(BOB, ["INBOX"])  # the window's first sync, as the app starts
        await _delivered_to_bob(world, engine, "Before the first slice")
        # The IDLE connection's first SELECT counts it: compared with the cache, it is news.
        assert await engine.wait_for_change(BOB, "INBOX", 10) is True
        assert await engine.wait_for_change(BOB, "INBOX", 0.2) is False  # reported once
    finally:
        await engine.aclose()
