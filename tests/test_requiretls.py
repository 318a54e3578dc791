"""REQUIRETLS (RFC 8689): advertised over TLS, refused in clear, honoured end to end by the
relay or the message returned; `TLS-Required: No` lets the relay ignore the domain's policy."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from mua.core.legs import LegKind, TraceStatus
from mua.net.submission import Security, SubmissionEndpoint, submit
from mua.net.submission_errors import RequireTlsUnsupported
from mua.stack.demo import SCENARIOS, run_demo, scenario_options
from mua.stack.events import EventLog
from mua.stack.tls_policy import returned_reason
from mua.stack.world import World
from tests.conftest import eventually, fast_options, maildir_messages
from tests.stackhelp import endpoint, message


def _any_certificate() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _extensions(ehlo_reply: str) -> set[str]:
    return {line[4:].split()[0].upper() for line in ehlo_reply.splitlines()[1:] if line[4:]}


async def test_the_mx_advertises_requiretls_only_after_starttls(world: World, connect) -> None:
    port = world.providers["b.test"].ports.mx
    wire = await connect(port)
    before = await wire.send("EHLO client.test")
    assert "STARTTLS" in _extensions(before) and "REQUIRETLS" not in _extensions(before)
    assert (await wire.send("STARTTLS")).startswith("220")
    await wire.starttls(_any_certificate(), "mx.b.test")
    after = await wire.send("EHLO client.test")
    assert "REQUIRETLS" in _extensions(after)
    reply = await wire.send("MAIL FROM:<alice@a.test> REQUIRETLS")
    assert reply.startswith("250"), reply


async def test_the_msa_advertises_requiretls_on_implicit_tls(world: World, connect) -> None:
    wire = await connect(world.providers["a.test"].ports.submission_implicit, _any_certificate())
    assert "REQUIRETLS" in _extensions(await wire.send("EHLO client.test"))


async def test_mail_from_requiretls_in_clear_is_refused(world: World, connect) -> None:
    wire = await connect(world.providers["b.test"].ports.mx)
    await wire.send("EHLO client.test")
    reply = await wire.send("MAIL FROM:<alice@a.test> REQUIRETLS")
    assert reply.startswith("530 5.7.10"), reply
    # The session goes on: the same sender without the parameter is accepted.
    assert (await wire.send("MAIL FROM:<alice@a.test>")).startswith("250")


async def test_submit_with_requiretls_fails_clearly_where_it_is_not_offered(world: World) -> None:
    mx = SubmissionEndpoint(
        host="127.0.0.1",
        port=world.providers["b.test"].ports.mx,
        security=Security.NONE,
        server_name="mx.b.test",
    )
    with pytest.raises(RequireTlsUnsupported, match="does not offer REQUIRETLS"):
        await submit(
            mx,
            message("alice@a.test", ["bob@b.test"]),
            username=None,
            password=None,
            allow_cleartext=True,
            requiretls=True,
            timeout=5.0,
        )
    assert maildir_messages(world, "bob@b.test") == []


async def test_requiretls_is_honoured_end_to_end(tmp_path: Path) -> None:
    trace = await run_demo(SCENARIOS["requiretls"], tmp_path)
    assert trace.status is TraceStatus.DELIVERED
    (relay,) = [leg for leg in trace.legs if leg.kind is LegKind.RELAY]
    assert relay.grade.value == "green"
    assert "REQUIRETLS was passed on" in relay.note
    # The sending MTA recorded that REQUIRETLS governed the relay leg.
    records = EventLog(tmp_path / "events.jsonl").read()
    (client,) = [
        r
        for r in records
        if r["event"] == "leg"
        and r.get("side") == "client"
        and r.get("message_id") == trace.message_id
    ]
    assert client["policy"] == "REQUIRETLS"


async def test_requiretls_strip_returns_the_message_and_the_attacker_reads_nothing(
    tmp_path: Path,
) -> None:
    trace = await run_demo(SCENARIOS["requiretls-strip"], tmp_path)
    assert trace.status is TraceStatus.BOUNCED
    assert [leg.to.role.value for leg in trace.legs] == ["MSA", "MTA", "MX"]
    records = EventLog(tmp_path / "events.jsonl").read()
    (bounced,) = [
        r for r in records if r["event"] == "bounced" and r.get("message_id") == trace.message_id
    ]
    assert bounced["reasons"]["bob@b.test"].startswith("550 5.7.10")
    attacks = [r for r in records if r["event"] == "attacker"]
    assert attacks
    for record in attacks:
        read = record["read"]
        assert read["data"] is None and read["mail_from"] is None and read["rcpt_to"] == []
        assert "bob@b.test" not in json.dumps(record)


def test_a_missing_requiretls_offer_is_5_7_30() -> None:
    assert returned_reason(["5.7.10", "5.7.30"], "x").startswith(
        "550 5.7.30 REQUIRETLS support required"
    )
    assert returned_reason(["5.7.10"], "x").startswith("550 5.7.10")


async def test_tls_required_no_relays_past_the_domain_policy(tmp_path: Path) -> None:
    """strip-dane defers a normal message; with `TLS-Required: No` (RFC 8689 sections 3, 4.2.2) the
    sender's MTA ignores the TLSA records and delivers, as the sender asked."""
    async with World(tmp_path, scenario_options(SCENARIOS["strip-dane"])) as world:
        alice = world.mailbox("alice@a.test")
        msg = message("alice@a.test", ["bob@b.test"], "no TLS needed")
        msg["TLS-Required"] = "No"
        await submit(
            endpoint(world, "alice@a.test"),
            msg,
            username=alice.user,
            password=alice.password,
            timeout=10.0,
        )
        delivered = await eventually(
            lambda: maildir_messages(world, "bob@b.test"), what="delivery to bob"
        )
        assert b"no TLS needed" in delivered[0]
        assert not [e for e in world.events.read() if e["event"] == "deferred"]


