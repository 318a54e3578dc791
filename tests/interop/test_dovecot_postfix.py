"""The client engine against servers no one here wrote: Debian's Dovecot and Postfix.

carol@interop.test sends herself a message through Postfix's submission service (implicit
TLS on the 465 role, STARTTLS on the 587 role; AUTH checked by Dovecot over its auth socket),
Postfix's virtual agent files it in her Maildir, and the engine syncs, reads, flags and moves
it over Dovecot's IMAPS, and files the copy in Dovecot's \\Sent folder. What the engine
believes (its cache) is checked against what the servers hold, through a separate imapclient
connection. Servers: tests/interop/servers.py; fixtures: tests/interop/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import io
import json
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from imapclient import IMAPClient

from mua.cli import main
from mua.client.engine import Engine
from mua.core.compose import Attachment, Draft, build_message
from mua.core.tls_facts import Security, TlsMode, VerifiedBy
from mua.net.errors import AuthenticationFailed
from mua.net.submission import SubmissionEndpoint, submit
from mua.store.cache import CachedMessage
from tests.client_fixtures import idling
from tests.interop.servers import LOOPBACK, OTHER_ADDRESS, SMTP_NAME, MailServers

pytestmark = pytest.mark.interop

ARRIVAL_TIMEOUT = 20.0  # Postfix hands a message to its virtual agent in well under a second
MODERN_TLS = ("TLSv1.2", "TLSv1.3")


def unique_subject(what: str) -> str:
    return f"interop {what} {secrets.token_hex(4)}"


def add_carol(engine: Engine, servers: MailServers) -> str:
    account = servers.account()
    engine.accounts.add(account)
    engine.secrets.set(account.key, "imap", servers.password)
    engine.secrets.set(account.key, "smtp", servers.password)
    return account.address


async def synced_message(
    engine: Engine, address: str, folder: str, subject: str, timeout: float = ARRIVAL_TIMEOUT
) -> CachedMessage:
    """Sync `folder` until the cache holds the message with `subject` (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        await engine.sync(address, [folder])
        for message in engine.cache.page(address, folder, limit=500):
            if message.subject == subject:
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"{subject!r} did not reach {folder} within {timeout:g} s")
        await asyncio.sleep(0.2)


@contextmanager
def server_view(servers: MailServers) -> Iterator[IMAPClient]:
    """A second, plain imapclient connection to Dovecot: what the server really holds."""
    client = IMAPClient(
        LOOPBACK,
        servers.dovecot.port,
        ssl=True,
        ssl_context=servers.ca.client_context(),  # the certificate also names 127.0.0.1
        timeout=10,
    )
    try:
        client.login(servers.address, servers.password)
        yield client
    finally:
        client.logout()


def server_flags(client: IMAPClient, folder: str, message_id: str) -> set[bytes] | None:
    """The flags of the message with `message_id` in `folder`, None when it is not there."""
    client.select_folder(folder, readonly=True)
    uids = client.search(["HEADER", "Message-ID", message_id])
    if not uids:
        return None
    assert len(uids) == 1, f"{len(uids)} copies of {message_id} in {folder}"
    return set(client.get_flags(uids)[uids[0]]) - {b"\\Recent"}


