"""The client engine against the demo world: real servers, real TLS, real failures."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from mua.client import sync as sync_module
from mua.core.compose import Attachment, Draft
from mua.net.errors import AuthenticationFailed, CertificateInvalid, Unreachable
from mua.stack.ca import LocalCA
from mua.stack.world import World
from mua.store.cache import MailCache
from tests.client_fixtures import idling, make_engine, memory_keyring, world_account  # noqa: F401
from tests.conftest import eventually, fast_options, maildir_messages

pytestmark = pytest.mark.usefixtures("memory_keyring")


async def _arrives(engine, address: str, subject: str, timeout: float = 10.0):
    """Sync until a message with `subject` is in the cache; return its row."""
    deadline = time.monotonic() + timeout
    key = address.lower()
    while time.monotonic() < deadline:
        await engine.sync(address, ["INBOX"])
        for row in engine.cache.page(key, "INBOX", limit=500):
            if row.subject == subject:
                return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"{subject!r} never reached {address}")


async def test_send_sync_read_and_the_sent_copy(world: World, tmp_path: Path) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
    try:
        draft = Draft(
            sender="alice@a.test",
            to=("bob@b.test",),
            bcc=("alice@a.test",),
            subject="Engine test",
            text="Hello Bob,\nsee attached.\n",
            attachments=(Attachment("notes.txt", b"some notes\n"),),
        )
        outcome = await engine.send(draft)
        assert outcome.sent, outcome.error
        assert outcome.result.tls.verified and outcome.result.tls.version == "TLSv1.3"
        assert outcome.saved_to_sent
        assert len(engine.outbox) == 0
        row = await _arrives(engine, "bob@b.test", "Engine test")
        assert row.sender_address == "alice@a.test" and row.sender_name == "Alice"
        assert row.has_attachments and "\\Seen" not in row.flags
        raw = await engine.body("bob@b.test", "INBOX", row.uid)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert "Bcc" not in message  # Bcc recipients get it; nobody sees the field
        assert [p.get_filename() for p in message.iter_attachments()] == ["notes.txt"]
        await _arrives(engine, "alice@a.test", "Engine test")  # the Bcc copy
        folders = {f.name: f for f in engine.cache.folders("alice@a.test")}
        assert folders["Sent"].special_use == "\\Sent"
        await engine.sync("alice@a.test", ["Sent"])
        assert [r.subject for r in engine.cache.page("alice@a.test", "Sent")] == ["Engine test"]
        trace = engine.cache.trace("alice@a.test", outcome.entry.message_id)
        (leg,) = trace.observed_legs
        assert leg["from"]["role"] == "MUA" and leg["to"]["role"] == "MSA"
        assert leg["grade"] == "green" and leg["source"] == "observed"
    finally:
        await engine.aclose()


async def test_flags_move_and_delete_reach_the_server(world: World, tmp_path: Path) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
    try:
        await engine.send(Draft(sender="alice@a.test", to=("bob@b.test",), subject="Flag me"))
        row = await _arrives(engine, "bob@b.test", "Flag me")
        await engine.set_flags("bob@b.test", "INBOX", [row.uid], ["\\Flagged"], add=True)
        assert "\\Flagged" in engine.cache.message("bob@b.test", "INBOX", row.uid).flags
        store = world.providers["b.test"].store_for(world.mailbox("bob@b.test"))
        (info,) = store.folder("INBOX").messages()
        assert "\\Flagged" in info.flags
        await engine.move("bob@b.test", "INBOX", [row.uid], "Junk")
        assert engine.cache.message("bob@b.test", "INBOX", row.uid) is None
        assert store.folder("INBOX").messages() == []
        await engine.sync("bob@b.test", ["Junk"])
        (junk,) = engine.cache.page("bob@b.test", "Junk")
        await engine.delete("bob@b.test", "Junk", [junk.uid])  # into Trash
        await engine.sync("bob@b.test", ["Trash"])
        (trashed,) = engine.cache.page("bob@b.test", "Trash")
        await engine.delete("bob@b.test", "Trash", [trashed.uid])  # for good
        assert store.folder("Trash").messages() == []
    finally:
        await engine.aclose()


async def test_idle_hears_new_mail(world: World, tmp_path: Path) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
    try:
        await engine.sync("bob@b.test", ["INBOX"])
        waiting = asyncio.create_task(engine.wait_for_change("bob@b.test", "INBOX", 10))
        await idling(engine, "bob@b.test")
        await engine.send(Draft(sender="alice@a.test", to=("bob@b.test",), subject="Ping"))
        assert await waiting is True  # before the IDLE's 10 seconds were up
    finally:
        await engine.aclose()


async def test_outbox_keeps_the_message_while_the_msa_is_down(world: World, tmp_path: Path) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
    engine.sender.retry_delays = (0.1,)
    a = world.providers["a.test"]
    ports = a.ports
    try:
        await a.msa.stop()
        outcome = await engine.send(
            Draft(sender="alice@a.test", to=("bob@b.test",), subject="Later")
        )
        assert not outcome.sent and not outcome.entry.failed
        assert outcome.error.startswith("Could not connect to smtp.a.test")
        (waiting,) = engine.outbox.entries()
        assert waiting.attempts == 1 and waiting.next_attempt > time.time() - 1
        await a.msa.start(ports.submission_implicit, ports.submission_starttls)
        (outcome,) = await engine.sender.send_due(now=time.time() + 60)
        assert outcome.sent
        assert len(engine.outbox) == 0
        await eventually(lambda: maildir_messages(world, "bob@b.test"))
    finally:
        await engine.aclose()


async def test_a_wrong_password_fails_clearly_and_keeps_the_message(
    world: World, tmp_path: Path
) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", password="not-the-password")
    try:
        with pytest.raises(AuthenticationFailed, match="rejected the user name or password"):
            await engine.sync("alice@a.test")
        outcome = await engine.send(Draft(sender="alice@a.test", to=("bob@b.test",), subject="x"))
        assert not outcome.sent and outcome.entry.failed  # waits for the user, not a retry
        assert "password" in outcome.error and "not-the-password" not in outcome.error
        assert len(engine.outbox) == 1
    finally:
        await engine.aclose()


async def test_a_certificate_from_an_unknown_authority_is_refused(
    world: World, tmp_path: Path
) -> None:
    engine = make_engine(world, tmp_path)
    stranger = LocalCA(tmp_path / "stranger").ca_file
    engine.accounts.add(world_account(world, "bob@b.test", ca_file=stranger))
    try:
        with pytest.raises(CertificateInvalid, match="unknown authority"):
            await engine.sync("bob@b.test")
    finally:
        await engine.aclose()


async def test_a_dropped_connection_mid_sync_is_resumed(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = world.providers["b.test"].store_for(world.mailbox("bob@b.test"))
    inbox = store.folder("INBOX")
    for i in range(250):
        inbox.append(f"Subject: bulk {i}\r\nFrom: x@a.test\r\n\r\nbody {i}\r\n".encode())
    monkeypatch.setattr(sync_module, "BATCH", 100)
    engine = make_engine(world, tmp_path, "bob@b.test")
    upsert = engine.cache.upsert_messages
    cut = {"done": False}
    loop = asyncio.get_running_loop()
    server = world.providers["b.test"].ms

    def drop_every_connection() -> None:
        for session in list(server._sessions):
            session.writer.transport.abort()

    def upsert_then_cut(*args, **kwargs):  # runs in the engine's worker thread
        upsert(*args, **kwargs)
        if not cut["done"]:  # after the first batch, the server drops every connection
            cut["done"] = True
            loop.call_soon_threadsafe(drop_every_connection)

    engine.cache.upsert_messages = upsert_then_cut
    try:
        (result,) = await engine.sync("bob@b.test", ["INBOX"])
        assert cut["done"]
        assert engine.cache.count("bob@b.test", "INBOX") == 250
        assert result.added == 150  # the retried sync found the first 100 already cached
    finally:
        await engine.aclose()


async def test_a_new_uidvalidity_empties_and_refills_the_folder(tmp_path: Path) -> None:
    directory = tmp_path / "world"
    async with World(directory, fast_options()) as world:
        engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
        try:
            await engine.send(Draft(sender="alice@a.test", to=("bob@b.test",), subject="Keep"))
            first = await _arrives(engine, "bob@b.test", "Keep")
            before = engine.cache.folder("bob@b.test", "INBOX").uidvalidity
        finally:
            await engine.aclose()
    (directory / "b.test" / "mail" / "bob" / "mua-index.sqlite3").unlink()  # index lost
    async with World(directory, fast_options()) as world:
        engine = make_engine(world, tmp_path / "again", "bob@b.test")
        engine.cache.close()
        from mua.store.cache import MailCache

        engine.cache = MailCache(tmp_path / "cache.sqlite3")  # the same cache as before
        engine.sender.cache = engine.cache
        try:
            (result,) = await engine.sync("bob@b.test", ["INBOX"])
            assert result.reset
            assert engine.cache.folder("bob@b.test", "INBOX").uidvalidity != before
            (row,) = engine.cache.page("bob@b.test", "INBOX")
            assert row.subject == "Keep" and row.message_id == first.message_id
        finally:
            await engine.aclose()


async def test_a_draft_is_saved_to_the_drafts_folder(world: World, tmp_path: Path) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test")
    try:
        draft = Draft(sender="alice@a.test", subject="Unfinished", text="to be continued")
        assert await engine.save_draft(draft)  # no recipients yet: still a valid draft
        await engine.sync("alice@a.test", ["Drafts"])
        (row,) = engine.cache.page("alice@a.test", "Drafts")
        assert row.subject == "Unfinished" and {"\\Draft", "\\Seen"} <= row.flags
    finally:
        await engine.aclose()


async def test_sync_keeps_the_internal_date_and_decodes_encoded_words(
    world: World, tmp_path: Path
) -> None:
    store = world.providers["b.test"].store_for(world.mailbox("bob@b.test"))
    store.folder("INBOX").append(
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nFrom: =?utf-8?q?J=C3=BCrgen?= <j@a.test>\r\n"
        b"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\nhi\r\n",
        internaldate=1_790_000_000.0,
    )
    engine = make_engine(world, tmp_path, "bob@b.test")
    try:
        await engine.sync("bob@b.test", ["INBOX"])
        (row,) = engine.cache.page("bob@b.test", "INBOX")
        assert row.subject == "Grüße" and row.sender_name == "Jürgen"
        assert row.internaldate == 1_790_000_000.0
    finally:
        await engine.aclose()


async def test_reading_mail_learns_the_providers_own_hosts(world: World, tmp_path: Path) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
    try:
        await engine.send(Draft(sender="alice@a.test", to=("bob@b.test",), subject="learn"))
        row = await _arrives(engine, "bob@b.test", "learn")
        await engine.body("bob@b.test", "INBOX", row.uid)
        # mx.b.test is inside b.test, which the account already counts as its own
        assert engine.accounts.get("bob@b.test").provider_hosts == ()
        raw = b"Received: from x by mx1.provider.example with ESMTPS id 1; date\r\n\r\nbody"
        learned = engine.learn_provider_host(engine.account("bob@b.test"), raw)
        assert learned.provider_hosts == ("mx1.provider.example",)
        assert engine.accounts.get("bob@b.test").provider_hosts == ("mx1.provider.example",)
    finally:
        await engine.aclose()


async def test_server_search_finds_words_in_bodies_never_fetched(
    world: World, tmp_path: Path
) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
    try:
        await engine.send(
            Draft(sender="alice@a.test", to=("bob@b.test",), subject="x", text="zebra crossing")
        )
        row = await _arrives(engine, "bob@b.test", "x")
        assert await engine.search("bob@b.test", "INBOX", "zebra") == [row.uid]
        assert await engine.search("bob@b.test", "INBOX", "giraffe") == []
    finally:
        await engine.aclose()


async def test_no_sent_copy_when_the_server_files_it_itself(world: World, tmp_path: Path) -> None:
    engine = make_engine(world, tmp_path, "bob@b.test")
    account = world_account(world, "alice@a.test").with_changes(server_saves_sent=True)
    engine.accounts.add(account)
    password = world.mailbox("alice@a.test").password
    for service in ("imap", "smtp"):
        engine.secrets.set(account.key, service, password)
    try:
        outcome = await engine.send(Draft(sender="alice@a.test", to=("bob@b.test",), subject="s"))
        assert outcome.sent and not outcome.saved_to_sent
        await engine.sync("alice@a.test", ["Sent"])
        assert engine.cache.page("alice@a.test", "Sent") == []
    finally:
        await engine.aclose()


async def test_removing_an_account_forgets_it_but_never_strands_the_outbox(
    world: World, tmp_path: Path
) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
    a = world.providers["a.test"]
    engine.sender.retry_delays = (60.0,)
    try:
        await engine.send(Draft(sender="alice@a.test", to=("bob@b.test",), subject="Hello"))
        await _arrives(engine, "bob@b.test", "Hello")
        idle = asyncio.create_task(engine.wait_for_change("bob@b.test", "INBOX", 10))
        await idling(engine, "bob@b.test")  # removal shuts a live IDLE connection
        bob = engine.account("bob@b.test")
        await engine.remove_account("bob@b.test")
        assert engine.accounts.get("bob@b.test") is None
        assert engine.secrets.get(bob.key, "imap") is None
        assert engine.cache.folders(bob.key) == []
        with pytest.raises(Exception):  # noqa: B017 (its IDLE connection was shut)
            await asyncio.wait_for(idle, 10)

        await a.msa.stop()  # alice's next message waits in the Outbox
        outcome = await engine.send(Draft(sender="alice@a.test", to=("bob@b.test",), subject="x"))
        assert not outcome.sent
        with pytest.raises(ValueError, match="1 message waiting in the Outbox"):
            await engine.remove_account("alice@a.test")
        assert engine.accounts.get("alice@a.test") is not None and len(engine.outbox) == 1
    finally:
        await engine.aclose()


async def test_headers_of_unread_messages_leave_them_unread(world: World, tmp_path: Path) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
    try:
        await engine.send(Draft(sender="alice@a.test", to=("bob@b.test",), subject="Headers"))
        row = await _arrives(engine, "bob@b.test", "Headers")
        headers = await engine.headers("bob@b.test", "INBOX", [row.uid, 999_999])
        assert list(headers) == [row.uid]  # a UID not in the folder is simply missing
        assert b"Received: from" in headers[row.uid] and b"Headers" in headers[row.uid]
        assert not headers[row.uid].rstrip(b"\r\n").endswith(b"--")  # no body
        await engine.sync("bob@b.test", ["INBOX"])
        assert "\\Seen" not in engine.cache.message("bob@b.test", "INBOX", row.uid).flags
    finally:
        await engine.aclose()


async def test_an_abort_while_connecting_closes_that_connection(
    world: World, tmp_path: Path
) -> None:
    """abort() (removing an account, quitting) can come while a connection is being opened
    in a worker thread: that connection is closed at once, not left open for nobody."""
    account = world_account(world, "bob@b.test")
    password = world.mailbox("bob@b.test").password
    ms = world.providers["b.test"].ms
    cache = MailCache(tmp_path / "cache.sqlite3")
    sync: sync_module.AccountSync | None = None

    def password_then_abort() -> str:
        assert sync is not None
        sync.abort()  # as if from the GUI thread, between connecting and signing in
        return password

    sync = sync_module.AccountSync(account, password_then_abort, cache, timeout=10)
    try:
        with pytest.raises(Unreachable, match="Stopped while listing folders"):
            await asyncio.to_thread(sync.sync_folder_list)
        assert sync.connected_session is None
        await eventually(lambda: not ms._sessions, what="the server to see it closed")
    finally:
        sync.close()
        cache.close()


def _server_drafts(world: World, address: str) -> list[bytes]:
    """The Drafts folder as the server holds it (its files, not the client's cache)."""
    store = world.providers[address.rpartition("@")[2]].store_for(world.mailbox(address))
    box = store.folder("Drafts")
    return [box.read(info.uid) for info in box.messages()]


async def test_saving_a_draft_again_replaces_it_and_sending_it_removes_it(
    world: World, tmp_path: Path
) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
    try:
        draft = Draft(sender="alice@a.test", to=("bob@b.test",), subject="Plan", text="one")
        first = await engine.save_draft(draft)
        second = await engine.save_draft(replace(draft, text="two"), replacing=first)
        assert first and second and second.uid != first.uid
        (stored,) = _server_drafts(world, "alice@a.test")  # replaced, not added
        assert b"two" in stored and b"one" not in stored
        (row,) = engine.cache.page("alice@a.test", "Drafts")  # the cache follows
        assert (row.uid, row.subject) == (second.uid, "Plan")

        outcome = await engine.send(replace(draft, text="three"), draft_copy=second)
        assert outcome.sent, outcome.error
        assert _server_drafts(world, "alice@a.test") == []
        assert engine.cache.page("alice@a.test", "Drafts") == []
        await _arrives(engine, "bob@b.test", "Plan")
    finally:
        await engine.aclose()


async def test_without_appenduid_the_saved_draft_is_found_by_its_message_id(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server without UIDPLUS does not say the new UID: the synced Drafts folder does."""
    append = sync_module.AccountSync.append

    def append_without_uid(self, folder, message, flags=()):
        append(self, folder, message, flags)
        return None

    monkeypatch.setattr(sync_module.AccountSync, "append", append_without_uid)
    engine = make_engine(world, tmp_path, "alice@a.test")
    try:
        draft = Draft(sender="alice@a.test", subject="Notes", text="one")
        first = await engine.save_draft(draft)
        second = await engine.save_draft(replace(draft, text="two"), replacing=first)
        assert first and second and first.uid is not None and second.uid is not None
        (stored,) = _server_drafts(world, "alice@a.test")
        assert b"two" in stored
        (row,) = engine.cache.page("alice@a.test", "Drafts")
        assert row.uid == second.uid
    finally:
        await engine.aclose()


@pytest.mark.parametrize("stop", ["aclose", "stop_idling", "cancel", "remove_account"])
async def test_an_idle_stopped_before_its_thread_starts_ends_at_once(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: str
) -> None:
    """The stop comes while the IDLE's worker thread is still queued: the thread, once it
    runs, must see it and end, not connect and wait out its whole slice (a window's close
    took a whole IDLE slice when it lost this race)."""
    engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
    started, go, ended = asyncio.Event(), threading.Event(), threading.Event()
    loop = asyncio.get_running_loop()
    original = sync_module.AccountSync.wait_for_change

    def held(self, *args, **kwargs):  # the thread is scheduled but has not begun its step
        loop.call_soon_threadsafe(started.set)
        go.wait(10)
        try:
            return original(self, *args, **kwargs)
        finally:
            ended.set()

    monkeypatch.setattr(sync_module.AccountSync, "wait_for_change", held)
    try:
        await engine.sync("bob@b.test", ["INBOX"])
        idle = asyncio.create_task(engine.wait_for_change("bob@b.test", "INBOX", 600))
        await started.wait()
        if stop == "aclose":
            closing = asyncio.create_task(engine.aclose())
        elif stop == "stop_idling":
            engine.stop_idling()
        elif stop == "cancel":
            idle.cancel()
        else:
            closing = asyncio.create_task(engine.remove_account("bob@b.test"))
        await asyncio.sleep(0.2)  # the stop has been given; only now does the thread run
        go.set()
        with pytest.raises((Unreachable, asyncio.CancelledError)):
            await asyncio.wait_for(idle, 20)  # not the 600 s IDLE
        if stop in ("aclose", "remove_account"):
            await asyncio.wait_for(closing, 20)
        assert await asyncio.to_thread(ended.wait, 20), "the IDLE thread is still waiting"
    finally:
        go.set()
        await engine.aclose()
