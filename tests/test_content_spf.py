"""SPF in the world (issue 13, part 2): each provider's MTA sends from its own loopback
address, which its signed zone publishes as `v=spf1 ip4:<address> -all`; the MX checks the
MAIL FROM and HELO identities, records them in Authentication-Results and the event log, and
DMARC counts an aligned SPF pass."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from mua.core.authresults import parse_authentication_results
from mua.stack.demo import SCENARIOS, scenario_options, send_through
from mua.stack.spf_check import OUTSIDER_ADDRESS, loopback_aliases_work
from mua.stack.world import World
from tests.conftest import eventually, maildir_messages
from tests.stackhelp import send


def _top_results(raw: bytes) -> dict[str, list[str]]:
    """The MX's Authentication-Results (the top field): method -> results, in order."""
    top = raw.split(b"\r\n", 1)[0].decode()
    assert top.startswith("Authentication-Results: ")
    parsed = parse_authentication_results(top.partition(":")[2])
    assert parsed is not None
    found: dict[str, list[str]] = {}
    for result in parsed.results:
        found.setdefault(result.method, []).append(result.result)
    return found


def _checked(world: World) -> list[dict]:
    return [e for e in world.events.read() if e["event"] == "authenticated"]


def test_binding_another_loopback_address_works_here() -> None:
    assert loopback_aliases_work()  # Linux routes all of 127.0.0.0/8 to lo


async def test_each_domain_publishes_its_sending_address(world: World) -> None:
    resolver = world.resolver()
    a, b = world.providers["a.test"], world.providers["b.test"]
    assert (a.sending_address, b.sending_address) == ("127.0.0.1", "127.0.0.2")
    for provider in (a, b):
        for name in (provider.domain, provider.smtp_host):  # the domain and the HELO name
            found = await resolver.txt(name)
            assert found.secure  # in the DNSSEC-signed zone
            assert found.records == (f"v=spf1 ip4:{provider.sending_address} -all",)


async def test_a_demo_message_passes_spf_at_b_test(world: World) -> None:
    await send(world, "alice@a.test", ["bob@b.test"], subject="spf")
    (raw,) = await eventually(lambda: maildir_messages(world, "bob@b.test"), what="delivery")
    results = _top_results(raw)
    assert results["spf"] == ["pass", "pass"]  # MAIL FROM, then HELO
    assert results["dkim"] == ["pass"] and results["dmarc"] == ["pass"]
    top = raw.split(b"\r\n", 1)[0]
    assert b"smtp.mailfrom=alice@a.test" in top and b"smtp.helo=smtp.a.test" in top
    (checked,) = _checked(world)
    assert checked["spf"] == "pass" and checked["ip"] == "127.0.0.1"


async def test_b_test_sends_from_its_own_address(world: World) -> None:
    await send(world, "bob@b.test", ["alice@a.test"], subject="spf back")
    (raw,) = await eventually(lambda: maildir_messages(world, "alice@a.test"), what="delivery")
    assert raw.startswith(b"Authentication-Results: mx.a.test;")
    assert _top_results(raw)["spf"] == ["pass", "pass"]
    assert b"[127.0.0.2]" in raw  # the Received field of a.test's MX names b.test's address
    (checked,) = _checked(world)
    assert checked["spf"] == "pass" and checked["ip"] == "127.0.0.2"


async def test_an_aligned_spf_pass_satisfies_dmarc_without_a_signature(world: World) -> None:
    """An unsigned message from a.test's own address: DKIM none, SPF pass, so DMARC pass."""
    msg = EmailMessage()
    msg["From"] = "alice@a.test"
    msg["To"] = "bob@b.test"
    msg["Subject"] = "unsigned, from a.test's address"
    msg.set_content("hello\n")
    bob = world.providers["b.test"]
    assert bob.ports is not None
    await aiosmtplib.send(
        msg,
        hostname="127.0.0.1",
        port=bob.ports.mx,
        local_hostname="smtp.a.test",
        source_address=("127.0.0.1", 0),
        start_tls=False,
        timeout=10,
    )
    (raw,) = maildir_messages(world, "bob@b.test")
    results = _top_results(raw)
    assert results["dkim"] == ["none"] and results["spf"][0] == "pass"
    assert results["dmarc"] == ["pass"]


async def test_the_forged_message_fails_spf_and_dmarc(tmp_path: Path) -> None:
    scenario = SCENARIOS["forged"]
    async with World(tmp_path, scenario_options(scenario)) as world:
        sent = await send_through(world, scenario)
        (raw,) = maildir_messages(world, "bob@b.test")
        events = world.events.read()
    assert sent.trace.content is not None
    assert sent.trace.content.note.startswith("Not from a.test")
    results = _top_results(raw)
    assert results["spf"][0] == "fail" and results["dmarc"] == ["fail"]
    assert f"[{OUTSIDER_ADDRESS}]".encode() in raw  # the MX's Received field
    (checked,) = [e for e in events if e["event"] == "authenticated"]
    assert checked["spf"] == "fail" and checked["ip"] == OUTSIDER_ADDRESS


async def test_the_null_reverse_path_is_checked_by_its_helo_name(world: World) -> None:
    """A bounce or TLS report (MAIL FROM:<>) from b.test's MTA: SPF checks the HELO name
    (RFC 7208 section 2.4), and DMARC takes it as the SPF domain (RFC 7489 section 3.1.2)."""
    alice = world.providers["a.test"]
    assert alice.ports is not None
    message = b"From: bob@b.test\r\nTo: alice@a.test\r\nSubject: report\r\n\r\nreport\r\n"
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=alice.ports.mx,
        local_hostname="smtp.b.test",
        source_address=("127.0.0.2", 0),
        start_tls=False,
        timeout=10,
    )
    async with client:
        await client.sendmail("", ["alice@a.test"], message)
    (raw,) = maildir_messages(world, "alice@a.test")
    results = _top_results(raw)
    assert results["spf"] == ["pass"] and results["dmarc"] == ["pass"]
    top = raw.split(b"\r\n", 1)[0]
    assert b"smtp.helo=smtp.b.test" in top and b"smtp.mailfrom" not in top
