"""The bodies kept in the local cache stay under the user's limit (Settings.body_cache_megabytes),
against the demo world's IMAP and POP3: reading mail evicts the bodies fetched longest ago,
an evicted message is fetched again when opened, a lower limit evicts at once, a POP3
account's mail (the only copy, once the server let it go) is never evicted, and the CLI's
engine reads the limit from settings.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from mua.client.engine import Engine
from mua.stack.world import World
from mua.store.config import Settings, SettingsStore
from mua.store.secrets import Secrets
from tests.client_fixtures import make_engine, memory_keyring  # noqa: F401
from tests.test_pop3_client import bobs_inbox, engine_with_pop3_bob

pytestmark = pytest.mark.usefixtures("memory_keyring")

ALICE, BOB = "alice@a.test", "bob@b.test"
SIZE = 10_000  # bytes of each message's text: six of them are 60 kB


def fill_inbox(world: World, address: str, count: int = 6) -> None:
    store = world.providers[address.rpartition("@")[2]].store_for(world.mailbox(address))
    for n in range(count):
        text = bytes([ord("A") + n]) * SIZE
        store.folder("INBOX").append(f"Subject: body {n}\r\n\r\n".encode() + text + b"\r\n")


def cached(engine: Engine, address: str, uids: list[int]) -> list[int]:
    return [u for u in uids if engine.cache.body(address, "INBOX", u) is not None]


async def test_reading_mail_keeps_the_newest_bodies_under_the_limit(
    world: World, tmp_path: Path
) -> None:
    fill_inbox(world, BOB)
    engine = make_engine(world, tmp_path, BOB)
    engine.body_cache_bytes = limit = 2 * SIZE + SIZE // 2  # room for two and a half
    try:
        await engine.sync(BOB, ["INBOX"])
        uids = engine.cache.uids(BOB, "INBOX")
        read = {uid: await engine.body(BOB, "INBOX", uid) for uid in uids}  # oldest first
        assert engine.cache.bodies_size() <= limit
        assert cached(engine, BOB, uids) == uids[-2:]  # the two read last

        first = uids[0]  # evicted: opening it fetches it from the server again
        assert await engine.body(BOB, "INBOX", first) == read[first]
        assert cached(engine, BOB, uids) == [first, uids[-1]]
        assert engine.cache.bodies_size() <= limit

        assert await engine.set_body_cache_bytes(SIZE + SIZE // 2) == 1  # lowered: at once
        assert cached(engine, BOB, uids) == [first]
        assert await engine.set_body_cache_bytes(0) == 1
        assert engine.cache.bodies_size() == 0
        assert await engine.body(BOB, "INBOX", uids[1]) == read[uids[1]]  # still readable
    finally:
        await engine.aclose()


async def test_a_pop3_accounts_mail_is_never_evicted(world: World, tmp_path: Path) -> None:
    fill_inbox(world, BOB, count=3)
    fill_inbox(world, ALICE, count=2)
    engine = engine_with_pop3_bob(world, tmp_path, leave_on_server=False)
    engine.body_cache_bytes = 0
    try:
        await engine.sync(BOB)  # downloaded, and gone from the server
        assert bobs_inbox(world).messages() == []
        pop3 = engine.cache.uids(BOB, "INBOX")
        assert len(pop3) == 3
        await engine.sync(ALICE, ["INBOX"])
        imap = engine.cache.uids(ALICE, "INBOX")
        for uid in imap:
            await engine.body(ALICE, "INBOX", uid)
        assert cached(engine, ALICE, imap) == []
        for uid in pop3:
            assert (await engine.body(BOB, "INBOX", uid)).startswith(b"Subject: body")
        assert cached(engine, BOB, pop3) == pop3
    finally:
        await engine.aclose()


def test_the_engine_takes_the_limit_from_the_settings_file(memory_keyring) -> None:  # noqa: F811
    for megabytes in (None, 7):  # None: no settings file, the default
        if megabytes is not None:
            SettingsStore().save(Settings(body_cache_megabytes=megabytes))
        engine = Engine.open(Secrets())
        try:
            assert engine.body_cache_bytes == (megabytes or 500) * 1024 * 1024
        finally:
            engine.close()
    with pytest.raises(ValueError, match="body_cache_megabytes"):
        Settings(body_cache_megabytes=-1)
