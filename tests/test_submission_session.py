"""The MSA's own SMTP session (mua/stack/submission_session.py, submission_commands.py): what
a client meets on the wire that aiosmtpd used to answer, and what the threads must get right."""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path

import pytest

from mua.stack.ca import LocalCA
from mua.stack.events import EventLog
from mua.stack.msa import Msa
from mua.stack.queue import MailQueue
from mua.stack.users import Mailbox, UserDirectory
from mua.stack.world import World
from tests.conftest import eventually, fast_options, maildir_messages
from tests.smtp_wire import Wire

ALICE = Mailbox("alice", "a.test", "secret")


def _auth_plain(user: str, password: str) -> str:
    return "AUTH PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode()


@pytest.fixture
async def small_msa(tmp_path: Path):
    """An MSA whose messages may be 4 kB at most, its sessions holding 6 kB of message data
    at most in all, and its queue."""
    ca = LocalCA(tmp_path / "ca")
    queue = MailQueue(tmp_path / "queue")
    msa = Msa(
        hostname="smtp.a.test",
        users=UserDirectory("a.test", [ALICE]),
        queue=queue,
        events=EventLog(tmp_path / "events.jsonl"),
        tls_context=ca.server_cert("smtp.a.test").server_context(),
        on_queued=lambda: None,
        data_size_limit=4096,
        data_memory=6000,
    )
    ports = await msa.start()
    context = ca.client_context()
    yield ports, context, queue
    await msa.stop()
    assert msa._budget.taken == 0  # every session gave back what it held


async def _signed_in(port: int, context: ssl.SSLContext) -> Wire:
    wire = await Wire.open(port, context)
    assert "SIZE 4096" in await wire.send("EHLO client.test")
    assert (await wire.send(_auth_plain("alice", "secret"))).startswith("235")
    return wire


async def _transaction(wire: Wire) -> None:
    assert (await wire.send("MAIL FROM:<alice@a.test>")).startswith("250")
    assert (await wire.send("RCPT TO:<bob@b.test>")).startswith("250")
    assert (await wire.send("DATA")).startswith("354")


HEADERS = b"From: alice@a.test\r\nTo: bob@b.test\r\nSubject: dots\r\n\r\n"


async def test_too_much_data_and_a_too_long_line_are_refused_at_the_end_and_the_session_goes_on(
    small_msa,
) -> None:
    ports, context, queue = small_msa
    wire = await _signed_in(ports.implicit_tls, context)
    await _transaction(wire)
    body = HEADERS + b"x" * 70 + b"\r\n"
    reply = await wire.send(body * 100 + b".\r\n")  # ~10 kB: over the 4 kB limit
    assert reply == "552 Error: Too much mail data"
    await _transaction(wire)
    reply = await wire.send(HEADERS + b"y" * 1200 + b"\r\n.\r\n")  # RFC 5321: 1,000 at most
    assert reply == "500 Line too long (see RFC5321 4.5.3.1.6)"
    assert queue.ids() == set()
    await _transaction(wire)  # the session is whole: the next message goes through
    assert (await wire.send(HEADERS + b"fine\r\n.\r\n")).startswith("250 2.0.0 Ok: queued as")
    assert len(queue.ids()) == 1
    await wire.close()


