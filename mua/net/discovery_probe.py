"""Discovery's second half: where a found server's name leads, and whether it works.

`AddressFor` resolves names through the name server discovery was given (and reads RFC 9460
HTTPS records for an autoconfig host's port); `Prober` connects to a `Candidate` the way the
account will (certificate verified, STARTTLS required, no credentials sent) and says in one
step what it saw.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import replace
from pathlib import Path

from mua.core.i18n import T_
from mua.core.tls_facts import Security, TlsFacts
from mua.net import imap, submission
from mua.net.candidates import Candidate
from mua.net.dns import DnsError, Resolver
from mua.net.errors import CertificateInvalid, CleartextRefused, NetError

_MODE_WORDS = {Security.IMPLICIT: T_("implicit TLS"), Security.STARTTLS: T_("STARTTLS")}
_REFUSED = (CertificateInvalid, CleartextRefused)


class AddressFor:
    """Host name -> the address to connect to, through the given name server; None when there
    is none (the system resolves the name when connecting) or the host is an address."""

    def __init__(self, resolver: Resolver | None) -> None:
        self._resolver = resolver
        self._known: dict[str, str] = {}

    @property
    def resolving(self) -> bool:
        return self._resolver is not None

    async def https_port(self, host: str, port: int) -> int:
        """The port of the host's RFC 9460 HTTPS record, when it names one (the demo world's
        autoconfig host); else `port`."""
        if self._resolver is None or is_address(host):
            return port
        try:
            answer = await self._resolver.https_ports(host.lower().rstrip("."))
        except DnsError:
            return port
        return answer.records[0] if answer.records else port

    async def __call__(self, host: str) -> str | None:
        if self._resolver is None or is_address(host):
            return None
        name = host.lower().rstrip(".")
        if name not in self._known:
            answer = await self._resolver.addresses(name)
            if not answer.records:
                raise DnsError(f"the name {name} has no address")
            self._known[name] = answer.records[0]
        return self._known[name]


async def with_address(candidate: Candidate, address_for: AddressFor) -> Candidate:
    try:
        return replace(candidate, address=await address_for(candidate.host))
    except DnsError:
        return candidate


async def with_names_that_resolve(
    candidates: list[Candidate], address_for: AddressFor, steps: list[str]
) -> list[Candidate]:
    """Guessed names that do not exist are dropped with one step each, not one per port."""
    if not address_for.resolving:
        return candidates  # the system resolves when connecting
    hosts = list(dict.fromkeys(c.host for c in candidates))
    answers = await asyncio.gather(*(address_for(h) for h in hosts), return_exceptions=True)
    gone = set()
    for host, answer in zip(hosts, answers, strict=True):
        if isinstance(answer, DnsError):
            steps.append(T_("Probe {host}: {error}; not tried.", host=host, error=answer))
            gone.add(host)
        elif isinstance(answer, BaseException):
            raise answer
    return [c for c in candidates if c.host not in gone]


class Prober:
    """Connects to candidates the way the account will (TLS verified, STARTTLS required) and
    notes what it saw. Sends no credentials; each probe has its own timeout."""

    def __init__(self, address_for: AddressFor, ca_file: Path | None, timeout: float) -> None:
        self.address_for = address_for
        self.ca_file = ca_file
        self.timeout = timeout

    async def check(self, c: Candidate) -> tuple[Candidate, str]:
        """The candidate as the probe found it, and a step saying what happened."""
        where = T_("Probe {host} port {port}", host=c.host, port=c.port)
        if c.security is Security.NONE:
            return c, T_("{where}: not tried, it would be unencrypted.", where=where)
        how = _MODE_WORDS[c.security]
        try:
            address = await self.address_for(c.host)
            async with asyncio.timeout(self.timeout):
                tls = await self._connect(c, address)
        except DnsError as exc:
            problem, refused = f"{exc}.", False
        except NetError as exc:
            problem, refused = exc.args[0] if exc.args else str(exc), isinstance(exc, _REFUSED)
        except TimeoutError:
            seconds = f"{self.timeout:g}"
            problem = T_(
                "{host} port {port} did not answer within {seconds} seconds.",
                host=c.host,
                port=c.port,
                seconds=seconds,
            )
            refused = False
        else:
            seen = T_(
                "{version} ({how}) with a verified certificate",
                version=tls.version or "TLS",
                how=how,
            )
            return c.probed(tls, address, seen), T_("{where}: {seen}.", where=where, seen=seen)
        step = T_("{where} ({how}): {problem}", where=where, how=how, problem=problem)
        return c.failed(problem, certificate_or_cleartext=refused), step

    async def _connect(self, c: Candidate, address: str | None) -> TlsFacts:
        name = c.host if address else None
        if c.kind == "smtp":
            endpoint = submission.SubmissionEndpoint(
                address or c.host, c.port, c.security, ca_file=self.ca_file, server_name=name
            )
            return (await submission.probe(endpoint, timeout=self.timeout)).tls
        imap_endpoint = imap.ImapEndpoint(
            address or c.host, c.port, c.security, ca_file=self.ca_file, server_name=name
        )
        # imapclient is synchronous; its socket timeout ends the thread soon after ours fires
        return await asyncio.to_thread(_imap_tls, imap_endpoint, self.timeout)


def _imap_tls(endpoint: imap.ImapEndpoint, timeout: float) -> TlsFacts:
    with imap.ImapSession.connect(endpoint, timeout=timeout) as session:
        return session.tls


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
