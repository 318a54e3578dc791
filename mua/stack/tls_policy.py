"""What a relay to one MX host must achieve: the TLS policy the sending MTA applies.

Opportunistic STARTTLS (RFC 7435) is the default: use TLS when offered, authenticate nobody.
Two published policies turn that into a refusal when TLS is missing or the server is not the
one the recipient domain named:

- DANE (RFC 7672): DNSSEC-signed TLSA records at `_25._tcp.<mx host>`. Usable records make
  STARTTLS mandatory and the certificate must match them (section 2.2); a secure TLSA RRset
  with no usable record still makes TLS mandatory, unauthenticated (section 2.2; Postfix
  calls this level "encrypt").
- MTA-STS (RFC 8461): an HTTPS-published policy; in enforce mode the MX must be listed, offer
  STARTTLS and present a certificate valid for its name under the web PKI (section 4).

DANE takes precedence: an MX with usable TLSA records is not held to the MTA-STS policy
(RFC 8461 section 2).

A message sent with REQUIRETLS (RFC 8689) adds the sender's demand on top of whatever the
domain publishes (`with_requiretls`): STARTTLS, a certificate authenticated by DANE or the
web PKI, and an MX that passes REQUIRETLS on (section 4.2.1). Failing that the message is
returned, not retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from mua.core.i18n import T_
from mua.core.legs import Leg
from mua.core.tls_facts import VerifiedBy
from mua.net import dane
from mua.net.dns import DnsError, Resolver, TlsaRecord
from mua.net.dnssec import DnssecBogus
from mua.net.mta_sts import StsMode, StsPolicy
from mua.net.tls import verify_certificate

log = logging.getLogger(__name__)


class PolicyRefusal(Exception):
    """The policy forbids relaying through this MX now: a temporary failure (never in clear).

    `reason` is short, for the queue and the bounce; `leg` (when a session got that far)
    carries the sentence for people in its note.
    """

    def __init__(
        self,
        reason: str,
        leg: Leg | None = None,
        *,
        status: str | None = None,
        result_type: str = "validation-failure",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.leg = leg
        self.result_type = result_type  # for TLS-RPT (RFC 8460 section 4.3)
        # An RFC 3463 status when the refusal is final: REQUIRETLS messages are returned
        # (RFC 8689 section 4.2.1), "5.7.30" or "5.7.10"; None: retry later.
        self.status = status


@dataclass(frozen=True)
class TlsPolicy:
    """`by` None: opportunistic. `enforced` False: MTA-STS testing (note failures, deliver)."""

    by: VerifiedBy | None = None
    tls_required: bool = False
    tlsa: tuple[TlsaRecord, ...] = ()
    authenticate: bool = False
    enforced: bool = True
    source: str = ""  # what published it, for notes: "mx.b.test's DNSSEC-signed TLSA records"
    requiretls: bool = False  # the message was sent with REQUIRETLS (RFC 8689)
    strings: tuple[str, ...] = ()  # the policy as TLS-RPT quotes it (RFC 8460 section 4.4)

    @property
    def report_type(self) -> str:
        """RFC 8460 section 4.4's policy-type."""
        if self.by is None:
            return "no-policy-found"
        return {VerifiedBy.DANE: "tlsa", VerifiedBy.MTA_STS: "sts"}.get(self.by, "no-policy-found")

    @property
    def makes(self) -> str:
        """`source` + this verb reads as a sentence ("... records make", "... policy makes")."""
        return "make" if self.by is VerifiedBy.DANE and not self.requiretls else "makes"

    @property
    def name(self) -> str:
        if self.requiretls:
            return "REQUIRETLS"
        if self.by is None:
            return "no policy"
        return {VerifiedBy.DANE: "DANE", VerifiedBy.MTA_STS: "MTA-STS"}.get(self.by, "no policy")

    def check_certificate(
        self, chain: list[bytes], mx_host: str, ca_file: Path | None
    ) -> tuple[bool, VerifiedBy | None, str]:
        """(verified, by what, reason): DANE matches the TLSA records, anything else asks
        the web PKI (for the record when opportunistic, as the rule under MTA-STS)."""
        if self.by is VerifiedBy.DANE and self.tlsa:
            ok, reason = dane.authenticate(self.tlsa, chain, mx_host)
            return ok, VerifiedBy.DANE, reason
        ok, reason = verify_certificate(chain[0] if chain else None, mx_host, ca_file)
        # Only an enforced MTA-STS policy authenticates; testing mode merely reports.
        enforcing = self.by is VerifiedBy.MTA_STS and self.enforced
        by = VerifiedBy.MTA_STS if enforcing else VerifiedBy.PKI
        return ok, by, reason


OPPORTUNISTIC = TlsPolicy()


