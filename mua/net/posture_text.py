"""`mua check`'s report as text for a terminal, in the user's language (`--json` is the
report's own `to_json`, in English)."""

from __future__ import annotations

from mua.core.i18n import _, translated
from mua.core.labels import grade_label
from mua.net.posture_check import DomainReport
from mua.net.posture_findings import Severity
from mua.net.posture_probe import VersionResult


def describe(report: DomainReport) -> str:
    """The report as text for a terminal: the verdicts, the facts, then what to fix."""
    lines = [f"{report.domain}: {grade_label(report.grade).upper()}"]
    if report.mx:
        signed = _("DNSSEC-signed") if report.mx_signed else _("unsigned")
        lines.append("  " + _("MX records: {state}").format(state=signed))
    sts = report.sts_policy
    if sts:
        sts_text = _("mode {mode}, mx {hosts}").format(mode=sts.mode.value, hosts=", ".join(sts.mx))
    else:
        sts_text = translated(report.sts_error) or _("none")
    lines.append(f"  MTA-STS: {sts_text}")
    lines.append(f"  TLS-RPT: {report.tlsrpt or _('none')}")
    for mx in report.mx:
        p = mx.probe
        versions = ", ".join(f"{k} {_version_result(v)}" for k, v in p.versions.items())
        cert = {
            True: _("valid"),
            False: _("invalid ({reason})").format(reason=mx.certificate_reason),
            None: _("none seen"),
        }
        tlsa = _("present") if mx.tlsa_present else _("none")
        if mx.tlsa_present:
            tlsa += ", " + _("DNSSEC-valid {valid}, matches {matches}").format(
                valid=_yes(mx.tlsa_secure), matches=_yes(mx.tlsa_matches)
            )
        tls = f"{p.version or '-'} {p.cipher or ''}".rstrip()
        lines += [
            "  "
            + _("MX {host} (preference {preference}) {address}:{port}: {grade}").format(
                host=mx.host,
                preference=mx.preference,
                address=mx.address,
                port=mx.port,
                grade=grade_label(mx.grade).upper(),
            ),
            f"    STARTTLS: {_yes(p.starttls)}; REQUIRETLS: {_yes(p.requiretls)}",
            f"    TLS: {tls}; "
            + _("versions: {versions}").format(versions=versions or _("not tested")),
            "    " + _("certificate: {state}").format(state=cert[mx.certificate_valid]),
            f"    TLSA: {tlsa}",
        ]
        if mx.sts_listed is not None:
            lines.append("    " + _("listed by MTA-STS: {yes}").format(yes=_yes(mx.sts_listed)))
    findings = report.findings + [f for mx in report.mx for f in mx.findings]
    if findings:
        lines.append(_("What to fix:"))
        lines += [f"  [{_severity(f.severity)}] {translated(f.text)}" for f in findings]
    return "\n".join(lines)


def _severity(severity: Severity) -> str:
    return {
        Severity.RED: _("red"),
        Severity.AMBER: _("amber"),
        Severity.ADVICE: _("advice"),
    }[severity]


def _yes(value: bool | None) -> str:
    return {True: _("yes"), False: _("no"), None: _("unknown")}[value]


def _version_result(result: VersionResult) -> str:
    return {
        VersionResult.ACCEPTED: _("accepted"),
        VersionResult.REFUSED: _("refused"),
        VersionResult.UNTESTED: _("untested"),
    }[result]
