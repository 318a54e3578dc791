"""What the world's SMTP servers say to clients that do it wrong, or do it on purpose."""

from __future__ import annotations

import base64
import ssl

from mua.stack.world import World
from tests.conftest import eventually, maildir_messages
from tests.smtp_wire import Wire


def _ports(world: World, domain: str):
    return world.providers[domain].ports


def _auth_plain(user: str, password: str) -> str:
    return "AUTH PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode()


async def test_starttls_port_offers_no_auth_before_tls(world: World, connect) -> None:
    wire = await connect(_ports(world, "a.test").submission_starttls)
    ehlo = await wire.send("EHLO client.test")
    assert "STARTTLS" in ehlo
    assert "AUTH" not in ehlo
    alice = world.mailbox("alice@a.test")
    assert (await wire.send(_auth_plain(alice.user, alice.password))).startswith("530 5.7.0")
    reply = await wire.send("MAIL FROM:<alice@a.test>")
    assert reply == "530 5.7.0 Must issue a STARTTLS command first"
    assert (await wire.send("STARTTLS")).startswith("220")
    await wire.starttls(world.ca.client_context(), "smtp.a.test")
    ehlo = await wire.send("EHLO client.test")
    auth = next(line for line in ehlo.splitlines() if line[4:].startswith("AUTH "))
    assert {"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"} == set(auth[4:].split()[1:])
    assert (await wire.send(_auth_plain(alice.user, alice.password))).startswith("235")


async def test_implicit_tls_port_accepts_auth(world: World, connect) -> None:
    wire = await connect(_ports(world, "a.test").submission_implicit, world.ca.client_context())
    assert "AUTH" in await wire.send("EHLO client.test")
    alice = world.mailbox("alice@a.test")
    assert (await wire.send(_auth_plain(alice.address, alice.password))).startswith("235")


async def test_msa_is_no_open_relay(world: World, connect) -> None:
    wire = await connect(_ports(world, "a.test").submission_implicit, world.ca.client_context())
    await wire.send("EHLO client.test")
    assert (await wire.send("MAIL FROM:<alice@a.test>")).startswith("530 5.7.0 Authentication")
    assert (await wire.send(_auth_plain("alice", "wrong"))).startswith("535")
    alice = world.mailbox("alice@a.test")
    assert (await wire.send(_auth_plain(alice.user, alice.password))).startswith("235")
    # Authenticated, but not as the owner of that address.
    reply = await wire.send("MAIL FROM:<bob@b.test>")
    assert reply.startswith("553 5.7.1")


async def test_mx_refuses_to_relay_and_unknown_users(world: World, connect) -> None:
    wire = await connect(_ports(world, "b.test").mx)
    ehlo = await wire.send("EHLO mta.test")
    assert "STARTTLS" in ehlo
    assert "AUTH" not in ehlo
    assert (await wire.send("MAIL FROM:<someone@elsewhere.test>")).startswith("250")
    assert (await wire.send("RCPT TO:<victim@c.test>")).startswith("550 5.7.1")
    assert (await wire.send("RCPT TO:<alice@a.test>")).startswith("550 5.7.1")
    assert (await wire.send("RCPT TO:<nobody@b.test>")).startswith("550 5.1.1")
    assert (await wire.send("RCPT TO:<bob@b.test>")).startswith("250")


async def test_malformed_commands_get_5xx_and_the_server_carries_on(world: World, connect) -> None:
    port = _ports(world, "b.test").mx
    wire = await connect(port)
    assert (await wire.send("FROBNICATE")).startswith("500")
    assert (await wire.send("MAIL FROM:<a@b.test>")).startswith("503")  # no EHLO yet
    await wire.send("EHLO mta.test")
    assert (await wire.send("MAIL FROM:<unterminated")).startswith("501")
    assert (await wire.send("RCPT TO:<bob@b.test>")).startswith("503")  # no MAIL yet
    assert (await wire.send("MAIL FROM:" + "x" * 2000)).startswith("500")  # line too long
    assert (await wire.send(b"\xff\xfe\x00garbage\r\n"))[:1] == "5"
    assert (await wire.send("DATA")).startswith("503")
    # The server still serves the next client normally.
    wire = await connect(port)
    assert (await wire.send("EHLO mta.test")).startswith("250")


async def test_size_limit_is_advertised_and_enforced(world: World, connect) -> None:
    wire = await connect(_ports(world, "b.test").mx)
    ehlo = await wire.send("EHLO mta.test")
    limit = int(next(line for line in ehlo.splitlines() if "SIZE" in line).split()[-1])
    assert limit >= 10 * 1024 * 1024
    reply = await wire.send(f"MAIL FROM:<x@elsewhere.test> SIZE={limit + 1}")
    assert reply.startswith("552")


async def test_a_silent_client_is_disconnected_after_the_idle_timeout(tmp_path, connect) -> None:
    from mua.stack.world import World
    from tests.conftest import fast_options

    options = fast_options(b_test={"idle_timeout": 0.5})
    async with World(tmp_path / "w", options) as world:
        wire = await connect(_ports(world, "b.test").mx)
        reply = await wire.reply(timeout=5.0)  # we say nothing; the server gives up on us
        assert reply == "<closed>" or reply.startswith("421")


async def test_client_dropping_mid_data_loses_nothing_and_delivers_nothing(
    world: World, connect
) -> None:
    wire = await connect(_ports(world, "b.test").mx)
    await wire.send("EHLO mta.test")
    await wire.send("MAIL FROM:<x@elsewhere.test>")
    await wire.send("RCPT TO:<bob@b.test>")
    assert (await wire.send("DATA")).startswith("354")
    wire.writer.write(b"Subject: half\r\n\r\nthe connection drops here")
    await wire.writer.drain()
    await wire.close()
    # A complete message afterwards is delivered, and only it.
    wire = await connect(_ports(world, "b.test").mx)
    await wire.send("EHLO mta.test")
    await wire.send("MAIL FROM:<x@elsewhere.test>")
    await wire.send("RCPT TO:<bob@b.test>")
    await wire.send("DATA")
    assert (await wire.send(b"Subject: whole\r\n\r\nbody\r\n.\r\n")).startswith("250")
    (raw,) = await eventually(lambda: maildir_messages(world, "bob@b.test"))
    assert b"Subject: whole" in raw


async def test_untrusted_certificate_fails_the_client_handshake(world: World, connect) -> None:
    other = ssl.create_default_context()  # the system store does not know the world's CA
    try:
        await Wire.open(_ports(world, "a.test").submission_implicit, other)
    except ssl.SSLCertVerificationError as exc:
        assert "certificate verify failed" in str(exc)
    else:
        raise AssertionError("the handshake should have failed")