async def test_messages_held_by_slow_clients_are_bounded_in_all_and_the_next_one_gets_452(
    small_msa, tmp_path: Path
) -> None:
    """Many clients each sending a large message slowly cannot make the MSA hold more than
    its data budget: one over it is read to its end and answered 452 (RFC 5321 section
    4.5.3.1.10, insufficient storage: try again later), and gets through once there is room."""
    ports, context, _queue = small_msa
    slow = await _signed_in(ports.implicit_tls, context)
    await _transaction(slow)
    slow.writer.write(HEADERS + b"s" * 70 + b"\r\n" + (b"z" * 70 + b"\r\n") * 50)  # ~3.7 kB
    await slow.writer.drain()
    other = await _signed_in(ports.implicit_tls, context)
    await _transaction(other)
    body = HEADERS + (b"o" * 70 + b"\r\n") * 40 + b".\r\n"  # ~2.9 kB: 6.6 kB in all
    for _ in range(50):  # until the server holds the slow message's first part
        reply = await other.send(body)
        if reply.startswith("452"):
            break
        assert reply.startswith("250")
        await _transaction(other)
    assert reply == "452 4.3.1 Insufficient system storage, try again later"
    assert (await slow.send(b".\r\n")).startswith("250 2.0.0 Ok: queued as")
    await _transaction(other)
    assert (await other.send(body)).startswith("250 2.0.0 Ok: queued as")
    await slow.close()
    await other.close()


async def test_a_client_gone_in_the_middle_of_data_queues_nothing(small_msa) -> None:
    ports, context, queue = small_msa
    wire = await _signed_in(ports.implicit_tls, context)
    await _transaction(wire)
    wire.writer.write(HEADERS + b"half a message\r\n")
    await wire.writer.drain()
    await wire.close()
    other = await _signed_in(ports.implicit_tls, context)  # the server is still there
    assert (await other.send("NOOP")).startswith("250")
    await other.close()
    assert queue.ids() == set()


async def test_dots_are_unstuffed_and_a_command_sent_behind_the_dot_is_answered(
    world: World, connect
) -> None:
    """RFC 5321 section 4.5.2 (a leading dot is doubled by the client) and RFC 2920 (a client
    may send its next command without waiting for the reply to the final dot)."""
    ports = world.providers["a.test"].ports
    wire = await connect(ports.submission_implicit, world.ca.client_context())
    await wire.send("EHLO client.test")
    alice = world.mailbox("alice@a.test")
    assert (await wire.send(_auth_plain(alice.user, alice.password))).startswith("235")
    await _transaction(wire)
    body = HEADERS + b"..leading dot\r\n...\r\n.\r\nQUIT\r\n"
    assert (await wire.send(body)).startswith("250 2.0.0 Ok: queued as")
    assert (await wire.reply()).startswith("221")
    delivered = await eventually(lambda: maildir_messages(world, "bob@b.test"), what="delivery")
    assert delivered[0].endswith(b"\r\n.leading dot\r\n..\r\n")


async def test_what_a_client_sends_in_clear_behind_starttls_is_never_read_as_sent_over_tls(
    world: World, connect
) -> None:
    """RFC 3207 section 4.2 and CVE-2011-0411: a command injected behind STARTTLS by someone
    on the path must not be taken for one the client sent inside TLS."""
    wire = await connect(world.providers["a.test"].ports.submission_starttls)
    await wire.send("EHLO client.test")
    wire.writer.write(b"STARTTLS\r\nRSET\r\n")
    await wire.writer.drain()
    assert (await wire.reply()).startswith("220")
    await wire.starttls(world.ca.client_context(), "smtp.a.test")
    reply = await wire.send("NOOP")  # the first reply inside TLS answers the first command
    assert reply == "250 OK"


async def test_stopping_the_world_ends_the_smtp_sessions_left_open(tmp_path: Path) -> None:
    """The MSA's and the MX's: neither outlives the world (the MX's was closed only by the
    garbage collector, an "unclosed transport" warning in whatever test ran then)."""
    world = World(tmp_path / "w", fast_options())
    await world.start()
    ports = world.providers["a.test"].ports
    idle = await Wire.open(ports.submission_implicit, world.ca.client_context())
    plain = await Wire.open(ports.submission_starttls)
    mx = await Wire.open(ports.mx)
    await asyncio.wait_for(world.stop(), 10.0)
    for wire in (idle, plain, mx):
        assert await asyncio.wait_for(wire.reader.read(), 5.0) == b""
        await wire.close()
