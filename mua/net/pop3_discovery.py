"""Finding a POP3 server from an address alone, implicit TLS first (RFC 8314 section 5.1).

1. SRV records (RFC 6186): `_pop3s._tcp` (implicit TLS) before `_pop3._tcp` (STLS), each in
   RFC 2782 order; target "." means "not offered".
2. The `<incomingServer type="pop3">` entries of Mozilla-style autoconfig files
   (mua.net.autoconfig), the first file that lists any; implicit TLS first.
3. The usual names (pop., pop3., mail., the domain) on port 995, then 110.
Each source is asked only when the ones before found nothing. Each candidate is then
connected to as the account will connect (certificate verified, STLS required, no
credentials sent), in that order, and the first that works is the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from mua.core.i18n import T_, Text
from mua.core.tls_facts import Security, TlsFacts
from mua.net import autoconfig
from mua.net.autoconfig import AutoconfigError
from mua.net.dns import DnsError, Resolver
from mua.net.errors import CertificateInvalid, CleartextRefused, NetError
from mua.net.pop3 import Pop3Endpoint, Pop3Session

log = logging.getLogger(__name__)

_SRV = (("_pop3s._tcp", Security.IMPLICIT), ("_pop3._tcp", Security.STARTTLS))
_USUAL_PREFIXES = ("pop.", "pop3.", "mail.", "")
DEFAULT_PORTS = {Security.IMPLICIT: 995, Security.STARTTLS: 110}


@dataclass(frozen=True)
class Pop3Candidate:
    host: str
    port: int
    security: Security
    origin: str  # a sentence: where it was found
    tls: TlsFacts | None = None  # what the probe saw, when it worked
    server_name: str | None = None  # the name verified when `host` is an address
    source: str = "probe"  # "srv", "autoconfig" or "probe" (a usual name and port)
    problem: str = ""  # why connecting to it failed
    refused: bool = False  # ... because its certificate failed or it offered no STLS


@dataclass(frozen=True)
class Pop3Discovery:
    found: Pop3Candidate | None  # the first candidate that works, implicit TLS first
    steps: list[str]
    # Every server a lookup named (SRV, autoconfig), in order: tried ones with their TLS or
    # problem, the rest untried; of the usual names, only one that worked.
    candidates: tuple[Pop3Candidate, ...] = ()


async def discover_pop3(
    address: str,
    *,
    nameserver: tuple[str, int] | None = None,
    trust_anchor_file: Path | None = None,
    ca_file: Path | None = None,
    timeout: float = 5.0,
    autoconfig_urls: Callable[[str, str], list[str]] | None = None,
) -> Pop3Discovery:
    """The POP3 server for `address`; with `nameserver`, host names are resolved there too
    (and connected to by address, the name verified). Failures become steps."""
    domain = address.rpartition("@")[2].lower().rstrip(".")
    resolver = Resolver(nameserver, trust_anchor_file=trust_anchor_file, timeout=timeout)
    steps: list[str] = []
    candidates: list[Pop3Candidate] = []
    for service, security in _SRV:
        name = f"{service}.{domain}"
        try:
            answer = await resolver.srv(service, domain)
        except DnsError as exc:
            steps.append(T_("SRV {name}: {error}; ignored.", name=name, error=exc))
            continue
        if not answer.exists:
            steps.append(T_("SRV {name}: none published.", name=name))
        for record in answer.records:
            steps.append(
                T_("SRV {name}: {host} port {port}.", name=name, host=record.target,
                   port=record.port)
            )  # fmt: skip
            origin = T_("From the SRV record {name}", name=name)
            candidates.append(
                Pop3Candidate(record.target, record.port, security, origin, source="srv")
            )
    if not candidates:
        urls = (autoconfig_urls or autoconfig.default_urls)(domain, address)
        candidates = await _from_autoconfig(urls, address, resolver, nameserver, ca_file,
                                            timeout, steps)  # fmt: skip
    if not candidates:
        for security in (Security.IMPLICIT, Security.STARTTLS):
            for prefix in _USUAL_PREFIXES:
                host = f"{prefix}{domain}"
                origin = T_("A usual name and port: {host} port {port}", host=host,
                            port=DEFAULT_PORTS[security])  # fmt: skip
                candidates.append(Pop3Candidate(host, DEFAULT_PORTS[security], security, origin))
    listed: list[Pop3Candidate] = []  # what the lookups named, with what came of each

    def seen(candidate: Pop3Candidate, step: Text, problem: str, refused: bool = False) -> None:
        steps.append(step)
        if candidate.source != "probe":  # the problem stays a Text: translated where shown
            listed.append(replace(candidate, problem=problem, refused=refused))

    for index, candidate in enumerate(candidates):
        connect_to = await _address(resolver, candidate.host, nameserver is not None)
        if connect_to is None:
            step = T_("{host}: the name does not resolve.", host=candidate.host)
            seen(candidate, step, step)
            continue
        endpoint = Pop3Endpoint(
            connect_to, candidate.port, candidate.security, ca_file, server_name=candidate.host
        )
        try:
            tls = await asyncio.to_thread(_probe, endpoint, timeout)
        except NetError as exc:
            refused = isinstance(exc, (CertificateInvalid, CleartextRefused))
            problem = exc.args[0] if exc.args else str(exc)
            step = T_("{where}: {error}", where=endpoint.describe(), error=exc)
            seen(candidate, step, problem, refused)
            continue
        steps.append(T_("{where}: POP3 answers, TLS verified.", where=endpoint.describe()))
        server_name = candidate.host if connect_to != candidate.host else None
        found = replace(candidate, host=connect_to, tls=tls, server_name=server_name)
        rest = [c for c in candidates[index + 1 :] if c.source != "probe"]
        return Pop3Discovery(found, steps, (*listed, found, *rest))
    return Pop3Discovery(None, steps, tuple(listed))


async def _from_autoconfig(
    urls: list[str],
    address: str,
    resolver: Resolver,
    nameserver: tuple[str, int] | None,
    ca_file: Path | None,
    timeout: float,
    steps: list[str],
) -> list[Pop3Candidate]:
    async def address_for(host: str) -> str | None:
        return await _address(resolver, host, nameserver is not None)

    for url in urls:
        try:
            file = await autoconfig.fetch(url, address, address_for if nameserver else None,
                                          ca_file=ca_file, timeout=timeout)  # fmt: skip
        except (AutoconfigError, DnsError) as exc:
            steps.append(T_("Autoconfig {url}: {error}.", url=url, error=exc))
            continue
        if not file.pop3:
            steps.append(T_("Autoconfig {url}: no POP3 server listed.", url=url))
            continue
        if file.secure:
            origin = T_("From the autoconfig file at {url}", url=file.url)
        else:
            origin = T_(
                "From an autoconfig file fetched over plain HTTP ({url}), which anyone on the "
                "path could have altered: confirm it",
                url=file.url,
            )
        order = sorted(file.pop3, key=lambda s: s.security is not Security.IMPLICIT)
        for server in order:
            steps.append(T_("Autoconfig {url}: POP3 {host} port {port}.", url=url,
                            host=server.host, port=server.port))  # fmt: skip
        return [Pop3Candidate(s.host, s.port, s.security, origin, source="autoconfig")
                for s in order]  # fmt: skip
    return []


async def _address(resolver: Resolver, host: str, own_dns: bool) -> str | None:
    if not own_dns:
        return host  # the system resolver will find it when connecting
    try:
        answer = await resolver.addresses(host)
    except DnsError:
        return None
    return answer.records[0] if answer.records else None


def _probe(endpoint: Pop3Endpoint, timeout: float) -> TlsFacts:
    session = Pop3Session.connect(endpoint, timeout=timeout)
    try:
        return session.tls
    finally:
        session.close()
