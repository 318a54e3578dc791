"""What the compose window decides without Qt: recipients, address completion, validation, and
"how this will travel" (the submission leg as configured, each recipient domain's inbound
posture looked up in the background).

The posture of a domain is what a sending MTA would find: its MX hosts (and whether the MX
rrset is DNSSEC-signed), whether the first MX offers STARTTLS (an EHLO on port 25, or the port
the demo world's MX listens on), a DNSSEC-signed TLSA rrset for `_25._tcp.<mx>` (DANE, RFC 7672)
and an `_mta-sts` TXT record (MTA-STS, RFC 8461). Every step has a short timeout; a step that
fails makes the answer "unknown", never a guess.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import formataddr, getaddresses
from functools import partial
from pathlib import Path
from typing import Any

import aiosmtplib

from mua.core.account import Account
from mua.core.compose import ComposeError, Draft, build_message
from mua.core.legs import Endpoint, Grade, Leg, Protocol, Role, Source
from mua.core.tls import Security, TlsFacts, TlsMode, VerifiedBy
from mua.net import dane
from mua.net.dns import DnsError, Resolver
from mua.store.cache import MailCache

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT = 3.0  # seconds, per step: the strip must never keep anyone waiting
SMTP_PORT = 25

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
        text = str(exc)
        where = next((f for f in ("To", "Cc", "Bcc") if text.startswith(f"{f} address")), None)
        return where, text
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
    Security.IMPLICIT: "Encrypted and verified (implicit TLS)",
    Security.STARTTLS: "Encrypted and verified after STARTTLS",
    Security.NONE: "Not encrypted",
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
    detail = (
        f"{account.address} sends through {name} port {smtp.port}; the certificate is always "
        "verified, and nothing is sent if it does not verify."
        if security is not Security.NONE
        else f"{account.address} sends through {name} port {smtp.port} without encryption."
    )
    return Chip("Submission", _SUBMISSION_TEXT[security], leg.grade, detail)


def pending_chip(domain: str) -> Chip:
    return Chip(domain, "looking up…", Grade.UNKNOWN, "MX, STARTTLS, DANE and MTA-STS", True)


@dataclass(frozen=True)
class InboundPosture:
    """How a domain receives mail, as far as the lookups could tell."""

    domain: str
    mx: tuple[str, ...] = ()
    mx_signed: bool = False
    null_mx: bool = False
    no_mx: bool = False  # the domain has neither MX nor address: mail to it bounces
    starttls: bool | None = None  # None: the MX could not be asked
    dane: bool = False  # usable TLSA records for the first MX, DNSSEC-signed, MX rrset signed
    mta_sts: bool = False  # an "_mta-sts" TXT record announcing a policy (not fetched)
    problems: tuple[str, ...] = field(default=())

    @property
    def grade(self) -> Grade:
        return self._verdict()[0]

    @property
    def summary(self) -> str:
        return self._verdict()[1]

    def _verdict(self) -> tuple[Grade, str]:
        if self.null_mx:
            return Grade.RED, "accepts no mail (null MX)"
        if self.no_mx:
            return Grade.RED, "no mail server found — check the address"
        if not self.mx:
            return Grade.UNKNOWN, "unknown — the lookup failed"
        if self.dane and self.starttls is False:
            return Grade.RED, "DANE published but no STARTTLS offered: delivery will fail"
        if self.dane:
            return Grade.GREEN, "DANE (TLSA signed) — delivery will be authenticated"
        if self.starttls is False:
            return Grade.RED, "no STARTTLS — delivery will not be encrypted"
        if self.mta_sts:
            return Grade.AMBER, (
                "MTA-STS announced — encrypted; authenticated if its policy enforces"
            )
        if self.starttls:
            return Grade.AMBER, "opportunistic STARTTLS — encrypted, not authenticated"
        return Grade.UNKNOWN, "unknown (the MX could not be asked about STARTTLS)"

    def chip(self) -> Chip:
        if not self.mx:
            return Chip(self.domain, self.summary, self.grade, "\n".join(self.problems))
        facts = [
            f"MX: {', '.join(self.mx)} ({'DNSSEC-signed' if self.mx_signed else 'unsigned'})",
            "STARTTLS: "
            + {True: "offered", False: "not offered", None: "could not be checked"}[self.starttls],
            f"DANE (signed TLSA for _25._tcp.{self.mx[0]}): " + ("yes" if self.dane else "no"),
            "MTA-STS TXT record: " + ("published" if self.mta_sts else "none"),
            *self.problems,
        ]
        return Chip(self.domain, self.summary, self.grade, "\n".join(facts))


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
        return await inbound_posture(domain, resolver, mx_ports=self.mx_ports, timeout=self.timeout)


def parse_nameserver(text: str) -> tuple[str, int]:
    """ "127.0.0.1:5353" or "[::1]:53" -> (host, port); the port defaults to 53."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    host, sep, port = text.rpartition(":")
    if not sep or ":" in host:
        return text, 53
    return host, int(port)


