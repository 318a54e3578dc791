"""The demo scenarios that tie transport and content together (issue 13): each runs end to end
as `mua demo --headless --scenario NAME --json`, and what it says agrees with the wire (the
bytes in Bob's Maildir) and the event log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mua.cli import main
from mua.core.content import ContentStatus
from mua.core.legs import Grade, LegKind, TraceStatus
from mua.stack.attacker import REWRITE_LINE
from mua.stack.demo import SCENARIOS, scenario_options, send_through
from mua.stack.world import World
from tests.conftest import maildir_messages

# scenario -> (status, relay grade, content verdict or None, words of the content note)
EXPECTED = {
    "strip-rewrite": ("delivered", "red", "altered", "Altered after signing (body)"),
    "strip-rewrite-dane": ("deferred", "green", None, None),
    "forged": ("delivered", "red", "unsigned", "Not from a.test"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_command_line_runs_the_scenario(name: str, capsys) -> None:
    assert main(["demo", "--headless", "--scenario", name, "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    status, grade, verdict, words = EXPECTED[name]
    assert trace["status"] == status
    relay = next(leg for leg in trace["legs"] if leg["to"]["role"] == "MX")
    assert relay["grade"] == grade
    if verdict is None:
        assert trace["content"] is None  # nothing reached Bob: nothing to check, nothing altered
    else:
        assert trace["content"]["verdict"] == verdict and words in trace["content"]["note"]


async def _run(name: str, directory: Path):
    scenario = SCENARIOS[name]
    async with World(directory, scenario_options(scenario)) as world:
        sent = await send_through(world, scenario)
        return sent, maildir_messages(world, "bob@b.test"), world.events.read()


async def test_strip_rewrite_agrees_with_the_wire_and_the_log(tmp_path: Path) -> None:
    sent, delivered, events = await _run("strip-rewrite", tmp_path)
    trace = sent.trace
    assert trace.status is TraceStatus.DELIVERED
    relay = next(leg for leg in trace.legs if leg.kind is LegKind.RELAY)
    assert relay.grade is Grade.RED and "changed its text" in relay.note
    assert trace.content is not None and trace.content.verdict is ContentStatus.ALTERED
    (wire,) = delivered
    assert REWRITE_LINE in wire and REWRITE_LINE not in sent.message  # changed on the way
    attacker = [e for e in events if e["event"] == "attacker" and e["message_id"]]
    assert attacker and all(e["stripped"] and e["rewrote"] for e in attacker)
    # The MX found a.test's signature broken (body hash), as the client does. The attacker
    # on the path kept a.test's address, so SPF passed and DMARC with it (an aligned SPF pass
    # counts, RFC 7489): SPF vouches for the sending host, never for the content.
    (checked,) = [e for e in events if e["event"] == "authenticated"]
    assert "dkim=fail" in checked["results"] and "spf=pass" in checked["results"]
    assert "dmarc=pass" in checked["results"] and checked["spf"] == "pass"
    # The transport grade of the other legs is untouched by the content verdict.
    assert next(leg for leg in trace.legs if leg.kind is LegKind.SUBMISSION).grade is Grade.GREEN


async def test_strip_rewrite_dane_is_refused_and_nothing_is_altered(tmp_path: Path) -> None:
    sent, delivered, events = await _run("strip-rewrite-dane", tmp_path)
    assert sent.trace.status is TraceStatus.DEFERRED and sent.trace.content is None
    assert delivered == []
    attacker = [e for e in events if e["event"] == "attacker"]
    assert attacker and not any(e["rewrote"] or e["read"]["data"] for e in attacker)


async def test_forged_fails_dmarc_at_the_mx(tmp_path: Path) -> None:
    sent, delivered, events = await _run("forged", tmp_path)
    trace = sent.trace
    assert trace.status is TraceStatus.DELIVERED
    assert trace.legs[0].kind is LegKind.RELAY  # no submission, no handoff
    assert "none of a.test's servers took part" in trace.legs[0].note
    assert trace.content is not None and trace.content.verdict is ContentStatus.UNSIGNED
    assert trace.content.note.startswith("Not from a.test")
    (wire,) = delivered
    results = wire.split(b"\r\n", 1)[0].decode()
    assert results.startswith("Authentication-Results: mx.b.test;")
    assert "dkim=none" in results and "dmarc=fail" in results
    assert b"DKIM-Signature" not in wire and b"From: Alice <alice@a.test>" in wire
    mine = [e for e in events if e.get("message_id") == trace.message_id and e["event"] == "leg"]
    (checked,) = [
        e for e in events if e["event"] == "authenticated" and e["message_id"] == trace.message_id
    ]
    assert "dmarc=fail" in checked["results"] and checked["results"] in results
    kinds = {e["leg"] for e in mine}
    assert "relay" in kinds and not kinds & {"submission", "handoff"}  # a.test never saw it
