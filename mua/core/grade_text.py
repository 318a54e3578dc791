"""What a leg's grade means, in words a person can act on: `explain(leg)` says what the
grade means for that kind of leg and what would make it green, citing the RFC;
`source_meaning` says what a source is worth; `WHY_ROWS` is the recommendation table of
docs/design.md#roles-and-the-grading-table. The journey panel (mua/gui/hop_panel.py) and `mua trace`
(mua/cli/trace_table.py) both print these words, so they say the same thing and are
translated once. Every sentence is marked for translation (N_ for the constants, built when
shown with `_()`, so that it is in the language chosen after import).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mua.core.i18n import N_, _
from mua.core.legs import Grade, Leg, LegKind, Source
from mua.core.tls_facts import VerifiedBy

# -- explanations -------------------------------------------------------------------------
# Built when shown, in the current language: the constants below are only marked (N_).

_CLIENT = {  # kind: (what, implicit port, STARTTLS port, STARTTLS RFC)
    # TRANSLATORS: as in "RFC 8314 recommends implicit TLS for {what}"
    LegKind.SUBMISSION: (N_("message submission"), 465, 587, "RFC 3207"),
    LegKind.RETRIEVAL: (N_("message retrieval"), 993, 143, "RFC 2595"),
}
_CLIENT_CLEARTEXT = {
    LegKind.SUBMISSION: N_(
        "Unprotected. The submission crossed the network in cleartext: anyone on the path could "
        "read the password and the message, or change them."
    ),
    LegKind.RETRIEVAL: N_(
        "Unprotected. The retrieval crossed the network in cleartext: anyone on the path could "
        "read the password and the message, or change them."
    ),
}
_RELAY_GREEN = N_(
    "To be green: the recipient's domain publishes DANE TLSA records (RFC 7672) or an MTA-STS "
    "policy in enforce mode (RFC 8461), so that senders refuse cleartext and forged "
    "certificates; a sender can also demand TLS for one message with REQUIRETLS (RFC 8689)."
)
_TO_BE_GREEN = {
    LegKind.HANDOFF: N_(
        "To be green: the MSA and the MTA run on the same server (RFC 5598, "
        "section 2 describes the roles), so the message never crosses a network."
    ),
    LegKind.RELAY: _RELAY_GREEN,
    LegKind.DELIVERY: N_(
        "To be green: deliver on the same host (LMTP or a local program between "
        "the MDA and the MS of RFC 5598); across hosts, use LMTP over TLS."
    ),
    LegKind.OTHER: N_(
        "To be green: this leg should be part of one server or protected by TLS "
        "with an authenticated certificate (RFC 5598, section 2 describes the roles)."
    ),
}
_INTERNAL = {
    LegKind.HANDOFF: N_("The MSA queued the message for the MTA on the same server."),
    LegKind.DELIVERY: N_("The message moved between delivery roles on the same host."),
}


def _client_green(kind: LegKind) -> str:
    what, port, _implicit, _rfc = _CLIENT[kind]
    return _(
        "To be green: implicit TLS on port {port} with a verified certificate, as RFC 8314 "
        "(section 3) recommends for {what}."
    ).format(port=port, what=_(what))


def _explain_client(leg: Leg, grade: Grade) -> str:
    what, port, starttls_port, starttls_rfc = _CLIENT[leg.kind]
    tls = leg.tls
    if grade is Grade.GREEN:
        return _(
            "Recommended. The client spoke TLS from the first byte (implicit TLS, the {port} "
            "role) and verified the server's certificate, so the password and the message never "
            "crossed the network in clear and nobody could pose as the server. This is what "
            "RFC 8314 (section 3) recommends for {what}."
        ).format(port=port, what=_(what))
    if grade is Grade.AMBER and tls.verified is None:
        return (
            _(
                "Acceptable. The connection was encrypted, but nothing recorded whether the "
                "client verified the server's certificate, so an impostor cannot be ruled out."
            )
            + " "
            + _client_green(leg.kind)
        )
    if grade is Grade.AMBER:
        return (
            _(
                "Acceptable. Encrypted and verified, but with STARTTLS (the {port} role, "
                "{rfc}): the session began in cleartext and was then upgraded. An attacker "
                "on the path can remove the STARTTLS offer; a client that insists on TLS refuses, "
                "one that does not carries on in clear. RFC 8314 prefers implicit TLS because it "
                "leaves no cleartext step."
            ).format(port=starttls_port, rfc=starttls_rfc)
            + " "
            + _client_green(leg.kind)
        )
    if tls.encrypted is False:
        return _(_CLIENT_CLEARTEXT[leg.kind]) + " " + _client_green(leg.kind)
    return (
        _(
            "Unprotected. The connection was encrypted, but the server's certificate failed "
            "verification (RFC 6125): whoever answered may be an attacker in the middle, and the "
            "password went to them."
        )
        + " "
        + _client_green(leg.kind)
    )


_REFUSED = N_(
    "Stopped: nothing of the message was sent. The sending MTA's policy refused this server "
    "before MAIL FROM: DANE (RFC 7672, section 2.2), an MTA-STS policy in enforce mode "
    "(RFC 8461, section 5) or the message's REQUIRETLS (RFC 8689, section 4.2.1) demands "
    "STARTTLS with an authenticated certificate, and the server, or an attacker in front of "
    "it, did not provide that. So the message was not exposed: it waits in the sender's queue "
    "for another try (deferred), or went back to its sender (bounced). This is the policy "
    "doing its job; the note says which one and why."
)


def _explain_relay(leg: Leg, grade: Grade) -> str:
    if grade is Grade.GREEN:
        if leg.tls.verified_by is VerifiedBy.DANE:
            return _(
                "Recommended. The sending MTA used STARTTLS on port 25 and authenticated the "
                "receiving server by DANE: its certificate matches a DNSSEC-signed TLSA record "
                "(RFC 7672). With such a policy, a stripped STARTTLS or a forged certificate "
                "makes the sender refuse and retry instead of falling back to cleartext, which "
                "STARTTLS alone (RFC 3207) cannot promise."
            )
        return _(
            "Recommended. The sending MTA used STARTTLS on port 25 and authenticated the "
            "receiving server as the recipient domain's MTA-STS policy in enforce mode demands "
            "(RFC 8461). With such a policy, a stripped STARTTLS or a forged certificate makes "
            "the sender refuse and retry instead of falling back to cleartext, which STARTTLS "
            "alone (RFC 3207) cannot promise."
        )
    if grade is Grade.AMBER:
        return (
            _(
                "Acceptable. Opportunistic STARTTLS (RFC 3207): encrypted against eavesdroppers, "
                "but no policy authenticated the receiving server and nothing required TLS. An "
                "attacker on the path can strip the 250-STARTTLS line from the EHLO reply, or "
                "present a certificate of their own, and the sender would carry on without "
                "noticing."
            )
            + " "
            + _(_RELAY_GREEN)
        )
    return (
        _(
            "Unprotected. The message crossed between servers in cleartext on port 25: anyone on "
            "the path could read or change it. Either the receiving server offered no STARTTLS "
            "(RFC 3207), or an attacker removed the offer."
        )
        + " "
        + _(_RELAY_GREEN)
    )


def explain(leg: Leg) -> str:
    """What the grade means for this kind of leg and what would make it green, with the RFC."""
    grade, kind = leg.grade, leg.kind
    if leg.refused:
        return _(_REFUSED)
    if grade is Grade.UNKNOWN:
        green = _client_green(kind) if kind in _CLIENT else _(_TO_BE_GREEN[kind])
        return (
            _(
                "Unknown. The record of this leg does not say whether it was encrypted (Received "
                "headers often leave TLS out), and mua never guesses."
            )
            + " "
            + green
        )
    if grade is Grade.INTERNAL:
        what = _(_INTERNAL.get(kind, N_("This step happened inside one server.")))
        return _(
            "Inside one server. {what} No network was crossed, so there is nothing to encrypt: "
            "the leg is as safe as the server itself. RFC 5598 (section 2) names these roles "
            "apart even when one program plays them all. This is already the recommended form."
        ).format(what=what)
    if kind in _CLIENT:
        return _explain_client(leg, grade)
    if kind is LegKind.RELAY:
        return _explain_relay(leg, grade)
    if grade is Grade.RED:
        return (
            _("Unprotected. This leg crossed a network in cleartext.") + " " + _(_TO_BE_GREEN[kind])
        )
    return (
        _("Acceptable. Encrypted, but not in a form the recommendation table calls best.")
        + " "
        + _(_TO_BE_GREEN[kind])
    )


_SOURCE_MEANING = {
    Source.OBSERVED: N_("observed \u2014 mua or the embedded stack saw this connection itself."),
    Source.RECORDED: N_(
        "recorded \u2014 a Received header written inside your own provider; as "
        "trustworthy as the provider."
    ),
    Source.CLAIMED: N_(
        "claimed \u2014 a Received header written upstream of your provider. "
        "Anyone can write such a header: treat these facts as a claim, not evidence."
    ),
}


def source_meaning(source: Source) -> str:
    """What a source is worth, in a sentence, in the current language."""
    return _(_SOURCE_MEANING[source])


# -- the recommendation table (docs/design.md#roles-and-the-grading-table) -----------------


@dataclass(frozen=True)
class WhyRow:
    leg: str
    path: str
    recommended: str
    acceptable: str
    bad: str
    why: str


# Marked (N_) and translated where shown (`why_rows`), like every constant here.
WHY_ROWS = (
    WhyRow(
        N_("submission"),
        "MUA \u2192 MSA",
        N_("465, implicit TLS, certificate verified (RFC 8314)"),
        N_("587 STARTTLS, certificate verified (RFC 3207)"),
        N_("cleartext, or a certificate that fails verification"),
        N_(
            "Your password travels here. Implicit TLS leaves no cleartext step to tamper with; "
            "STARTTLS can be stripped unless the client insists on it."
        ),
    ),
    WhyRow(
        N_("handoff"),
        "MSA \u2192 MTA",
        N_("internal (same server)"),
        N_("TLS to another host, such as a smarthost"),
        N_("cleartext to another host"),
        N_(
            "Usually no network is crossed (RFC 5598 roles played by one server); a handoff to "
            "another host needs TLS like any other leg."
        ),
    ),
    WhyRow(
        N_("relay"),
        N_("MTA \u2192 MX (may repeat)"),
        N_(
            "25 STARTTLS, the certificate authenticated by DANE (RFC 7672) or an MTA-STS policy "
            "in enforce mode (RFC 8461)"
        ),
        N_(
            "STARTTLS without such a policy (encrypted; the certificate at most verified by the "
            "web PKI, REQUIRETLS or not)"
        ),
        N_("cleartext"),
        N_(
            "Port 25 always starts in cleartext. Without a policy a stripped STARTTLS is a silent "
            "downgrade; with one it becomes a refusal and a retry."
        ),
    ),
    WhyRow(
        N_("delivery"),
        "MX \u2192 MDA \u2192 MS",
        N_("internal (LMTP on the same host)"),
        N_("LMTPS to another host"),
        N_("LMTP in clear to another host"),
        N_("Usually inside one server; across hosts it needs TLS like any other leg."),
    ),
    WhyRow(
        N_("retrieval"),
        "MS \u2192 MUA",
        N_("993 (IMAP) or 995 (POP3), implicit TLS, certificate verified (RFC 8314)"),
        N_("143 STARTTLS or 110 STLS, certificate verified (RFC 2595)"),
        N_("cleartext, or a certificate that fails verification"),
        N_("Your password and every message travel here: the same reasoning as submission."),
    ),
)

WHY_NOTES = (
    N_(
        "Ports do not mean encryption; the mode does. STARTTLS can be stripped by an attacker on "
        "the path (the 250-STARTTLS line removed from EHLO); only a policy (DANE, MTA-STS, "
        "REQUIRETLS) turns that into a refusal instead of a silent downgrade."
    ),
    N_(
        "Solid arrows were observed by mua or the embedded stack; dashed ones were recorded by "
        "your own provider in a Received header; dotted ones are claimed by servers upstream, "
        "and anyone could have written them."
    ),
)


def why_rows() -> list[WhyRow]:
    """The recommendation table in the current language."""
    return [WhyRow(*(_(str(getattr(r, f.name))) for f in dataclasses.fields(r))) for r in WHY_ROWS]


def why_notes() -> list[str]:
    return [_(note) for note in WHY_NOTES]
