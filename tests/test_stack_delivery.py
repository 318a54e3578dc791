"""The sending half of the world, end to end on loopback with real TLS."""

from __future__ import annotations

import email
import email.policy
import errno
import logging
import os
import re
import shutil
import subprocess

import aiosmtplib
import pytest

from mua.net.submission import Security
from mua.stack.world import World
from tests.conftest import eventually, fast_options, maildir_messages
from tests.stackhelp import send


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.mark.parametrize("security", [Security.IMPLICIT, Security.STARTTLS])
async def test_message_lands_in_bobs_maildir_with_both_received_headers(
    world: World, security: Security
) -> None:
    result = await send(world, "alice@a.test", ["bob@b.test"], subject="Hop", security=security)
    assert result.tls.encrypted and result.tls.verified
    assert result.tls.version == "TLSv1.3"
    assert result.tls.mode.value == security.value
    assert re.search(r"queued as [0-9A-F]+", result.response)

    (raw,) = await eventually(lambda: maildir_messages(world, "bob@b.test"), what="delivery")
    msg = _parse(raw)
    assert msg["Subject"] == "Hop"
    received = msg.get_all("Received")
    assert len(received) == 2
    mx_hop, msa_hop = (" ".join(r.split()) for r in received)  # newest first (RFC 5321 4.4)
    assert "by mx.b.test (mua) with ESMTPS" in mx_hop
    assert "for <bob@b.test>" in mx_hop
    assert "by smtp.a.test (mua) with ESMTPSA" in msa_hop
    assert re.search(r"\(using TLSv1\.3 with cipher TLS_\w+ \(\d+/\d+ bits\)\)", msa_hop)
    assert re.search(r"\(using TLSv1\.3 with cipher TLS_\w+ \(\d+/\d+ bits\)\)", mx_hop)
    assert "(Authenticated sender: alice@a.test)" in msa_hop
    assert msg["Message-ID"]


async def test_event_log_holds_every_leg_from_both_ends(world: World) -> None:
    await send(world, "alice@a.test", ["bob@b.test"])
    await eventually(lambda: maildir_messages(world, "bob@b.test"))
    # The MTA writes its record of the relay after the MX's 250, so after the delivery.
    await eventually(lambda: any(e["event"] == "relayed" for e in world.events.read()))
    legs = [e for e in world.events.read() if e["event"] == "leg"]
    seen = {(e["leg"], e["side"], e["from"]["role"], e["to"]["role"]) for e in legs}
    assert ("submission", "server", "MUA", "MSA") in seen
    assert ("handoff", "server", "MSA", "MTA") in seen
    assert ("relay", "client", "MTA", "MX") in seen
    assert ("relay", "server", "MTA", "MX") in seen
    assert ("delivery", "server", "MX", "MDA") in seen
    assert ("delivery", "server", "MDA", "MS") in seen
    client = next(e for e in legs if e["leg"] == "relay" and e["side"] == "client")
    server = next(e for e in legs if e["leg"] == "relay" and e["side"] == "server")
    # Both ends agree on what protected the relay.
    for key in ("encrypted", "version", "cipher", "bits"):
        assert client["tls"][key] == server["tls"][key]
    assert client["tls"]["mode"] == "starttls"
    assert client["tls"]["verified"] is True  # the MX certificate chains to the world's CA
    assert client["port"]["role"] == 25
    assert client["port"]["actual"] == world.providers["b.test"].ports.mx
    assert client["message_id"] == server["message_id"]


async def test_one_message_to_two_domains_reaches_both(world: World) -> None:
    await send(world, "alice@a.test", ["bob@b.test", "alice@a.test"])
    await eventually(lambda: maildir_messages(world, "bob@b.test"))
    await eventually(lambda: maildir_messages(world, "alice@a.test"))


async def test_unknown_recipient_bounces_to_the_sender(world: World) -> None:
    await send(world, "alice@a.test", ["nobody@b.test"], subject="Lost")
    (raw,) = await eventually(lambda: maildir_messages(world, "alice@a.test"), what="bounce")
    report = _parse(raw)
    assert report.get_content_type() == "multipart/report"
    assert report["Subject"] == "Undelivered Mail Returned to Sender"
    status = next(p for p in report.walk() if p.get_content_type() == "message/delivery-status")
    text = status.as_string()
    assert "Final-Recipient: rfc822; nobody@b.test" in text
    assert "Status: 5.1.1" in text
    assert "Subject: Lost" in raw.decode()  # the original's headers come back
    assert not maildir_messages(world, "bob@b.test")
    # The bounce itself was delivered; its queue entry goes once the MX's 250 is read.
    await eventually(lambda: len(world.providers["a.test"].queue) == 0, what="an empty queue")


async def test_refused_connection_is_retried_until_the_mx_is_back(world: World) -> None:
    b = world.providers["b.test"]
    mx_port = b.ports.mx
    await b.mx.stop()
    await send(world, "alice@a.test", ["bob@b.test"])
    await eventually(
        lambda: [e for e in world.events.read() if e["event"] == "deferred"], what="a deferral"
    )
    assert len(world.providers["a.test"].queue) == 1
    await b.mx.start(mx_port)
    await eventually(lambda: maildir_messages(world, "bob@b.test"), what="delivery on retry")
    await eventually(lambda: len(world.providers["a.test"].queue) == 0, what="an empty queue")


