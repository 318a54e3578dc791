"""DNS lookups for the MTA, account discovery and policy checks (MX, A/AAAA, TLSA, SRV, TXT).

With a trust anchor the resolver validates DNSSEC itself, as a validating stub (RFC 4035
section 4.9); the chain of trust and authenticated denial live in mua.net.dnssec.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.svcbbase
import dns.resolver
import dns.rrset

from mua.net.dnssec import ChainOfTrust, find_rrset, read_trust_anchor
from mua.net.dnssec import DnsError as DnsError  # the DNS lookups' error, named here too
from mua.net.errors import NetTimeout
from mua.net.shared_calls import SharedCalls

T = TypeVar("T")
R = TypeVar("R")
_IN = dns.rdataclass.IN
_RT = dns.rdatatype
_PORT = dns.rdtypes.svcbbase.ParamKey.PORT
_PAYLOAD = 1232  # EDNS buffer size that avoids IP fragmentation (DNS Flag Day 2020)


class DnsTimeout(DnsError, NetTimeout):
    """The name server did not answer within the timeout."""


@dataclass(frozen=True)
class MxRecord:
    preference: int
    host: str


@dataclass(frozen=True)
class TlsaRecord:
    usage: int
    selector: int
    mtype: int
    data: bytes


@dataclass(frozen=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class Answer(Generic[T]):
    """Records of one lookup. `exists`: an rrset of that type is published (or, for MX, an
    implicit MX applies); False for NXDOMAIN and NODATA. `secure`: DNSSEC-validated, the
    records or the authenticated denial. exists with no records means "explicitly none":
    a null MX (RFC 7505) or an SRV target "." (RFC 2782)."""

    records: tuple[T, ...]
    secure: bool
    exists: bool


@dataclass(frozen=True)
class MxAnswer(Answer[MxRecord]):
    null_mx: bool = False  # RFC 7505: the domain accepts no mail
    implicit: bool = False  # RFC 5321 section 5.1: no MX, the domain's own address stands in
    nxdomain: bool = False  # the name does not exist at all (not merely without an MX)


_MAX_CACHE_TTL = 3600  # seconds: re-validate at least hourly, whatever the TTL says


@dataclass(frozen=True)
class _Found:
    rrset: dns.rrset.RRset | None
    secure: bool
    nxdomain: bool


class Resolver:
    """Asynchronous lookups against one name server or the system's resolver configuration."""

    def __init__(
        self,
        nameserver: tuple[str, int] | None = None,
        *,
        trust_anchor_file: Path | None = None,
        timeout: float = 3.0,
        trust_ad: bool = False,
        payload: int = _PAYLOAD,
    ) -> None:
        self._nameserver = nameserver
        self._timeout = timeout
        self._trust_ad = trust_ad
        self._payload = payload
        anchor = read_trust_anchor(trust_anchor_file) if trust_anchor_file else None
        self._chain = ChainOfTrust(anchor, self._query) if anchor is not None else None
        self._system: dns.asyncresolver.Resolver | None = None
        self._answers: dict[tuple[dns.name.Name, _RT.RdataType], tuple[_Found, float]] = {}
        # Lookups and queries under way, shared by every caller asking the same question: a
        # queue of 2,500 messages for one domain sends one MX query, not 2,500.
        self._inflight: SharedCalls[tuple[str, dns.name.Name, _RT.RdataType]] = SharedCalls()

    async def mx(self, domain: str) -> MxAnswer:
        found = await self._lookup(_name(domain), _RT.MX)
        if found.rrset is not None:
            exchanges = [(rd.preference, rd.exchange) for rd in found.rrset]
            if all(host == dns.name.root for _, host in exchanges):
                return MxAnswer((), found.secure, True, null_mx=True)  # RFC 7505 section 3
            records = [MxRecord(p, _text(h)) for p, h in exchanges if h != dns.name.root]
            return MxAnswer(tuple(_order_mx(records)), found.secure, True)
        if found.nxdomain:
            return MxAnswer((), found.secure, False, nxdomain=True)
        addresses = await self.addresses(domain)  # RFC 5321 section 5.1: the implicit MX
        secure = found.secure and addresses.secure
        if not addresses.records:
            return MxAnswer((), secure, False)
        return MxAnswer((MxRecord(0, _text(_name(domain))),), secure, True, implicit=True)

    async def addresses(self, host: str) -> Answer[str]:
        """A records, then AAAA records."""
        a = await self._lookup(_name(host), _RT.A)
        if a.nxdomain:
            return Answer((), a.secure, False)
        aaaa = await self._lookup(_name(host), _RT.AAAA)
        records = tuple(rd.address for found in (a, aaaa) if found.rrset for rd in found.rrset)
        return Answer(records, a.secure and aaaa.secure, bool(records))

    async def tlsa(self, port: int, host: str, proto: str = "tcp") -> Answer[TlsaRecord]:
        found = await self._lookup(_name(f"_{port}._{proto}.{host}"), _RT.TLSA)
        records = tuple(
            TlsaRecord(rd.usage, rd.selector, rd.mtype, rd.cert) for rd in found.rrset or ()
        )
        return Answer(records, found.secure, found.rrset is not None)

    async def srv(self, service: str, domain: str) -> Answer[SrvRecord]:
        """`service` like "_submissions._tcp"; records in RFC 2782 order."""
        found = await self._lookup(_name(f"{service}.{domain}"), _RT.SRV)
        rdatas = list(found.rrset or ())
        if len(rdatas) == 1 and rdatas[0].target == dns.name.root:
            return Answer((), found.secure, True)  # RFC 2782: "decidedly not available"
        records = [SrvRecord(rd.priority, rd.weight, rd.port, _text(rd.target)) for rd in rdatas]
        return Answer(tuple(order_srv(records)), found.secure, found.rrset is not None)

    async def txt(self, name: str) -> Answer[str]:
        """Each TXT record's character-strings joined into one string (RFC 7208 section 3.3)."""
        return _txt(await self._lookup(_name(name), _RT.TXT))

    def cached_txt(self, name: str) -> Answer[str] | None:
        """What `txt(name)` would answer from the cache, without asking: None when it would
        have to ask (not cached, expired, not a name). Callable from any thread, so that the
        synchronous mail-authentication libraries' lookups (mua.net.txt_bridge) need not
        wait on the event loop for an answer it already has."""
        try:
            cached = self._answers.get((_name(name), _RT.TXT))  # one atomic read of the dict
        except DnsError:
            return None
        if cached is None or cached[1] <= time.monotonic():
            return None
        return _txt(cached[0])

    async def https_ports(self, host: str) -> Answer[int]:
        """The ports that `host`'s HTTPS records (RFC 9460, ServiceMode, target "." or the host
        itself) name, in priority order: where that host serves HTTPS when not on 443."""
        found = await self._lookup(_name(host), _RT.HTTPS)
        own = {dns.name.root, _name(host)}
        ports = [
            (rd.priority, rd.params[_PORT].port)
            for rd in found.rrset or ()
            if rd.priority > 0 and rd.target in own and _PORT in rd.params
        ]
        return Answer(tuple(p for _, p in sorted(ports)), found.secure, found.rrset is not None)

    # --- one lookup -------------------------------------------------------------------

    def flush(self) -> None:
        """Forget cached answers (the zones changed under us, as tests make them do)."""
        self._answers.clear()

    async def _lookup(self, qname: dns.name.Name, rdtype: _RT.RdataType) -> _Found:
        """A validated answer, from the cache while its TTL lasts (RFC 1035 section 3.2.1;
        a negative answer for at most the SOA's TTL, RFC 2308). Bogus answers are never
        cached: they raise."""
        key = (qname, rdtype)
        cached = self._answers.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        found, ttl = await self._shared("lookup", qname, rdtype, self._lookup_uncached)
        if ttl > 0:
            self._answers[key] = (found, time.monotonic() + min(ttl, _MAX_CACHE_TTL))
        return found

    async def _shared(
        self,
        kind: str,
        qname: dns.name.Name,
        rdtype: _RT.RdataType,
        fetch: Callable[[dns.name.Name, _RT.RdataType], Awaitable[R]],
    ) -> R:
        """`fetch(qname, rdtype)`, or the result of the same call already under way: callers
        that ask together wait for one answer (or share its exception)."""
        return await self._inflight.run((kind, qname, rdtype), lambda: fetch(qname, rdtype))

    async def _lookup_uncached(
        self, qname: dns.name.Name, rdtype: _RT.RdataType
    ) -> tuple[_Found, int]:
        response = await self._query(qname, rdtype)
        final, path = _chase(response, qname, rdtype)
        rrset = path[-1] if path and path[-1].rdtype == rdtype else None
        secure = True
        if self._chain is None:
            secure = self._trust_ad and bool(response.flags & dns.flags.AD)
        else:
            for each in path:  # CNAMEs on the way, then the answer itself
                secure = await self._chain.verify(response.answer, each) and secure
            if rrset is None:
                secure = await self._chain.verify_denial(final, rdtype, response) and secure
        found = _Found(rrset, secure, response.rcode() == dns.rcode.NXDOMAIN)
        if rrset is not None:
            return found, rrset.ttl
        soa = [r.ttl for r in response.authority if r.rdtype == _RT.SOA]
        return found, min(soa) if soa else 0

    async def _query(self, qname: dns.name.Name, rdtype: _RT.RdataType) -> dns.message.Message:
        return await self._shared("query", qname, rdtype, self._query_uncached)

    async def _query_uncached(
        self, qname: dns.name.Name, rdtype: _RT.RdataType
    ) -> dns.message.Message:
        what = f"{qname} {_RT.to_text(rdtype)}"
        validating = self._chain is not None
        try:
            async with asyncio.timeout(self._timeout * 2.5):  # UDP, then TCP after TC
                if self._nameserver is None:
                    response = await self._system_query(qname, rdtype, validating)
                else:
                    query = dns.message.make_query(
                        qname, rdtype, use_edns=0, payload=self._payload, want_dnssec=validating
                    )
                    # RFC 4035 section 3.2.2: a validating stub sets CD so that an upstream
                    # validator hands over data it would reject; RFC 6840 section 5.7: AD asks
                    # a trusted validator to report what it validated.
                    query.flags |= dns.flags.CD if validating else 0
                    query.flags |= dns.flags.AD if self._trust_ad else 0
                    host, port = self._nameserver
                    response, _ = await dns.asyncquery.udp_with_fallback(
                        query, host, timeout=self._timeout, port=port
                    )
        except (TimeoutError, dns.exception.Timeout) as exc:
            raise DnsTimeout(f"{what}: no answer within {self._timeout:g} s") from exc
        except (OSError, dns.exception.DNSException) as exc:
            raise DnsError(f"{what}: {exc}") from exc
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise DnsError(
                f"{what}: the name server answered {dns.rcode.to_text(response.rcode())}"
            )
        return response

    async def _system_query(
        self, qname: dns.name.Name, rdtype: _RT.RdataType, validating: bool
    ) -> dns.message.Message:
        if self._system is None:
            self._system = dns.asyncresolver.Resolver()
            self._system.use_edns(0, dns.flags.DO if validating else 0, self._payload)
            self._system.flags = dns.flags.RD
            self._system.flags |= dns.flags.CD if validating else 0
            self._system.flags |= dns.flags.AD if self._trust_ad else 0
        self._system.lifetime = self._timeout
        try:
            answer = await self._system.resolve(qname, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN as exc:
            responses: Callable[[], dict[dns.name.Name, dns.message.Message]] = exc.responses
            return next(iter(responses().values()))  # dnspython leaves responses() untyped
        assert answer.response is not None
        return answer.response


def order_srv(records: Iterable[SrvRecord], rng: random.Random | None = None) -> list[SrvRecord]:
    """RFC 2782 target selection: priority ascending, weighted random order within one."""
    rng = rng or random.Random()
    pending = list(records)
    ordered: list[SrvRecord] = []
    for priority in sorted({r.priority for r in pending}):
        group = sorted((r for r in pending if r.priority == priority), key=lambda r: r.weight > 0)
        while group:
            running = list(itertools.accumulate(r.weight for r in group))
            pick = rng.randint(0, running[-1])
            ordered.append(group.pop(next(i for i, total in enumerate(running) if total >= pick)))
    return ordered


def _order_mx(records: list[MxRecord]) -> list[MxRecord]:
    """Preference ascending; RFC 5321 section 5.1: equal preferences in random order."""
    shuffled = random.sample(records, len(records))
    return sorted(shuffled, key=lambda r: r.preference)


def _chase(
    response: dns.message.Message, qname: dns.name.Name, rdtype: _RT.RdataType
) -> tuple[dns.name.Name, list[dns.rrset.RRset]]:
    """Follow CNAMEs in the answer section: the last name reached and the rrsets on the way
    (ending with the rrset asked for, if the answer has it)."""
    name = qname
    path: list[dns.rrset.RRset] = []
    for _ in range(8):
        rrset = find_rrset(response.answer, name, rdtype)
        if rrset is not None:
            return name, [*path, rrset]
        cname = find_rrset(response.answer, name, _RT.CNAME)
        if cname is None:
            break
        name = cname[0].target
        path.append(cname)
    return name, path


def _txt(found: _Found) -> Answer[str]:
    records = tuple(b"".join(rd.strings).decode("utf-8", "replace") for rd in found.rrset or ())
    return Answer(records, found.secure, found.rrset is not None)


@functools.lru_cache(maxsize=1024)
def _name(text: str) -> dns.name.Name:
    """`text` as a name, parsed once while it is asked often (a Name is immutable; dnspython
    parses one label by label in Python, the most of a cached lookup's time)."""
    try:
        return dns.name.from_text(text)
    except dns.exception.DNSException as exc:
        raise DnsError(f"{text!r} is not a domain name: {exc}") from exc


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)
