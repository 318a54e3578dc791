"""The MX's DATA (mua/stack/smtpd_data.py): what its sessions hold of their messages is
bounded in all, not only per message, and the rest of DATA is still aiosmtpd's behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from mua.stack.events import EventLog
from mua.stack.mda import Mda
from mua.stack.mx import Mx
from mua.stack.users import Mailbox, UserDirectory
from tests.conftest import eventually
from tests.smtp_wire import Wire

HEADERS = b"From: carol@c.test\r\nTo: bob@b.test\r\nSubject: s\r\n\r\n"


@pytest.fixture
async def small_mx(tmp_path: Path):
    """An MX (no TLS, no DNS checks) whose messages may be 4 kB at most, its sessions holding
    6 kB of message data at most in all, delivering to bob's Maildir."""
    mda = Mda(tmp_path / "mail")
    mx = Mx(
        hostname="mx.b.test",
        users=UserDirectory("b.test", [Mailbox("bob", "b.test", "secret")]),
        mda=mda,
        events=EventLog(tmp_path / "events.jsonl"),
        tls_context=None,
        data_size_limit=4096,
        data_memory=6000,
    )
    port = await mx.start()
    yield mx, port, mda.maildir("bob")
    await mx.stop()
    assert mx.budget.taken == 0  # every session gave back what it held


async def _transaction(port: int) -> Wire:
    wire = await Wire.open(port)
    assert (await wire.send("EHLO mta.c.test")).startswith("250")
    await _mail(wire)
    return wire


async def _mail(wire: Wire) -> None:
    assert (await wire.send("MAIL FROM:<carol@c.test>")).startswith("250")
    assert (await wire.send("RCPT TO:<bob@b.test>")).startswith("250")
    assert (await wire.send("DATA")).startswith("354")


def _delivered(maildir: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted((maildir / "new").glob("*"))]


async def test_messages_held_by_slow_senders_are_bounded_in_all_and_the_next_one_gets_452(
    small_mx,
) -> None:
    """Before, each of 500 connections could hold a message of the SIZE limit (25 MB: 12.5 GB
    in all); now one past the MX's budget is read to its end and answered 452 (RFC 5321
    section 4.5.3.1.10: try again later), and goes through once there is room."""
    mx, port, maildir = small_mx
    slow = await _transaction(port)
    slow.writer.write(HEADERS + (b"z" * 70 + b"\r\n") * 51)  # ~3.7 kB, unfinished
    await slow.writer.drain()
    other = await _transaction(port)
    body = HEADERS + (b"o" * 70 + b"\r\n") * 40 + b".\r\n"  # ~2.9 kB: 6.6 kB in all
    for _ in range(50):  # until the server holds the slow message's lines
        reply = await other.send(body)
        if reply.startswith("452"):
            break
        assert reply.startswith("250")
        await _mail(other)
    assert reply == "452 4.3.1 Insufficient system storage, try again later"
    assert (await slow.send(b".\r\n")).startswith("250")
    await _mail(other)
    assert (await other.send(body)).startswith("250")
    assert mx.budget.taken == 0
    await slow.close()
    await other.close()
    assert any(b"z" * 70 in m for m in _delivered(maildir))


async def test_a_sender_gone_in_the_middle_of_data_gives_its_share_back(small_mx) -> None:
    mx, port, maildir = small_mx
    wire = await _transaction(port)
    wire.writer.write(HEADERS + b"half a message\r\n")
    await wire.writer.drain()
    await eventually(lambda: mx.budget.taken > 0)
    await wire.close()
    await eventually(lambda: mx.budget.taken == 0)
    assert _delivered(maildir) == []


async def test_too_much_a_too_long_line_and_dots_as_before(small_mx) -> None:
    _mx, port, maildir = small_mx
    wire = await _transaction(port)
    reply = await wire.send(HEADERS + (b"x" * 70 + b"\r\n") * 100 + b".\r\n")  # ~7 kB
    assert reply == "552 Error: Too much mail data"
    await _mail(wire)
    reply = await wire.send(HEADERS + b"y" * 1200 + b"\r\n.\r\n")  # RFC 5321: 1,000 at most
    assert reply == "500 Line too long (see RFC5321 4.5.3.1.6)"
    await _mail(wire)
    reply = await wire.send(HEADERS + b"y" * 20_000 + b"\r\n.\r\n")  # past the reader's limit
    assert reply == "500 Line too long (see RFC5321 4.5.3.1.6)"
    await _mail(wire)  # the session is whole; a stuffed dot is unstuffed (RFC 5321 4.5.2)
    assert (await wire.send(HEADERS + b"..leading dot\r\n.\r\n")).startswith("250")
    assert (await wire.send("DATA")).startswith("503")  # the transaction was reset
    await wire.close()
    (message,) = _delivered(maildir)
    assert b"\r\n.leading dot\r\n" in message and b"..leading" not in message