async def test_queued_message_survives_a_restart_of_the_world(tmp_path) -> None:
    directory = tmp_path / "world"
    async with World(directory, fast_options()) as first:
        b = first.providers["b.test"]
        await b.mx.stop()
        await send(first, "alice@a.test", ["bob@b.test"], subject="Patience")
        await eventually(lambda: len(first.providers["a.test"].queue) == 1)
    # Everything stopped; the message is only on disk now.
    assert list((directory / "a.test" / "queue").glob("*.msg"))
    async with World(directory, fast_options()) as second:
        (raw,) = await eventually(lambda: maildir_messages(second, "bob@b.test"))
        assert b"Subject: Patience" in raw


async def test_a_delivery_finishing_as_the_world_stops_is_indexed_at_the_next_start(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    """The MDA writes in a worker thread; one that ends after the stores closed must neither
    fail (a logged traceback), nor reopen an index nobody will close, nor be lost: the next
    start's rescan indexes the file."""
    directory = tmp_path / "world"
    async with World(directory, fast_options()) as first:
        b = first.providers["b.test"]
        b.store_for(first.mailbox("bob@b.test")).folder("INBOX")  # an open store, as IMAP has
    late = b.mda.deliver("bob", b"Subject: Late\r\n\r\nJust in time.\r\n")
    assert "delivery listener failed" not in caplog.text
    assert not b._stores  # no index reopened (and left open) by the stopped provider
    async with World(directory, fast_options()) as second:
        inbox = second.providers["b.test"].store_for(second.mailbox("bob@b.test")).folder("INBOX")
        assert [m.uid for m in inbox.messages()] == [1]
        assert late.exists()


async def test_message_is_bounced_when_the_retry_window_ends(tmp_path) -> None:
    options = fast_options(a_test={"retry_window": 0.5})
    async with World(tmp_path / "world", options) as world:
        await world.providers["b.test"].mx.stop()
        await send(world, "alice@a.test", ["bob@b.test"], subject="Too late")
        (raw,) = await eventually(
            lambda: maildir_messages(world, "alice@a.test"), what="an expiry bounce"
        )
        assert b"could not be delivered within the retry period" in raw
        assert b"Action: failed" in raw


async def test_world_keeps_its_ca_and_mx_keys_across_restarts(tmp_path) -> None:
    directory = tmp_path / "world"
    async with World(directory, fast_options()) as first:
        ca = first.ca.ca_file.read_bytes()
        pin = first.providers["b.test"].mx_cert.spki_sha256()
        password = first.mailbox("bob@b.test").password
    async with World(directory, fast_options()) as second:
        assert second.ca.ca_file.read_bytes() == ca
        assert second.providers["b.test"].mx_cert.spki_sha256() == pin
        assert second.mailbox("bob@b.test").password == password


async def test_mx_resolution_uses_the_worlds_signed_dns(world: World) -> None:
    answer = await world.resolver().mx("b.test")
    assert answer.secure
    assert [r.host.rstrip(".") for r in answer.records] == ["mx.b.test"]
    tlsa = await world.resolver().tlsa(25, "mx.b.test")
    assert tlsa.secure
    (record,) = tlsa.records
    assert (record.usage, record.selector, record.mtype) == (3, 1, 1)
    assert record.data == world.providers["b.test"].mx_cert.spki_sha256()


async def test_a_mailbox_that_cannot_be_written_is_a_451_after_the_checks_are_recorded(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The MX checks and writes the mailbox in one worker-thread trip: a failed write is
    still a temporary refusal (the sender keeps the message), logged with its reason."""
    b = world.providers["b.test"]
    assert b.mx is not None and b.mx.handler.actual_port is not None

    def full_disk(user: str, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(b.mda, "deliver", full_disk)
    raw = b"From: someone@c.test\r\nTo: bob@b.test\r\nSubject: full\r\n\r\nbody\r\n"
    with caplog.at_level(logging.ERROR, logger="mua.stack.mx"):
        port = b.mx.handler.actual_port
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await smtp.sendmail("someone@c.test", ["bob@b.test"], raw)
    assert refused.value.code == 451
    (record,) = [r for r in caplog.records if r.getMessage().startswith("delivery failed")]
    assert record.exc_info is not None and "No space" in str(record.exc_info[1])
    checked = [e for e in world.events.read() if e["event"] == "authenticated"]
    assert checked and checked[-1]["results"].startswith("mx.b.test;")
    assert maildir_messages(world, "bob@b.test") == []


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
async def test_swaks_submits_to_the_world(world: World) -> None:
    """A client nobody here wrote: swaks over implicit TLS, verifying against the world CA."""
    import asyncio

    alice = world.mailbox("alice@a.test")
    a = world.providers["a.test"]
    proc = await asyncio.create_subprocess_exec(
        "swaks", "--server", "127.0.0.1", "--port", str(a.ports.submission_implicit),
        "--tlsc", "--tls-verify", "--tls-ca-path", str(world.ca.ca_file),
        "--auth", "PLAIN", "--auth-user", alice.user, "--auth-password", alice.password,
        "--from", alice.address, "--to", "bob@b.test", "--header", "Subject: from swaks",
        "--helo", "swaks.local",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out.decode()
    (raw,) = await eventually(lambda: maildir_messages(world, "bob@b.test"))
    assert b"Subject: from swaks" in raw
