"""`mua check DOMAIN`: the inbound posture of b.test in the demo world, as JSON and as text."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import socket
from pathlib import Path

import pytest

from mua.cli import main
from mua.core.legs import Grade
from mua.net.dns import Resolver
from mua.net.posture_check import check_domain
from mua.net.posture_probe import probe_smtp
from mua.stack.demo import SCENARIOS, scenario_options
from mua.stack.provider_options import MxTls
from mua.stack.tlsrpt import parse_tlsrpt
from mua.stack.world import World
from tests.conftest import eventually, fast_options
from tests.stackhelp import send

MX_KEYS = {
    "host", "preference", "address", "port", "grade", "reached", "starttls", "requiretls",
    "tls", "certificate", "dane", "mta_sts_listed", "findings",
}  # fmt: skip


async def _check(tmp_path: Path, capsys, *extra: str, **b_test) -> tuple[int, str]:
    async with World(tmp_path / "world", fast_options(b_test=b_test)) as world:
        settings = world.settings()
        port = next(d["mx"]["port"] for d in settings["domains"] if d["name"] == "b.test")
        args = [
            "check", "b.test",
            "--nameserver", f"127.0.0.1:{settings['dns']['port']}",
            "--port", str(port),
            "--ca-file", settings["ca_file"],
            "--trust-anchor", settings["trust_anchor_file"],
            *extra,
        ]  # fmt: skip
        code = await asyncio.to_thread(main, args)
    return code, capsys.readouterr().out


def _codes(report: dict, severity: str | None = None) -> set[str]:
    findings = report["findings"] + [f for mx in report["mx"] for f in mx["findings"]]
    return {f["code"] for f in findings if severity is None or f["severity"] == severity}


async def test_modern_b_test_is_green_by_dane(tmp_path: Path, capsys) -> None:
    code, out = await _check(tmp_path, capsys, "--json")
    report = json.loads(out)
    assert code == 0
    assert set(report) == {"domain", "grade", "mx_signed", "mta_sts", "tls_rpt", "mx", "findings"}
    assert (report["domain"], report["grade"], report["mx_signed"]) == ("b.test", "green", True)
    (mx,) = report["mx"]
    assert set(mx) == MX_KEYS
    assert (mx["host"], mx["grade"], mx["starttls"], mx["requiretls"]) == (
        "mx.b.test",
        "green",
        True,
        True,
    )
    assert mx["dane"] == {
        "tlsa": True,
        "dnssec": True,
        "usable": 1,
        "matches": True,
        "reason": mx["dane"]["reason"],
    }
    assert mx["certificate"]["valid"] is True
    assert mx["tls"]["version"] == "TLSv1.3" and mx["tls"]["cipher"]
    versions = mx["tls"]["versions"]
    assert set(versions) == {"TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
    assert versions["TLSv1.2"] == versions["TLSv1.3"] == "accepted"
    assert versions["TLSv1.0"] in ("refused", "untested")  # the world's servers want 1.2+
    assert _codes(report, "red") == _codes(report, "amber") == set()
    assert "no-tls-rpt" in _codes(report, "advice")  # the world publishes no _smtp._tls
    for finding in report["findings"] + mx["findings"]:
        assert set(finding) == {"code", "severity", "text"} and finding["text"].endswith(".")


async def test_unverifiable_certificate_without_dane_is_amber(tmp_path: Path, capsys) -> None:
    code, out = await _check(tmp_path, capsys, "--json", mx_tls=MxTls.UNVERIFIABLE, dane=False)
    report = json.loads(out)
    assert code == 1 and report["grade"] == "amber"
    (mx,) = report["mx"]
    assert mx["certificate"]["valid"] is False and mx["dane"]["tlsa"] is False
    (cert,) = [f for f in mx["findings"] if f["code"] == "certificate"]
    assert cert["severity"] == "amber" and "does not verify" in cert["text"]
    assert "no-policy" in _codes(report, "amber")


async def test_no_starttls_is_red(tmp_path: Path, capsys) -> None:
    code, out = await _check(tmp_path, capsys, mx_tls=MxTls.NONE)
    assert code == 1
    assert out.startswith("b.test: RED")
    assert "offers no STARTTLS" in out and "What to fix:" in out


async def test_an_mx_that_is_not_listening_is_reported_not_raised(tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    async with World(tmp_path / "world", fast_options()) as world:
        settings = world.settings()
        resolver = Resolver(
            ("127.0.0.1", settings["dns"]["port"]),
            trust_anchor_file=Path(settings["trust_anchor_file"]),
        )
        report = await check_domain("b.test", resolver, port=port, timeout=2.0)
    (mx,) = report.mx
    assert mx.grade is Grade.UNKNOWN and not mx.probe.reached
    assert [f.code for f in mx.findings] == ["unreachable"]


@pytest.mark.parametrize("domain", ["nowhere.test"])
async def test_a_domain_that_does_not_exist_is_red(tmp_path: Path, domain: str) -> None:
    async with World(tmp_path / "world", fast_options()) as world:
        settings = world.settings()
        resolver = Resolver(
            ("127.0.0.1", settings["dns"]["port"]),
            trust_anchor_file=Path(settings["trust_anchor_file"]),
        )
        report = await check_domain(domain, resolver)
    assert report.grade in (Grade.RED, Grade.UNKNOWN)
    assert [f.code for f in report.findings] == ["no-such-domain"]  # NXDOMAIN, not "no MX"


# --- TLS-RPT (RFC 8460): what `check` reports, and the report the sending MTA writes ----------

TLSRPT = "v=TLSRPTv1; rua=mailto:tls-reports@b.test"


def _publish_tlsrpt(specs) -> None:
    for spec in specs:
        if spec.domain == "b.test":
            spec.txt["_smtp._tls.b.test"] = [TLSRPT]


def test_parse_tlsrpt() -> None:
    assert parse_tlsrpt([TLSRPT]) == ("mailto:tls-reports@b.test",)
    two = "v=TLSRPTv1;rua=mailto:a@b.test,https://r.b.test/x"
    assert parse_tlsrpt(["v=spf1 -all", two]) == ("mailto:a@b.test", "https://r.b.test/x")
    assert parse_tlsrpt([TLSRPT, TLSRPT]) is None  # section 3: exactly one record
    assert parse_tlsrpt(["v=TLSRPTv1;"]) is None and parse_tlsrpt([]) is None


async def test_the_mta_writes_the_daily_report_of_a_domain_that_asks(tmp_path: Path) -> None:
    """strip-dane: the DANE refusal is a starttls-not-supported failure under the tlsa policy."""
    async with World(tmp_path / "world", scenario_options(SCENARIOS["strip-dane"])) as world:
        world.rebuild_zones(_publish_tlsrpt)
        await send(world, "alice@a.test", ["bob@b.test"], subject="reported")
        await eventually(
            lambda: [e for e in world.events.read() if e["event"] == "deferred"], what="deferral"
        )
        mta = world.providers["a.test"].mta
        today = dt.datetime.now(dt.UTC).date()
        path = await mta.write_tls_report("b.test", tmp_path / "reports", today)
        assert await mta.write_tls_report("a.test", tmp_path / "reports", today) is None
    assert path is not None
    sender, domain, begin, end = path.name.removesuffix(".json").split("!")
    assert (sender, domain, int(end) - int(begin)) == ("smtp.a.test", "b.test", 86400)
    report = json.loads(path.read_text())
    assert report["date-range"]["end-datetime"].endswith("T23:59:59Z")
    (policy,) = report["policies"]
    assert policy["policy"]["policy-type"] == "tlsa"
    assert policy["policy"]["policy-string"][0].startswith("3 1 1 ")
    assert policy["policy"]["mx-host"] == ["mx.b.test"]
    assert policy["summary"]["total-successful-session-count"] == 0
    assert policy["summary"]["total-failure-session-count"] >= 1
    detail = policy["failure-details"][0]
    assert detail["result-type"] == "starttls-not-supported"
    assert detail["receiving-mx-hostname"] == "mx.b.test"


async def test_check_reads_the_tlsrpt_record(tmp_path: Path) -> None:
    async with World(tmp_path / "world", fast_options()) as world:
        world.rebuild_zones(_publish_tlsrpt)
        settings = world.settings()
        resolver = Resolver(
            ("127.0.0.1", settings["dns"]["port"]),
            trust_anchor_file=Path(settings["trust_anchor_file"]),
        )
        port = next(d["mx"]["port"] for d in settings["domains"] if d["name"] == "b.test")
        ca_file = Path(settings["ca_file"])
        report = await check_domain("b.test", resolver, port=port, ca_file=ca_file)
    assert report.tlsrpt == TLSRPT
    assert "no-tls-rpt" not in {f.code for f in report.findings}


async def test_a_probe_cancelled_mid_session_closes_its_connection() -> None:
    """Compose cancels the lookups of recipients removed meanwhile: a probe cancelled while
    the server is silent closes its connection at once (the server reads the end of it)."""
    accepted: list[asyncio.StreamReader] = []
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.b.test ESMTP\r\n")  # then never another word
        accepted.append(reader)
        writers.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        probing = asyncio.create_task(probe_smtp("127.0.0.1", port, "mx.b.test", 30))
        await eventually(lambda: accepted, what="the probe to connect")
        assert (await accepted[0].readline()).startswith(b"EHLO")
        probing.cancel()
        assert await asyncio.wait_for(accepted[0].read(), 5) == b""
        with contextlib.suppress(asyncio.CancelledError):
            await probing
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_name_that_does_not_exist_is_told_apart_from_one_without_mx(
    tmp_path: Path, capsys
) -> None:
    """Under a.test: nosuch.a.test does not exist (NXDOMAIN); mx.a.test exists with an
    address but no MX, so senders use that address (RFC 5321 section 5.1, implicit MX)."""
    async with World(tmp_path / "world", fast_options()) as world:
        settings = world.settings()
        port = next(d["mx"]["port"] for d in settings["domains"] if d["name"] == "a.test")
        common = [
            "--nameserver", f"127.0.0.1:{settings['dns']['port']}",
            "--port", str(port),
            "--ca-file", settings["ca_file"],
            "--trust-anchor", settings["trust_anchor_file"],
        ]  # fmt: skip
        reports = {}
        for name in ("nosuch.a.test", "mx.a.test"):
            code = await asyncio.to_thread(main, ["check", name, "--json", *common])
            reports[name] = (code, json.loads(capsys.readouterr().out))
        await asyncio.to_thread(main, ["check", "nosuch.a.test", *common])
        text = capsys.readouterr().out

    code, missing = reports["nosuch.a.test"]
    assert code == 1 and missing["grade"] == "red" and missing["mx"] == []
    assert _codes(missing) == {"no-such-domain"}
    (finding,) = missing["findings"]
    assert "does not exist" in finding["text"] and "NXDOMAIN" in finding["text"]
    assert "does not exist in the DNS (NXDOMAIN)" in text

    code, implicit = reports["mx.a.test"]
    assert "no-such-domain" not in _codes(implicit) and "no-mx" not in _codes(implicit)
    assert _codes(implicit, "advice") >= {"implicit-mx"}
    (mx,) = implicit["mx"]
    assert mx["host"] == "mx.a.test" and mx["reached"] is True  # its A record, as RFC 5321 says
    sentence = next(f["text"] for f in implicit["findings"] if f["code"] == "implicit-mx")
    assert "address record" in sentence and "RFC 5321 section 5.1" in sentence
