"""A leg's facts in words, for the journey panel and anything else that shows a leg:
the lines of the diagram's label (`port_lines`, `tls_text`, `verification_text`), the
details table (`fact_rows`, `certificate_rows`), a title, the whole as plain text
(`details_text`) and a trace's one-line `summary`. What the grade *means* is
`mua.core.grade_text`. Qt-free; every word in the current language.
"""

from __future__ import annotations

import dataclasses

from mua.core.grade_text import explain, source_meaning
from mua.core.i18n import N_, _, ngettext, translated
from mua.core.labels import grade_label, protocol_label, source_label
from mua.core.legs import Grade, Leg, LegKind, Role, Trace
from mua.core.tls_facts import TlsMode

GRADE_ORDER = (Grade.GREEN, Grade.AMBER, Grade.RED, Grade.INTERNAL, Grade.UNKNOWN)


def port_lines(leg: Leg) -> list[str]:
    """'port 465', '(here 10465)': the role's standard port, then where the demo world (or
    a test) really listened; never 'a -> b', which reads as client port -> server port.
    Two lines, so that the label stays as narrow as its other lines."""
    role, actual = leg.port_role, leg.port_actual
    if role is not None and actual is not None and role != actual:
        return [_("port {port}").format(port=role), _("(here {port})").format(port=actual)]
    if role is not None or actual is not None:
        return [_("port {port}").format(port=role if role is not None else actual)]
    return []


def tls_text(leg: Leg) -> str:
    tls = leg.tls
    if tls.encrypted is None:
        return _("same server") if leg.grade is Grade.INTERNAL else _("TLS unknown")
    if not tls.encrypted:
        return _("cleartext")
    mode = {TlsMode.IMPLICIT: _("implicit"), TlsMode.STARTTLS: "STARTTLS"}.get(tls.mode, "")
    return f"{tls.version or 'TLS'} {mode}".strip()


def verification_text(leg: Leg) -> str | None:
    tls = leg.tls
    if not tls.encrypted:
        return None
    if tls.verified:
        by = tls.verified_by
        return _("verified ({by})").format(by=by.value if by else "?")
    return _("not verified") if tls.verified is False else _("verification unknown")


_MODES = {
    TlsMode.IMPLICIT: N_("implicit TLS"),
    TlsMode.STARTTLS: "STARTTLS",
    TlsMode.NONE: N_("none"),
    TlsMode.UNKNOWN: N_("unknown"),
}
_KINDS = {
    LegKind.SUBMISSION: N_("submission"),
    LegKind.HANDOFF: N_("handoff"),
    LegKind.RELAY: N_("relay"),
    LegKind.DELIVERY: N_("delivery"),
    LegKind.RETRIEVAL: N_("retrieval"),
    LegKind.OTHER: N_("other"),
}
_KNOWN_TLS = {"encrypted", "mode", "version", "cipher", "bits", "verified", "verified_by"}


def _yes_no(value: bool | None) -> str:
    return _("unknown") if value is None else (_("yes") if value else _("no"))


def _endpoint(role: Role, host: str | None) -> str:
    return f"{role.value} {host}" if host else role.value


def _port(port: int | None, meaning: str) -> str:
    return _("not recorded") if port is None else f"{port} ({meaning})"


def _sign_in(auth: str | None) -> str:
    """Whether a password or a token crossed the client's leg (its SASL mechanism)."""
    if auth in ("XOAUTH2", "OAUTHBEARER"):
        return _("an OAuth2 access token ({mechanism}), no password").format(mechanism=auth)
    if auth:
        return _("your password ({mechanism})").format(mechanism=auth)
    return _("not recorded")


