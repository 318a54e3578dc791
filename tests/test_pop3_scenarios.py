"""Issue 16, the POP3 options of the retrieval row as demo scenarios: bob downloads over
POP3 on the 995 role (green), the 110 role with STLS (amber) or in clear with his consent
(red, "your password crossed in clear"); the client's leg agrees with the server's record."""

from __future__ import annotations

from pathlib import Path

import pytest

from mua.core.legs import LegKind, Protocol, TraceStatus
from mua.stack.demo import SCENARIOS, run_demo
from mua.stack.events import EventLog

# scenario -> (port role, encrypted, grade)
POP3_ROWS = {
    "pop3-995": (995, True, "green"),
    "pop3-stls": (110, True, "amber"),
    "pop3-clear": (110, False, "red"),
}


@pytest.mark.parametrize("name", sorted(POP3_ROWS))
async def test_pop3_scenario_downloads_with_the_graded_leg(name: str, tmp_path: Path) -> None:
    trace = await run_demo(SCENARIOS[name], tmp_path)
    assert trace.status is TraceStatus.DELIVERED
    role, encrypted, grade = POP3_ROWS[name]
    (leg,) = [leg for leg in trace.legs if leg.kind is LegKind.RETRIEVAL]
    assert leg.protocol is Protocol.POP3 and leg.port_role == role
    assert leg.tls.encrypted is encrypted and leg.grade.value == grade
    assert "POP3 downloads" in leg.note
    assert ("your password crossed in clear" in leg.note) is (not encrypted)
    assert trace.content is not None and trace.content.verdict.value == "intact"
    records = [
        e
        for e in EventLog(tmp_path / "events.jsonl").read()
        if e["event"] == "leg" and e["leg"] == "retrieval" and e["protocol"] == "POP3"
    ]
    assert records, "the POP3 server recorded no retrieval leg"
    for record in records:
        assert record["tls"]["encrypted"] is encrypted
        assert record["port"]["actual"] == leg.port_actual
