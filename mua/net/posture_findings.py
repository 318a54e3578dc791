"""What `mua check` found wrong with a domain or one of its MX hosts: each finding a stable
code for scripts, a severity, and one sentence saying what is wrong and what to fix (the
sentences, `SAY`, marked for translation)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mua.core.i18n import N_, T_


class Severity(StrEnum):
    RED = "red"
    AMBER = "amber"
    ADVICE = "advice"  # worth doing; does not lower the grade


@dataclass(frozen=True)
class Finding:
    code: str  # stable, for scripts: "no-starttls", "certificate", ...
    severity: Severity
    text: str  # one sentence: what is wrong and what to do

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity.value, "text": self.text}


# One sentence per finding: what is wrong, then what to fix.
SAY = {
    "mx-lookup": N_("The MX lookup for {domain} failed ({why}); fix its DNS."),
    "no-such-domain": N_(
        "{domain} does not exist in the DNS (NXDOMAIN), so no mail can reach it; check "
        "the spelling, or register the domain and publish an MX."
    ),
    "no-mx": N_("{domain} {why}, so it receives no mail; publish an MX."),
    "implicit-mx": N_(
        "{domain} has no MX record, so senders deliver to its address record instead (the "
        "implicit MX of RFC 5321 section 5.1); publish an MX naming the host that "
        "receives its mail."
    ),
    "mx-unsigned": N_(
        "The MX records of {domain} are not DNSSEC-signed, so DANE cannot apply; "
        "sign the zone to let senders authenticate your MX."
    ),
    "mta-sts-broken": N_(
        "The MTA-STS policy of {domain} could not be used: {why}; serve it at "
        "https://mta-sts.{domain}/.well-known/mta-sts.txt with a valid certificate."
    ),
    "mta-sts-testing": N_(
        "The MTA-STS policy of {domain} is in testing mode; switch it to "
        "enforce once the TLS reports show no failures."
    ),
    "no-tls-rpt": N_(
        "{domain} publishes no TLS-RPT record; add a TXT record at _smtp._tls.{domain} "
        '("v=TLSRPTv1; rua=mailto:...", RFC 8460) to hear about failed TLS deliveries.'
    ),
    "host-lookup": N_("Looking up {host} failed ({why}); fix its DNS."),
    "no-address": N_("{host} has no address; publish an A record."),
    "unreachable": N_("{why}; check that it accepts connections on that port."),
    "no-starttls": N_(
        "{host} offers no STARTTLS, so mail reaches it in clear; enable STARTTLS "
        "with a certificate for its name."
    ),
    "dane-without-tls": N_(
        "{host} has DNSSEC-signed TLSA records but no STARTTLS, so DANE "
        "senders cannot deliver at all; enable STARTTLS or remove the records."
    ),
    "tls-failed": N_("{why}; fix the server's TLS setup."),
    "certificate": N_(
        "The certificate of {host} does not verify ({why}); install one from a "
        "public CA that names the host{then}."
    ),
    "tlsa-mismatch": N_(
        "The certificate of {host} matches none of its TLSA records ({why}), so "
        "DANE senders will not deliver; publish a record for the current key first."
    ),
    "tlsa-insecure": N_(
        "The TLSA records of {host} are not DNSSEC-valid, so DANE ignores them; sign the zone."
    ),
    "tlsa-unusable": N_(
        "None of the TLSA records of {host} is usable for SMTP (RFC 7672 section "
        "3.1); publish DANE-EE (3 1 1) or DANE-TA (2 1 1) records."
    ),
    "mta-sts-unlisted": N_(
        "{host} is not listed in the MTA-STS policy, so senders that enforce "
        "it will not deliver to it; add it to the policy's mx lines."
    ),
    "no-policy": N_(
        "Nothing makes TLS to {host} mandatory, so an attacker could strip STARTTLS; "
        "publish DNSSEC-signed TLSA records (DANE) or an MTA-STS policy in enforce mode."
    ),
    "old-tls": N_(
        "{host} still accepts {why}, deprecated by RFC 8996; allow only TLS 1.2 and 1.3."
    ),
    "no-modern-tls": N_("{host} accepts neither TLS 1.2 nor 1.3; enable them."),
    "no-requiretls": N_(
        "{host} does not advertise REQUIRETLS (RFC 8689); offer it so senders "
        "can insist on TLS all the way."
    ),
}


def finding(code: str, severity: Severity, **facts: str) -> Finding:
    """The finding's sentence is a Text: English in --json, the user's language on screen."""
    return Finding(code, severity, T_(SAY[code], **facts))