async def test_send_sync_read_flag_move_through_postfix_and_dovecot(
    engine: Engine, servers: MailServers
) -> None:
    address = add_carol(engine, servers)
    subject = unique_subject("round trip")
    text = "Hello from mua, through Postfix and Dovecot.\n"

    # send: Postfix on the 465 role, password checked by Dovecot's auth service
    outcome = await engine.send(Draft(sender=address, to=(address,), subject=subject, text=text))
    assert outcome.sent, outcome.error
    result = outcome.result
    assert result is not None
    assert result.tls.encrypted is True and result.tls.mode is TlsMode.IMPLICIT
    assert result.tls.version in MODERN_TLS, result.tls
    assert result.tls.verified is True and result.tls.verified_by is VerifiedBy.PKI
    assert result.tls.peer_name == SMTP_NAME
    assert (result.port_role, result.port_actual) == (465, servers.postfix.implicit_port)
    assert "queued as" in result.response, result.response
    assert not result.refused
    assert outcome.saved_to_sent, "the copy was not filed in Dovecot's \\Sent folder"
    assert engine.outbox.entries() == []
    message_id = outcome.entry.message_id
    trace = engine.cache.trace(address, message_id)
    assert trace is not None and len(trace.observed_legs) == 1
    leg = trace.observed_legs[0]
    assert (leg["from"]["role"], leg["to"]["role"], leg["to"]["host"]) == ("MUA", "MSA", SMTP_NAME)
    assert leg["tls"]["verified"] is True and leg["grade"] == "green"

    # sync: it arrives in INBOX; the folder list is Dovecot's, special-use included
    message = await synced_message(engine, address, "INBOX", subject)
    synced = {result.folder for result in await engine.sync(address)}  # every folder
    assert {"INBOX", "Sent", "Drafts", "Trash", "Archive"} <= synced, synced
    folders = {f.name: f.special_use for f in engine.cache.folders(address)}
    assert {
        "INBOX": None,
        "Sent": "\\Sent",
        "Drafts": "\\Drafts",
        "Trash": "\\Trash",
        "Archive": "\\Archive",
    }.items() <= folders.items(), folders
    assert message.message_id == message_id
    assert (message.sender_name, message.sender_address) == ("Carol Interop", address)
    assert address in message.recipients
    assert "\\Seen" not in message.flags and "\\Flagged" not in message.flags
    uid = message.uid

    # read: the whole message as Postfix delivered it
    raw = await engine.body(address, "INBOX", uid)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject and parsed["Message-ID"] == message_id
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert parsed["Return-Path"] == f"<{address}>"
    assert parsed["Delivered-To"] == address
    received = " ".join(str(parsed["Received"]).split())  # the topmost: Postfix's smtpd
    assert f"by {SMTP_NAME} (Postfix)" in received and "with ESMTPSA" in received, received
    assert "(using TLSv1." in received, received
    assert engine.cache.body(address, "INBOX", uid) == raw
    with server_view(servers) as view:
        assert server_flags(view, "INBOX", message_id) == set(), "reading must not set \\Seen"

    # flag: server and cache agree, also after a fresh sync
    await engine.set_flags(address, "INBOX", [uid], ["\\Flagged"], add=True)
    cached = engine.cache.message(address, "INBOX", uid)
    assert cached is not None and "\\Flagged" in cached.flags
    with server_view(servers) as view:
        assert server_flags(view, "INBOX", message_id) == {b"\\Flagged"}
    await engine.sync(address, ["INBOX"])
    cached = engine.cache.message(address, "INBOX", uid)
    assert cached is not None and cached.flags == frozenset({"\\Flagged"})

    # move: Dovecot has MOVE (RFC 6851); the message leaves INBOX, flags and all
    await engine.move(address, "INBOX", [uid], "Archive")
    assert engine.cache.message(address, "INBOX", uid) is None
    with server_view(servers) as view:
        assert server_flags(view, "INBOX", message_id) is None
        assert server_flags(view, "Archive", message_id) == {b"\\Flagged"}
    moved = await synced_message(engine, address, "Archive", subject, timeout=0)
    assert moved.message_id == message_id and "\\Flagged" in moved.flags
    await engine.sync(address, ["INBOX"])
    assert all(m.message_id != message_id for m in engine.cache.page(address, "INBOX"))

    # the copy in Sent: APPENDed by the engine after the submission, marked \Seen
    sent = await synced_message(engine, address, "Sent", subject, timeout=0)
    assert sent.message_id == message_id and "\\Seen" in sent.flags
    with server_view(servers) as view:
        assert server_flags(view, "Sent", message_id) == {b"\\Seen"}


async def test_an_attachment_and_a_utf8_subject_then_another_client_and_delete(
    engine: Engine, servers: MailServers
) -> None:
    address = add_carol(engine, servers)
    subject = unique_subject("Grüße aus Köln, ünïcödé")
    pdf = Attachment("report é.pdf", b"%PDF-1.4 not really\n" * 64, "application/pdf")
    draft = Draft(sender=address, to=(address,), subject=subject, text="PDF", attachments=(pdf,))
    outcome = await engine.send(draft)
    assert outcome.sent, outcome.error

    # encoded words and Dovecot's BODYSTRUCTURE, as imapclient hands them over
    message = await synced_message(engine, address, "INBOX", subject)
    assert message.has_attachments
    raw = await engine.body(address, "INBOX", message.uid)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    [part] = parsed.iter_attachments()
    assert part.get_filename() == "report é.pdf" and part.get_content() == pdf.data

    # flags another client sets reach the cache on the next sync
    with server_view(servers) as view:
        view.select_folder("INBOX")
        uids = view.search(["HEADER", "Message-ID", message.message_id])
        view.add_flags(uids, [b"\\Answered", b"$Label1"])
    await engine.sync(address, ["INBOX"])
    cached = engine.cache.message(address, "INBOX", message.uid)
    assert cached is not None and cached.flags == frozenset({"\\Answered", "$Label1"})

    # delete: into Dovecot's \Trash, and from there for good (UID EXPUNGE)
    await engine.delete(address, "INBOX", [message.uid])
    trashed = await synced_message(engine, address, "Trash", subject, timeout=0)
    with server_view(servers) as view:
        assert server_flags(view, "INBOX", message.message_id) is None
        assert server_flags(view, "Trash", message.message_id) == {b"\\Answered", b"$Label1"}
    await engine.delete(address, "Trash", [trashed.uid])
    await engine.sync(address, ["Trash"])
    assert engine.cache.message(address, "Trash", trashed.uid) is None
    with server_view(servers) as view:
        assert server_flags(view, "Trash", message.message_id) is None


