"""DNSSEC validation for the resolver in mua.net.dns, as a validating stub (RFC 4035 section
4.9): the chain of trust from a trust anchor down to each rrset, and authenticated denial.

Every rrset's RRSIG is checked with `dns.dnssec.validate` against its signer's DNSKEY rrset,
which must be signed by a key that matches the DS from the parent, whose DS rrset is in turn
validated with the parent's keys, up to the trust anchor. Unsigned data is accepted as insecure
only where a signed NSEC from the parent proves the delegation has no DS (RFC 4035 section 5.2);
anywhere else missing or failing signatures raise `DnssecBogus`.

A signed zone whose parent proves "no DS" (an island of security) is therefore insecure, not
secure and not bogus: RFC 4035 section 4.3 calls data "Insecure" when the resolver knows there
is no chain of DS and DNSKEY records to it, and an island is only secure under its own anchor.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from enum import Enum
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zonefile
from dns.dnssectypes import DSDigest
from dns.exception import ValidationFailure
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS
from dns.rdtypes.ANY.NSEC import NSEC

from mua.net.errors import NetError

_RT = dns.rdatatype


class DnsError(NetError):
    """A lookup failed: no answer, a server error, or a name that is not a name."""


class DnssecBogus(DnsError):
    """Signatures are present but fail, or the chain of trust breaks where it must hold."""


class _Cut(Enum):
    INSECURE = "insecure"  # a delegation proven to have no DS, or below one
    NOT_A_CUT = "not a zone cut"
    NXDOMAIN = "no such name"


class ChainOfTrust:
    """Validates what a resolver received, asking its own questions (DNSKEY, DS) through
    `query`; remembers each zone's validated keys and each cut's DS."""

    def __init__(
        self,
        anchor: dns.rrset.RRset,
        query: Callable[[dns.name.Name, _RT.RdataType], Awaitable[dns.message.Message]],
    ) -> None:
        self._anchor = anchor
        self._query = query
        self._keys: dict[dns.name.Name, dns.rdataset.Rdataset | None] = {}
        self._cuts: dict[dns.name.Name, dns.rdataset.Rdataset | _Cut] = {}

    async def verify(
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
        sigs = find_rrset(section, rrset.name, _RT.RRSIG, rrset.rdtype)
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

    async def verify_denial(
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
        if not await self.verify(response.authority, soa, zone=soa.name):
            return False
        nsecs = [r for r in response.authority if r.rdtype == _RT.NSEC]
        for nsec in nsecs:  # each must be signed by the SOA's zone, like the SOA
            if not await self.verify(response.authority, nsec, zone=soa.name):
                raise DnssecBogus(f"{nsec.name} NSEC: unsigned beside a signed SOA")
        nxdomain = response.rcode() == dns.rcode.NXDOMAIN
        prove_denial(qname, rdtype, nxdomain, nsecs)
        return True

    async def _zone_keys(self, zone: dns.name.Name) -> dns.rdataset.Rdataset | None:
        """The validated DNSKEY rrset of `zone`, or None when the zone is not secure."""
        if zone in self._keys:
            return self._keys[zone]
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
        dnskeys = find_rrset(response.answer, zone, _RT.DNSKEY)
        sigs = find_rrset(response.answer, zone, _RT.RRSIG, _RT.DNSKEY)
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
        ds = find_rrset(response.answer, name, _RT.DS)
        result: dns.rdataset.Rdataset | _Cut
        if ds is not None:
            secure = await self.verify(response.answer, ds, parent_side=True)
            result = ds if secure else _Cut.INSECURE
        elif not await self.verify_denial(name, _RT.DS, response):
            result = _Cut.INSECURE
        elif response.rcode() == dns.rcode.NXDOMAIN:
            result = _Cut.NXDOMAIN
        else:
            nsec = find_rrset(response.authority, name, _RT.NSEC)
            types = nsec_types(nsec[0]) if nsec else set()
            # RFC 4035 section 5.2 and RFC 6840 section 4.4: an NSEC at the cut with NS but
            # neither DS nor SOA proves an unsigned delegation.
            is_cut = _RT.NS in types and _RT.SOA not in types
            result = _Cut.INSECURE if is_cut else _Cut.NOT_A_CUT
        self._cuts[name] = result
        return result

    async def _in_secure_zone(self, name: dns.name.Name) -> bool:
        """Top-down from the anchor: does `name` lie in a signed zone with a chain to it?"""
        if not name.is_subdomain(self._anchor.name):
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


_DIGESTS = {DSDigest.SHA256, DSDigest.SHA384}


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
    assert isinstance(nsec, NSEC)  # an rdata of an NSEC rrset
    types: set[int] = set()
    for window, bitmap in nsec.windows:
        for i, octet in enumerate(bitmap):
            types.update(window * 256 + i * 8 + bit for bit in range(8) if octet & (0x80 >> bit))
    return types


def _validate(
    what: str,
    rrset: dns.rrset.RRset,
    sigs: dns.rrset.RRset,
    keys: dict[dns.name.Name, dns.rdataset.Rdataset],
) -> None:
    try:
        # dnspython asks for a dict of Node | Rdataset (invariant); a Mapping would do
        dns.dnssec.validate(rrset, sigs, keys)  # type: ignore[arg-type]
    except ValidationFailure as exc:
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
        return bool(owner < name < nxt)
    return bool(owner < name) and name.is_subdomain(nxt)


def _common_ancestor(a: dns.name.Name, b: dns.name.Name) -> dns.name.Name:
    _, _, labels = a.fullcompare(b)
    return a.split(labels)[1]


def _ds_matches(zone: dns.name.Name, key: dns.rdata.Rdata, ds: dns.rdata.Rdata) -> bool:
    assert isinstance(key, DNSKEY) and isinstance(ds, DS)  # rdatas of DNSKEY and DS rrsets
    if key.algorithm != ds.algorithm or dns.dnssec.key_id(key) != ds.key_tag:
        return False
    return bool(dns.dnssec.make_ds(zone, key, ds.digest_type, validating=True) == ds)


def find_rrset(
    section: list[dns.rrset.RRset],
    name: dns.name.Name,
    rdtype: _RT.RdataType,
    covers: _RT.RdataType = _RT.NONE,
) -> dns.rrset.RRset | None:
    return next(
        (r for r in section if r.name == name and r.rdtype == rdtype and r.covers == covers),
        None,
    )
