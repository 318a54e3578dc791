"""Account setup from an address alone: find the IMAP and submission servers, and say how each
would be protected.

Three sources, in order:
1. SRV records (RFC 6186, RFC 8314 section 5.1): `_submissions._tcp` and `_imaps._tcp` (implicit
   TLS) before `_submission._tcp` and `_imap._tcp` (STARTTLS), each in RFC 2782 order; target "."
   means "not offered". An unsigned SRV record could be forged, so one naming a host outside
   the user's domain is marked for the user to confirm (RFC 6186 section 6, RFC 7525 section
   6.1: a name learnt insecurely is no reference identity for the certificate check).
2. Mozilla-style autoconfig files (mua.net.autoconfig), HTTPS first; plain HTTP is marked.
3. The usual names (imap./mail./the domain; smtp./mail./the domain), implicit-TLS ports before
   STARTTLS ports (RFC 8314 section 3).
Each source is asked only for what the ones before it did not find. With `probe=True` every
server found is also connected to the way the account will connect (certificate verified,
STARTTLS required, no credentials sent; mua/net/discovery_probe.py), so `Candidate.verified`
says whether it works.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from mua.core.i18n import T_, TN_
from mua.core.tls_facts import Security
from mua.net import autoconfig
from mua.net.autoconfig import AutoconfigError, AutoconfigOAuth2, Kind
from mua.net.candidates import Candidate, Discovery, DiscoveryError, Source, account_from
from mua.net.discovery_probe import AddressFor, Prober, with_address, with_names_that_resolve
from mua.net.dns import DnsError, Resolver

__all__ = ["Candidate", "Discovery", "DiscoveryError", "Source", "account_from", "discover"]

log = logging.getLogger(__name__)

DEFAULT_PORTS: dict[str, tuple[int, ...]] = {
    "imaps": (993,),
    "imap": (143,),
    "submissions": (465,),
    "submission": (587,),
}
_PORT_KEYS: dict[tuple[Kind, Security], str] = {
    ("imap", Security.IMPLICIT): "imaps",
    ("imap", Security.STARTTLS): "imap",
    ("smtp", Security.IMPLICIT): "submissions",
    ("smtp", Security.STARTTLS): "submission",
}
_SRV_SERVICES: tuple[tuple[str, Kind, Security], ...] = (
    ("_submissions._tcp", "smtp", Security.IMPLICIT),
    ("_imaps._tcp", "imap", Security.IMPLICIT),
    ("_submission._tcp", "smtp", Security.STARTTLS),
    ("_imap._tcp", "imap", Security.STARTTLS),
)
_USUAL_PREFIXES: dict[Kind, tuple[str, ...]] = {
    "imap": ("imap.", "mail.", ""),
    "smtp": ("smtp.", "mail.", ""),
}
_KINDS: tuple[Kind, ...] = ("imap", "smtp")

AutoconfigUrls = Callable[[str, str], list[str]]  # (domain, address) -> URLs to try


async def discover(
    address: str,
    *,
    nameserver: tuple[str, int] | None = None,
    trust_anchor_file: Path | None = None,
    ca_file: Path | None = None,
    timeout: float = 5.0,
    srv: bool = True,
    autoconfig_urls: AutoconfigUrls | None = None,
    ports: Mapping[str, tuple[int, ...]] | None = None,
    probe: bool = True,
) -> Discovery:
    """Find IMAP and submission settings for `address`.

    `nameserver` (with `trust_anchor_file` to validate DNSSEC) replaces the system's resolver
    for every name, and `ca_file` the system's trust store, for HTTPS and the servers alike.
    `srv=False` skips the SRV lookups. `autoconfig_urls(domain, address)` lists the autoconfig
    URLs (default: Thunderbird's; return [] to skip). `ports` maps "imaps", "imap",
    "submissions", "submission" to the ports that probing tries (default 993, 143, 465, 587;
    a missing key is not tried). `timeout` bounds each lookup, fetch and probe; they run
    concurrently where they can. Failures become `Discovery.steps`, never exceptions.
    """
    local, _, domain = address.rpartition("@")
    domain = domain.lower().rstrip(".")
    if not local or not domain or any(c.isspace() for c in address):
        raise ValueError(f"{address!r} is not an email address")
    port_map = dict(DEFAULT_PORTS if ports is None else ports)
    if unknown := set(port_map) - set(DEFAULT_PORTS):
        raise ValueError(f"unknown port keys {sorted(unknown)}; use {sorted(DEFAULT_PORTS)}")
    resolver = Resolver(nameserver, trust_anchor_file=trust_anchor_file, timeout=timeout)
    address_for = AddressFor(resolver if nameserver else None)
    steps: list[str] = []
    found: list[Candidate] = []
    declined: set[Kind] = set()

    def missing() -> list[Kind]:
        return [k for k in _KINDS if k not in declined and not any(c.kind == k for c in found)]

    if srv:
        found, declined = await _from_srv(resolver, address, domain, steps)
    urls = (autoconfig_urls or autoconfig.default_urls)(domain, address)
    if not missing():
        # SRV records say nothing of how to sign in: the HTTPS autoconfig file is still
        # asked, for whether the provider wants OAuth2 (never plain HTTP for that)
        urls = [u for u in urls if u.lower().startswith("https://")]
    more, oauth2 = await _from_autoconfig(
        urls, address, missing(), address_for, ca_file, timeout, steps
    )
    found += more
    if probe:
        prober = Prober(address_for, ca_file, timeout)
        guesses = _usual_servers(address, domain, missing(), port_map)
        guesses = await with_names_that_resolve(guesses, address_for, steps)
        results = await asyncio.gather(*(prober.check(c) for c in [*found, *guesses]))
        steps += [step for _, step in results]
        checked = [c for c, _ in results]
        found = checked[: len(found)] + [c for c in checked[len(found) :] if c.verified]
    elif address_for.resolving:
        found = list(await asyncio.gather(*(with_address(c, address_for) for c in found)))
    first = {c.key: c for c in reversed(found)}  # of duplicates, the one found first stays
    unique = [c for c in found if first[c.key] is c]
    for step in steps:
        log.debug("discovery for %s: %s", address, step)
    log.info(
        "discovery for %s: %d IMAP and %d SMTP candidates",
        address,
        sum(c.kind == "imap" for c in unique),
        sum(c.kind == "smtp" for c in unique),
    )
    return Discovery(
        address=address,
        imap=tuple(c for c in unique if c.kind == "imap"),
        smtp=tuple(c for c in unique if c.kind == "smtp"),
        steps=tuple(steps),
        nameserver=nameserver,
        ca_file=ca_file,
        oauth2=oauth2,
    )


# --- the three sources ------------------------------------------------------------------


async def _from_srv(
    resolver: Resolver, address: str, domain: str, steps: list[str]
) -> tuple[list[Candidate], set[Kind]]:
    """Candidates from SRV records, and the kinds the domain says it does not offer at all."""
    answers = await asyncio.gather(
        *(resolver.srv(service, domain) for service, _, _ in _SRV_SERVICES),
        return_exceptions=True,
    )
    found: list[Candidate] = []
    not_offered: list[Kind] = []
    for (service, kind, security), answer in zip(_SRV_SERVICES, answers, strict=True):
        name = f"{service}.{domain}"
        if isinstance(answer, DnsError):
            steps.append(T_("SRV {name}: {error}; ignored.", name=name, error=answer))
            continue
        if isinstance(answer, BaseException):
            raise answer
        signed = T_("DNSSEC-signed") if answer.secure else T_("unsigned")
        if not answer.exists:
            steps.append(T_("SRV {name}: none published.", name=name))
        elif not answer.records:
            not_offered.append(kind)
            steps.append(
                T_(
                    'SRV {name}: "." ({signed}), the domain does not offer this service.',
                    name=name,
                    signed=signed,
                )
            )
        for record in answer.records:
            confirm = not answer.secure and not _within(record.target, domain)
            if confirm:
                origin = T_(
                    "From an unsigned SRV record ({name}) naming a host outside {domain}, which "
                    "could be forged: confirm it",
                    name=name,
                    domain=domain,
                )
            elif answer.secure:
                origin = T_("From a DNSSEC-signed SRV record ({name})", name=name)
            else:
                origin = T_("From an unsigned SRV record ({name})", name=name)
            steps.append(
                T_(
                    "SRV {name}: {host} port {port} ({signed}).",
                    name=name,
                    host=record.target,
                    port=record.port,
                    signed=signed,
                )
            )
            found.append(
                Candidate.planned(
                    kind,
                    record.target,
                    record.port,
                    security,
                    username=address,  # RFC 6186 gives no user name; the address is the usual one
                    source=Source.SRV,
                    origin=origin,
                    secure_lookup=answer.secure,
                    confirm=confirm,
                )
            )
    return found, {kind for kind in not_offered if not_offered.count(kind) == 2}


async def _from_autoconfig(
    urls: list[str],
    address: str,
    kinds: list[Kind],
    address_for: AddressFor,
    ca_file: Path | None,
    timeout: float,
    steps: list[str],
) -> tuple[list[Candidate], AutoconfigOAuth2 | None]:
    """The servers of `kinds` in the first autoconfig file that lists any (the HTTPS
    addresses fetched together, plain HTTP only when none of them had one), and the OAuth2
    issuer the first HTTPS file names."""
    https = [u for u in urls if u.lower().startswith("https://")]
    plain = [u for u in urls if u not in https]
    oauth2: AutoconfigOAuth2 | None = None
    if not urls:
        steps.append("Autoconfig: no addresses to try.")
    resolving = address_for.resolving  # else the system's resolver, and the user's proxy
    for group in (https, plain):
        results = await asyncio.gather(
            *(
                autoconfig.fetch(
                    url,
                    address,
                    address_for if resolving else None,
                    ca_file=ca_file,
                    timeout=timeout,
                    port_for=address_for.https_port if resolving else None,
                )
                for url in group
            ),
            return_exceptions=True,
        )
        for url, result in zip(group, results, strict=True):
            if isinstance(result, AutoconfigError | DnsError):
                steps.append(T_("Autoconfig {url}: {error}.", url=url, error=result))
            elif isinstance(result, BaseException):
                raise result
            else:
                count = len(result.servers)
                steps.append(
                    TN_(
                        "Autoconfig {url}: {n} server(s) listed.",
                        "Autoconfig {url}: {n} server(s) listed.",
                        count,
                        url=url,
                    )
                )
                steps += [
                    T_("Autoconfig {url}: skipped {why}.", url=url, why=why)
                    for why in result.skipped
                ]
        for file in results:
            if isinstance(file, autoconfig.AutoconfigFile) and file.secure and oauth2 is None:
                oauth2 = file.oauth2
                if oauth2 is not None:
                    steps.append(
                        T_(
                            "Autoconfig {url}: the provider signs in with OAuth2 at {issuer}.",
                            url=file.url,
                            issuer=oauth2.issuer,
                        )
                    )
        for file in results:
            if isinstance(file, autoconfig.AutoconfigFile):
                wanted = [s for s in file.servers if s.kind in kinds]
                if wanted:
                    return [_autoconfig_candidate(s, file) for s in wanted], oauth2
        if oauth2 is not None and not kinds:
            break
    return [], oauth2


def _autoconfig_candidate(
    server: autoconfig.AutoconfigServer, file: autoconfig.AutoconfigFile
) -> Candidate:
    if file.secure:
        origin = T_("From the autoconfig file at {url}", url=file.url)
    else:
        origin = T_(
            "From an autoconfig file fetched over plain HTTP ({url}), which anyone on the path "
            "could have altered: confirm it",
            url=file.url,
        )
    return Candidate.planned(
        server.kind,
        server.host,
        server.port,
        server.security,
        username=server.username,
        source=Source.AUTOCONFIG,
        origin=origin,
        secure_lookup=file.secure,
        confirm=not file.secure,
        authentication=server.authentication,
    )


def _usual_servers(
    address: str, domain: str, kinds: list[Kind], ports: Mapping[str, tuple[int, ...]]
) -> list[Candidate]:
    """Implicit TLS before STARTTLS, then the names in the usual order, then the ports."""
    return [
        Candidate.planned(
            kind,
            f"{prefix}{domain}",
            port,
            security,
            username=address,
            source=Source.PROBE,
            origin=T_("Found by trying {host} port {port}", host=prefix + domain, port=port),
            secure_lookup=False,
        )
        for kind, security in itertools.product(kinds, (Security.IMPLICIT, Security.STARTTLS))
        for prefix in _USUAL_PREFIXES[kind]
        for port in ports.get(_PORT_KEYS[kind, security], ())
    ]


def _within(host: str, domain: str) -> bool:
    host = host.lower().rstrip(".")
    return host == domain or host.endswith(f".{domain}")
