"""Content authenticity: whether the message read is the message its domain signed.

Transport (the legs) and authenticity are different questions, answered side by side: a
message can cross every hop encrypted and still be forged, or cross in clear and arrive
intact. This module decides, from what each DKIM signature gave (checked by
`mua.net.dkim_check`), what the user's provider recorded in Authentication-Results and what
others claimed there, one `ContentVerdict` with a sentence a person can read:

- intact: a signature of the From domain's organisation verifies;
- altered: a signature's body hash (or the signed headers) no longer match;
- key-gone: the signing key is no longer published (rotated keys make old mail fail: that
  is not forgery);
- unsigned: no DKIM-Signature at all;
- unaligned: signed, but by a domain unrelated to From (RFC 7489 section 3.1 relaxed
  alignment: the same organisational domain, from the public suffix list);
- unknown: nothing could be checked (no DNS and no cached key), never a guess.

Sources are as for the legs: observed (the client verified it itself), recorded (the user's
provider's Authentication-Results), claimed (someone else's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache
from typing import Any

from publicsuffixlist import PublicSuffixList

from mua.core.authresults import AuthenticationResults, AuthResult
from mua.core.i18n import T_, Text, text_from_json, text_to_json
from mua.core.leg_types import Source


class ContentStatus(StrEnum):
    INTACT = "intact"
    ALTERED = "altered"
    KEY_GONE = "key-gone"
    UNSIGNED = "unsigned"
    UNALIGNED = "unaligned"
    UNKNOWN = "unknown"


class SignatureOutcome(StrEnum):
    PASS = "pass"
    BODY_CHANGED = "body"  # the body hash does not match (RFC 6376 section 6.1.3)
    HEADER_CHANGED = "header"  # the body matches, the signature over the headers does not
    KEY_GONE = "key-gone"  # no key record at <selector>._domainkey.<domain>
    NO_DNS = "no-dns"  # the key could not be looked up (no DNS, no cached key)
    BROKEN = "broken"  # the signature or its key record is malformed


@dataclass(frozen=True)
class SignatureCheck:
    """What one DKIM-Signature gave when the client verified it."""

    domain: str
    selector: str
    algorithm: str
    outcome: SignatureOutcome
    dnssec: bool | None = None  # the key's record was DNSSEC-validated; None: not looked up


@dataclass(frozen=True)
class ContentVerdict:
    verdict: ContentStatus
    source: Source
    note: str
    domain: str | None = None
    algorithm: str | None = None
    selector: str | None = None
    dnssec: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "domain": self.domain,
            "algorithm": self.algorithm,
            "selector": self.selector,
            "dnssec": self.dnssec,
            "source": self.source.value,
            "note": self.note,
        }

    def to_record(self) -> dict[str, Any]:
        """`to_json` with the note's translation spec (mua.core.i18n), for mua's stores."""
        data = self.to_json()
        spec = text_to_json(self.note)
        if spec is not None:
            data["note_text"] = spec
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContentVerdict:
        return cls(
            ContentStatus(data["verdict"]),
            Source(data["source"]),
            text_from_json(data.get("note", ""), data.get("note_text")),
            domain=data.get("domain"),
            algorithm=data.get("algorithm"),
            selector=data.get("selector"),
            dnssec=data.get("dnssec"),
        )


@dataclass(frozen=True)
class ArcChain:
    """An ARC chain (RFC 8617) as the client validated it: "pass", "fail" or "none"."""

    result: str
    sealers: tuple[str, ...] = ()  # the domains that sealed it, oldest first as written


def with_arc(verdict: ContentVerdict, chain: ArcChain | None) -> ContentVerdict:
    """The verdict with what the ARC chain adds: a forwarder that changed the message (a
    mailing list's footer) vouches that the signature held when the message reached it.
    The verdict itself stays what the client saw; only the sentence says more."""
    if chain is None or verdict.source is not Source.OBSERVED:
        return verdict
    sealers = ", ".join(chain.sealers) or "?"
    if chain.result == "pass":
        extra = T_(
            "An ARC chain sealed by {sealers} passes: the forwarder vouches for what it received.",
            sealers=sealers,
        )
    else:
        extra = T_("An ARC chain sealed by {sealers} does not validate.", sealers=sealers)
    return replace(verdict, note=Text.joined([verdict.note, extra]))


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list shipped inside the package: no network


def organisational_domain(domain: str) -> str:
    """RFC 7489 section 3.2: the public suffix plus one label ("mail.a.test" -> "a.test")."""
    name = domain.lower().rstrip(".")
    return _suffixes().privatesuffix(name) or name


def aligned(signing_domain: str, from_domain: str) -> bool:
    """Relaxed alignment (RFC 7489 section 3.1.1): the same organisational domain."""
    return organisational_domain(signing_domain) == organisational_domain(from_domain)


def decide(
    checks: list[SignatureCheck],
    from_domain: str | None,
    *,
    recorded: Sequence[AuthenticationResults] = (),
    claimed: Sequence[AuthenticationResults] = (),
) -> ContentVerdict:
    """The verdict from the client's own checks, else from what was recorded or claimed."""
    frm = (from_domain or "").lower()
    if not checks:
        return _unsigned(frm, recorded)
    done = [c for c in checks if c.outcome is not SignatureOutcome.NO_DNS]
    if not done:
        return _not_checked(checks[0], recorded, claimed)
    passing = [c for c in done if c.outcome is SignatureOutcome.PASS]
    for check in passing:
        if frm and aligned(check.domain, frm):
            return _verdict(
                ContentStatus.INTACT,
                check,
                T_(
                    "Signed by {domain} and intact: the message is as it was sent.",
                    domain=check.domain,
                ),
            )
    if passing:
        check = passing[0]
        return _verdict(
            ContentStatus.UNALIGNED,
            check,
            T_(
                "Signed by {domain}, a domain unrelated to the From address ({sender}): it "
                "says nothing about who wrote it.",
                domain=check.domain,
                sender=frm or "?",
            ),
        )
    for check in done:
        if check.outcome is SignatureOutcome.BODY_CHANGED:
            note = T_(
                "Altered after signing (body): the text is not what {domain} signed.",
                domain=check.domain,
            )
            return _verdict(ContentStatus.ALTERED, check, note)
    for check in done:
        if check.outcome is SignatureOutcome.HEADER_CHANGED:
            note = T_(
                "Altered after signing (header): signed header fields were changed after "
                "{domain} signed them.",
                domain=check.domain,
            )
            return _verdict(ContentStatus.ALTERED, check, note)
    for check in done:
        if check.outcome is SignatureOutcome.KEY_GONE:
            return _verdict(
                ContentStatus.KEY_GONE,
                check,
                T_(
                    "Key gone: {domain} no longer publishes the key it signed with (keys are "
                    "rotated); this cannot be checked now, which does not make it forged.",
                    domain=check.domain,
                ),
            )
    check = done[0]
    return _verdict(
        ContentStatus.UNKNOWN,
        check,
        T_("The signature of {domain} could not be read.", domain=check.domain),
    )


def _verdict(status: ContentStatus, check: SignatureCheck, note: str) -> ContentVerdict:
    return ContentVerdict(
        status,
        Source.OBSERVED,
        note,
        domain=check.domain,
        algorithm=check.algorithm,
        selector=check.selector,
        dnssec=check.dnssec,
    )


def _unsigned(frm: str, recorded: Sequence[AuthenticationResults]) -> ContentVerdict:
    dmarc = _result(recorded, "dmarc")
    if dmarc is not None and dmarc.result == "fail" and frm:
        return ContentVerdict(
            ContentStatus.UNSIGNED,
            Source.RECORDED,
            T_(
                "Not from {domain}: nothing signed it, and your provider found that it fails "
                "{domain}'s DMARC policy.",
                domain=organisational_domain(frm),
            ),
            domain=frm,
        )
    return ContentVerdict(
        ContentStatus.UNSIGNED,
        Source.OBSERVED,
        T_("Unsigned: nothing shows that the text is what was sent, or who sent it."),
        domain=frm or None,
    )


def _result(results: Sequence[AuthenticationResults], method: str) -> AuthResult | None:
    for field in results:
        for result in field.results:
            if result.method == method:
                return result
    return None


def _not_checked(
    check: SignatureCheck,
    recorded: Sequence[AuthenticationResults],
    claimed: Sequence[AuthenticationResults],
) -> ContentVerdict:
    """No key to check with: unknown, never a guess; what a server wrote is quoted, with
    whose word it is (the provider's: recorded; anyone else's: claimed)."""
    own = _result(recorded, "dkim")
    other = _result(claimed, "dkim")
    if own is not None:
        source = Source.RECORDED
        note = T_(
            "Could not check: no DNS, and the key of {domain} is not in the cache; your "
            "provider ({host}) recorded dkim={result}.",
            domain=check.domain,
            host=recorded[0].authserv_id,
            result=own.result,
        )
    elif other is not None:
        source = Source.CLAIMED
        note = T_(
            "Could not check: no DNS, and the key of {domain} is not in the cache; {host}, "
            "not your provider, claims dkim={result}.",
            domain=check.domain,
            host=next(r.authserv_id for r in claimed if any(x.method == "dkim" for x in r.results)),
            result=other.result,
        )
    else:
        source = Source.OBSERVED
        note = T_(
            "Could not check: no DNS, and the key of {domain} is not in the cache.",
            domain=check.domain,
        )
    return ContentVerdict(
        ContentStatus.UNKNOWN,
        source,
        note,
        domain=check.domain,
        algorithm=check.algorithm,
        selector=check.selector,
    )
