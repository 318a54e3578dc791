"""`mua check DOMAIN`: the inbound transport security of a domain, every MX in depth, graded.

For each MX: STARTTLS offered, the TLS versions accepted, the negotiated cipher, the
certificate (chain and name, under the web PKI or the given CA file), the TLSA records
(present, DNSSEC-valid, matching: DANE, RFC 7672), whether the domain's MTA-STS policy lists
it (RFC 8461), REQUIRETLS (RFC 8689). For the domain: the MTA-STS TXT record and policy, the
TLS-RPT record (RFC 8460 section 3). Each problem is one finding: a sentence saying what to fix.

Grades, the way a sending MTA would experience the MX:
- green: STARTTLS, authenticated by DANE or by an enforced MTA-STS policy.
- amber: encrypted, but an attacker on the path could downgrade or impersonate it
  (opportunistic STARTTLS, testing mode, a certificate nobody can verify).
- red: mail goes in clear, or a published policy makes delivery fail.
The domain's grade is its worst MX's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mua.core.i18n import T_
from mua.core.legs import Grade
from mua.net import dane
from mua.net.dns import DnsError, Resolver
from mua.net.mta_sts import MtaStsClient, MtaStsError, StsMode, StsPolicy, parse_policy, parse_txt
from mua.net.posture_findings import Finding, Severity, finding
from mua.net.posture_probe import OUTDATED, SmtpProbe, VersionResult, probe_smtp
from mua.net.tls import verify_certificate

SMTP_PORT = 25
_ORDER = {Grade.GREEN: 0, Grade.UNKNOWN: 1, Grade.AMBER: 2, Grade.RED: 3}


_AS_GRADE = {Severity.RED: Grade.RED, Severity.AMBER: Grade.AMBER}


@dataclass
class MxReport:
    host: str
    preference: int
    port: int
    address: str | None = None
    probe: SmtpProbe = field(default_factory=SmtpProbe)
    certificate_valid: bool | None = None
    certificate_reason: str = ""
    tlsa_present: bool = False
    tlsa_secure: bool = False
    tlsa_usable: int = 0
    tlsa_matches: bool | None = None
    tlsa_reason: str = ""
    sts_listed: bool | None = None  # None: no MTA-STS policy
    grade: Grade = Grade.UNKNOWN
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        p = self.probe
        return {
            "host": self.host,
            "preference": self.preference,
            "address": self.address,
            "port": self.port,
            "grade": self.grade.value,
            "reached": p.reached,
            "starttls": p.starttls,
            "requiretls": p.requiretls,
            "tls": {
                "version": p.version,
                "cipher": p.cipher,
                "bits": p.bits,
                "versions": {k: v.value for k, v in p.versions.items()},
            },
            "certificate": {"valid": self.certificate_valid, "reason": self.certificate_reason},
            "dane": {
                "tlsa": self.tlsa_present,
                "dnssec": self.tlsa_secure,
                "usable": self.tlsa_usable,
                "matches": self.tlsa_matches,
                "reason": self.tlsa_reason,
            },
            "mta_sts_listed": self.sts_listed,
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass
class DomainReport:
    domain: str
    mx_signed: bool = False
    mx: list[MxReport] = field(default_factory=list)
    sts_id: str | None = None
    sts_policy: StsPolicy | None = None
    sts_error: str = ""
    tlsrpt: str | None = None
    grade: Grade = Grade.UNKNOWN
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        policy = self.sts_policy
        return {
            "domain": self.domain,
            "grade": self.grade.value,
            "mx_signed": self.mx_signed,
            "mta_sts": {
                "id": self.sts_id,
                "mode": policy.mode.value if policy else None,
                "mx": list(policy.mx) if policy else [],
                "max_age": policy.max_age if policy else None,
                "error": self.sts_error or None,
            },
            "tls_rpt": self.tlsrpt,
            "mx": [m.to_json() for m in self.mx],
            "findings": [f.to_json() for f in self.findings],
        }


async def check_domain(
    domain: str,
    resolver: Resolver,
    *,
    port: int = SMTP_PORT,
    ca_file: Path | None = None,
    mta_sts_port: int = 443,
    timeout: float = 10.0,
) -> DomainReport:
    """Look everything up and probe every MX. `port`: the SMTP port to probe (the demo world's
    MX listens on an unprivileged one DNS cannot tell); TLSA is still `_25._tcp`."""
    domain = domain.lower().rstrip(".")
    report = DomainReport(domain)
    try:
        mx = await resolver.mx(domain)
    except DnsError as exc:
        report.findings.append(finding("mx-lookup", Severity.RED, domain=domain, why=str(exc)))
        report.grade = _domain_grade(report)
        return report
    report.mx_signed = mx.secure
    if mx.nxdomain:
        report.findings.append(finding("no-such-domain", Severity.RED, domain=domain))
        report.grade = _domain_grade(report)
        return report
    if mx.null_mx or not mx.records:
        why = (
            T_("publishes a null MX (RFC 7505)")
            if mx.null_mx
            else T_("has neither an MX record nor an address record")
        )
        report.findings.append(finding("no-mx", Severity.RED, domain=domain, why=why))
        report.grade = _domain_grade(report)
        return report
    if mx.implicit:
        report.findings.append(finding("implicit-mx", Severity.ADVICE, domain=domain))
    await _domain_records(report, resolver, ca_file, mta_sts_port, timeout)
    report.mx = list(
        await asyncio.gather(
            *(
                _check_mx(report, r.host, r.preference, resolver, port, ca_file, timeout)
                for r in mx.records
            )
        )
    )
    report.grade = _domain_grade(report)
    return report


def _domain_grade(report: DomainReport) -> Grade:
    """The worst MX's grade, lowered by the domain's own red and amber findings (a broken
    MTA-STS policy leaves senders that rely on it opportunistic, whatever DANE does)."""
    grades = [m.grade for m in report.mx]
    grades += [_AS_GRADE[f.severity] for f in report.findings if f.severity in _AS_GRADE]
    return max(grades, key=_ORDER.__getitem__, default=Grade.UNKNOWN)


async def _domain_records(
    report: DomainReport, resolver: Resolver, ca_file: Path | None, sts_port: int, timeout: float
) -> None:
    domain, say = report.domain, report.findings.append
    if not report.mx_signed:
        say(finding("mx-unsigned", Severity.ADVICE, domain=domain))
    try:
        txt = await resolver.txt(f"_mta-sts.{domain}")
        report.sts_id = parse_txt(txt.records)
    except DnsError as exc:
        report.sts_error = T_("the _mta-sts TXT lookup failed ({error})", error=exc)
    if report.sts_id is not None:
        client = MtaStsClient(
            resolver, ca_file=ca_file, port_for=lambda _h: sts_port, timeout=timeout
        )
        try:
            report.sts_policy = parse_policy(await client.fetch(domain), report.sts_id)
        except MtaStsError as exc:
            report.sts_error = exc.args[0] if exc.args else str(exc)  # a Text: shown translated
    if report.sts_error:
        say(finding("mta-sts-broken", Severity.AMBER, domain=domain, why=report.sts_error))
    elif report.sts_policy is not None and report.sts_policy.mode is StsMode.TESTING:
        say(finding("mta-sts-testing", Severity.ADVICE, domain=domain))
    try:
        rpt = await resolver.txt(f"_smtp._tls.{domain}")
        report.tlsrpt = next((r for r in rpt.records if r.startswith("v=TLSRPTv1")), None)
    except DnsError:
        report.tlsrpt = None
    if report.tlsrpt is None:
        say(finding("no-tls-rpt", Severity.ADVICE, domain=domain))


async def _check_mx(
    report: DomainReport,
    host: str,
    preference: int,
    resolver: Resolver,
    port: int,
    ca_file: Path | None,
    timeout: float,
) -> MxReport:
    mx = MxReport(host, preference, port)
    secure_path = report.mx_signed
    try:
        addresses = await resolver.addresses(host)
        mx.address = addresses.records[0] if addresses.records else None
        secure_path = secure_path and addresses.secure
        # RFC 7672 section 2.2: TLSA records count only below a DNSSEC-validated MX and address.
        tlsa = await resolver.tlsa(SMTP_PORT, host) if secure_path else None
    except DnsError as exc:
        mx.findings.append(finding("host-lookup", Severity.RED, host=host, why=str(exc)))
        mx.grade = Grade.RED
        return mx
    if mx.address is None:
        mx.findings.append(finding("no-address", Severity.RED, host=host))
        mx.grade = Grade.RED
        return mx
    if tlsa is not None and tlsa.exists:
        mx.tlsa_present, mx.tlsa_secure = True, tlsa.secure
        mx.tlsa_usable = len(dane.usable(tlsa.records))
    mx.probe = await probe_smtp(mx.address, port, host, timeout)
    if mx.probe.chain:
        mx.certificate_valid, mx.certificate_reason = verify_certificate(
            mx.probe.chain[0], host, ca_file
        )
        if tlsa is not None and mx.tlsa_usable:
            mx.tlsa_matches, mx.tlsa_reason = dane.authenticate(tlsa.records, mx.probe.chain, host)
    if report.sts_policy is not None and report.sts_policy.mode is not StsMode.NONE:
        mx.sts_listed = report.sts_policy.matches_mx(host)
    mx.findings.extend(_mx_findings(mx, _enforced(report)))
    mx.grade = _grade(mx, _enforced(report))
    return mx


def _enforced(report: DomainReport) -> bool:
    return report.sts_policy is not None and report.sts_policy.mode is StsMode.ENFORCE


def _grade(mx: MxReport, enforced: bool) -> Grade:
    if any(f.severity is Severity.RED for f in mx.findings):
        return Grade.RED
    if not mx.probe.reached:
        return Grade.UNKNOWN
    dane_ok = mx.tlsa_secure and bool(mx.tlsa_matches)
    sts_ok = enforced and bool(mx.sts_listed) and bool(mx.certificate_valid)
    amber = any(f.severity is Severity.AMBER for f in mx.findings)
    return Grade.GREEN if (dane_ok or sts_ok) and not amber else Grade.AMBER


def _mx_findings(mx: MxReport, enforced: bool) -> list[Finding]:
    host, p = mx.host, mx.probe
    out: list[Finding] = []

    def say(code: str, severity: Severity, why: str = "", then: str = "") -> None:
        out.append(finding(code, severity, host=host, why=why, then=then))

    if not p.reached:
        say("unreachable", Severity.AMBER, why=p.error or T_("no answer"))
        return out
    if not p.starttls:
        say("no-starttls", Severity.RED)
        if mx.tlsa_secure:
            say("dane-without-tls", Severity.RED)
        return out
    if p.error:
        say("tls-failed", Severity.RED, why=p.error)
    if mx.certificate_valid is False:
        # Under an enforced MTA-STS policy a bad certificate stops delivery (RFC 8461 4.2);
        # DANE-EE does not look at the certificate's name or issuer (RFC 7672 3.1.1).
        stops = enforced and bool(mx.sts_listed) and not mx.tlsa_matches
        then = T_(", or MTA-STS senders will refuse it") if stops else ""
        severity = Severity.RED if stops else Severity.AMBER
        if mx.tlsa_matches and not stops:
            severity = Severity.ADVICE  # DANE senders authenticate it; others cannot
        say("certificate", severity, mx.certificate_reason, then)
    if mx.tlsa_secure and mx.tlsa_usable and mx.tlsa_matches is False:
        say("tlsa-mismatch", Severity.RED, why=mx.tlsa_reason)
    elif mx.tlsa_present and not mx.tlsa_secure:
        say("tlsa-insecure", Severity.AMBER)
    elif mx.tlsa_secure and not mx.tlsa_usable:
        say("tlsa-unusable", Severity.AMBER)
    if enforced and mx.sts_listed is False:
        say("mta-sts-unlisted", Severity.RED)
    if not mx.tlsa_secure and not enforced:
        say("no-policy", Severity.AMBER)
    old = [v for v in OUTDATED if p.versions.get(v) is VersionResult.ACCEPTED]
    if old:
        listed = old[0]
        for version in old[1:]:
            listed = T_("{first} and {second}", first=listed, second=version)
        say("old-tls", Severity.AMBER, why=listed)
    modern = [p.versions.get(v) for v in ("TLSv1.2", "TLSv1.3")]
    if p.versions and VersionResult.ACCEPTED not in modern:
        say("no-modern-tls", Severity.AMBER)
    if p.requiretls is False:
        say("no-requiretls", Severity.ADVICE)
    return out
