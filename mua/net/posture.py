"""A domain's inbound transport security: what a sending MTA would find, and how to fix it.

Two depths, one module, Qt-free (the compose window's strip and `mua check` share it):

- `inbound_posture`: the quick look the compose window shows while someone types: MX hosts
  (and whether the MX rrset is DNSSEC-signed), whether the first MX offers STARTTLS (an EHLO
  on port 25, or the port the demo world's MX listens on), a DNSSEC-signed TLSA rrset for
  `_25._tcp.<mx>` (DANE, RFC 7672) and an `_mta-sts` TXT record (MTA-STS, RFC 8461). Every step
  has a short timeout; a step that fails makes the answer "unknown", never a guess.
- `check_domain` (mua/net/posture_check.py): every MX probed in depth, graded, with findings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import aiosmtplib

from mua.core.i18n import T_, Text
from mua.core.legs import Grade
from mua.net import dane
from mua.net.dns import DnsError, Resolver

LOOKUP_TIMEOUT = 3.0  # seconds, per step: the strip must never keep anyone waiting
T = TypeVar("T")
SMTP_PORT = 25


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
            return Grade.RED, T_("accepts no mail (null MX)")
        if self.no_mx:
            return Grade.RED, T_("no mail server found — check the address")
        if not self.mx:
            return Grade.UNKNOWN, T_("unknown — the lookup failed")
        if self.dane and self.starttls is False:
            return Grade.RED, T_("DANE published but no STARTTLS offered: delivery will fail")
        if self.dane:
            return Grade.GREEN, T_("DANE (TLSA signed) — delivery will be authenticated")
        if self.starttls is False:
            return Grade.RED, T_("no STARTTLS — delivery will not be encrypted")
        if self.mta_sts:
            return Grade.AMBER, T_(
                "MTA-STS announced — encrypted; authenticated if its policy enforces"
            )
        if self.starttls:
            return Grade.AMBER, T_("opportunistic STARTTLS — encrypted, not authenticated")
        return Grade.UNKNOWN, T_("unknown (the MX could not be asked about STARTTLS)")

    @property
    def detail(self) -> str:
        """The facts behind the verdict, one per line (the strip's tooltip)."""
        if not self.mx:
            return Text.joined(list(self.problems), "\n")
        hosts = ", ".join(self.mx)
        starttls = {True: T_("offered"), False: T_("not offered"), None: T_("could not be checked")}
        facts = [
            T_("MX: {hosts} (DNSSEC-signed)", hosts=hosts)
            if self.mx_signed
            else T_("MX: {hosts} (unsigned)", hosts=hosts),
            T_("STARTTLS: {answer}", answer=starttls[self.starttls]),
            T_(
                "DANE (signed TLSA for _25._tcp.{mx}): {answer}",
                mx=self.mx[0],
                answer=T_("yes") if self.dane else T_("no"),
            ),
            T_(
                "MTA-STS TXT record: {answer}",
                answer=T_("published") if self.mta_sts else T_("none"),
            ),
            *self.problems,
        ]
        return Text.joined(facts, "\n")


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
        return InboundPosture(
            domain, problems=(T_("MX lookup failed: {reason}", reason=_reason(exc)),)
        )
    if mx.null_mx:
        return InboundPosture(domain, mx_signed=mx.secure, null_mx=True)
    hosts = tuple(record.host for record in mx.records)
    if not hosts:
        problem = T_("{domain} has no MX and no address.", domain=domain)
        return InboundPosture(domain, no_mx=True, problems=(problem,))
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


async def _bounded(lookup: Callable[[], Awaitable[T]], timeout: float) -> T | Text:
    """The lookup's answer, or a sentence saying why there is none. (A callable, not a
    coroutine: cancelled before it starts, it leaves no coroutine un-awaited.)"""
    try:
        async with asyncio.timeout(timeout):
            return await lookup()
    except (DnsError, TimeoutError) as exc:
        return T_("Lookup failed: {reason}", reason=_reason(exc))


async def _starttls_offered(
    resolver: Resolver, host: str, port: int, timeout: float
) -> bool | Text:
    """Whether `host` lists STARTTLS after EHLO (True/False), or why it could not be asked."""
    try:
        async with asyncio.timeout(timeout):
            addresses = await resolver.addresses(host)
            if not addresses.records:
                return T_("{host} has no address.", host=host)
            return await _ehlo_starttls(addresses.records[0], port, timeout)
    except (DnsError, TimeoutError, OSError, aiosmtplib.SMTPException) as exc:
        return T_(
            "{host} port {port} could not be asked: {reason}",
            host=host,
            port=port,
            reason=_reason(exc),
        )


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


def _reason(exc: BaseException) -> str:  # a Text when the error was raised with one
    if isinstance(exc, TimeoutError) and not str(exc):
        return T_("no answer in time")
    return (
        exc.args[0]
        if len(exc.args) == 1 and isinstance(exc.args[0], Text)
        else (str(exc) or type(exc).__name__)
    )
