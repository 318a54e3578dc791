"""The demo world's man-in-the-middle, on loopback: what it changes and what it gets to read."""

from __future__ import annotations

import ssl
from pathlib import Path

from mua.stack.attacker import AttackMode, describe_attack
from mua.stack.world import World
from tests.conftest import eventually, fast_options, maildir_messages
from tests.smtp_wire import Wire
from tests.stackhelp import send

BODY = "Hi."  # what tests.stackhelp.message writes


def _options(mode: AttackMode, **b_test: object):
    options = fast_options(b_test={"dane": False, **b_test})
    options.attacker = mode
    return options


def _records(world: World, event: str) -> list[dict]:
    return [e for e in world.events.read() if e["event"] == event]


def _relay(world: World, side: str) -> dict:
    return next(e for e in _records(world, "leg") if e["leg"] == "relay" and e["side"] == side)


async def test_strip_removes_starttls_and_reads_the_message(tmp_path: Path) -> None:
    async with World(tmp_path / "world", _options(AttackMode.STRIP)) as world:
        await send(world, "alice@a.test", ["bob@b.test"], subject="Secret plans")
        (raw,) = await eventually(lambda: maildir_messages(world, "bob@b.test"))
        await eventually(lambda: _records(world, "relayed"), what="the MTA's record")
        (record,) = _records(world, "attacker")
        client, server = _relay(world, "client"), _relay(world, "server")
    assert b"Secret plans" in raw  # delivered: the attack is silent
    assert record["mode"] == "strip" and record["stripped"] and not record["intercepted"]
    read = record["read"]
    assert read["mail_from"] == "<alice@a.test>"
    assert read["rcpt_to"] == ["<bob@b.test>"]
    assert "Subject: Secret plans" in read["data"] and BODY in read["data"]
    assert record["message_id"]
    # Both ends saw cleartext: the MTA because no STARTTLS was offered, the MX because the
    # attacker spoke to it without TLS.
    assert client["tls"]["encrypted"] is False and server["tls"]["encrypted"] is False
    assert "did not offer STARTTLS" in client["note"]


async def test_intercept_reencrypts_and_reads_the_message(tmp_path: Path) -> None:
    async with World(tmp_path / "world", _options(AttackMode.INTERCEPT)) as world:
        await send(world, "alice@a.test", ["bob@b.test"], subject="Secret plans")
        await eventually(lambda: maildir_messages(world, "bob@b.test"))
        await eventually(lambda: _records(world, "relayed"), what="the MTA's record")
        (record,) = _records(world, "attacker")
        client, server = _relay(world, "client"), _relay(world, "server")
    assert record["intercepted"] and not record["stripped"]
    assert "Subject: Secret plans" in record["read"]["data"]
    # Encrypted on both sides of the attacker, yet it read everything in between.
    assert client["tls"]["encrypted"] is True and server["tls"]["encrypted"] is True
    assert client["tls"]["verified"] is False  # the attacker's CA is nobody's
    assert "Attacker" in client["note"]
    assert client["grade"] == "amber"


async def test_strip_rewrites_ehlo_and_refuses_starttls(tmp_path: Path) -> None:
    async with World(tmp_path / "world", _options(AttackMode.STRIP)) as world:
        assert world.attacker is not None and world.attacker.port is not None
        wire = await Wire.open(world.attacker.port)
        try:
            ehlo = await wire.send("EHLO probe.test")
            assert ehlo.startswith("250-mx.b.test") or ehlo.startswith("250 mx.b.test")
            lines = ehlo.split("\n")
            assert all(line.startswith("250-") for line in lines[:-1])
            assert lines[-1].startswith("250 ")
            assert "STARTTLS" not in ehlo and "PIPELINING" not in ehlo
            assert (await wire.send("STARTTLS")).startswith("454 4.7.0")
            assert (await wire.send("NOOP")).startswith("250")
            assert (await wire.send("QUIT")).startswith("221")
        finally:
            await wire.close()
        (record,) = await eventually(lambda: _records(world, "attacker"))
    assert record["read"]["commands"] == ["EHLO probe.test", "STARTTLS", "NOOP", "QUIT"]
    assert record["read"]["data"] is None and record["message_id"] is None


async def test_intercept_presents_its_own_certificate_for_the_mx_name(tmp_path: Path) -> None:
    async with World(tmp_path / "world", _options(AttackMode.INTERCEPT)) as world:
        assert world.attacker is not None and world.attacker.port is not None
        wire = await Wire.open(world.attacker.port)
        try:
            assert "STARTTLS" in await wire.send("EHLO probe.test")
            assert (await wire.send("STARTTLS")).startswith("220")
            attacker_ca = ssl.create_default_context(
                cafile=str(world.directory / "attacker-ca" / "ca.pem")
            )
            await wire.starttls(attacker_ca, server_hostname="mx.b.test")  # verifies
            assert (await wire.send("EHLO probe.test")).startswith("250")
            await wire.send("QUIT")
        finally:
            await wire.close()
        world_ca_refuses = ssl.create_default_context(cafile=str(world.ca.ca_file))
        wire = await Wire.open(world.attacker.port)
        try:
            await wire.send("EHLO probe.test")
            await wire.send("STARTTLS")
            try:
                await wire.starttls(world_ca_refuses, server_hostname="mx.b.test")
            except ssl.SSLCertVerificationError:
                pass
            else:
                raise AssertionError("the world's CA accepted the attacker's certificate")
        finally:
            await wire.close()


def test_describe_attack_says_what_was_read() -> None:
    events = [
        {"event": "attacker", "stripped": True, "message_id": "<m@a.test>", "mx": "mx.b.test"},
        {"event": "leg"},
    ]
    assert "read the whole message" in describe_attack(events, "<m@a.test>")
    nothing = [
        {
            "event": "attacker",
            "intercepted": True,
            "message_id": None,
            "mx": "mx.b.test",
            "read": {"commands": ["EHLO smtp.a.test", "STARTTLS", "QUIT"]},
        }
    ]
    told = describe_attack(nothing, "<m@a.test>")
    assert "read nothing of the message" in told and "EHLO, STARTTLS, QUIT" in told
    assert describe_attack([], "<m@a.test>") == ""
