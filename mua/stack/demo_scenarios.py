"""The demo scenarios: one per row option of the ports-and-encryption table, the attacks and
the policies that stop them. `mua.stack.demo` runs them; `scenario_names.py` lists their
names without importing anything (tests/test_cli.py keeps the two equal)."""

from __future__ import annotations

from dataclasses import dataclass

from mua.core.i18n import N_
from mua.core.legs import TraceStatus
from mua.core.tls_facts import Security
from mua.net.mta_sts import StsMode
from mua.stack.attacker import AttackMode
from mua.stack.lmtp import LmtpMode
from mua.stack.provider_options import MxTls
from mua.stack.relay_host import HopSpec


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    submission: Security = Security.IMPLICIT
    retrieval: Security = Security.IMPLICIT
    mx_tls: MxTls = MxTls.VERIFIED
    dane: bool = True  # b.test publishes a TLSA record for its MX
    mta_sts: StsMode | None = None  # b.test publishes an MTA-STS policy in this mode
    attacker: AttackMode | None = None  # a man-in-the-middle before b.test's MX
    requiretls: bool = False  # alice submits with MAIL FROM ... REQUIRETLS (RFC 8689)
    forged: bool = False  # an outsider writes to b.test's MX as alice (demo_content.py)
    # Legacy providers (ProviderOptions.cleartext_auth) and the users' explicit consent to
    # their passwords crossing in clear (Account.allow_cleartext_auth): with
    # `Security.NONE` above, submission on the 587 role (or the 25 role with
    # `legacy_submission`) and IMAP on the 143 role without STARTTLS.
    cleartext_auth: bool = False
    legacy_submission: bool = False
    lmtp: LmtpMode | None = None  # b.test's MX delivers to a separate store host (lmtp.py)
    hops: tuple[HopSpec, ...] = ()  # a smarthost, relays between a.test and b.test's MX
    pop3: bool = False  # bob downloads over POP3 (995, 110 with STLS, or 110 in clear)
    oauth: bool = False  # alice signs in with OAuth2 at a.test's authorization server
    expect: TraceStatus = TraceStatus.DELIVERED


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "modern", N_("Implicit TLS to the MSA, DANE-authenticated STARTTLS between MTAs.")
        ),
        Scenario(
            "starttls",
            N_("Submission on 587 and retrieval on 143, with STARTTLS instead of implicit TLS."),
            submission=Security.STARTTLS,
            retrieval=Security.STARTTLS,
        ),
        Scenario(
            "opportunistic",
            N_("The recipient's MX has a certificate nobody can verify, and no TLSA record."),
            mx_tls=MxTls.UNVERIFIABLE,
        ),
        Scenario(
            "plaintext",
            N_("The recipient's MX offers no STARTTLS: the relay crosses the network in clear."),
            mx_tls=MxTls.NONE,
        ),
        Scenario(
            "strip",
            N_("An attacker removes STARTTLS from the MX's reply; b.test publishes no policy."),
            dane=False,
            attacker=AttackMode.STRIP,
        ),
        Scenario(
            "strip-dane",
            N_(
                "An attacker removes STARTTLS; b.test's DNSSEC-signed TLSA record makes it "
                "mandatory."
            ),
            attacker=AttackMode.STRIP,
            expect=TraceStatus.DEFERRED,
        ),
        Scenario(
            "intercept",
            N_(
                "An attacker answers STARTTLS with its own certificate; b.test publishes no policy."
            ),
            dane=False,
            attacker=AttackMode.INTERCEPT,
        ),
        Scenario(
            "intercept-dane",
            N_(
                "An attacker answers STARTTLS with its own certificate; the TLSA record exposes it."
            ),
            attacker=AttackMode.INTERCEPT,
            expect=TraceStatus.DEFERRED,
        ),
        Scenario(
            "mta-sts",
            N_("No TLSA record, but b.test publishes an MTA-STS policy in enforce mode."),
            dane=False,
            mta_sts=StsMode.ENFORCE,
        ),
        Scenario(
            "strip-mta-sts",
            N_("An attacker removes STARTTLS; b.test's MTA-STS policy (enforce) requires it."),
            dane=False,
            mta_sts=StsMode.ENFORCE,
            attacker=AttackMode.STRIP,
            expect=TraceStatus.DEFERRED,
        ),
        Scenario(
            "requiretls",
            N_("Alice sends with REQUIRETLS: every hop must use authenticated TLS, or return it."),
            requiretls=True,
        ),
        Scenario(
            "requiretls-strip",
            N_(
                "Alice sends with REQUIRETLS; an attacker removes STARTTLS and b.test has no "
                "policy."
            ),
            dane=False,
            attacker=AttackMode.STRIP,
            requiretls=True,
            expect=TraceStatus.BOUNCED,
        ),
        Scenario(
            "strip-rewrite",
            N_(
                "An attacker removes STARTTLS and rewrites the text on the way; b.test has no "
                "policy, but a.test's DKIM signature shows the change."
            ),
            dane=False,
            attacker=AttackMode.STRIP_REWRITE,
        ),
        Scenario(
            "strip-rewrite-dane",
            N_(
                "An attacker removes STARTTLS to rewrite the text; b.test's DNSSEC-signed TLSA "
                "record makes TLS mandatory, so nothing is sent and nothing altered."
            ),
            attacker=AttackMode.STRIP_REWRITE,
            expect=TraceStatus.DEFERRED,
        ),
        Scenario(
            "legacy-25",
            N_(
                "Legacy submission on the 25 role, in clear; alice allowed her password to "
                "cross in clear for this account."
            ),
            submission=Security.NONE,
            cleartext_auth=True,
            legacy_submission=True,
        ),
        Scenario(
            "submission-clear",
            N_(
                "Submission on the 587 role without STARTTLS; alice allowed her password to "
                "cross in clear for this account."
            ),
            submission=Security.NONE,
            cleartext_auth=True,
        ),
        Scenario(
            "imap-clear",
            N_(
                "Bob reads his mail over IMAP on the 143 role without STARTTLS; he allowed his "
                "password to cross in clear for this account."
            ),
            retrieval=Security.NONE,
            cleartext_auth=True,
        ),
        Scenario(
            "pop3-995",
            N_("Bob downloads his mail over POP3 with implicit TLS on the 995 role."),
            pop3=True,
        ),
        Scenario(
            "pop3-stls",
            N_("Bob downloads his mail over POP3 on the 110 role, upgraded with STLS."),
            retrieval=Security.STARTTLS,
            pop3=True,
        ),
        Scenario(
            "pop3-clear",
            N_(
                "Bob downloads his mail over POP3 on the 110 role without STLS; he allowed his "
                "password to cross in clear for this account."
            ),
            retrieval=Security.NONE,
            cleartext_auth=True,
            pop3=True,
        ),
        Scenario(
            "smarthost-587",
            N_(
                "a.test's MSA hands the message to a separate outbound host, a smarthost, on "
                "the 587 role with STARTTLS and AUTH."
            ),
            hops=(HopSpec("out.a.test", port_role=587, smarthost=True),),
        ),
        Scenario(
            "smarthost-25",
            N_(
                "a.test's MSA hands the message to a smarthost on the 25 role with STARTTLS, "
                "without AUTH (the smarthost trusts the MSA's network)."
            ),
            hops=(HopSpec("out.a.test", smarthost=True),),
        ),
        Scenario(
            "smarthost-clear",
            N_(
                "a.test's MSA hands the message to a smarthost on the 25 role, which offers "
                "no STARTTLS: the handoff crosses the network in clear."
            ),
            hops=(HopSpec("out.a.test", tls=False, smarthost=True),),
        ),
        Scenario(
            "relay-hops",
            N_(
                "The message crosses a.test's outbound filter (no TLS), then b.test's inbound "
                "filter (STARTTLS), then b.test's MX (DANE): three relay legs, the weakest red."
            ),
            hops=(HopSpec("filter.a.test", tls=False), HopSpec("filter.b.test")),
        ),
        Scenario(
            "lmtp-tls",
            N_("b.test's MX hands the message to a separate store host over LMTP with TLS."),
            lmtp=LmtpMode.TLS,
        ),
        Scenario(
            "lmtp-clear",
            N_("b.test's MX hands the message to a separate store host over LMTP, in clear."),
            lmtp=LmtpMode.CLEAR,
        ),
        Scenario(
            "forged",
            N_(
                "An outsider writes to b.test's MX as alice@a.test, bypassing a.test: no "
                "signature, and a.test's DMARC policy says it is not from a.test."
            ),
            forged=True,
        ),
        Scenario(
            "oauth",
            N_(
                "Alice signs in with OAuth2 (code + PKCE at a.test's authorization server) and "
                "sends with an access token over SASL XOAUTH2: no password crosses the leg."
            ),
            oauth=True,
        ),
    )
}
