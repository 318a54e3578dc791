"""TLS-RPT reports mailed to the `mailto:` rua (RFC 8460 section 5.3), end to end on loopback."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import gzip
import json
from dataclasses import replace
from pathlib import Path

from mua.stack.demo import SCENARIOS, scenario_options
from mua.stack.tlsrpt import ReportOutcome
from mua.stack.tlsrpt_mail import mailto_recipients
from mua.stack.world import World
from tests.conftest import eventually, maildir_messages
from tests.stackhelp import send

RUA = "tls-reports@b.test"


def test_mailto_recipients() -> None:
    assert mailto_recipients(("mailto:a@b.test",)) == ["a@b.test"]
    assert mailto_recipients(
        ("https://r.b.test/x", "mailto:a@b.test,c%40d.test?subject=x", "mailto:a@b.test")
    ) == ["a@b.test", "c@d.test"]
    assert mailto_recipients(("https://r.b.test/x",)) == []


def _publish_tlsrpt(specs) -> None:
    for spec in specs:
        if spec.domain == "b.test":
            spec.txt["_smtp._tls.b.test"] = [f"v=TLSRPTv1; rua=mailto:{RUA}"]


def _strip_dane_with_a_report_mailbox():
    """strip-dane, with a mailbox at b.test for the reports."""
    options = scenario_options(SCENARIOS["strip-dane"])
    b_test = options.providers["b.test"]
    options.providers["b.test"] = replace(b_test, users=(*b_test.users, "tls-reports"))
    return options


async def test_the_daily_report_reaches_the_rua_mailbox(tmp_path: Path) -> None:
    """An attacker strips STARTTLS before b.test's MX and DANE defers alice's message. The
    sending MTA mails the day's report to b.test's rua through the world's own mail: it
    gets past the same attacker, since reports go despite TLS failures (RFC 8460 section 3),
    and its own session is not counted in the report."""
    async with World(tmp_path / "world", _strip_dane_with_a_report_mailbox()) as world:
        world.rebuild_zones(_publish_tlsrpt)
        await send(world, "alice@a.test", ["bob@b.test"], subject="reported")
        await eventually(
            lambda: [e for e in world.events.read() if e["event"] == "deferred"], what="deferral"
        )
        mta = world.providers["a.test"].mta
        assert mta is not None
        today = dt.datetime.now(dt.UTC).date()
        assert await mta.send_tls_report("a.test", today) == ReportOutcome()  # asks for none
        assert (await mta.send_tls_report("b.test", today)).sent == (f"mailto:{RUA}",)
        (raw,) = await eventually(
            lambda: maildir_messages(world, RUA), what="the report in the rua mailbox"
        )
        await eventually(  # the MTA's own record comes after the MX's 250
            lambda: [e for e in world.events.read() if e["event"] == "relayed"],
            what="the relay of the report",
        )
        sessions = mta.tls_reports.sessions("b.test", 0, 2**40) if mta.tls_reports else []
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "tlsrpt"
    assert (message["TLS-Report-Domain"], message["TLS-Report-Submitter"]) == (
        "b.test",
        "smtp.a.test",
    )
    assert str(message["Subject"]).startswith("Report Domain: b.test Submitter: smtp.a.test")
    text, attachment = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert attachment.get_content_type() == "application/tlsrpt+gzip"
    sender, domain, begin, end = attachment.get_filename().removesuffix(".json.gz").split("!")
    assert (sender, domain, int(end) - int(begin)) == ("smtp.a.test", "b.test", 86400)
    report = json.loads(gzip.decompress(attachment.get_content()))
    (policy,) = report["policies"]
    assert policy["policy"]["policy-type"] == "tlsa"
    assert policy["summary"]["total-failure-session-count"] >= 1
    assert policy["failure-details"][0]["result-type"] == "starttls-not-supported"
    # Only alice's deferred message was counted (under DANE), not the session that carried
    # the report (which went without the domain's policy, so would count as no-policy-found).
    assert sessions and all(s["policy_type"] == "tlsa" for s in sessions)
