"""IDLE slices against Dovecot: a message APPENDed (by another connection) between two
slices is reported by the next. The engine keeps the folder selected between slices and
relies on the server reporting, as the next IDLE starts, what came in meanwhile (RFC 3501
section 5.2; tests/test_idle_slices.py checks the same against the world's server).
A message APPENDed after the first sync but before the first slice is reported by it (its
SELECT is compared with the cache's record of the folder). Dovecot's keepalives during
IDLE (`* OK Still here`, every second in servers.py) are not news: a slice that hears only
them lasts its time and says nothing changed."""

from __future__ import annotations

import asyncio

import pytest

from mua.client.engine import Engine
from mua.core.compose import Draft, build_message
from tests.interop.servers import MailServers
from tests.interop.test_dovecot_postfix import add_carol, server_view, unique_subject

pytestmark = pytest.mark.interop


async def test_mail_between_two_slices_is_reported_by_the_next(
    engine: Engine, servers: MailServers
) -> None:
    address = add_carol(engine, servers)
    await engine.sync(address, ["INBOX"])
    assert await engine.wait_for_change(address, "INBOX", 0.2) is False  # quiet: DONE seen
    letter = build_message(Draft(sender=address, to=(address,), subject=unique_subject("slices")))
    with server_view(servers) as other:
        await asyncio.to_thread(other.append, "INBOX", letter.as_bytes())
    assert await engine.wait_for_change(address, "INBOX", 10) is True


async def test_keepalives_are_not_news(engine: Engine, servers: MailServers) -> None:
    address = add_carol(engine, servers)
    await engine.sync(address, ["INBOX"])
    with server_view(servers) as other:  # Dovecot does send them during this test's slice
        other.select_folder("INBOX", readonly=True)
        other.idle()
        try:
            heard = other.idle_check(timeout=5)
        finally:
            other.idle_done()
    assert (b"OK", b"Still here") in heard, heard
    assert await engine.wait_for_change(address, "INBOX", 3) is False


async def test_mail_before_the_first_slice_is_reported(
    engine: Engine, servers: MailServers
) -> None:
    address = add_carol(engine, servers)
    await engine.sync(address, ["INBOX"])  # the window's first sync, as the app starts
    letter = build_message(Draft(sender=address, to=(address,), subject=unique_subject("first")))
    with server_view(servers) as other:
        await asyncio.to_thread(other.append, "INBOX", letter.as_bytes())
    assert await engine.wait_for_change(address, "INBOX", 10) is True
    assert await engine.wait_for_change(address, "INBOX", 0.2) is False  # reported once