def with_requiretls(policy: TlsPolicy) -> TlsPolicy:
    """RFC 8689 section 4.2.1, steps 3 and 4: TLS is mandatory and the certificate must be
    authenticated, by the TLSA records when DANE applies, else under the web PKI (RFC 6125)."""
    return replace(
        policy,
        requiretls=True,
        tls_required=True,
        authenticate=True,
        enforced=True,
        source=T_("the sender's REQUIRETLS request"),
    )


def requiretls_mx_check(
    mx_host: str, mx_secure: bool, sts: StsPolicy | None
) -> PolicyRefusal | None:
    """RFC 8689 section 4.2.1 step 1: the MX host name must come from a DNSSEC-validated MX
    answer or be listed by the domain's MTA-STS policy; else an attacker could have named it."""
    if mx_secure or (sts is not None and sts.mode is not StsMode.NONE and sts.matches_mx(mx_host)):
        return None
    return PolicyRefusal(
        f"REQUIRETLS: the MX host {mx_host} was named neither by a DNSSEC-signed MX record nor "
        "by an MTA-STS policy",
        status="5.7.10",
    )


async def dane_policy(resolver: Resolver, mx_host: str, *, secure_path: bool) -> TlsPolicy | None:
    """The DANE policy of one MX host, None when DANE does not apply.

    RFC 7672 section 2.2: TLSA records are looked up only when the MX and address answers
    were DNSSEC-validated (`secure_path`); otherwise the host name itself could be forged.
    Section 2.1: a TLSA lookup that fails (bogus signatures, a server error, no answer) —
    anything but a validated "no such records" — forbids delivery to that host for now.
    """
    if not secure_path:
        return None
    try:
        answer = await resolver.tlsa(25, mx_host)
    except DnssecBogus as exc:
        raise PolicyRefusal(
            f"DANE: the TLSA records of {mx_host} failed DNSSEC validation ({exc})",
            result_type="dnssec-invalid",
        ) from exc
    except DnsError as exc:
        raise PolicyRefusal(
            f"DANE: the TLSA lookup for {mx_host} failed ({exc})", result_type="tlsa-invalid"
        ) from exc
    if not answer.secure or not answer.exists:
        return None
    records = tuple(dane.usable(answer.records))
    return TlsPolicy(
        VerifiedBy.DANE,
        tls_required=True,
        tlsa=records,
        authenticate=bool(records),
        source=T_("{host}'s DNSSEC-signed TLSA records", host=mx_host),
        strings=tuple(f"{r.usage} {r.selector} {r.mtype} {r.data.hex()}" for r in answer.records),
    )


def sts_policy_for_mx(sts: StsPolicy | None, domain: str, mx_host: str) -> TlsPolicy | None:
    """RFC 8461 section 5: what an MTA-STS policy demands of one MX; None: no policy.

    Raises PolicyRefusal for an MX the enforced policy does not list (section 4.1).
    """
    if sts is None or sts.mode is StsMode.NONE:
        return None
    enforced = sts.mode is StsMode.ENFORCE
    if not sts.matches_mx(mx_host):
        if enforced:
            raise PolicyRefusal(
                f"MTA-STS: {mx_host} is not among the MX hosts {domain}'s policy lists "
                f"({', '.join(sts.mx) or 'none'})"
            )
        log.info("MTA-STS testing: %s is not listed by %s's policy", mx_host, domain)
    return TlsPolicy(
        VerifiedBy.MTA_STS,
        tls_required=enforced,
        authenticate=enforced,
        enforced=enforced,
        source=T_("{domain}'s MTA-STS policy", domain=domain),
        strings=(
            "version: STSv1",
            f"mode: {sts.mode.value}",
            *(f"mx: {mx}" for mx in sts.mx),
            f"max_age: {sts.max_age}",
        ),
    )


async def policy_for_mx(
    resolver: Resolver, domain: str, mx_host: str, sts: StsPolicy | None, *, secure_path: bool
) -> TlsPolicy:
    """DANE when the MX has DNSSEC-signed TLSA records, else MTA-STS, else opportunistic
    (RFC 8461 section 2: DANE wins where both apply)."""
    found = await dane_policy(resolver, mx_host, secure_path=secure_path)
    if found is None:
        found = sts_policy_for_mx(sts, domain, mx_host)
    return found or OPPORTUNISTIC


def returned_reason(statuses: list[str], last_error: str) -> str:
    """The permanent reason of a REQUIRETLS message no MX could take. RFC 8689 section 4.2.1:
    5.7.30 (registered by the RFC's section 7, "REQUIRETLS support required") when an MX
    lacked only REQUIRETLS itself; 5.7.10 "Encryption needed" (RFC 3463, RFC 5248) when no
    TLS session meeting the section's steps (a validated MX name, TLS, an authenticated
    certificate) could be had."""
    if "5.7.30" in statuses:
        return f"550 5.7.30 REQUIRETLS support required ({last_error})"
    return f"550 5.7.10 Encryption needed: {last_error}"