async def test_idle_wakes_when_postfix_delivers(engine: Engine, servers: MailServers) -> None:
    address = add_carol(engine, servers)
    await engine.sync(address, ["INBOX"])
    idle = asyncio.create_task(engine.wait_for_change(address, "INBOX", 15))
    await idling(engine, address)
    # dave writes to carol over his own submission session: carol's engine stays idle
    dave = SubmissionEndpoint(
        LOOPBACK, servers.postfix.implicit_port, Security.IMPLICIT, servers.ca_file, SMTP_NAME
    )
    subject = unique_subject("wake up")
    letter = build_message(Draft(sender=OTHER_ADDRESS, to=(address,), subject=subject, text="!"))
    await submit(
        dave,
        letter.as_bytes(),
        username=OTHER_ADDRESS,
        password=servers.passwords[OTHER_ADDRESS],
        sender=OTHER_ADDRESS,
        recipients=[address],
        timeout=10,
    )
    assert await idle is True, "Dovecot's IDLE did not report the delivery"
    message = await synced_message(engine, address, "INBOX", subject, timeout=0)
    assert message.sender_address == OTHER_ADDRESS


async def test_postfix_refuses_to_relay_beyond_interop_test(
    engine: Engine, servers: MailServers
) -> None:
    address = add_carol(engine, servers)
    draft = Draft(sender=address, to=("someone@example.org",), subject="relay?", text="x")
    outcome = await engine.send(draft)
    assert not outcome.sent and outcome.entry.failed
    assert "refused every recipient" in (outcome.error or ""), outcome.error
    assert "someone@example.org" in (outcome.error or "")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, f"mua {' '.join(argv)} exited {code}: {err}"
    return out


