"""The attack and policy scenarios of `mua demo`: outcome, relay leg, and what the attacker read.

tests/test_cli.py checks the delivery scenarios' whole journey; this file adds the scenarios
of issue 7 (an attacker on the path, DANE and MTA-STS) without touching that table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mua.cli import main
from mua.core.legs import LegKind, TraceStatus
from mua.stack.demo import SCENARIOS, run_demo
from mua.stack.events import EventLog

# scenario -> (status, relay grade, verified_by, encrypted, words the relay note must hold).
# A leg a policy refused is green (nothing of the message crossed) with outcome "refused";
# its tls facts are those of the attempt (stripped: cleartext; intercepted: encrypted).
EXPECTED = {
    "strip": ("delivered", "red", None, False, ["did not offer STARTTLS", "removed the STARTTLS"]),
    "strip-dane": ("deferred", "green", None, False, ["DANE stopped it", "read nothing"]),
    "intercept": ("delivered", "amber", None, True, ["own certificate", "read the whole"]),
    "intercept-dane": ("deferred", "green", None, True, ["DANE stopped it", "read nothing"]),
    "mta-sts": ("delivered", "green", "mta-sts", True, ["MTA-STS policy lists"]),
    "strip-mta-sts": ("deferred", "green", None, False, ["MTA-STS stopped it", "read nothing"]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_scenario_exits_0_with_the_expected_relay(name: str, capsys) -> None:
    assert main(["demo", "--headless", "--scenario", name, "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    status, grade, verified_by, encrypted, words = EXPECTED[name]
    assert trace["status"] == status
    relay = next(leg for leg in trace["legs"] if leg["to"]["role"] == "MX")
    assert (relay["grade"], relay["tls"]["verified_by"]) == (grade, verified_by)
    assert relay["tls"]["encrypted"] is encrypted
    for word in words:
        assert word in relay["note"]
    if status == "deferred":  # the message never reached bob, so there is nothing to read
        assert [leg["to"]["role"] for leg in trace["legs"]] == ["MSA", "MTA", "MX"]
        assert relay["outcome"] == "refused"
        assert "Nothing of the message was sent" in relay["note"]
    else:
        assert trace["legs"][-1]["protocol"] == "IMAP"
        assert "outcome" not in relay


def _attacker_records(directory: Path) -> list[dict]:
    return [e for e in EventLog(directory / "events.jsonl").read() if e["event"] == "attacker"]


@pytest.mark.parametrize("name", ["strip", "intercept"])
async def test_without_a_policy_the_attacker_reads_the_body(name: str, tmp_path: Path) -> None:
    trace = await run_demo(SCENARIOS[name], tmp_path)
    assert trace.status is TraceStatus.DELIVERED
    read = [r for r in _attacker_records(tmp_path) if r["message_id"] == trace.message_id]
    assert len(read) == 1
    assert f"This message shows the '{name}' scenario." in read[0]["read"]["data"]
    assert read[0]["read"]["rcpt_to"] == ["<bob@b.test>"]


@pytest.mark.parametrize("name", ["strip-dane", "intercept-dane", "strip-mta-sts"])
async def test_with_a_policy_the_attacker_reads_nothing(name: str, tmp_path: Path) -> None:
    trace = await run_demo(SCENARIOS[name], tmp_path)
    assert trace.status is TraceStatus.DEFERRED
    records = _attacker_records(tmp_path)
    assert records, "the MTA should have reached the attacker"
    for record in records:
        read = record["read"]
        assert read["data"] is None and read["mail_from"] is None and read["rcpt_to"] == []
        assert record["message_id"] is None
        assert not any(c.split()[0] in ("MAIL", "RCPT", "DATA") for c in read["commands"])
        text = json.dumps(record)
        assert "scenario" not in text and "bob@b.test" not in text
    (relay,) = [leg for leg in trace.legs if leg.kind is LegKind.RELAY]
    assert "stopped it" in relay.note and "Nothing of the message was sent" in relay.note


async def test_deferred_scenarios_return_without_waiting_for_retries(tmp_path: Path) -> None:
    """The first deferral ends the wait: the journey holds that one attempt, not the retries
    (after 1, 2 and 4 seconds) that waiting for the timeout would have seen."""
    trace = await run_demo(SCENARIOS["strip-dane"], tmp_path, timeout=20.0)
    assert trace.status is TraceStatus.DEFERRED
    relays = [leg for leg in trace.legs if leg.kind is LegKind.RELAY]
    assert len(relays) == 1, relays
