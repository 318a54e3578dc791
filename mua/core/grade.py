"""One grading function: a leg's transport security as green / amber / red / internal / unknown.

The table it implements is docs/design.md#roles-and-the-grading-table:
- submission and retrieval (IMAP or POP3 alike: 993 and 995 green, STARTTLS and STLS
  amber, 143 and 110 in clear red): implicit TLS with a verified certificate is green (RFC 8314
  section 3); STARTTLS with a verified certificate is amber (it works, but a first cleartext
  exchange exists and RFC 8314 prefers implicit TLS); cleartext or a certificate that failed
  verification is red.
- relay: STARTTLS whose certificate was authenticated by a policy (DANE, RFC 7672; MTA-STS,
  RFC 8461) is green; encrypted but not authenticated by a policy is amber, because an
  attacker on the path can strip STARTTLS and the sender would not notice; cleartext is red.
- handoff and same-host delivery are internal; delivery to another host is amber over TLS and
  red in clear.
Where the facts do not say whether the leg was encrypted, the grade is unknown: never a guess.

A leg a policy refused (`Outcome.REFUSED`: DANE, MTA-STS or REQUIRETLS stopped the session
before MAIL FROM) carried nothing of the message, so nothing was exposed, however the
attempted session looked (an attacker may have stripped STARTTLS): the grade rates the
message's protection, and the policy kept it, which is the relay row's green ("enforced by
DANE or MTA-STS"). That the message did not travel is the leg's outcome, not its grade.
"""

from __future__ import annotations

import typing

from mua.core.leg_types import Endpoint, Grade, LegKind, Outcome, Protocol, Source
from mua.core.tls_facts import TlsFacts, TlsMode, VerifiedBy

_IMPLICIT_TLS_PORTS = {465, 993, 995}


class GradedLeg(typing.Protocol):
    """What grading reads of a leg: `mua.core.legs.Leg` has it all (and grades itself with
    `grade_leg`, so this module cannot import it)."""

    @property
    def from_(self) -> Endpoint: ...
    @property
    def to(self) -> Endpoint: ...
    @property
    def protocol(self) -> Protocol: ...
    @property
    def tls(self) -> TlsFacts: ...
    @property
    def source(self) -> Source: ...
    @property
    def port_role(self) -> int | None: ...
    @property
    def outcome(self) -> Outcome: ...
    @property
    def kind(self) -> LegKind: ...


def grade_leg(leg: GradedLeg) -> Grade:
    tls = leg.tls
    kind = leg.kind
    if leg.protocol is Protocol.INTERNAL:
        return Grade.INTERNAL
    if kind is LegKind.DELIVERY and _same_host(leg):
        return Grade.INTERNAL
    if leg.outcome is Outcome.REFUSED:
        return Grade.GREEN  # nothing of the message was sent: the policy protected it
    if tls.encrypted is None:
        return Grade.UNKNOWN
    if not tls.encrypted:
        return Grade.RED
    if kind in (LegKind.SUBMISSION, LegKind.RETRIEVAL):
        return _grade_client_leg(leg)
    if kind is LegKind.RELAY:
        if tls.verified and tls.verified_by in (VerifiedBy.DANE, VerifiedBy.MTA_STS):
            return Grade.GREEN
        return Grade.AMBER
    # Delivery to another host, handoff over a network, or a leg between unusual roles:
    # encrypted is acceptable, but nothing here makes it the recommended form.
    return Grade.AMBER


def _grade_client_leg(leg: GradedLeg) -> Grade:
    tls = leg.tls
    if tls.verified is False and leg.source is Source.OBSERVED:
        return Grade.RED  # a client that sends a password past a bad certificate leaks it
    if tls.verified is False:
        # From a header (Sendmail verify=NOT, OpenSMTPD ...:NO) "not verified" is the
        # receiving server's view of the *client's* certificate, which submission does not
        # use: it says nothing about whether the client authenticated the server.
        return Grade.AMBER
    if not tls.verified:
        return Grade.AMBER  # encrypted, but nobody recorded whether the server was authenticated
    implicit = tls.mode is TlsMode.IMPLICIT or (
        tls.mode is TlsMode.UNKNOWN and leg.port_role in _IMPLICIT_TLS_PORTS
    )
    return Grade.GREEN if implicit else Grade.AMBER


def _same_host(leg: GradedLeg) -> bool:
    a, b = leg.from_.host, leg.to.host
    return a is not None and b is not None and a.lower().rstrip(".") == b.lower().rstrip(".")
