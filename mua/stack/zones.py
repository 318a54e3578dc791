"""The demo world's DNS data: one zone per provider under a parent zone `test.`, all signed.

dnspython does the DNSSEC work (`dns.dnssec.sign_zone`, `make_ds`); this module decides what
the zones hold and keeps the signing keys in the world directory so that the DS records and the
trust anchor survive a restart. Each zone has one combined signing key (CSK: flags 257, SEP set,
signs every rrset; RFC 6781 section 3.1.1 allows it), ECDSA P-256 (RFC 6605).

`sign_zone` also builds the NSEC chain (RFC 4034 section 4), so the server can prove that a name
or a type does not exist, and that a child zone has no DS (an insecure delegation).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone
from dns.dnssecalgs import get_algorithm_cls
from dns.dnssecalgs.base import GenericPrivateKey
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.dnskeybase import Flag

from mua import durable

log = logging.getLogger(__name__)

PARENT = dns.name.from_text("test.")
NAMESERVER = dns.name.from_text("ns.test.")
TTL = 300
ALGORITHM = "ECDSAP256SHA256"
SIGNATURE_LIFETIME = dt.timedelta(days=30)
CLOCK_SKEW = dt.timedelta(hours=1)  # inception in the past, for clocks a little behind ours
TRUST_ANCHOR_FILE = "trust-anchor.ds"


@dataclass
class DomainSpec:
    """One provider's zone. Owner names are absolute or relative to nothing ("mx.a.test")."""

    domain: str
    hosts: dict[str, str] = field(default_factory=dict)  # name -> IPv4 or IPv6 address
    mx: list[tuple[int, str]] = field(default_factory=list)  # (preference, exchange); "." = null MX
    tlsa: dict[str, list[tuple[int, int, int, bytes]]] = field(default_factory=dict)
    srv: list[tuple[str, int, int, int, str]] = field(
        default_factory=list
    )  # service, prio, w, port, target
    txt: dict[str, list[str]] = field(default_factory=dict)  # name -> one string per TXT record
    # name -> HTTPS records (RFC 9460) as text, e.g. "1 . port=10443": where HTTPS is served
    https: dict[str, list[str]] = field(default_factory=dict)
    signed: bool = True  # False: an unsigned child zone, no DS in the parent
    ds_in_parent: bool = True  # False: signed, but the parent publishes no DS (an island)


@dataclass
class WorldZones:
    """Every zone of the world, signed, and the trust anchor that validates them."""

    zones: dict[dns.name.Name, dns.zone.Zone]
    trust_anchor: dns.rrset.RRset  # the DS rrset of `test.`
    trust_anchor_file: Path

    @classmethod
    def build(
        cls,
        specs: list[DomainSpec],
        key_dir: Path,
        *,
        nameserver_address: str = "127.0.0.1",
        now: dt.datetime | None = None,
    ) -> WorldZones:
        """Build and sign `test.` and one zone per spec. `now` moves the signature window."""
        key_dir = Path(key_dir)
        key_dir.mkdir(parents=True, exist_ok=True)
        now = now or dt.datetime.now(dt.UTC)
        zones = {PARENT: _new_zone(PARENT)}
        _add_host(zones[PARENT], NAMESERVER, nameserver_address)
        ordered = sorted(specs, key=lambda s: len(_absolute(s.domain)))
        for spec in ordered:
            origin = _absolute(spec.domain)
            if not origin.is_subdomain(PARENT) or origin == PARENT or origin in zones:
                raise ValueError(f"{spec.domain}: not a new zone below {PARENT}")
            zones[origin] = _spec_zone(spec, origin)
        keys = {
            origin: _load_or_create_key(key_dir, origin)
            for origin in zones
            if origin == PARENT or _spec_for(ordered, origin).signed
        }
        for spec in ordered:  # delegations go into the closest enclosing zone, before signing
            origin = _absolute(spec.domain)
            parent = _enclosing(zones, origin.parent())
            assert parent is not None  # PARENT encloses every domain
            with zones[parent].writer() as txn:
                txn.add(origin, TTL, _rdata("NS", NAMESERVER.to_text()))
                if spec.signed and spec.ds_in_parent:
                    txn.add(origin, TTL, dns.dnssec.make_ds(origin, keys[origin][1], "SHA256"))
        inception, expiration = now - CLOCK_SKEW, now + SIGNATURE_LIFETIME
        for origin, key in keys.items():
            dns.dnssec.sign_zone(
                zones[origin], keys=[key], inception=inception, expiration=expiration
            )
        anchor = dns.rrset.from_rdata(
            PARENT, TTL, dns.dnssec.make_ds(PARENT, keys[PARENT][1], "SHA256")
        )
        anchor_file = key_dir / TRUST_ANCHOR_FILE
        _write_trust_anchor(anchor_file, anchor)
        return cls(zones=zones, trust_anchor=anchor, trust_anchor_file=anchor_file)

    def zone_for(
        self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> dns.zone.Zone | None:
        """The zone that answers authoritatively for (name, type); DS comes from the parent."""
        if rdtype == dns.rdatatype.DS and name in self.zones and name != PARENT:
            name = name.parent()
        origin = _enclosing(self.zones, name)
        return None if origin is None else self.zones[origin]

    def corrupt_signature(self, name: str, rdtype: str) -> None:
        """Test hook: flip a byte in each RRSIG covering (name, rdtype) so that it fails."""
        owner = _absolute(name)
        covered = dns.rdatatype.from_text(rdtype)
        zone = self.zone_for(owner, covered)
        node = zone.get_node(owner) if zone is not None else None
        sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, covered) if node else None
        if zone is None or not sigs:
            raise KeyError(f"no RRSIG covering {name} {rdtype}")
        broken = [sig.replace(signature=_flip(sig.signature)) for sig in sigs]
        with zone.writer() as txn:
            txn.replace(owner, dns.rdataset.from_rdata_list(sigs.ttl, broken))

    def to_text(self) -> str:
        """All zones in presentation format, parent first (for people and for debugging)."""
        return "\n".join(z.to_text(relativize=False) for z in self.zones.values())


def _new_zone(origin: dns.name.Name) -> dns.zone.Zone:
    zone = dns.zone.Zone(origin, relativize=False)
    serial = int(dt.datetime.now(dt.UTC).timestamp()) & 0xFFFFFFFF
    with zone.writer() as txn:
        soa = f"{NAMESERVER} hostmaster.{PARENT} {serial} 3600 600 86400 {TTL}"
        txn.add(origin, TTL, _rdata("SOA", soa))
        txn.add(origin, TTL, _rdata("NS", NAMESERVER.to_text()))
    return zone


def _spec_zone(spec: DomainSpec, origin: dns.name.Name) -> dns.zone.Zone:
    zone = _new_zone(origin)
    for host, address in spec.hosts.items():
        _add_host(zone, _inside(host, origin), address)
    with zone.writer() as txn:
        for preference, exchange in spec.mx:
            txn.add(origin, TTL, _rdata("MX", f"{preference} {_absolute(exchange)}"))
        for owner, records in spec.tlsa.items():
            for usage, selector, mtype, data in records:
                txn.add(
                    _inside(owner, origin),
                    TTL,
                    _rdata("TLSA", f"{usage} {selector} {mtype} {data.hex()}"),
                )
        for service, priority, weight, port, target in spec.srv:
            name = _inside(f"{service}.{origin}", origin)
            txn.add(name, TTL, _rdata("SRV", f"{priority} {weight} {port} {_absolute(target)}"))
        for owner, strings in spec.txt.items():
            for text in strings:
                txn.add(_inside(owner, origin), TTL, _txt(text))
        for owner, https in spec.https.items():
            for text in https:
                txn.add(_inside(owner, origin), TTL, _rdata("HTTPS", text))
    return zone


def _add_host(zone: dns.zone.Zone, name: dns.name.Name, address: str) -> None:
    rdtype = "AAAA" if ipaddress.ip_address(address).version == 6 else "A"
    with zone.writer() as txn:
        txn.add(name, TTL, _rdata(rdtype, address))


def _txt(text: str) -> dns.rdata.Rdata:
    """One TXT record; text longer than 255 octets is split into character-strings that a
    reader concatenates (RFC 7208 section 3.3, RFC 8461 section 3.1 do the same)."""
    raw = text.encode()
    chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    return TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)


def _rdata(rdtype: str, text: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)


def _absolute(name: str) -> dns.name.Name:
    return dns.name.from_text(name)  # relative text is taken as absolute: "a.test" -> a.test.


def _inside(name: str, origin: dns.name.Name) -> dns.name.Name:
    absolute = _absolute(name)
    if not absolute.is_subdomain(origin):
        raise ValueError(f"{name} is outside the zone {origin}")
    return absolute


def _enclosing(
    zones: dict[dns.name.Name, dns.zone.Zone], name: dns.name.Name
) -> dns.name.Name | None:
    candidates = [origin for origin in zones if name.is_subdomain(origin)]
    return max(candidates, key=len, default=None)


def _spec_for(specs: list[DomainSpec], origin: dns.name.Name) -> DomainSpec:
    return next(s for s in specs if _absolute(s.domain) == origin)


def _flip(signature: bytes) -> bytes:
    middle = len(signature) // 2
    return signature[:middle] + bytes([signature[middle] ^ 0xFF]) + signature[middle + 1 :]


def _load_or_create_key(key_dir: Path, origin: dns.name.Name) -> tuple[GenericPrivateKey, DNSKEY]:
    """The zone's CSK from `<zone>.key.pem` (PKCS#8), created on first use with mode 0600."""
    algorithm_cls = get_algorithm_cls(ALGORITHM)
    path = key_dir / f"{origin.to_text(omit_final_dot=True)}.key.pem"
    if path.exists():
        private = algorithm_cls.from_pem(path.read_bytes())
    else:
        # each algorithm's class has generate(); dnspython's base class does not declare it
        private = algorithm_cls.generate()  # type: ignore[attr-defined]
        durable.write_atomic(path, private.to_pem(), mode=0o600)
        log.info("created DNSSEC key for %s in %s", origin, path)
    dnskey = dns.dnssec.make_dnskey(private.public_key(), ALGORITHM, flags=Flag.ZONE | Flag.SEP)
    return private, dnskey


def _write_trust_anchor(path: Path, anchor: dns.rrset.RRset) -> None:
    """Zone-file DS lines: the format of unbound's `trust-anchor-file` and ldns' `-k` files."""
    lines = [
        f"; DNSSEC trust anchor of the mua demo world: the DS of {anchor.name}",
        "; (a SHA-256 digest of the zone's signing key; it stays while the key files stay)",
        anchor.to_text(),
        "",
    ]
    text = "\n".join(lines)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