def test_the_cli_adds_carol_sends_over_starttls_and_reads_it_back(
    servers: MailServers,
    home,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    address = servers.address
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{servers.password}\n"))
    # No --server-name in `accounts add`: the client verifies 127.0.0.1, which LocalCA's
    # certificates name beside imap.interop.test / smtp.interop.test.
    out = run_cli(
        capsys,
        "accounts",
        "add",
        address,
        "--imap",
        f"{LOOPBACK}:{servers.dovecot.port}",
        "--smtp",
        f"{LOOPBACK}:{servers.postfix.starttls_port}",
        "--smtp-security",
        "starttls",
        "--ca-file",
        str(servers.ca_file),
        "--password-stdin",
    )
    assert out.startswith(f"Added {address}: "), out
    [listed] = json.loads(run_cli(capsys, "accounts", "list", "--json"))
    assert listed["imap"]["security"] == Security.IMPLICIT.value
    assert listed["smtp"] == {
        "host": LOOPBACK,
        "port": servers.postfix.starttls_port,
        "security": Security.STARTTLS.value,
        "username": address,
        "ca_file": str(servers.ca_file),
    }

    subject = unique_subject("cli")
    sent = json.loads(
        run_cli(
            capsys,
            "send",
            "--from",
            address,
            "--to",
            address,
            "--subject",
            subject,
            "--body",
            "Sent by `mua send` over STARTTLS.",
            "--json",
        )
    )
    assert sent["sent"] is True and sent["error"] is None and sent["saved_to_sent"] is True
    assert sent["tls"]["mode"] == "starttls" and sent["tls"]["verified"] is True
    assert sent["tls"]["version"] in MODERN_TLS

    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while True:
        run_cli(capsys, "sync", address, "--folder", "INBOX", "--json")
        rows = json.loads(run_cli(capsys, "list", address, "--json", "--limit", "500"))
        mine = [r for r in rows if r["subject"] == subject]
        if mine:
            break
        assert time.monotonic() < deadline, f"{subject!r} did not arrive"
        time.sleep(0.2)
    [row] = mine
    assert row["message_id"] == sent["message_id"] and row["from"]["address"] == address

    out = run_cli(capsys, "read", address, str(row["uid"]))
    assert f"Subject: {subject}" in out and "Sent by `mua send` over STARTTLS." in out


async def test_a_sync_that_changes_nothing_reports_no_flag_changes(
    engine: Engine, servers: MailServers
) -> None:
    address = add_carol(engine, servers)
    subject = unique_subject("condstore")
    outcome = await engine.send(Draft(sender=address, to=(address,), subject=subject, text="x"))
    assert outcome.sent, outcome.error
    await synced_message(engine, address, "INBOX", subject)
    [again] = await engine.sync(address, ["INBOX"])
    assert again.flags_changed == 0, f"{again.flags_changed} flag changes reported, none made"
    folder = engine.cache.folder(address, "INBOX")
    assert folder is not None and folder.highestmodseq is not None, "CONDSTORE unused"


async def test_sending_does_not_wait_for_an_idle_to_end(
    engine: Engine, servers: MailServers
) -> None:
    address = add_carol(engine, servers)
    await engine.sync(address)
    idle = asyncio.create_task(engine.wait_for_change(address, "INBOX", 60))
    await idling(engine, address)  # nothing will arrive for carol: it lasts its 60 s
    try:
        draft = Draft(sender=address, to=(OTHER_ADDRESS,), subject="while idle", text="x")
        outcome = await engine.send(draft)
        assert not idle.done(), "send() waited for the IDLE to end"
    finally:
        idle.cancel()  # drops the IDLE connection: its thread ends now
        with contextlib.suppress(asyncio.CancelledError):
            await idle
    assert outcome.sent and outcome.saved_to_sent, outcome.error


async def test_mua_read_prints_lines_without_carriage_returns(
    engine: Engine, servers: MailServers, capsys: pytest.CaptureFixture[str]
) -> None:
    address = add_carol(engine, servers)
    subject = unique_subject("line ends")
    text = "first line\nsecond line\n"
    outcome = await engine.send(Draft(sender=address, to=(address,), subject=subject, text=text))
    assert outcome.sent, outcome.error
    message = await synced_message(engine, address, "INBOX", subject)
    capsys.readouterr()
    # the command runs its own event loop: give it a thread of its own
    out = await asyncio.to_thread(run_cli, capsys, "read", address, str(message.uid))
    assert "first line\nsecond line" in out.replace("\r", "")
    assert "\r" not in out, repr(out)


async def test_a_wrong_password_is_refused_by_both_and_nothing_is_sent(
    engine: Engine, servers: MailServers
) -> None:
    # Last in the module on purpose: Dovecot delays each failed login (auth_failure_delay, 2 s)
    # and then every login from 127.0.0.1, Postfix's included, until one succeeds (its auth
    # penalty); a test after this one would pay that penalty.
    address = add_carol(engine, servers)
    engine.secrets.set(address, "imap", "not carol's password")
    engine.secrets.set(address, "smtp", "not carol's password")
    subject = unique_subject("wrong password")
    outcome = await engine.send(Draft(sender=address, to=(address,), subject=subject, text="x"))
    assert not outcome.sent
    assert outcome.entry.failed, "a refused password is permanent: no retries"
    assert "rejected the user name or password" in (outcome.error or ""), outcome.error
    assert [e.subject for e in engine.outbox.entries()] == [subject]
    with pytest.raises(AuthenticationFailed, match="rejected the user name or password"):
        await engine.sync(address, ["INBOX"])


async def test_qresync_brings_expunges_and_flag_changes_without_a_full_compare(
    engine: Engine, servers: MailServers
) -> None:
    """Dovecot has QRESYNC (RFC 7162): after a first sync, another client flags one message
    and expunges another; the next sync learns both from the server's answer to EXAMINE."""
    address = add_carol(engine, servers)
    subjects = [unique_subject("qresync") for _ in range(3)]
    for subject in subjects:
        outcome = await engine.send(Draft(sender=address, to=(address,), subject=subject))
        assert outcome.sent, outcome.error
    for subject in subjects:
        await synced_message(engine, address, "INBOX", subject)
    kept, flagged, expunged = (
        next(m for m in engine.cache.page(address, "INBOX", limit=500) if m.subject == s)
        for s in subjects
    )
    with server_view(servers) as other:
        other.select_folder("INBOX")
        other.add_flags([flagged.uid], [b"\\Flagged"])
        other.add_flags([expunged.uid], [b"\\Deleted"])
        other.uid_expunge([expunged.uid])
    (result,) = await engine.sync(address, ["INBOX"])
    assert result.method == "qresync"
    assert (result.removed, result.flags_changed, result.added) == (1, 1, 0)
    assert engine.cache.message(address, "INBOX", expunged.uid) is None
    assert "\\Flagged" in engine.cache.message(address, "INBOX", flagged.uid).flags
    assert engine.cache.message(address, "INBOX", kept.uid) is not None
