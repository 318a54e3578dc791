"""Issue 16, delivery to another host: b.test's MX hands the message over LMTP (RFC 2033) to
a separate store host, over TLS (amber) or in clear (red); the legs agree with the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from mua.core.legs import LegKind, Protocol, TraceStatus
from mua.stack.ca import LocalCA
from mua.stack.demo import SCENARIOS, run_demo
from mua.stack.events import EventLog
from mua.stack.lmtp import LmtpClient, LmtpError
from mua.stack.world import World
from tests.conftest import fast_options

# scenario -> (encrypted, grade, words of the note)
LMTP_ROWS = {
    "lmtp-tls": (True, "amber", "LMTP over TLS"),
    "lmtp-clear": (False, "red", "LMTP in clear"),
}


@pytest.mark.parametrize("name", sorted(LMTP_ROWS))
async def test_lmtp_scenario_delivers_over_the_network(name: str, tmp_path: Path) -> None:
    trace = await run_demo(SCENARIOS[name], tmp_path)
    assert trace.status is TraceStatus.DELIVERED
    encrypted, grade, words = LMTP_ROWS[name]
    delivery = [leg for leg in trace.legs if leg.kind is LegKind.DELIVERY]
    lmtp, store = delivery
    assert lmtp.protocol is Protocol.LMTP and store.protocol is Protocol.INTERNAL
    assert (lmtp.from_.host, lmtp.to.host) == ("mx.b.test", "store.b.test")
    assert lmtp.tls.encrypted is encrypted and lmtp.grade.value == grade
    assert words in lmtp.note and lmtp.port_role == 24
    records = [
        e
        for e in EventLog(tmp_path / "events.jsonl").read()
        if e["event"] == "leg"
        and e["leg"] == "delivery"
        and e.get("message_id") == trace.message_id
    ]
    # Only the store host recorded delivery legs (the MX wrote no internal ones).
    assert [r["protocol"] for r in records] == ["LMTP", "internal"]
    assert records[0]["tls"]["encrypted"] is encrypted
    assert records[0]["port"]["actual"] == lmtp.port_actual
    assert trace.legs[-1].protocol is Protocol.IMAP  # bob read it from the store


async def test_the_mx_verifies_the_store_hosts_certificate(tmp_path: Path) -> None:
    """An LMTP client that trusts another CA refuses the store host: no silent delivery."""
    options = fast_options(b_test={"lmtp": SCENARIOS["lmtp-tls"].lmtp})
    async with World(tmp_path, options) as world:
        provider = world.providers["b.test"]
        assert provider.ports is not None and provider.ports.lmtp
        other = LocalCA(tmp_path / "other", organization="Other")
        port = provider.ports.lmtp
        client = LmtpClient("mx.b.test", "127.0.0.1", port, "store.b.test", other.ca_file)
        with pytest.raises(LmtpError, match="certificate"):
            await client.deliver("alice@a.test", "bob@b.test", b"Subject: x\r\n\r\nhi\r\n")
        good = LmtpClient("mx.b.test", "127.0.0.1", port, "store.b.test", world.ca.ca_file)
        await good.deliver("alice@a.test", "bob@b.test", b"Subject: x\r\n\r\n.hi\r\n")
        (delivered,) = (tmp_path / "b.test" / "mail" / "bob" / "new").iterdir()
        assert delivered.read_bytes().endswith(b"\r\n.hi\r\n")  # dot-stuffing undone
        with pytest.raises(LmtpError, match="550"):
            await good.deliver("alice@a.test", "nobody@b.test", b"Subject: x\r\n\r\nhi\r\n")
