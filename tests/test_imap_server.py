"""The world's IMAP server against a real client (imapclient), raw transcripts and curl."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from mua.core.tls_facts import Security, TlsFacts
from mua.net.errors import CleartextRefused
from mua.net.imap import ImapEndpoint, ImapSession
from mua.stack.world import World
from tests.conftest import eventually, maildir_messages
from tests.imap_wire import ImapWire
from tests.stackhelp import send

MULTIPART = (
    b"From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\nSubject: Report\r\n"
    b"Message-ID: <report@a.test>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n"
    b"--YY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob\r\n"
    b"--YY\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello Bob</p>\r\n--YY--\r\n"
    b"--XX\r\nContent-Type: application/pdf; name=report.pdf\r\n"
    b"Content-Disposition: attachment; filename=report.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n"
)


def _endpoint(world: World, address: str, security: Security = Security.IMPLICIT) -> ImapEndpoint:
    provider = world.providers[address.rpartition("@")[2]]
    assert provider.ports is not None
    implicit = security is Security.IMPLICIT
    return ImapEndpoint(
        host="127.0.0.1",
        port=provider.ports.imap_implicit if implicit else provider.ports.imap_starttls,
        security=security,
        ca_file=world.ca.ca_file,
        server_name=provider.imap_host,
    )


def _session(world: World, address: str, security: Security = Security.IMPLICIT) -> ImapSession:
    session = ImapSession.connect(_endpoint(world, address, security), timeout=10)
    mailbox = world.mailbox(address)
    session.login(mailbox.user, mailbox.password)
    return session


@pytest.fixture
async def imap_wire(world: World) -> AsyncIterator:
    opened: list[ImapWire] = []

    async def open_wire(*, implicit: bool = True, login: bool = True) -> ImapWire:
        b = world.providers["b.test"]
        context = world.ca.client_context() if implicit else None
        wire = await ImapWire.open(
            b.ports.imap_implicit if implicit else b.ports.imap_starttls, context
        )
        opened.append(wire)
        if login:
            bob = world.mailbox("bob@b.test")
            assert (await wire.command("L", f"LOGIN {bob.user} {bob.password}"))[-1].startswith(
                "L OK"
            )
        return wire

    yield open_wire
    for wire in opened:
        await wire.close()


@pytest.mark.parametrize("security", [Security.IMPLICIT, Security.STARTTLS])
async def test_bob_reads_alices_message_over_imap(world: World, security: Security) -> None:
    await send(world, "alice@a.test", ["bob@b.test"], subject="Over IMAP")
    await eventually(lambda: maildir_messages(world, "bob@b.test"))

    def read() -> tuple:
        with _session(world, "bob@b.test", security) as session:
            client = session.client
            client.select_folder("INBOX")
            (uid,) = client.search(["SUBJECT", "Over IMAP"])
            data = client.fetch([uid], ["ENVELOPE", "FLAGS", "RFC822.SIZE", "BODY.PEEK[]"])[uid]
            return session.tls, data

    tls, data = await asyncio.to_thread(read)
    assert tls.encrypted and tls.verified and tls.version == "TLSv1.3"
    assert tls.mode.value == security.value
    envelope = data[b"ENVELOPE"]
    assert envelope.subject == b"Over IMAP"
    assert envelope.from_[0].mailbox == b"alice" and envelope.from_[0].host == b"a.test"
    assert data[b"RFC822.SIZE"] == len(data[b"BODY[]"])
    assert b"\\Seen" not in data[b"FLAGS"]  # BODY.PEEK does not set \Seen


async def test_folders_flags_copy_move_expunge_and_uidplus(world: World) -> None:
    def scenario() -> None:
        with _session(world, "bob@b.test") as session:
            c = session.client
            folders = {name: flags for flags, _delim, name in c.list_folders()}
            assert {"INBOX", "Sent", "Drafts", "Trash", "Junk"} <= set(folders)
            assert b"\\Sent" in folders["Sent"] and b"\\Trash" in folders["Trash"]
            c.create_folder("Archive/2026")
            assert c.folder_exists("Archive/2026")
            appended = c.append("INBOX", MULTIPART, flags=[b"\\Flagged"])
            assert b"APPENDUID" in appended
            c.select_folder("INBOX")
            (uid,) = c.search(["HEADER", "Message-ID", "<report@a.test>"])
            structure = c.fetch([uid], ["BODYSTRUCTURE"])[uid][b"BODYSTRUCTURE"]
            assert structure.is_multipart
            parts, subtype = structure[0], structure[1]
            assert subtype == b"mixed" and len(parts) == 2
            assert parts[1][0] == b"application" and parts[1][1] == b"pdf"
            assert c.fetch([uid], ["BODY.PEEK[1.2]"])[uid][b"BODY[1.2]"] == b"<p>Hello Bob</p>"
            c.add_flags([uid], [b"\\Seen", b"$Important"])
            flags = c.get_flags([uid])[uid]
            assert {b"\\Seen", b"\\Flagged", b"$Important"} <= set(flags)
            assert c.search(["FLAGGED", "SEEN"]) == [uid]
            c.copy([uid], "Archive/2026")
            c.move([uid], "Trash")
            assert c.search(["ALL"]) == []
            c.select_folder("Trash")
            (moved,) = c.search(["ALL"])
            c.add_flags([moved], [b"\\Deleted"])
            c.uid_expunge([moved])
            assert c.search(["ALL"]) == []
            status = c.folder_status("Archive/2026", [b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY"])
            assert status[b"MESSAGES"] == 1

    await asyncio.to_thread(scenario)


async def test_idle_hears_new_mail_as_soon_as_it_is_delivered(world: World) -> None:
    session = await asyncio.to_thread(_session, world, "bob@b.test")
    try:
        await asyncio.to_thread(session.client.select_folder, "INBOX")
        await asyncio.to_thread(session.client.idle)
        await send(world, "alice@a.test", ["bob@b.test"], subject="Ping")
        responses = await asyncio.to_thread(session.client.idle_check, 10)
        await asyncio.to_thread(session.client.idle_done)
    finally:
        await asyncio.to_thread(session.close)
    assert (1, b"EXISTS") in responses


async def test_starttls_port_refuses_login_before_tls(world: World, imap_wire) -> None:
    wire = await imap_wire(implicit=False, login=False)
    assert "STARTTLS" in wire.greeting and "LOGINDISABLED" in wire.greeting
    assert "AUTH=PLAIN" not in wire.greeting
    bob = world.mailbox("bob@b.test")
    reply = await wire.command("a", f"LOGIN {bob.user} {bob.password}")
    assert reply[-1].startswith("a NO [PRIVACYREQUIRED]")
    # and the client library refuses to even try
    endpoint = _endpoint(world, "bob@b.test", Security.STARTTLS)
    session = await asyncio.to_thread(ImapSession.connect, endpoint)
    assert session.tls.encrypted  # STARTTLS happened
    await asyncio.to_thread(session.close)
    cleartext = ImapEndpoint("127.0.0.1", endpoint.port, Security.NONE)
    with pytest.raises(CleartextRefused):
        await asyncio.to_thread(_plain_login, cleartext)


def _plain_login(endpoint: ImapEndpoint) -> None:
    client = IMAPClient(endpoint.host, endpoint.port, ssl=False, timeout=5)
    try:
        session = ImapSession(endpoint, client, TlsFacts.cleartext())
        session.login("bob", "whatever")
    finally:
        client.shutdown()


async def test_wrong_password_is_refused_with_a_clear_code(world: World, imap_wire) -> None:
    wire = await imap_wire(login=False)
    reply = await wire.command("a", "LOGIN bob not-the-password")
    assert reply[-1].startswith("a NO [AUTHENTICATIONFAILED]")
    with pytest.raises(LoginError):
        await asyncio.to_thread(_imapclient_login, world, "wrong")


def _imapclient_login(world: World, password: str) -> None:
    b = world.providers["b.test"]
    client = IMAPClient(
        "127.0.0.1", b.ports.imap_implicit, ssl_context=world.ca.client_context(), timeout=5
    )
    try:
        client.login("bob", password)
    finally:
        client.shutdown()


async def test_literals_and_literal_plus_in_a_transcript(imap_wire) -> None:
    wire = await imap_wire()
    message = b"Subject: lit\r\n\r\nbody\r\n"
    await wire.write(f"a APPEND INBOX (\\Seen) {{{len(message)}}}\r\n".encode())
    assert (await wire.line()).startswith("+")
    await wire.write(message + b"\r\n")
    lines = await wire.until_tagged("a")
    assert lines[-1].startswith("a OK [APPENDUID ")
    await wire.write(f"b APPEND INBOX {{{len(message)}+}}\r\n".encode() + message + b"\r\n")
    assert (await wire.until_tagged("b"))[-1].startswith("b OK [APPENDUID ")
    assert (await wire.command("c", "SELECT INBOX"))[-1] == "c OK [READ-WRITE] SELECT completed"
    lines = await wire.command("d", "UID SEARCH SUBJECT {3+}\r\nlit")
    assert lines[0].startswith("* SEARCH ") and len(lines[0].split()) == 4


async def test_limits_refuse_a_huge_literal_before_reading_it(world: World, imap_wire) -> None:
    wire = await imap_wire(login=False)
    await wire.write("a LOGIN {100000}\r\n")  # before login, literals are small
    lines = await wire.until_tagged("a")
    assert lines[-1].startswith("a NO [TOOBIG]") or lines[-1].startswith("a BAD")
    assert not any(line.startswith("+") for line in lines)


async def test_bad_commands_get_bad_and_too_many_end_the_session(imap_wire) -> None:
    wire = await imap_wire()
    assert (await wire.command("a", "FROBNICATE"))[-1].startswith("a BAD")
    assert (await wire.command("b", "FETCH 1 FLAGS"))[-1].startswith("b BAD")  # not selected
    await wire.command("c", "SELECT INBOX")
    assert (await wire.command("d", "FETCH x:y (FLAGS)"))[-1].startswith("d BAD")
    deep = "(" * 100 + "ALL" + ")" * 100
    assert (await wire.command("e", f"SEARCH {deep}"))[-1].startswith("e BAD")
    assert (await wire.command("f", "x" * 70000))[-1].startswith(("f BAD", "* BAD"))
    for i in range(25):
        await wire.write(f"g{i} NONSENSE\r\n")
        assert (await wire.until_tagged(f"g{i}"))[-1].startswith(f"g{i} BAD")
        try:  # after the tagged BAD that reaches the limit, the server says BYE and hangs up
            after = await wire.line(timeout=0.3)
        except TimeoutError:
            continue
        assert [after, await wire.line()] == ["* BYE Too many invalid commands", "<closed>"]
        break
    else:
        raise AssertionError("the server never gave up on a client sending nonsense")


async def test_a_client_vanishing_mid_fetch_leaves_the_server_serving(
    world: World, imap_wire
) -> None:
    wire = await imap_wire()
    for i in range(40):
        await wire.command(f"a{i}", f"APPEND INBOX {{{len(MULTIPART)}+}}\r\n" + MULTIPART.decode())
    await wire.command("s", "SELECT INBOX")
    await wire.write("f FETCH 1:* (BODY[])\r\n")
    await wire.close()  # gone while the server is answering
    again = await imap_wire()
    assert (await again.command("n", "NOOP"))[-1].startswith("n OK")


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_curl_reads_from_the_world(world: World) -> None:
    """A client nobody here wrote: curl over IMAPS, verifying against the world CA."""
    await send(world, "alice@a.test", ["bob@b.test"], subject="for curl")
    await eventually(lambda: maildir_messages(world, "bob@b.test"))
    bob = world.mailbox("bob@b.test")
    port = world.providers["b.test"].ports.imap_implicit
    proc = await asyncio.create_subprocess_exec(
        "curl", "--silent", "--show-error", "--cacert", str(world.ca.ca_file),
        "--user", f"{bob.user}:{bob.password}", f"imaps://127.0.0.1:{port}/INBOX;UID=1",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert b"Subject: for curl" in out


async def test_server_certificate_verifies_by_name_and_address(world: World) -> None:
    ctx = world.ca.client_context()
    port = world.providers["b.test"].ports.imap_implicit

    def handshake(name: str) -> str | None:
        with (
            socket.create_connection(("127.0.0.1", port), 5) as raw,
            ctx.wrap_socket(raw, server_hostname=name) as tls,
        ):
            return tls.version()

    for name in ("imap.b.test", "127.0.0.1"):
        assert await asyncio.to_thread(handshake, name) == "TLSv1.3"
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.to_thread(handshake, "imap.a.test")


async def test_recent_goes_to_the_first_session_that_selects(world: World, imap_wire) -> None:
    await send(world, "alice@a.test", ["bob@b.test"], subject="fresh")
    await eventually(lambda: maildir_messages(world, "bob@b.test"))
    first, second = await imap_wire(), await imap_wire()
    assert "* 1 RECENT" in await first.command("x", "EXAMINE INBOX")  # EXAMINE does not claim
    assert "* 1 RECENT" in await first.command("a", "SELECT INBOX")
    fetched = await first.command("b", "FETCH 1 (FLAGS)")
    assert fetched[0] == "* 1 FETCH (FLAGS (\\Recent))"
    assert "* 0 RECENT" in await second.command("c", "SELECT INBOX")
    assert (await second.command("d", "SEARCH RECENT"))[0] == "* SEARCH"