async def test_requiretls_overrides_tls_required_no(tmp_path: Path) -> None:
    """Section 4.1: with the REQUIRETLS parameter the header field is ignored."""
    async with World(tmp_path, scenario_options(SCENARIOS["requiretls-strip"])) as world:
        alice = world.mailbox("alice@a.test")
        msg = message("alice@a.test", ["bob@b.test"], "both")
        msg["TLS-Required"] = "No"
        await submit(
            endpoint(world, "alice@a.test"),
            msg,
            username=alice.user,
            password=alice.password,
            timeout=10.0,
            requiretls=True,
        )
        await eventually(
            lambda: [e for e in world.events.read() if e["event"] == "bounced"], what="a bounce"
        )
        assert maildir_messages(world, "bob@b.test") == []


async def test_an_mx_without_the_extension_refuses_the_parameter(tmp_path: Path, connect) -> None:
    async with World(tmp_path, fast_options(b_test={"mx_requiretls": False})) as world:
        wire = await connect(world.providers["b.test"].ports.mx)
        await wire.send("EHLO client.test")
        assert (await wire.send("STARTTLS")).startswith("220")
        await wire.starttls(_any_certificate(), "mx.b.test")
        assert "REQUIRETLS" not in _extensions(await wire.send("EHLO client.test"))
        reply = await wire.send("MAIL FROM:<alice@a.test> REQUIRETLS")
        assert reply.startswith("555"), reply  # RFC 5321 4.1.1.11: a parameter it does not know


async def test_an_mx_without_requiretls_gets_the_message_returned_with_5_7_30(
    tmp_path: Path,
) -> None:
    """RFC 8689 section 4.2.1: the MX is named by a DNSSEC-signed MX record and authenticated
    by DANE, but does not advertise REQUIRETLS: the message is returned, "5.7.30 REQUIRETLS
    support required", and nothing reaches the MX."""
    async with World(tmp_path, fast_options(b_test={"mx_requiretls": False})) as world:
        alice = world.mailbox("alice@a.test")
        await submit(
            endpoint(world, "alice@a.test"),
            message("alice@a.test", ["bob@b.test"], "needs REQUIRETLS"),
            username=alice.user,
            password=alice.password,
            timeout=10.0,
            requiretls=True,
        )
        (bounced,) = await eventually(
            lambda: [e for e in world.events.read() if e["event"] == "bounced"], what="a bounce"
        )
        returned = await eventually(
            lambda: maildir_messages(world, "alice@a.test"), what="the report to alice"
        )
        assert maildir_messages(world, "bob@b.test") == []
    reason = bounced["reasons"]["bob@b.test"]
    assert reason.startswith("550 5.7.30 REQUIRETLS support required"), reason
    assert b"5.7.30" in returned[0]