async def inbound_posture(
    domain: str,
    resolver: Resolver,
    *,
    mx_ports: Mapping[str, int] | None = None,
    timeout: float = LOOKUP_TIMEOUT,
) -> InboundPosture:
    """What a sending MTA would find for `domain`. Never raises for a failed lookup: the
    problem is in `problems` and the verdict says "unknown" where it must."""
    try:
        async with asyncio.timeout(timeout):
            mx = await resolver.mx(domain)
    except (DnsError, TimeoutError) as exc:
        return InboundPosture(domain, problems=(f"MX lookup failed: {_reason(exc)}",))
    if mx.null_mx:
        return InboundPosture(domain, mx_signed=mx.secure, null_mx=True)
    hosts = tuple(record.host for record in mx.records)
    if not hosts:
        return InboundPosture(domain, no_mx=True, problems=(f"{domain} has no MX and no address.",))
    first = hosts[0]
    port = (mx_ports or {}).get(first, SMTP_PORT)
    starttls, tlsa, sts = await asyncio.gather(
        _starttls_offered(resolver, first, port, timeout),
        _bounded(partial(resolver.tlsa, SMTP_PORT, first), timeout),
        _bounded(partial(resolver.txt, f"_mta-sts.{domain}"), timeout),
    )
    problems = [p for p in (starttls, tlsa, sts) if isinstance(p, str)]
    dane_ok = (
        not isinstance(tlsa, str) and mx.secure and tlsa.secure and bool(dane.usable(tlsa.records))
    )
    sts_ok = not isinstance(sts, str) and any(r.startswith("v=STSv1") for r in sts.records)
    return InboundPosture(
        domain,
        mx=hosts,
        mx_signed=mx.secure,
        starttls=starttls if isinstance(starttls, bool) else None,
        dane=dane_ok,
        mta_sts=sts_ok,
        problems=tuple(problems),
    )


async def _bounded(lookup: Callable[[], Awaitable[Any]], timeout: float):
    """The lookup's answer, or a sentence saying why there is none. (A callable, not a
    coroutine: cancelled before it starts, it leaves no coroutine un-awaited.)"""
    try:
        async with asyncio.timeout(timeout):
            return await lookup()
    except (DnsError, TimeoutError) as exc:
        return f"Lookup failed: {_reason(exc)}"


async def _starttls_offered(resolver: Resolver, host: str, port: int, timeout: float):
    """Whether `host` lists STARTTLS after EHLO (True/False), or why it could not be asked."""
    try:
        async with asyncio.timeout(timeout):
            addresses = await resolver.addresses(host)
            if not addresses.records:
                return f"{host} has no address."
            return await _ehlo_starttls(addresses.records[0], port, timeout)
    except (DnsError, TimeoutError, OSError, aiosmtplib.SMTPException) as exc:
        return f"{host} port {port} could not be asked: {_reason(exc)}"


async def _ehlo_starttls(address: str, port: int, timeout: float) -> bool:
    smtp = aiosmtplib.SMTP(hostname=address, port=port, timeout=timeout, start_tls=False)
    try:
        await smtp.connect()
        sockname = smtp.transport.get_extra_info("sockname") if smtp.transport else None
        local = sockname[0] if sockname else "127.0.0.1"
        literal = f"[IPv6:{local}]" if ":" in local else f"[{local}]"
        await smtp.ehlo(hostname=literal)  # an address literal: nothing about us to look up
        offered = smtp.supports_extension("starttls")
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await smtp.quit()
        return offered
    finally:
        smtp.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "no answer in time"
    return str(exc) or type(exc).__name__


def human_size(size: int) -> str:
    """12 B, 3.4 KB, 1.2 MB: attachment sizes as the list shows them."""
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover
