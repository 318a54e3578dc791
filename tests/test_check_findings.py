"""Every finding of `mua check` from a demo world configured to produce it.

One row per finding code: how b.test is set up (provider options, its zone, a broken
signature), the severity the finding must have and the grade b.test must get. Each row starts
a real world on loopback and probes it as `mua check` does (DNS, DNSSEC, SMTP, TLS, HTTPS).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mua.cli import main
from mua.core.legs import Grade
from mua.net.mta_sts import StsMode
from mua.net.posture_check import DomainReport, check_domain
from mua.net.posture_findings import SAY as _SAY
from mua.net.posture_findings import Severity
from mua.stack.mta_sts_server import policy_text
from mua.stack.provider_options import MxTls
from mua.stack.world import World
from mua.stack.zones import DomainSpec
from tests.conftest import fast_options

ZoneEdit = Callable[[World, list[DomainSpec]], None]
OLD_ONLY = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)


@dataclass(frozen=True)
class Setup:
    """b.test as one finding needs it."""

    b_test: dict[str, Any] = field(default_factory=dict)  # ProviderOptions of b.test
    zone: ZoneEdit | None = None  # an edit of the zones, re-signed
    corrupt: tuple[str, str] | None = None  # (name, type) whose signature is broken
    closed_port: bool = False  # probe a port nothing listens on
    name: str = "b.test"  # the name checked: another one under b.test


def _b_test(specs: list[DomainSpec]) -> DomainSpec:
    return next(s for s in specs if s.domain == "b.test")


def _mx_key(world: World) -> bytes:
    return world.providers["b.test"].mx_cert.spki_sha256()


def _tlsa(records: Callable[[World], list[tuple[int, int, int, bytes]]]) -> ZoneEdit:
    def edit(world: World, specs: list[DomainSpec]) -> None:
        _b_test(specs).tlsa["_25._tcp.mx.b.test"] = records(world)

    return edit


def _null_mx(world: World, specs: list[DomainSpec]) -> None:
    _b_test(specs).mx = [(0, ".")]  # RFC 7505


def _unsigned(world: World, specs: list[DomainSpec]) -> None:
    _b_test(specs).signed = False


def _no_address(world: World, specs: list[DomainSpec]) -> None:
    del _b_test(specs).hosts["mx.b.test"]


def _tlsa_in_unsigned_subzone(world: World, specs: list[DomainSpec]) -> None:
    """The TLSA record moves to `_tcp.mx.b.test`, a child zone with no DS: the MX and its
    address stay DNSSEC-valid, the TLSA record is provably insecure."""
    records = _b_test(specs).tlsa.pop("_25._tcp.mx.b.test")
    specs.append(
        DomainSpec(domain="_tcp.mx.b.test", tlsa={"_25._tcp.mx.b.test": records}, signed=False)
    )


def _pkix_ta(world: World) -> list[tuple[int, int, int, bytes]]:
    """PKIX-TA(0) 0 1: the CA certificate's digest, a usage RFC 7672 section 3.1 rules out."""
    der = ssl.PEM_cert_to_DER_cert(world.ca.ca_file.read_text())
    return [(0, 0, 1, hashlib.sha256(der).digest())]


NO_DANE = {"dane": False}
BROKEN_POLICY = "version: STSv1\r\nmode: enforce\r\n"  # no mx, no max_age (RFC 8461 3.2)

# code -> (setup, severity, grade of b.test)
FINDINGS: dict[str, tuple[Setup, Severity, Grade]] = {
    "mx-lookup": (Setup(corrupt=("b.test", "MX")), Severity.RED, Grade.RED),
    "no-such-domain": (Setup(name="nosuch.b.test"), Severity.RED, Grade.RED),
    "no-mx": (Setup(zone=_null_mx), Severity.RED, Grade.RED),
    # mx.b.test has an address but no MX: it is its own (implicit) MX, DANE-protected.
    "implicit-mx": (Setup(name="mx.b.test"), Severity.ADVICE, Grade.GREEN),
    "mx-unsigned": (Setup(zone=_unsigned), Severity.ADVICE, Grade.AMBER),
    "mta-sts-broken": (
        Setup({"mta_sts": StsMode.ENFORCE, "mta_sts_policy": BROKEN_POLICY}),
        Severity.AMBER,
        Grade.AMBER,
    ),
    "mta-sts-testing": (
        Setup({"mta_sts": StsMode.TESTING, **NO_DANE}),
        Severity.ADVICE,
        Grade.AMBER,
    ),
    "no-tls-rpt": (Setup(), Severity.ADVICE, Grade.GREEN),
    "host-lookup": (Setup(corrupt=("mx.b.test", "A")), Severity.RED, Grade.RED),
    "no-address": (Setup(zone=_no_address), Severity.RED, Grade.RED),
    # Whether mail gets through cannot be told when the MX does not answer: unknown.
    "unreachable": (Setup(closed_port=True), Severity.AMBER, Grade.UNKNOWN),
    "no-starttls": (Setup({"mx_tls": MxTls.NONE}), Severity.RED, Grade.RED),
    "dane-without-tls": (
        Setup({"mx_tls": MxTls.NONE}, zone=_tlsa(lambda w: [(3, 1, 1, _mx_key(w))])),
        Severity.RED,
        Grade.RED,
    ),
    "tls-failed": (Setup({"mx_tls_versions": OLD_ONLY}), Severity.RED, Grade.RED),
    "certificate": (
        Setup({"mx_tls": MxTls.UNVERIFIABLE, **NO_DANE}),
        Severity.AMBER,
        Grade.AMBER,
    ),
    "tlsa-mismatch": (
        Setup(zone=_tlsa(lambda w: [(3, 1, 1, b"\x01" * 32)])),
        Severity.RED,
        Grade.RED,
    ),
    "tlsa-insecure": (Setup(zone=_tlsa_in_unsigned_subzone), Severity.AMBER, Grade.AMBER),
    "tlsa-unusable": (Setup(zone=_tlsa(_pkix_ta)), Severity.AMBER, Grade.AMBER),
    "mta-sts-unlisted": (
        Setup(
            {
                "mta_sts": StsMode.ENFORCE,
                "mta_sts_policy": policy_text(StsMode.ENFORCE, ["mx.elsewhere.test"]),
                **NO_DANE,
            }
        ),
        Severity.RED,
        Grade.RED,
    ),
    "no-policy": (Setup(NO_DANE), Severity.AMBER, Grade.AMBER),
    "old-tls": (
        Setup({"mx_tls_versions": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.MAXIMUM_SUPPORTED)}),
        Severity.AMBER,
        Grade.AMBER,
    ),
    # An MX with only TLS 1.0 and 1.1: modern senders' handshakes fail (tls-failed, red).
    "no-modern-tls": (Setup({"mx_tls_versions": OLD_ONLY}), Severity.AMBER, Grade.RED),
    "no-requiretls": (Setup({"mx_requiretls": False}), Severity.ADVICE, Grade.GREEN),
}


