"""DNS lookups for the MTA, account discovery and policy checks (MX, A/AAAA, TLSA, SRV, TXT).

With a trust anchor the resolver validates DNSSEC itself, as a validating stub (RFC 4035
section 4.9): every rrset's RRSIG is checked with `dns.dnssec.validate` against its signer's
DNSKEY rrset, which must be signed by a key that matches the DS from the parent, whose DS rrset
is in turn validated with the parent's keys, up to the trust anchor. Unsigned data is accepted
as insecure only where a signed NSEC from the parent proves the delegation has no DS (RFC 4035
section 5.2); anywhere else missing or failing signatures raise `DnssecBogus`.

A signed zone whose parent proves "no DS" (an island of security) is therefore insecure, not
secure and not bogus: RFC 4035 section 4.3 calls data "Insecure" when the resolver knows there
is no chain of DS and DNSKEY records to it, and an island is only secure under its own anchor.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Generic, TypeVar

import dns.asyncquery
import dns.asyncresolver
import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.svcbbase
import dns.resolver
import dns.rrset
import dns.zonefile

T = TypeVar("T")
R = TypeVar("R")
_IN = dns.rdataclass.IN
_RT = dns.rdatatype
_PORT = dns.rdtypes.svcbbase.ParamKey.PORT
_PAYLOAD = 1232  # EDNS buffer size that avoids IP fragmentation (DNS Flag Day 2020)


class DnsError(Exception):
    """A lookup failed: no answer, a server error, or a name that is not a name."""


class DnsTimeout(DnsError, TimeoutError):
    """The name server did not answer within the timeout."""


class DnssecBogus(DnsError):
    """Signatures are present but fail, or the chain of trust breaks where it must hold."""


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


class _Cut(Enum):
    INSECURE = "insecure"  # a delegation proven to have no DS, or below one
    NOT_A_CUT = "not a zone cut"
    NXDOMAIN = "no such name"


@dataclass
class _Shared:
    """A lookup under way and how many callers wait for it."""

    task: asyncio.Future
    waiters: int = 0


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
        self._anchor = read_trust_anchor(trust_anchor_file) if trust_anchor_file else None
        self._keys: dict[dns.name.Name, dns.rdataset.Rdataset | None] = {}
        self._cuts: dict[dns.name.Name, dns.rdataset.Rdataset | _Cut] = {}
        self._system: dns.asyncresolver.Resolver | None = None
        self._answers: dict[tuple[dns.name.Name, _RT.RdataType], tuple[_Found, float]] = {}
        # Lookups and queries under way, shared by every caller asking the same question: a
        # queue of 2,500 messages for one domain sends one MX query, not 2,500.
        self._inflight: dict[tuple[str, dns.name.Name, _RT.RdataType], _Shared] = {}

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
        found = await self._lookup(_name(name), _RT.TXT)
        records = tuple(b"".join(rd.strings).decode("utf-8", "replace") for rd in found.rrset or ())
        return Answer(records, found.secure, found.rrset is not None)

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
        key = (kind, qname, rdtype)
        shared = self._inflight.get(key)
        if shared is None:
            shared = _Shared(asyncio.ensure_future(fetch(qname, rdtype)))
            self._inflight[key] = shared
            shared.task.add_done_callback(lambda _t: self._inflight.pop(key, None))
            # Retrieved even when every caller was cancelled: no "never retrieved" line.
            shared.task.add_done_callback(lambda t: t.cancelled() or t.exception())
        shared.waiters += 1
        try:
            # shield: one caller cancelled (its delivery stopped) leaves the others' answer.
            return await asyncio.shield(shared.task)
        finally:
            shared.waiters -= 1
            if not shared.waiters and not shared.task.done():
                shared.task.cancel()  # nobody is waiting any more

    async def _lookup_uncached(
        self, qname: dns.name.Name, rdtype: _RT.RdataType
    ) -> tuple[_Found, int]:
        response = await self._query(qname, rdtype)
        final, path = _chase(response, qname, rdtype)
        rrset = path[-1] if path and path[-1].rdtype == rdtype else None
        secure = True
        if self._anchor is None:
            secure = self._trust_ad and bool(response.flags & dns.flags.AD)
        else:
            for each in path:  # CNAMEs on the way, then the answer itself
                secure = await self._verify(response.answer, each) and secure
            if rrset is None:
                secure = await self._verify_denial(final, rdtype, response) and secure
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
        validating = self._anchor is not None
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
            return next(iter(exc.responses().values()))
        assert answer.response is not None
        return answer.response

    # --- DNSSEC -------------------------------------------------------------------------

    async def _verify(
        self,
        section: list[dns.rrset.RRset],
        rrset: dns.rrset.RRset,
        *,
        parent_side: bool = False,
        zone: dns.name.Name | None = None,
    ) -> bool:
        """True if `rrset` validates, False if it lies in an insecure zone; else DnssecBogus.
        `zone`, when known (SOA and NSEC of a denial), is the only acceptable signer."""
        what = f"{rrset.name} {_RT.to_text(rrset.rdtype)}"
        sigs = _find(section, rrset.name, _RT.RRSIG, rrset.rdtype)
        if sigs is None:
            home = rrset.name.parent() if parent_side else rrset.name
            if await self._in_secure_zone(home):
                raise DnssecBogus(f"{what}: no signature, though the zone is signed")
            return False
        signer = sigs[0].signer
        # RFC 4035 section 5.3.1: the signer is the zone holding the rrset (for DS: the parent).
        if (
            not rrset.name.is_subdomain(signer)
            or (parent_side and signer == rrset.name)
            or (zone is not None and signer != zone)
        ):
            raise DnssecBogus(f"{what}: signed by {signer}, which cannot hold it")
        keys = await self._zone_keys(signer)
        if keys is None:
            return False
        _validate(what, rrset, sigs, {signer: keys})
        return True

    async def _verify_denial(
        self, qname: dns.name.Name, rdtype: _RT.RdataType, response: dns.message.Message
    ) -> bool:
        """Whether a negative answer is authenticated (RFC 4035 section 5.4)."""
        soa = next((r for r in response.authority if r.rdtype == _RT.SOA), None)
        # A DS denial must come from the parent side of the cut (RFC 4035 section 5.2).
        from_parent = rdtype != _RT.DS or (soa is not None and soa.name != qname)
        if soa is None or not qname.is_subdomain(soa.name) or not from_parent:
            if await self._in_secure_zone(qname.parent() if rdtype == _RT.DS else qname):
                raise DnssecBogus(f"{qname}: a negative answer without a usable SOA")
            return False
        if not await self._verify(response.authority, soa, zone=soa.name):
            return False
        nsecs = [r for r in response.authority if r.rdtype == _RT.NSEC]
        for nsec in nsecs:  # each must be signed by the SOA's zone, like the SOA
            if not await self._verify(response.authority, nsec, zone=soa.name):
                raise DnssecBogus(f"{nsec.name} NSEC: unsigned beside a signed SOA")
        nxdomain = response.rcode() == dns.rcode.NXDOMAIN
        prove_denial(qname, rdtype, nxdomain, nsecs)
        return True

    async def _zone_keys(self, zone: dns.name.Name) -> dns.rdataset.Rdataset | None:
        """The validated DNSKEY rrset of `zone`, or None when the zone is not secure."""
        if zone in self._keys:
            return self._keys[zone]
        assert self._anchor is not None
        if not zone.is_subdomain(self._anchor.name):
            return None  # no anchor covers it: RFC 4035 section 4.3 "indeterminate"
        ds: dns.rdataset.Rdataset | _Cut = self._anchor
        if zone != self._anchor.name:
            ds = await self._cut(zone)
            if ds is _Cut.INSECURE:
                self._keys[zone] = None
                return None
            if isinstance(ds, _Cut):
                raise DnssecBogus(f"{zone} signs records, but its parent has no delegation to it")
        response = await self._query(zone, _RT.DNSKEY)
        dnskeys = _find(response.answer, zone, _RT.DNSKEY)
        sigs = _find(response.answer, zone, _RT.RRSIG, _RT.DNSKEY)
        if dnskeys is None or sigs is None:
            raise DnssecBogus(f"{zone}: no signed DNSKEY rrset, though the parent has a DS")
        usable = [d for d in ds if d.digest_type in _DIGESTS]
        if not usable:
            self._keys[zone] = None  # RFC 4035 section 5.2: no DS we can use -> insecure
            return None
        matching = [k for k in dnskeys if any(_ds_matches(zone, k, d) for d in usable)]
        if not matching:
            raise DnssecBogus(f"{zone}: no DNSKEY matches the DS in the parent zone")
        entry = dns.rdataset.from_rdata_list(dnskeys.ttl, matching)
        _validate(f"{zone} DNSKEY (signed by the key in the DS)", dnskeys, sigs, {zone: entry})
        self._keys[zone] = dnskeys
        return dnskeys

    async def _cut(self, name: dns.name.Name) -> dns.rdataset.Rdataset | _Cut:
        """What the parent side says about `name` (strictly below the anchor): its validated DS
        rrset, or a proven insecure delegation, no cut at all, or no such name."""
        if name in self._cuts:
            return self._cuts[name]
        response = await self._query(name, _RT.DS)
        ds = _find(response.answer, name, _RT.DS)
        result: dns.rdataset.Rdataset | _Cut
        if ds is not None:
            secure = await self._verify(response.answer, ds, parent_side=True)
            result = ds if secure else _Cut.INSECURE
        elif not await self._verify_denial(name, _RT.DS, response):
            result = _Cut.INSECURE
        elif response.rcode() == dns.rcode.NXDOMAIN:
            result = _Cut.NXDOMAIN
        else:
            nsec = _find(response.authority, name, _RT.NSEC)
            types = nsec_types(nsec[0]) if nsec else set()
            # RFC 4035 section 5.2 and RFC 6840 section 4.4: an NSEC at the cut with NS but
            # neither DS nor SOA proves an unsigned delegation.
            is_cut = _RT.NS in types and _RT.SOA not in types
            result = _Cut.INSECURE if is_cut else _Cut.NOT_A_CUT
        self._cuts[name] = result
        return result

    async def _in_secure_zone(self, name: dns.name.Name) -> bool:
        """Top-down from the anchor: does `name` lie in a signed zone with a chain to it?"""
        if self._anchor is None or not name.is_subdomain(self._anchor.name):
            return False
        if await self._zone_keys(self._anchor.name) is None:
            return False
        for depth in range(len(self._anchor.name) + 1, len(name) + 1):
            child = name.split(depth)[1]
            cut = await self._cut(child)
            if cut is _Cut.INSECURE:
                return False
            if cut is _Cut.NXDOMAIN:
                return True
            if not isinstance(cut, _Cut) and await self._zone_keys(child) is None:
                return False
        return True


_DIGESTS = {dns.dnssec.DSDigest.SHA256, dns.dnssec.DSDigest.SHA384}


def read_trust_anchor(path: Path) -> dns.rrset.RRset:
    """The DS rrset in a zone-file trust anchor (DNSKEY lines are turned into SHA-256 DS)."""
    try:
        rrsets = dns.zonefile.read_rrsets(Path(path).read_text(), rdclass=None, default_ttl=3600)
    except (OSError, dns.exception.DNSException) as exc:
        raise DnsError(f"cannot read the trust anchor {path}: {exc}") from exc
    anchors = [rrset for rrset in rrsets if rrset.rdtype in (_RT.DS, _RT.DNSKEY)]
    if not anchors or len({rrset.name for rrset in anchors}) != 1:
        raise DnsError(f"{path}: expected DS or DNSKEY records of one zone")
    name = anchors[0].name
    ds = [
        rd if rrset.rdtype == _RT.DS else dns.dnssec.make_ds(name, rd, "SHA256")
        for rrset in anchors
        for rd in rrset
    ]
    return dns.rrset.from_rdata_list(name, anchors[0].ttl, ds)


def prove_denial(
    qname: dns.name.Name, rdtype: _RT.RdataType, nxdomain: bool, nsecs: list[dns.rrset.RRset]
) -> None:
    """Raise DnssecBogus unless the (already validated) NSEC rrsets prove the denial."""
    spans = [(n.name, n[0].next, nsec_types(n[0])) for n in nsecs]
    # RFC 6840 section 4.1: an NSEC from the parent side of a cut (NS without SOA) proves
    # nothing at or below the cut, except that the cut itself has no DS.
    spans = [
        (owner, nxt, types)
        for owner, nxt, types in spans
        if not (_RT.NS in types and _RT.SOA not in types and qname.is_subdomain(owner))
        or (rdtype == _RT.DS and owner == qname)
    ]
    if not nxdomain:  # RFC 4035 section 5.4: NODATA
        at_name = next((types for owner, _, types in spans if owner == qname), None)
        if at_name is not None:
            if rdtype in at_name or _RT.CNAME in at_name:
                raise DnssecBogus(f"{qname}: the NSEC lists the type that was denied")
            return
        # An empty non-terminal: the NSEC before it points at one of its descendants.
        if any(_covers(o, nxt, qname) and nxt.is_subdomain(qname) for o, nxt, _ in spans):
            return
        raise DnssecBogus(f"{qname} {_RT.to_text(rdtype)}: no NSEC proves that it is absent")
    cover = next(((o, nxt) for o, nxt, _ in spans if _covers(o, nxt, qname)), None)
    if cover is None:
        raise DnssecBogus(f"{qname}: no NSEC proves that the name does not exist")
    # The closest encloser is the longest ancestor qname shares with the NSEC's ends; no
    # wildcard may exist right below it (RFC 4035 section 5.4, RFC 4592 section 4.1).
    encloser = max((_common_ancestor(qname, end) for end in cover), key=len)
    wildcard = dns.name.from_text("*", encloser)
    if not any(_covers(o, nxt, wildcard) for o, nxt, _ in spans):
        raise DnssecBogus(f"{qname}: no NSEC proves that no wildcard matches")


def nsec_types(nsec: dns.rdata.Rdata) -> set[int]:
    """The types in an NSEC type bitmap (RFC 4034 section 4.1.2)."""
    types = set()
    for window, bitmap in nsec.windows:
        for i, octet in enumerate(bitmap):
            types.update(window * 256 + i * 8 + bit for bit in range(8) if octet & (0x80 >> bit))
    return types


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


def _validate(
    what: str,
    rrset: dns.rrset.RRset,
    sigs: dns.rrset.RRset,
    keys: dict[dns.name.Name, dns.rdataset.Rdataset],
) -> None:
    try:
        dns.dnssec.validate(rrset, sigs, keys)  # type: ignore[arg-type]
    except dns.dnssec.ValidationFailure as exc:
        now = time.time()
        if all(sig.expiration < now for sig in sigs):
            reason = "the signature has expired"
        elif all(sig.inception > now for sig in sigs):
            reason = "the signature is not valid yet"
        else:
            reason = "no signature verifies"
        raise DnssecBogus(f"{what}: {reason}") from exc


def _covers(owner: dns.name.Name, nxt: dns.name.Name, name: dns.name.Name) -> bool:
    """Whether name falls strictly inside the NSEC span owner..next (canonical order); the
    last NSEC of a zone points back at the apex (RFC 4034 section 4.1.1)."""
    if owner < nxt:
        return owner < name < nxt
    return owner < name and name.is_subdomain(nxt)


def _common_ancestor(a: dns.name.Name, b: dns.name.Name) -> dns.name.Name:
    _, _, labels = a.fullcompare(b)
    return a.split(labels)[1]


def _ds_matches(zone: dns.name.Name, key: dns.rdata.Rdata, ds: dns.rdata.Rdata) -> bool:
    if key.algorithm != ds.algorithm or dns.dnssec.key_id(key) != ds.key_tag:
        return False
    return dns.dnssec.make_ds(zone, key, ds.digest_type, validating=True) == ds


def _chase(
    response: dns.message.Message, qname: dns.name.Name, rdtype: _RT.RdataType
) -> tuple[dns.name.Name, list[dns.rrset.RRset]]:
    """Follow CNAMEs in the answer section: the last name reached and the rrsets on the way
    (ending with the rrset asked for, if the answer has it)."""
    name, path = qname, []
    for _ in range(8):
        rrset = _find(response.answer, name, rdtype)
        if rrset is not None:
            return name, [*path, rrset]
        cname = _find(response.answer, name, _RT.CNAME)
        if cname is None:
            break
        name = cname[0].target
        path.append(cname)
    return name, path


def _find(
    section: list[dns.rrset.RRset],
    name: dns.name.Name,
    rdtype: _RT.RdataType,
    covers: _RT.RdataType = _RT.NONE,
) -> dns.rrset.RRset | None:
    return next(
        (r for r in section if r.name == name and r.rdtype == rdtype and r.covers == covers),
        None,
    )


def _name(text: str) -> dns.name.Name:
    try:
        return dns.name.from_text(text)
    except dns.exception.DNSException as exc:
        raise DnsError(f"{text!r} is not a domain name: {exc}") from exc


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)
