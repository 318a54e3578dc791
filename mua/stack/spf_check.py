"""SPF (RFC 7208) for the world's MX, with pyspf, over mua's validating resolver, and the
loopback addresses that make it mean something.

Every server of the world listens on 127.0.0.1, but Linux (like Windows) routes all of
127.0.0.0/8 to the loopback interface, so each provider's outbound MTA binds its own source
address (`sending_address`: a.test 127.0.0.1, b.test 127.0.0.2, ...) and publishes it in
its zone as `v=spf1 ip4:<address> -all`; the `forged` scenario's outsider connects from
`OUTSIDER_ADDRESS`. Where the system cannot bind such an address (macOS configures only
127.0.0.1), no address is bound and no SPF record published: SPF then says `none`, never a
pass that an outsider on the same 127.0.0.1 would share.

pyspf asks DNS through its module-level `DNSLookup`, the hook its own tests replace; it is
replaced once here by a function that answers from the resolver of the check running in the
calling thread (a thread-local, set by `spf_results`), and falls back to pyspf's own lookup
for any other caller.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import spf
from authres import SPFAuthenticationResult

from mua.net.dns import DnsError, Resolver

log = logging.getLogger(__name__)
T = TypeVar("T")

OUTSIDER_ADDRESS = "127.0.0.66"  # the `forged` scenario's outsider (demo_content.py)


@functools.cache
def loopback_aliases_work() -> bool:
    """Whether a socket can bind a loopback address other than 127.0.0.1."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((OUTSIDER_ADDRESS, 0))
    except OSError:
        log.info(
            "cannot bind %s: every world server sends from 127.0.0.1, no SPF", OUTSIDER_ADDRESS
        )
        return False
    return True


def sending_address(index: int) -> str | None:
    """The source address of the world's `index`-th provider (0: 127.0.0.1), or None where
    loopback aliases cannot be bound."""
    if not loopback_aliases_work():
        return None
    return str(ipaddress.IPv4Address("127.0.0.1") + index)


def spf_record(address: str | None) -> list[str]:
    """The TXT strings a domain (and its MTA's HELO name) publishes for `address`."""
    return [] if address is None else [f"v=spf1 ip4:{address} -all"]


@dataclass
class SpfDns:
    """pyspf's DNSLookup(name, qtype, strict, timeout), answered by `resolver` on `loop`."""

    resolver: Resolver
    loop: asyncio.AbstractEventLoop
    timeout: float = 5.0

    def lookup(self, name: str, qtype: str, timeout: float) -> list[tuple[tuple[str, str], object]]:
        if qtype in ("TXT", "SPF"):
            if qtype == "SPF":  # type 99 is obsolete (RFC 7208 section 3.1): none published
                return []
            # from the resolver's cache when it has the answer: no round trip to the loop
            found = self.resolver.cached_txt(name) or self._run(self.resolver.txt(name), timeout)
            return [((name, qtype), [text.encode()]) for text in found.records]
        if qtype in ("A", "AAAA"):
            found = self._run(self.resolver.addresses(name), timeout)
            version = 4 if qtype == "A" else 6
            return [
                ((name, qtype), address)
                for address in found.records
                if ipaddress.ip_address(address).version == version
            ]
        if qtype == "MX":
            mx = self._run(self.resolver.mx(name), timeout)
            return [((name, qtype), (r.preference, r.host)) for r in mx.records]
        return []  # PTR and the rest: not used by the world's records

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(min(timeout, self.timeout))
        except (DnsError, TimeoutError) as exc:
            future.cancel()
            raise spf.TempError(f"DNS {exc}") from exc


_current = threading.local()
_pyspf_lookup = spf.DNSLookup


def _lookup(
    name: str, qtype: str, strict: bool = True, timeout: float = 20
) -> list[tuple[tuple[str, str], object]]:
    """pyspf's DNSLookup, answered by the checking thread's SpfDns when it has one."""
    dns: SpfDns | None = getattr(_current, "dns", None)
    if dns is None:
        found: list[tuple[tuple[str, str], object]] = _pyspf_lookup(name, qtype, strict, timeout)
        return found
    return dns.lookup(name, qtype, timeout)


spf.DNSLookup = _lookup


def spf_results(
    dns: SpfDns, ip: str, mail_from: str, helo: str
) -> tuple[SPFAuthenticationResult, SPFAuthenticationResult | None]:
    """Checked in the calling (worker) thread: the MAIL FROM identity (with the null
    reverse-path, RFC 7208 section 2.4, that of postmaster@HELO) and, when there was a
    MAIL FROM, the HELO identity (section 2.3) too."""
    _current.dns = dns
    try:
        result, reason = spf.check2(ip, mail_from, helo)
        mail = SPFAuthenticationResult(
            result=result, reason=reason or None, smtp_mailfrom=mail_from or None, smtp_helo=helo
        )
        if not mail_from:
            return mail, None
        result, reason = spf.check2(ip, "", helo)
        return mail, SPFAuthenticationResult(result=result, reason=reason or None, smtp_helo=helo)
    finally:
        _current.dns = None
