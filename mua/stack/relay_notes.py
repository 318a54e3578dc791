"""What relay.py says about a session and how it refuses one: the sentences of a relay
leg's note, the refusals a policy (DANE, MTA-STS, REQUIRETLS) makes, and a fixed next hop
(`NextHop`: a smarthost or an intermediate relay, relay_host.py) with its AUTH."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import aiosmtplib

from mua.core.i18n import T_, Text
from mua.core.legs import Leg, Outcome, Role
from mua.core.tls_facts import TlsFacts, VerifiedBy
from mua.stack.tls_policy import PolicyRefusal, TlsPolicy


@dataclass(frozen=True)
class NextHop:
    """A fixed next host instead of the domain's MX (Postfix's `relayhost`, or a transport
    map entry): no MX lookup and no recipient-domain policy, STARTTLS opportunistic with the
    certificate checked against the CA file, the leg between the roles given (MSA -> MTA for
    a smarthost: the handoff leg; MTA -> MTA for an intermediate relay). With `login` the
    hop takes AUTH, sent only after STARTTLS succeeded, never in clear."""

    host: str
    port_role: int = 25
    from_role: Role = Role.MTA
    to_role: Role = Role.MTA
    login: tuple[str, str] | None = None


async def hop_login(client: aiosmtplib.SMTP, hop: NextHop, tls: TlsFacts) -> Text:
    """AUTH at a smarthost, only over TLS: in clear the password would cross the network."""
    assert hop.login is not None
    if not tls.encrypted:
        raise aiosmtplib.SMTPException(f"{hop.host} offered no STARTTLS; AUTH not sent in clear")
    await client.ehlo()  # RFC 3207 section 4.2: what it offers over TLS counts
    await client.login(*hop.login)
    return T_("{host} took the sending server's relay password (AUTH), over TLS.", host=hop.host)


LegMaker = Callable[[TlsFacts, str], Leg]


def no_starttls_note(mx_host: str, policy: TlsPolicy, leg: LegMaker) -> str:
    """The note of a session without STARTTLS, or a refusal when the policy requires TLS."""
    if policy.tls_required:
        # TRANSLATORS: {makes} is "make" or "makes", agreeing with {source} in English;
        # a translation may leave it out.
        why = T_(
            "{host}'s EHLO reply did not offer STARTTLS, which {source} {makes} mandatory "
            "(an attacker on the path may have removed the offer)",
            host=mx_host,
            source=policy.source,
            makes=policy.makes,
        )
        raise policy_refusal(
            policy,
            why,
            leg(TlsFacts.cleartext(), stopped_note(policy, why)),
            result_type="starttls-not-supported",
        )
    clear = T_(
        "{host} did not offer STARTTLS: the message crossed the network in clear.", host=mx_host
    )
    return Text.joined([clear, testing_note(policy)])


def testing_note(policy: TlsPolicy) -> str:
    """RFC 8461 section 5: in testing mode a failure is reported (TLS-RPT), not enforced."""
    if policy.by is VerifiedBy.MTA_STS and not policy.enforced:
        return T_(
            "{source} is in testing mode: it reports failures, it stops nothing.",
            source=policy.source,
        )
    return ""


def stopped_note(policy: TlsPolicy, why: str) -> Text:
    if policy.requiretls:
        return T_(
            "{policy} stopped it: {why}. Nothing of the message was sent; it is returned to "
            "the sender (RFC 8689 section 4.2.1).",
            policy=policy.name,
            why=why,
        )
    return T_(
        "{policy} stopped it: {why}. Nothing of the message was sent; it stays queued and "
        "will be retried.",
        policy=policy.name,
        why=why,
    )


def policy_refusal(
    policy: TlsPolicy,
    why: str,
    leg: Leg,
    status: str = "5.7.10",
    *,
    result_type: str = "validation-failure",
) -> PolicyRefusal:
    """A refusal; final (with `status`) only for a REQUIRETLS message. Every refusal comes
    before MAIL FROM, so the leg's outcome is "refused": nothing of the message was sent."""
    final = status if policy.requiretls else None
    refused = replace(leg, outcome=Outcome.REFUSED)
    return PolicyRefusal(f"{policy.name}: {why}", refused, status=final, result_type=result_type)
