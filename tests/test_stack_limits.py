"""The world's servers against abuse (issue 14, faults 8 and 9): a forged From:, thousands of
recipients, more connections than allowed, sockets left idle."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator

import pytest

from mua.stack.limits import ConnectionLimits
from mua.stack.world import World
from tests.conftest import eventually, fast_options, maildir_messages
from tests.smtp_wire import Wire


def _auth_plain(user: str, password: str) -> str:
    return "AUTH PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode()


async def _signed_in(world: World, connect, address: str = "alice@a.test") -> Wire:
    ports = world.providers[address.rpartition("@")[2]].ports
    wire = await connect(ports.submission_implicit, world.ca.client_context())
    await wire.send("EHLO client.test")
    mailbox = world.mailbox(address)
    assert (await wire.send(_auth_plain(mailbox.user, mailbox.password))).startswith("235")
    return wire


async def _data(wire: Wire, sender: str, to: str, head: str) -> str:
    assert (await wire.send(f"MAIL FROM:<{sender}>")).startswith("250")
    assert (await wire.send(f"RCPT TO:<{to}>")).startswith("250")
    assert (await wire.send("DATA")).startswith("354")
    return await wire.send(f"{head}Subject: s\r\n\r\nbody\r\n.\r\n".encode())


async def test_the_msa_refuses_a_from_header_the_user_does_not_own(world: World, connect):
    wire = await _signed_in(world, connect)
    for forged in ("From: Bob <bob@b.test>\r\n", "From: alice@a.test, ceo@a.test\r\n",
                   "From: =?utf-8?q?Alice?= <mallory@a.test>\r\n"):  # fmt: skip
        reply = await _data(wire, "alice@a.test", "bob@b.test", forged)
        assert reply.startswith("550 5.7.1") and "From" in reply, (forged, reply)
    reply = await _data(wire, "alice@a.test", "bob@b.test", "From: Alice <Alice@A.test>\r\n")
    assert reply.startswith("250"), reply
    (raw,) = await eventually(lambda: maildir_messages(world, "bob@b.test"))
    assert b"Alice@A.test" in raw


async def test_more_than_the_recipient_limit_get_452(world: World, connect) -> None:
    limit = world.providers["a.test"].options.max_recipients
    assert limit >= 100  # RFC 5321 section 4.5.3.1.8
    for wire, sender in (
        (await _signed_in(world, connect), "alice@a.test"),
        (await connect(world.providers["b.test"].ports.mx), "x@elsewhere.test"),
    ):
        if sender.endswith("elsewhere.test"):
            await wire.send("EHLO mta.test")
        assert (await wire.send(f"MAIL FROM:<{sender}>")).startswith("250")
        for _n in range(limit):  # the same recipient again is accepted again
            assert (await wire.send("RCPT TO:<bob@b.test>")).startswith("250")
        assert (await wire.send("RCPT TO:<bob@b.test>")) == "452 4.5.3 Too many recipients"
        assert (await wire.send("RSET")).startswith("250")  # a new transaction starts afresh
        assert (await wire.send(f"MAIL FROM:<{sender}>")).startswith("250")
        assert (await wire.send("RCPT TO:<bob@b.test>")).startswith("250")


async def _first_line(port: int, source: str, context=None) -> tuple[str, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, local_addr=(source, 0),
        server_hostname="127.0.0.1" if context else None,
    )  # fmt: skip
    line = await asyncio.wait_for(reader.readline(), 5.0)
    return line.decode().rstrip("\r\n"), writer


async def _closed(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await writer.wait_closed()


LIMITS = ConnectionLimits(total=5, per_address=3, stress_idle_timeout=300.0)


@pytest.fixture
async def limited(tmp_path) -> AsyncIterator[World]:
    options = fast_options(a_test={"connection_limits": LIMITS})
    async with World(tmp_path / "w", options) as world:
        yield world


@pytest.mark.parametrize(
    "listener",
    [
        "submission_implicit",
        "submission_starttls",
        "mx",
        "imap_implicit",
        "imap_starttls",
    ],
)
async def test_one_connection_over_a_limit_is_refused_with_a_reason(limited: World, listener):
    port = getattr(limited.providers["a.test"].ports, listener)
    context = limited.ca.client_context() if listener.endswith("implicit") else None
    smtp = not listener.startswith("imap")
    welcome, refusal = ("220 ", "421 4.7.0 ") if smtp else ("* OK", "* BYE [UNAVAILABLE] ")
    opened = []
    for source in ("127.0.0.1",) * 3:
        line, writer = await _first_line(port, source, context)
        opened.append(writer)
        assert line.startswith(welcome), (source, line)
    line, writer = await _first_line(port, "127.0.0.1", context)  # per address: 3
    assert line.startswith(refusal) and line.endswith("too many connections from 127.0.0.1")
    await _closed(writer)
    for source in ("127.0.0.2",) * 2:
        line, writer = await _first_line(port, source, context)
        opened.append(writer)
        assert line.startswith(welcome), (source, line)
    line, writer = await _first_line(port, "127.0.0.3", context)  # in all: 5
    assert line.startswith(refusal) and line.endswith("too many connections"), line
    await _closed(writer)
    await _closed(opened.pop(0))  # a slot of 127.0.0.1's comes free
    await eventually(lambda: _gate(limited, listener).open == 4, what="the slot to free")
    line, last = await _first_line(port, "127.0.0.1", context)
    assert line.startswith(welcome), line
    for writer in [*opened, last]:
        await _closed(writer)


def _gate(world: World, listener: str):
    provider = world.providers["a.test"]
    if listener.startswith("submission"):
        return provider.msa.gates[listener.endswith("implicit")]
    if listener.startswith("imap"):
        return provider.ms.gates[listener.endswith("implicit")]
    return provider.mx.gate


async def test_idle_sockets_are_closed_and_sooner_under_stress(tmp_path) -> None:
    """Every plain SMTP listener (MX, and the 587 role before STARTTLS) closes a socket that
    says nothing after its idle timeout; under stress (over half the connection limit) a new
    socket gets the short stress timeout instead of the 5 minutes RFC 5321 grants."""
    limits = ConnectionLimits(total=4, per_address=4, stress_idle_timeout=0.5)
    options = fast_options(
        a_test={"idle_timeout": 0.5}, b_test={"idle_timeout": 300.0, "connection_limits": limits}
    )
    async with World(tmp_path / "w", options) as world:
        a, b = world.providers["a.test"].ports, world.providers["b.test"].ports
        for port in (a.submission_starttls, a.mx):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert (await reader.readline()).startswith(b"220")
            assert await asyncio.wait_for(reader.read(), 5.0) in (b"", b"421")
            await _closed(writer)
        calm = []
        for _ in range(2):  # 2 of 4: not yet under stress
            reader, writer = await asyncio.open_connection("127.0.0.1", b.mx)
            assert (await reader.readline()).startswith(b"220")
            calm.append((reader, writer))
        reader, writer = await asyncio.open_connection("127.0.0.1", b.mx)  # 3 of 4: stress
        assert (await reader.readline()).startswith(b"220")
        assert await asyncio.wait_for(reader.read(), 5.0) == b""  # closed after 0.5 s
        await _closed(writer)
        for calm_reader, calm_writer in calm:  # the others keep their 5 minutes
            calm_writer.write(b"NOOP\r\n")
            assert (await calm_reader.readline()).startswith(b"250")
            await _closed(calm_writer)
        imap = []  # the IMAP 143 role the same way: its 60 s before login drop to 0.5 s
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", b.imap_starttls)
            assert (await reader.readline()).startswith(b"* OK")
            imap.append((reader, writer))
        assert (
            await asyncio.wait_for(imap[2][0].readline(), 5.0)
            == b"* BYE Autologout; idle for too long\r\n"
        )
        imap[0][1].write(b"a NOOP\r\n")
        assert (await imap[0][0].readline()).startswith(b"a OK")
        for _reader, writer in imap:
            await _closed(writer)


async def test_the_client_sends_recipients_over_the_limit_in_another_transaction(
    tmp_path,
) -> None:
    """aiosmtplib takes 452 for some recipients as refused ones and sends to the rest; the
    submission client sends the refused ones again in a new transaction (RFC 5321 section
    4.5.3.1.10), so everyone gets one copy."""
    from tests.stackhelp import send

    options = fast_options(
        a_test={"max_recipients": 2}, b_test={"users": ("bob", "carol", "dave", "erin", "fay")}
    )
    async with World(tmp_path / "w", options) as world:
        everyone = [f"{name}@b.test" for name in ("bob", "carol", "dave", "erin", "fay")]
        result = await send(world, "alice@a.test", everyone, subject="to five")
        assert result.refused == {}
        for address in everyone:
            (raw,) = await eventually(lambda a=address: maildir_messages(world, a), what=address)
            assert b"Subject: to five" in raw