def fact_rows(leg: Leg) -> list[tuple[str, str]]:
    tls = leg.tls
    unknown = _("not recorded")
    rows = [
        (_("From"), _endpoint(leg.from_.role, leg.from_.host)),
        (_("To"), _endpoint(leg.to.role, leg.to.host)),
        (_("Kind"), _(_KINDS[leg.kind])),
        (_("Protocol"), protocol_label(leg.protocol)),
        (_("Role port"), _port(leg.port_role, _("the standard port for this leg"))),
        (_("Actual port"), _port(leg.port_actual, _("where this server listens here"))),
        (_("Encrypted"), _yes_no(tls.encrypted)),
        (_("TLS mode"), _(_MODES[tls.mode])),
        (_("TLS version"), tls.version or unknown),
        (_("Cipher"), tls.cipher or unknown),
        (_("Key bits"), str(tls.bits) if tls.bits is not None else unknown),
        (_("Certificate verified"), _yes_no(tls.verified)),
        (_("Verified by"), tls.verified_by.value if tls.verified_by else unknown),
        (_("Grade"), grade_label(leg.grade)),
        (_("Source"), source_label(leg.source)),
    ]
    if leg.client_leg:  # the client's own connection: what crossed it to sign in
        rows.append((_("Signed in with"), _sign_in(leg.auth)))
    if leg.header is not None:  # a leg read from a Received field: the evidence, as written
        rows.append((_("Keyword (with)"), leg.with_keyword or unknown))
        rows.append((_("Received header"), leg.header))
    return rows


def certificate_rows(leg: Leg) -> list[tuple[str, str]]:
    """Whatever the leg knows of the peer's certificate: peer_name, and any field added later."""
    rows: list[tuple[str, str]] = []
    for f in dataclasses.fields(leg.tls):
        value = getattr(leg.tls, f.name)
        if f.name not in _KNOWN_TLS and value not in (None, "", (), []):
            rows.append((_humanise(f.name), _show(value)))
    extra = getattr(leg, "certificate", None)
    if dataclasses.is_dataclass(extra) and not isinstance(extra, type):
        extra = dataclasses.asdict(extra)
    if isinstance(extra, dict):
        rows += [(_humanise(str(k)), _show(v)) for k, v in extra.items() if v not in (None, "")]
    return rows


def _humanise(name: str) -> str:
    special = {"peer_name": _("Name on certificate")}
    return special.get(name, name.replace("_", " ").capitalize())


def _show(value: object) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    return str(value)


def leg_title(trace: Trace, index: int) -> str:
    leg = trace.legs[index]
    a, b = _endpoint(leg.from_.role, leg.from_.host), _endpoint(leg.to.role, leg.to.host)
    return _("Leg {number} of {count}: {sender} \u2192 {receiver}").format(
        number=index + 1, count=len(trace.legs), sender=a, receiver=b
    )


def details_text(trace: Trace, index: int) -> str:
    """Everything known about one leg, as plain text."""
    leg = trace.legs[index]
    lines = [leg_title(trace, index), ""]
    lines += [f"{k}: {v}" for k, v in fact_rows(leg)]
    cert = certificate_rows(leg)
    if cert:
        lines += ["", _("Certificate")] + [f"{k}: {v}" for k, v in cert]
    if leg.note:
        lines += ["", _("Note: {note}").format(note=translated(leg.note))]
    lines += [
        "",
        explain(leg),
        "",
        _("Source: {meaning}").format(meaning=source_meaning(leg.source)),
    ]
    return "\n".join(lines)


def summary(trace: Trace) -> str:
    """'6 legs: 3 recommended, 3 inside one server.'"""
    grades = [leg.grade for leg in trace.legs]
    if not grades:
        return _("No legs known.")
    words = {
        Grade.GREEN: lambda n: ngettext("{n} recommended", "{n} recommended", n),
        Grade.AMBER: lambda n: ngettext("{n} acceptable", "{n} acceptable", n),
        Grade.RED: lambda n: ngettext("{n} unprotected", "{n} unprotected", n),
        Grade.INTERNAL: lambda n: ngettext("{n} inside one server", "{n} inside one server", n),
        Grade.UNKNOWN: lambda n: ngettext("{n} unknown", "{n} unknown", n),
    }
    counts = {g: grades.count(g) for g in GRADE_ORDER if g in grades}
    parts = ", ".join(words[g](n).format(n=n) for g, n in counts.items())
    # TRANSLATORS: {grades} is a list such as "3 recommended, 3 inside one server"
    noun = ngettext("{n} leg: {grades}.", "{n} legs: {grades}.", len(grades))
    return noun.format(n=len(grades), grades=parts)
