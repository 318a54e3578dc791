"""DANE in the relay (RFC 7672), through the whole world on loopback with real DNSSEC and TLS."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from pathlib import Path

from mua.stack.provider_options import MxTls
from mua.stack.relay import RelayClient
from mua.stack.world import World
from mua.stack.zones import DomainSpec
from tests.conftest import eventually, fast_options, maildir_messages
from tests.stackhelp import send

TLSA_OWNER = "_25._tcp.mx.b.test"


def _records(world: World, event: str) -> list[dict]:
    return [e for e in world.events.read() if e["event"] == event]


def _client_relay(world: World) -> dict:
    return next(
        e
        for e in _records(world, "leg")
        if e["leg"] == "relay" and e["side"] == "client" and e["to"]["host"] == "mx.b.test"
    )


def _publish_tlsa(world: World, records: list[tuple[int, int, int, bytes]], **b: object):
    def edit(specs: list[DomainSpec]) -> None:
        spec = next(s for s in specs if s.domain == "b.test")
        spec.tlsa = {TLSA_OWNER: records}
        for key, value in b.items():
            setattr(spec, key, value)

    world.rebuild_zones(edit)


async def _deferral(world: World) -> dict:
    (first, *_) = await eventually(lambda: _records(world, "deferred"), what="a deferral")
    return first


def _mx_saw_a_message(world: World) -> bool:
    return any(e["leg"] == "relay" and e["side"] == "server" for e in _records(world, "leg"))


async def test_matching_tlsa_authenticates_the_mx(world: World) -> None:
    await send(world, "alice@a.test", ["bob@b.test"])
    await eventually(lambda: _records(world, "relayed"))
    leg = _client_relay(world)
    assert leg["tls"]["verified"] is True and leg["tls"]["verified_by"] == "dane"
    assert leg["grade"] == "green" and leg["policy"] == "DANE"
    assert "authenticated by DANE" in leg["note"] and "3 1 1" in leg["note"]


async def test_mismatching_tlsa_defers_until_it_matches(world: World) -> None:
    _publish_tlsa(world, [(3, 1, 1, b"\x01" * 32)])
    await send(world, "alice@a.test", ["bob@b.test"])
    deferred = await _deferral(world)
    assert deferred["reason"].startswith("mx.b.test [127.0.0.1]: DANE:")
    leg = _client_relay(world)
    assert leg["note"].startswith("DANE stopped it:")
    assert leg["tls"]["encrypted"] is True and leg["tls"]["verified"] is False
    assert not _mx_saw_a_message(world) and not maildir_messages(world, "bob@b.test")
    # The deferral is temporary: once the record matches the key again, the retry delivers.
    pin = world.providers["b.test"].mx_cert.spki_sha256()
    _publish_tlsa(world, [(3, 1, 1, b"\x01" * 32), (3, 1, 1, pin)])
    world.providers["a.test"].mta.relay.resolver.flush()
    await eventually(lambda: maildir_messages(world, "bob@b.test"), what="delivery on retry")
    await eventually(lambda: _records(world, "relayed"), what="the MTA's record of the 250")


async def test_bogus_tlsa_signature_defers(world: World) -> None:
    world.zones.corrupt_signature(TLSA_OWNER, "TLSA")
    await send(world, "alice@a.test", ["bob@b.test"])
    deferred = await _deferral(world)
    assert "DANE: the TLSA records of mx.b.test failed DNSSEC validation" in deferred["reason"]
    assert not _mx_saw_a_message(world)
    assert not [e for e in _records(world, "leg") if e["leg"] == "relay"]  # never connected


async def test_bogus_mx_signature_defers(world: World) -> None:
    world.zones.corrupt_signature("b.test", "MX")
    await send(world, "alice@a.test", ["bob@b.test"])
    deferred = await _deferral(world)
    assert deferred["reason"].startswith("DNSSEC: the MX records of b.test failed validation")
    assert not _mx_saw_a_message(world)


async def test_unusable_tlsa_still_makes_tls_mandatory(tmp_path: Path) -> None:
    """RFC 7672 section 2.2: a secure TLSA RRset with no usable record means TLS without
    authentication; an MX that offers no STARTTLS is not used."""
    options = fast_options(b_test={"mx_tls": MxTls.NONE})
    async with World(tmp_path / "world", options) as world:
        _publish_tlsa(world, [(1, 1, 1, b"\x01" * 32)])  # PKIX-EE: not for SMTP
        await send(world, "alice@a.test", ["bob@b.test"])
        deferred = await _deferral(world)
        assert "did not offer STARTTLS" in deferred["reason"]
        assert not _mx_saw_a_message(world)


async def test_unusable_tlsa_with_starttls_delivers_encrypted_unauthenticated(
    world: World,
) -> None:
    _publish_tlsa(world, [(3, 1, 9, b"\x01" * 32)])  # unknown matching type
    await send(world, "alice@a.test", ["bob@b.test"])
    await eventually(lambda: _records(world, "relayed"))
    leg = _client_relay(world)
    assert leg["tls"]["encrypted"] is True and leg["tls"]["verified_by"] == "pki"
    assert leg["grade"] == "amber" and leg["policy"] == "DANE"
    assert "none of them is usable, so DANE authenticated nothing" in leg["note"]


async def test_tlsa_in_an_unsigned_zone_is_ignored(world: World) -> None:
    """RFC 7672 section 2.2: without DNSSEC the TLSA record could be forged, so it is not
    used; the relay is opportunistic (and here the certificate verifies by PKI)."""
    _publish_tlsa(world, [(3, 1, 1, b"\x01" * 32)], signed=False)
    await send(world, "alice@a.test", ["bob@b.test"])
    await eventually(lambda: maildir_messages(world, "bob@b.test"))
    await eventually(lambda: _records(world, "relayed"))
    leg = _client_relay(world)
    assert leg["tls"]["verified_by"] == "pki" and leg["grade"] == "amber"
    assert leg["policy"] is None


async def test_publishing_no_tlsa_leaves_the_relay_opportunistic(tmp_path: Path) -> None:
    options = fast_options(b_test={"dane": False})
    async with World(tmp_path / "world", options) as world:
        assert not (await world.resolver().tlsa(25, "mx.b.test")).exists
        await send(world, "alice@a.test", ["bob@b.test"])
        await eventually(lambda: _records(world, "relayed"))
        leg = _client_relay(world)
    assert leg["tls"]["verified_by"] == "pki" and leg["grade"] == "amber"
    assert "no policy required it" in leg["note"]


def test_provider_options_default_to_publishing_dane() -> None:
    options = fast_options()
    assert options.providers["b.test"].dane is True
    assert replace(options.providers["b.test"], dane=False).dane is False


async def test_a_relay_cancelled_mid_session_closes_its_connection(world: World) -> None:
    """The world stopping cancels relays in flight: a session cancelled while it waits for
    the MX (here one that greets, then never answers) closes its connection at once: no
    QUIT that would wait for the silent server, no socket left to the garbage collector."""
    accepted: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.b.test ESMTP\r\n")  # then never another word
        accepted.append((reader, writer))

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    relay = RelayClient("smtp.a.test", world.resolver(), port_for=lambda _mx: port, timeout=30)
    try:
        sending = asyncio.create_task(relay.deliver("b.test", "alice@a.test", ["bob@b.test"], b"x"))
        await eventually(lambda: accepted, what="the relay to connect")
        reader, _writer = accepted[0]
        assert (await reader.readline()).startswith(b"EHLO")  # it waits for the answer now
        sending.cancel()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, without a QUIT
        with contextlib.suppress(asyncio.CancelledError):
            await sending
    finally:
        for _reader, writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
