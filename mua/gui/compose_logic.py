"""What the compose window decides without Qt: recipients, address completion, validation, and
"how this will travel" (the submission leg as configured, each recipient domain's inbound
posture looked up in the background by mua.net.posture, the code `mua check` uses too).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from email.utils import formataddr, getaddresses
from pathlib import Path
from typing import Any

from mua.core.account import Account
from mua.core.compose import ComposeError, Draft, build_message
from mua.core.i18n import N_, _, error_text, translated
from mua.core.legs import Endpoint, Grade, Leg, Protocol, Role, Source
from mua.core.tls_facts import Security, TlsFacts, TlsMode, VerifiedBy
from mua.net import posture
from mua.net.dns import Resolver
from mua.net.posture import LOOKUP_TIMEOUT, inbound_posture, parse_nameserver
from mua.store.cache import MailCache

log = logging.getLogger(__name__)

# --- recipients -------------------------------------------------------------------------


def split_recipients(text: str) -> tuple[str, ...]:
    """The entries of a To/Cc/Bcc line: 'Bob <bob@b.test>, "Doe, Jo" <jo@c.test>' gives two.
    An entry that is not an address is kept as typed, for validation to name it."""
    entries = []
    for name, address in getaddresses([text]):
        if address or name:
            entries.append(formataddr((name, address)) if name and address else address or name)
    return tuple(entries)


def address_of(entry: str) -> str:
    """The bare address of one entry ('Bob <bob@b.test>' -> 'bob@b.test')."""
    pairs = getaddresses([entry])
    return pairs[0][1] if pairs else ""


def recipient_domains(entries: Iterable[str]) -> list[str]:
    """The distinct domains of the entries that are addresses, lower-cased, in order."""
    domains: dict[str, None] = {}
    for entry in entries:
        local, at, domain = address_of(entry).rpartition("@")
        domain = domain.strip().lower().rstrip(".")
        if at and local and domain and " " not in domain:
            domains.setdefault(domain, None)
    return list(domains)


def problem_with(draft: Draft) -> tuple[str | None, str] | None:
    """(field, sentence) when the draft cannot be sent as it is: field is "To", "Cc", "Bcc"
    or None for the message as a whole; None when it can be sent."""
    try:
        build_message(draft)
    except ComposeError as exc:
        english = str(exc)
        where = next((f for f in ("To", "Cc", "Bcc") if english.startswith(f"{f} address")), None)
        return where, error_text(exc)
    return None


def current_token(text: str, cursor: int) -> tuple[int, str]:
    """Where the entry under the cursor starts and what has been typed of it."""
    start = text.rfind(",", 0, cursor) + 1
    while start < cursor and text[start] == " ":
        start += 1
    return start, text[start:cursor]


def complete_token(text: str, cursor: int, choice: str) -> tuple[str, int]:
    """The line with the entry under the cursor replaced by `choice`, and the new cursor."""
    start, _typed = current_token(text, cursor)
    end = text.find(",", cursor)
    rest = text[end + 1 :].lstrip() if end >= 0 else ""
    head = text[:start] + choice + ", "
    return head + rest, len(head)


def address_book(cache: MailCache, account: str, *, per_folder: int = 500) -> list[str]:
    """Distinct people seen in the account's cached messages, most recent first: senders
    ("Name <address>") and the addresses they wrote to."""
    seen: dict[str, str] = {}
    rows = [
        row
        for folder in cache.folders(account)
        for row in cache.page(account, folder.name, limit=per_folder)
    ]
    rows.sort(key=lambda r: r.date or 0.0, reverse=True)
    for row in rows:
        people = [(row.sender_name, row.sender_address), *getaddresses([row.recipients])]
        for name, address in people:
            key = address.strip().lower()
            if "@" not in key:
                continue
            entry = formataddr((name, address)) if name else address
            if key not in seen or (name and "<" not in seen[key]):
                seen[key] = entry
    return list(seen.values())


def suggestions(book: Iterable[str], typed: str, limit: int = 20) -> list[str]:
    """Entries of `book` containing `typed` (case-insensitive), those starting with it first;
    what the completer shows."""
    needle = typed.strip().lower()
    if not needle:
        return []
    hits = [e for e in book if needle in e.lower()]
    hits.sort(key=lambda e: not (e.lower().startswith(needle) or address_of(e).startswith(needle)))
    return hits[:limit]


# --- the strip ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    """One stop of the strip: a title ("Submission", "b.test"), a few words, a colour."""

    title: str
    text: str
    grade: Grade
    detail: str = ""  # the facts behind it, for a tooltip
    pending: bool = False


_SUBMISSION_TEXT = {
    Security.IMPLICIT: N_("Encrypted and verified (implicit TLS)"),
    Security.STARTTLS: N_("Encrypted and verified after STARTTLS"),
    Security.NONE: N_("Not encrypted"),
}
_SUBMISSION_MODE = {
    Security.IMPLICIT: TlsMode.IMPLICIT,
    Security.STARTTLS: TlsMode.STARTTLS,
    Security.NONE: TlsMode.NONE,
}


def submission_chip(account: Account) -> Chip:
    """The MUA -> MSA leg as configured, graded by mua.core.grade like any observed leg, so the
    colour is the one the hop panel will show once the message is sent."""
    smtp = account.smtp
    security = smtp.security
    if security is Security.NONE:
        tls = TlsFacts.cleartext()
    else:
        tls = TlsFacts(True, _SUBMISSION_MODE[security], verified=True, verified_by=VerifiedBy.PKI)
    name = smtp.server_name or smtp.host
    leg = Leg(
        Endpoint(Role.MUA), Endpoint(Role.MSA, name), Protocol.SUBMISSION, tls, Source.OBSERVED
    )
    if security is not Security.NONE:
        detail = _(
            "{address} sends through {host} port {port}; the certificate is always verified, "
            "and nothing is sent if it does not verify."
        )
    else:
        detail = _("{address} sends through {host} port {port} without encryption.")
    detail = detail.format(address=account.address, host=name, port=smtp.port)
    return Chip(_("Submission"), _(_SUBMISSION_TEXT[security]), leg.grade, detail)


def pending_chip(domain: str) -> Chip:
    what = _("MX, STARTTLS, DANE and MTA-STS")
    return Chip(domain, _("looking up…"), Grade.UNKNOWN, what, True)


class InboundPosture(posture.InboundPosture):
    """The posture mua.net.posture finds, as the strip shows it."""

    @classmethod
    def of(cls, found: posture.InboundPosture) -> InboundPosture:
        return cls(**{f.name: getattr(found, f.name) for f in fields(found)})

    def chip(self) -> Chip:
        return Chip(self.domain, translated(self.summary), self.grade, translated(self.detail))


@dataclass(frozen=True)
class TravelLookup:
    """How to look up recipient domains: the MX ports (the demo world's MX listens on an
    unprivileged port that DNS cannot tell), the DNSSEC trust anchor, the timeout per step."""

    mx_ports: Mapping[str, int] | None = None  # MX host name -> port; others use 25
    trust_anchor_file: Path | None = None
    timeout: float = LOOKUP_TIMEOUT

    @classmethod
    def from_demo_settings(cls, settings: Mapping[str, Any]) -> TravelLookup:
        """From `World.settings()` (DemoSession.settings): each domain's MX port, the anchor."""
        ports = {d["mx"]["host"]: int(d["mx"]["port"]) for d in settings.get("domains", ())}
        anchor = settings.get("trust_anchor_file")
        return cls(ports, Path(anchor) if anchor else None)

    def resolver(self, account: Account) -> Resolver:
        """The account's name server ("host:port") when it has one, else the system's, whose
        AD bit is then trusted for DNSSEC (this answers "what would a sender find", not a
        security decision of this client)."""
        if account.nameserver:
            return Resolver(
                parse_nameserver(account.nameserver),
                trust_anchor_file=self.trust_anchor_file,
                timeout=self.timeout,
            )
        return Resolver(None, timeout=self.timeout, trust_ad=self.trust_anchor_file is None)

    async def posture(self, domain: str, resolver: Resolver) -> InboundPosture:
        found = await inbound_posture(
            domain, resolver, mx_ports=self.mx_ports, timeout=self.timeout
        )
        return InboundPosture.of(found)
