"""Demo mode's journey for a message: the stack's ground truth plus the client's own legs."""

from __future__ import annotations

from pathlib import Path

from mua.core.compose import Draft
from mua.gui.demo_profile import DemoSession
from mua.gui.journey_source import trace_provider
from tests.conftest import fast_options


async def test_demo_message_journey_is_observed_end_to_end(tmp_path: Path) -> None:
    session = DemoSession.start(tmp_path, fast_options())
    engine = session.engine
    try:
        outcome = await engine.send(Draft(sender="alice@a.test", to=("bob@b.test",), subject="J"))
        assert outcome.sent
        for _ in range(100):
            await engine.sync("bob@b.test", ["INBOX"])
            rows = engine.cache.page("bob@b.test", "INBOX")
            if rows:
                break
        (row,) = rows
        raw = await engine.body("bob@b.test", "INBOX", row.uid)
        trace = trace_provider(engine, session)("bob@b.test", "INBOX", row.uid, raw)
        roles = [(leg.from_.role.value, leg.to.role.value) for leg in trace.legs]
        assert roles == [
            ("MUA", "MSA"),
            ("MSA", "MTA"),
            ("MTA", "MX"),
            ("MX", "MDA"),
            ("MDA", "MS"),
            ("MS", "MUA"),
        ]
        assert all(leg.source.value == "observed" for leg in trace.legs)
        assert [leg.grade.value for leg in trace.legs] == [
            "green", "internal", "green", "internal", "internal", "green",
        ]  # fmt: skip
        # Without the demo world, the same message's journey comes from its headers.
        parsed = trace_provider(engine, None)("bob@b.test", "INBOX", row.uid, raw)
        assert parsed.status.value == "parsed"
        assert (
            parsed.legs[-1].protocol.value == "IMAP" and parsed.legs[-1].source.value == "observed"
        )
    finally:
        await session.aclose()