def test_the_table_covers_every_finding() -> None:
    assert set(FINDINGS) == set(_SAY)


def _closed_port() -> int:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    return port


async def _check_b_test(world: World, setup: Setup) -> DomainReport:
    if setup.zone is not None:
        world.rebuild_zones(lambda specs: setup.zone(world, specs))
    if setup.corrupt is not None:
        assert world.zones is not None
        world.zones.corrupt_signature(*setup.corrupt)
    b = world.providers["b.test"]
    assert b.ports is not None
    return await check_domain(
        setup.name,
        world.resolver(),
        port=_closed_port() if setup.closed_port else b.ports.mx,
        ca_file=world.ca.ca_file,
        mta_sts_port=b.ports.mta_sts or 443,
        timeout=5.0,
    )


def _findings(report: DomainReport) -> dict[str, Severity]:
    found = report.findings + [f for mx in report.mx for f in mx.findings]
    for finding in found:
        assert finding.text.endswith(".") and "{" not in finding.text, finding.text
    return {f.code: f.severity for f in found}


@pytest.mark.parametrize("code", sorted(FINDINGS))
async def test_the_demo_world_produces_the_finding(code: str, tmp_path: Path) -> None:
    setup, severity, grade = FINDINGS[code]
    async with World(tmp_path / "world", fast_options(b_test=setup.b_test)) as world:
        report = await _check_b_test(world, setup)
    found = _findings(report)
    assert found.get(code) is severity, found
    assert report.grade is grade, found


async def test_an_mx_with_old_tls_only_accepts_exactly_those(tmp_path: Path) -> None:
    """The probe pins each version on its own connection: this MX takes 1.0 and 1.1 only."""
    setup = FINDINGS["no-modern-tls"][0]
    async with World(tmp_path / "world", fast_options(b_test=setup.b_test)) as world:
        report = await _check_b_test(world, setup)
    (mx,) = report.mx
    assert {k: v.value for k, v in mx.probe.versions.items()} == {
        "TLSv1.0": "accepted",
        "TLSv1.1": "accepted",
        "TLSv1.2": "refused",
        "TLSv1.3": "refused",
    }
    assert {"tls-failed", "old-tls", "no-modern-tls"} <= set(_findings(report))


# --- the command line, as a script would use it ---------------------------------------


async def _cli(tmp_path: Path, capsys, **b_test: Any) -> tuple[int, dict[str, Any]]:
    async with World(tmp_path / "world", fast_options(b_test=b_test)) as world:
        settings = world.settings()
        b = world.providers["b.test"]
        assert b.ports is not None
        args = [
            "check", "b.test", "--json",
            "--nameserver", f"127.0.0.1:{settings['dns']['port']}",
            "--port", str(b.ports.mx),
            "--mta-sts-port", str(b.ports.mta_sts or 443),
            "--ca-file", settings["ca_file"],
            "--trust-anchor", settings["trust_anchor_file"],
        ]  # fmt: skip
        code = await asyncio.to_thread(main, args)
    return code, json.loads(capsys.readouterr().out)


async def test_cli_json_reports_old_tls_versions(tmp_path: Path, capsys) -> None:
    low = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.MAXIMUM_SUPPORTED)
    code, report = await _cli(tmp_path, capsys, mx_tls_versions=low)
    assert code == 1 and report["grade"] == "amber"
    (mx,) = report["mx"]
    every = ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
    assert mx["tls"]["versions"] == dict.fromkeys(every, "accepted")
    (old,) = [f for f in mx["findings"] if f["code"] == "old-tls"]
    assert old["severity"] == "amber" and "TLSv1.0 and TLSv1.1" in old["text"]
    assert mx["dane"]["matches"] is True  # DANE still authenticates it: only the versions


async def test_cli_json_reports_an_unlisted_mx(tmp_path: Path, capsys) -> None:
    policy = policy_text(StsMode.ENFORCE, ["mx.elsewhere.test"])
    code, report = await _cli(
        tmp_path, capsys, mta_sts=StsMode.ENFORCE, mta_sts_policy=policy, dane=False
    )
    assert code == 1 and report["grade"] == "red"
    assert report["mta_sts"]["mode"] == "enforce"
    assert report["mta_sts"]["mx"] == ["mx.elsewhere.test"]
    (mx,) = report["mx"]
    assert mx["mta_sts_listed"] is False and mx["requiretls"] is True
    assert {f["code"]: f["severity"] for f in mx["findings"]}["mta-sts-unlisted"] == "red"
