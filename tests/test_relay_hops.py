"""Issue 16, the handoff and relay rows: a smarthost (587 with STARTTLS and AUTH, or 25 in
clear) and several relay hops, each with its own TLS state; the legs agree with the log."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mua.core.legs import LegKind, Protocol, TraceStatus
from mua.stack.demo import SCENARIOS, run_demo
from mua.stack.events import EventLog
from mua.stack.relay_host import HopSpec

# scenario -> [(kind, from host, to host, port role, encrypted, grade)] for the network legs
# between the MSA and the MX
ROUTES = {
    "smarthost-587": [
        (LegKind.HANDOFF, "smtp.a.test", "out.a.test", 587, True, "amber"),
        (LegKind.RELAY, "out.a.test", "mx.b.test", 25, True, "green"),
    ],
    "smarthost-25": [
        (LegKind.HANDOFF, "smtp.a.test", "out.a.test", 25, True, "amber"),
        (LegKind.RELAY, "out.a.test", "mx.b.test", 25, True, "green"),
    ],
    "smarthost-clear": [
        (LegKind.HANDOFF, "smtp.a.test", "out.a.test", 25, False, "red"),
        (LegKind.RELAY, "out.a.test", "mx.b.test", 25, True, "green"),
    ],
    "relay-hops": [
        (LegKind.RELAY, "smtp.a.test", "filter.a.test", 25, False, "red"),
        (LegKind.RELAY, "filter.a.test", "filter.b.test", 25, True, "amber"),
        (LegKind.RELAY, "filter.b.test", "mx.b.test", 25, True, "green"),
    ],
}


@pytest.mark.parametrize("name", sorted(ROUTES))
async def test_the_route_has_one_leg_per_hop(name: str, tmp_path: Path) -> None:
    trace = await run_demo(SCENARIOS[name], tmp_path)
    assert trace.status is TraceStatus.DELIVERED
    network = [
        leg
        for leg in trace.legs
        if leg.kind in (LegKind.HANDOFF, LegKind.RELAY) and leg.protocol is Protocol.SMTP
    ]
    seen = [
        (leg.kind, leg.from_.host, leg.to.host, leg.port_role, leg.tls.encrypted, leg.grade.value)
        for leg in network
    ]
    assert seen == ROUTES[name]
    # Each leg is the sending side's record in the event log, with the same facts.
    records = [
        e
        for e in EventLog(tmp_path / "events.jsonl").read()
        if e["event"] == "leg" and e["side"] == "client" and e.get("message_id") == trace.message_id
    ]
    for leg in network:
        (record,) = [
            r
            for r in records
            if (r["from"]["host"], r["to"]["host"])
            == (
                leg.from_.host,
                leg.to.host,
            )
        ]
        assert record["tls"]["encrypted"] is leg.tls.encrypted
        assert record["port"]["actual"] == leg.port_actual
    if name.startswith("smarthost"):  # the MSA wrote no internal handoff of its own
        assert [leg.protocol for leg in trace.legs if leg.kind is LegKind.HANDOFF] == [
            Protocol.SMTP
        ]
    # Every hop wrote its Received field: bob's copy names them all.
    assert trace.legs[-1].protocol is Protocol.IMAP
    (stored,) = (tmp_path / "b.test" / "mail" / "bob").glob("[nc][eu][wr]/*")
    text = stored.read_bytes().decode()
    for _kind, _sender, receiver, *_ in ROUTES[name]:
        assert f"by {receiver}" in text


async def test_a_smarthost_on_587_without_tls_gets_no_password(tmp_path: Path) -> None:
    """AUTH goes to a smarthost only over TLS: one without STARTTLS gets nothing, and the
    message waits in a.test's queue."""
    scenario = replace(
        SCENARIOS["smarthost-587"],
        hops=(HopSpec("out.a.test", tls=False, port_role=587, smarthost=True),),
        expect=TraceStatus.DEFERRED,
    )
    trace = await run_demo(scenario, tmp_path)
    assert trace.status is TraceStatus.DEFERRED
    events = EventLog(tmp_path / "events.jsonl").read()
    (deferred,) = [e for e in events if e["event"] == "deferred"]
    assert "AUTH not sent in clear" in deferred["reason"]


async def test_the_last_hop_applies_the_recipients_mta_sts_policy(tmp_path: Path) -> None:
    """An intermediate host relays to the MX as any MTA: b.test's MTA-STS policy (enforce)
    authenticates that last leg, whatever came before."""
    scenario = replace(SCENARIOS["mta-sts"], hops=(HopSpec("filter.a.test"),))
    trace = await run_demo(scenario, tmp_path)
    assert trace.status is TraceStatus.DELIVERED
    relays = [leg for leg in trace.legs if leg.kind is LegKind.RELAY]
    assert [(leg.from_.host, leg.to.host) for leg in relays] == [
        ("smtp.a.test", "filter.a.test"),
        ("filter.a.test", "mx.b.test"),
    ]
    assert relays[0].grade.value == "amber"
    assert relays[1].tls.verified_by is not None and relays[1].tls.verified_by.value == "mta-sts"
    assert relays[1].grade.value == "green"
