"""New mail heard across IDLE slices (RFC 2177), against the world's IMAP server: the GUI
waits in slices of `idle_slice` seconds, and what arrives between two slices, as one
ends or while the IDLE connection is down must be reported by the next, not left for the
next poll."""

from __future__ import annotations

from pathlib import Path

import pytest

from mua.core.compose import Draft
from mua.stack.world import World
from tests.client_fixtures import make_engine, memory_keyring  # noqa: F401
from tests.conftest import eventually, maildir_messages

pytestmark = pytest.mark.usefixtures("memory_keyring")

BOB = "bob@b.test"


async def _delivered_to_bob(world: World, engine, subject: str) -> None:
    """alice writes to bob; back once the message is in bob's Maildir."""
    before = len(maildir_messages(world, BOB))
    outcome = await engine.send(Draft(sender="alice@a.test", to=(BOB,), subject=subject))
    assert outcome.sent, outcome.error
    await eventually(lambda: len(maildir_messages(world, BOB)) > before, what=f"{subject!r}")


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
