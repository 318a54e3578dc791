"""The MTA keeps a relay session open for the next message to the same MX (Postfix's
connection cache): fewer sessions than messages, each message delivered once, a session the
MX dropped replaced at once, and no message riding a session verified under a weaker policy."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mua.net.dns import Resolver
from mua.net.submission import submit
from mua.stack.relay import NextHop, RelayClient
from mua.stack.world import World
from tests.conftest import eventually, fast_options, maildir_messages
from tests.stackhelp import endpoint, message, send


def _count_sessions(world: World, domain: str) -> list[str]:
    """The connections `domain`'s MX admits from now on (its gate's `admit`, counted)."""
    gate = world.providers[domain].mx.gate
    admitted: list[str] = []
    admit = gate.admit

    def counting(address: str) -> str | None:
        admitted.append(address)
        return admit(address)

    gate.admit = counting  # type: ignore[method-assign]  # the real gate, counted
    return admitted


def _relay_legs(world: World, side: str) -> dict[str, dict]:
    return {
        e["message_id"]: e
        for e in world.events.read()
        if e["event"] == "leg" and e["leg"] == "relay" and e["side"] == side
    }


async def _send_and_wait(world: World, subject: str, delivered: int) -> None:
    await send(world, "alice@a.test", ["bob@b.test"], subject=subject)
    await eventually(lambda: len(maildir_messages(world, "bob@b.test")) >= delivered, what=subject)
    # The MX writes the Maildir before its 250 reaches the relay, which then keeps the session.
    relay = world.providers["a.test"].mta.relay
    await eventually(lambda: relay.sessions.idle, what="the session kept for the next")


async def test_messages_to_one_mx_share_a_session_and_each_arrives_once(world: World) -> None:
    world.providers["a.test"].mta.relay.sessions.idle_limit = 30.0  # however slow the machine
    admitted = _count_sessions(world, "b.test")
    for i in range(5):
        await _send_and_wait(world, f"reuse {i}", i + 1)
    assert len(admitted) == 1
    bodies = maildir_messages(world, "bob@b.test")
    assert sorted(b"reuse %d" % i in body for body in bodies for i in range(5)).count(True) == 5
    assert len(bodies) == 5
    # Every message's leg records the session's TLS, and both ends agree on it.
    await eventually(lambda: len(_relay_legs(world, "client")) == 5, what="5 client legs")
    client, server = _relay_legs(world, "client"), _relay_legs(world, "server")
    assert client.keys() == server.keys()
    for message_id, leg in client.items():
        assert leg["tls"]["encrypted"] and leg["tls"]["verified"]
        assert leg["policy"] == "DANE"
        mx_side = server[message_id]["tls"]
        assert (leg["tls"]["version"], leg["tls"]["cipher"]) == (
            mx_side["version"],
            mx_side["cipher"],
        )
    # TLS-RPT (RFC 8460) counts sessions, not messages.
    sessions = Path(world.providers["a.test"].directory) / "tlsrpt" / "sessions.jsonl"
    assert len(sessions.read_text().splitlines()) == 1


async def test_a_session_the_mx_closed_while_idle_is_replaced_without_a_deferral(
    tmp_path: Path,
) -> None:
    options = fast_options(b_test={"idle_timeout": 0.3})  # the MX drops idle sessions fast
    async with World(tmp_path, options) as world:
        world.providers["a.test"].mta.relay.sessions.idle_limit = 30.0
        admitted = _count_sessions(world, "b.test")
        mx = world.providers["b.test"].mx
        await _send_and_wait(world, "first", 1)
        await eventually(lambda: mx.gate.open == 0, what="the MX to close the idle session")
        await _send_and_wait(world, "second", 2)
        assert len(admitted) == 2
        assert not [e for e in world.events.read() if e["event"] == "deferred"]


async def test_a_requiretls_message_does_not_ride_a_session_of_a_weaker_policy(
    world: World,
) -> None:
    relay = world.providers["a.test"].mta.relay
    relay.sessions.idle_limit = 30.0
    admitted = _count_sessions(world, "b.test")
    await _send_and_wait(world, "plain", 1)  # a session verified under DANE alone
    alice = world.mailbox("alice@a.test")
    for i in range(2):
        await submit(
            endpoint(world, "alice@a.test"),
            message("alice@a.test", ["bob@b.test"], f"requiretls {i}"),
            username=alice.user,
            password=alice.password,
            timeout=10.0,
            requiretls=True,
        )
        await eventually(lambda i=i: len(maildir_messages(world, "bob@b.test")) == 2 + i)
        await eventually(lambda: relay.sessions.idle == 2, what="both sessions kept")
    # One session for the plain message, one opened under REQUIRETLS for both others.
    assert len(admitted) == 2
    await eventually(lambda: len(_relay_legs(world, "client")) == 3, what="3 client legs")
    policies = sorted(leg["policy"] for leg in _relay_legs(world, "client").values())
    assert policies == ["DANE", "REQUIRETLS", "REQUIRETLS"]


async def _mx(second_mail: bytes | None) -> tuple[asyncio.Server, list[bytes], list[int]]:
    """A plain SMTP server on loopback that takes every session's first message and answers
    its second MAIL FROM with `second_mail` (None: closes the connection without a word).
    Returns the server, the messages it took and, per session, its transactions."""
    taken: list[bytes] = []
    sessions: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sessions.append(0)
        index = len(sessions) - 1
        writer.write(b"220 mx.test ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-mx.test\r\n250 8BITMIME\r\n")
            elif verb == b"MAIL" and sessions[index] >= 1:
                if second_mail is None:
                    break
                writer.write(second_mail)
                break
            elif verb in (b"MAIL", b"RCPT", b"RSET"):
                writer.write(b"250 Ok\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go on\r\n")
                body = b""
                while (chunk := await reader.readline()) != b".\r\n":
                    body += chunk
                taken.append(body)
                sessions[index] += 1
                writer.write(b"250 Ok: queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 Bye\r\n")
                break
            await writer.drain()
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, taken, sessions


@pytest.mark.parametrize("second_mail", [b"421 4.3.2 shutting down\r\n", None])
async def test_a_reused_session_the_mx_drops_carries_the_message_on_a_new_one(
    second_mail: bytes | None,
) -> None:
    server, taken, sessions = await _mx(second_mail)
    port = server.sockets[0].getsockname()[1]
    relay = RelayClient(
        "smtp.a.test",
        Resolver(("127.0.0.1", 53)),
        port_for=lambda _host: port,
        timeout=5,
        next_hop=NextHop("mx.test"),
    )
    relay.sessions.idle_limit = 30.0
    try:
        for i in range(2):
            outcome = await relay.deliver("b.test", "a@a.test", ["b@b.test"], b"m%d\r\n" % i)
            assert outcome.delivered == ["b@b.test"] and not outcome.temporary
    finally:
        await relay.close()
        server.close()
        await server.wait_closed()
    assert taken == [b"m0\r\n", b"m1\r\n"]  # each once
    assert sessions == [1, 1]  # the second went over a new session, at once
