"""The world's DNS: signed zones, the loopback server, and the validating resolver against it."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import socket
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import dns.asyncquery
import dns.asyncresolver
import dns.flags
import dns.message
import dns.nameserver
import dns.rcode
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mua.net.dns import (
    DnsError,
    DnsTimeout,
    MxRecord,
    Resolver,
    SrvRecord,
    TlsaRecord,
    order_srv,
)
from mua.net.dnssec import DnssecBogus, prove_denial, read_trust_anchor
from mua.stack.dns_server import DnsServer, answer_wire
from mua.stack.zones import DomainSpec, WorldZones

LOOPBACK = "127.0.0.1"
PIN = bytes(range(32))
BIG_TEXT = "v=big; " + "x" * 3000  # far beyond 512 octets, and beyond a 1232-octet payload


def world_specs() -> list[DomainSpec]:
    return [
        DomainSpec(
            domain="a.test",
            hosts={"mx.a.test": LOOPBACK, "smtp.a.test": LOOPBACK, "imap.a.test": "::1"},
            mx=[(20, "mx2.a.test"), (10, "mx.a.test")],
            tlsa={"_25._tcp.mx.a.test": [(3, 1, 1, PIN)]},
            srv=[
                ("_submissions._tcp", 0, 1, 465, "smtp.a.test"),
                ("_submission._tcp", 10, 1, 587, "smtp.a.test"),
                ("_imap._tcp", 0, 0, 0, "."),
            ],
            txt={"_mta-sts.a.test": ["v=STSv1; id=1"], "big.a.test": [BIG_TEXT]},
        ),
        DomainSpec(domain="implicit.test", hosts={"implicit.test": LOOPBACK}),
        DomainSpec(domain="null.test", hosts={"null.test": LOOPBACK}, mx=[(0, ".")]),
        DomainSpec(
            domain="unsigned.test",
            hosts={"mx.unsigned.test": LOOPBACK},
            mx=[(10, "mx.unsigned.test")],
            signed=False,
        ),
        DomainSpec(
            domain="island.test",
            hosts={"mx.island.test": LOOPBACK},
            mx=[(10, "mx.island.test")],
            ds_in_parent=False,
        ),
    ]


@dataclass
class Running:
    zones: WorldZones
    server: DnsServer
    key_dir: Path

    def resolver(self, **kwargs: object) -> Resolver:
        return Resolver(
            (LOOPBACK, self.server.port),
            trust_anchor_file=self.zones.trust_anchor_file,
            timeout=2.0,
            **kwargs,  # type: ignore[arg-type]
        )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Running]:
    key_dir = tmp_path / "dns"
    zones = WorldZones.build(world_specs(), key_dir)
    server = DnsServer(zones, idle_timeout=0.5)
    await server.start()
    try:
        yield Running(zones, server, key_dir)
    finally:
        await server.stop()


# --- positive answers --------------------------------------------------------------------


async def test_records_are_answered_and_validated(world: Running) -> None:
    resolver = world.resolver()
    mx = await resolver.mx("a.test")
    assert mx.records == (MxRecord(10, "mx.a.test"), MxRecord(20, "mx2.a.test"))
    assert mx.secure and mx.exists and not mx.null_mx and not mx.implicit

    tlsa = await resolver.tlsa(25, "mx.a.test")
    assert tlsa.records == (TlsaRecord(3, 1, 1, PIN),) and tlsa.secure

    srv = await resolver.srv("_submissions._tcp", "a.test")
    assert srv.records == (SrvRecord(0, 1, 465, "smtp.a.test"),) and srv.secure

    txt = await resolver.txt("_mta-sts.a.test")
    assert txt.records == ("v=STSv1; id=1",) and txt.secure

    addresses = await resolver.addresses("imap.a.test")
    assert addresses.records == ("::1",) and addresses.secure


async def test_srv_target_dot_means_not_offered(world: Running) -> None:
    answer = await world.resolver().srv("_imap._tcp", "a.test")
    assert answer.records == () and answer.exists and answer.secure


async def test_implicit_mx_is_the_domain_itself(world: Running) -> None:
    answer = await world.resolver().mx("implicit.test")
    assert answer.records == (MxRecord(0, "implicit.test"),)
    assert answer.implicit and answer.exists and answer.secure


async def test_null_mx(world: Running) -> None:
    answer = await world.resolver().mx("null.test")
    assert answer.null_mx and answer.exists and answer.records == () and answer.secure


# --- authenticated denial ----------------------------------------------------------------


async def test_nxdomain_and_nodata_are_authenticated(world: Running) -> None:
    resolver = world.resolver()
    nxdomain = await resolver.addresses("nothing.a.test")
    assert (nxdomain.exists, nxdomain.secure) == (False, True)
    nodata = await resolver.tlsa(25, "smtp.a.test")  # the TLSA name does not exist either
    assert (nodata.exists, nodata.secure) == (False, True)
    no_type = await resolver.txt("mx.a.test")  # the name exists, the type does not
    assert (no_type.exists, no_type.secure) == (False, True)
    empty_non_terminal = await resolver.txt("_tcp.mx.a.test")
    assert (empty_non_terminal.exists, empty_non_terminal.secure) == (False, True)
    in_parent = await resolver.mx("nowhere.test")
    assert (in_parent.exists, in_parent.secure, in_parent.records) == (False, True, ())


async def test_server_sends_nsec_proofs_only_with_do(world: Running) -> None:
    for want_dnssec in (False, True):
        query = dns.message.make_query("nothing.a.test", "A", want_dnssec=want_dnssec)
        response = await dns.asyncquery.udp(query, LOOPBACK, timeout=2, port=world.server.port)
        assert response.rcode() == dns.rcode.NXDOMAIN and response.flags & dns.flags.AA
        types = {rrset.rdtype for rrset in response.authority}
        expected = {dns.rdatatype.SOA}
        if want_dnssec:
            expected |= {dns.rdatatype.NSEC, dns.rdatatype.RRSIG}
        assert types == expected


# --- broken and partial chains -----------------------------------------------------------


async def test_corrupted_signature_is_bogus(world: Running) -> None:
    world.zones.corrupt_signature("mx.a.test", "A")
    with pytest.raises(DnssecBogus):
        await world.resolver().addresses("mx.a.test")


async def test_corrupted_ds_in_parent_is_bogus(world: Running) -> None:
    world.zones.corrupt_signature("a.test", "DS")
    with pytest.raises(DnssecBogus):
        await world.resolver().mx("a.test")


async def test_corrupted_denial_is_bogus(world: Running) -> None:
    world.zones.corrupt_signature("a.test", "NSEC")  # the apex NSEC covers names right below
    with pytest.raises(DnssecBogus):
        await world.resolver().addresses("b.a.test")


async def test_dnskey_matching_no_ds_is_bogus(world: Running, tmp_path: Path) -> None:
    """The child rolled its key, the parent still publishes the old DS."""
    other = WorldZones.build(world_specs(), tmp_path / "other")
    child = dns.name.from_text("a.test.")
    world.zones.zones[child] = other.zones[child]
    with pytest.raises(DnssecBogus, match="no DNSKEY matches the DS"):
        await world.resolver().mx("a.test")


async def test_expired_signatures_are_bogus(tmp_path: Path) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    zones = WorldZones.build(world_specs(), tmp_path, now=old)
    server = DnsServer(zones)
    await server.start()
    try:
        resolver = Resolver((LOOPBACK, server.port), trust_anchor_file=zones.trust_anchor_file)
        with pytest.raises(DnssecBogus, match="expired"):
            await resolver.mx("a.test")
    finally:
        await server.stop()


async def test_unsigned_child_zone_is_insecure(world: Running) -> None:
    resolver = world.resolver()
    mx = await resolver.mx("unsigned.test")
    assert mx.records == (MxRecord(10, "mx.unsigned.test"),) and not mx.secure
    missing = await resolver.addresses("nothing.unsigned.test")
    assert not missing.exists and not missing.secure


async def test_island_of_security_is_insecure(world: Running) -> None:
    """Signed, but the parent proves there is no DS: RFC 4035 section 4.3 "Insecure"."""
    answer = await world.resolver().mx("island.test")
    assert answer.records == (MxRecord(10, "mx.island.test"),) and not answer.secure


async def test_stripped_signatures_in_a_signed_zone_are_bogus(world: Running) -> None:
    """A resolver that does not ask for DNSSEC data sees none; a validator must object."""
    resolver = world.resolver()
    original = resolver._query

    async def without_rrsigs(qname, rdtype):  # type: ignore[no-untyped-def]
        response = await original(qname, rdtype)
        if rdtype == dns.rdatatype.MX:
            response.answer = [r for r in response.answer if r.rdtype != dns.rdatatype.RRSIG]
        return response

    resolver._query = without_rrsigs  # type: ignore[method-assign]
    with pytest.raises(DnssecBogus, match="no signature"):
        await resolver.mx("a.test")


async def test_without_trust_anchor_nothing_is_secure(world: Running) -> None:
    answer = await Resolver((LOOPBACK, world.server.port), timeout=2).mx("a.test")
    assert answer.records[0] == MxRecord(10, "mx.a.test") and not answer.secure


# --- keys and the trust anchor -----------------------------------------------------------


def test_keys_persist_and_anchor_stays(tmp_path: Path) -> None:
    first = WorldZones.build(world_specs(), tmp_path / "one")
    again = WorldZones.build(world_specs(), tmp_path / "one")
    fresh = WorldZones.build(world_specs(), tmp_path / "two")
    text = first.trust_anchor_file.read_text()
    assert text == again.trust_anchor_file.read_text()
    assert text != fresh.trust_anchor_file.read_text()
    assert "test. 300 IN DS " in text
    assert read_trust_anchor(first.trust_anchor_file) == first.trust_anchor
    keys = sorted(p.name for p in (tmp_path / "one").glob("*.pem"))
    signed = ["a.test", "implicit.test", "island.test", "null.test", "test"]  # not "unsigned"
    assert keys == [f"{zone}.key.pem" for zone in signed]
    for key in (tmp_path / "one").glob("*.pem"):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600


async def test_replace_zones_changes_answers_live(world: Running) -> None:
    resolver = world.resolver()
    assert not (await resolver.txt("new.a.test")).exists
    specs = world_specs()
    specs[0].txt["new.a.test"] = ["hello"]
    world.server.replace_zones(WorldZones.build(specs, world.key_dir))
    # The resolver keeps the negative answer for the SOA's TTL (RFC 2308) ...
    assert not (await resolver.txt("new.a.test")).exists
    resolver.flush()  # ... until told the zones changed
    answer = await resolver.txt("new.a.test")
    assert answer.records == ("hello",) and answer.secure


async def test_cached_txt_answers_only_what_the_cache_holds(world: Running) -> None:
    """The synchronous peek the MX's checks use from their worker thread: the answer a lookup
    left in the cache, the same as `txt` gives; None before it, after a flush, for a name
    that is not one."""
    resolver = world.resolver()
    assert resolver.cached_txt("_mta-sts.a.test") is None
    asked = await resolver.txt("_mta-sts.a.test")
    assert resolver.cached_txt("_mta-sts.a.test") == asked == await resolver.txt("_mta-sts.a.test")
    assert resolver.cached_txt("_MTA-STS.a.test.") == asked
    denied = await resolver.txt("nothing.a.test")
    assert resolver.cached_txt("nothing.a.test") == denied and not denied.exists
    resolver.flush()
    assert resolver.cached_txt("_mta-sts.a.test") is None
    assert resolver.cached_txt("a..test") is None


# --- transport: truncation, hostile input, timeouts --------------------------------------


async def test_large_answer_is_truncated_over_udp_and_complete_over_tcp(world: Running) -> None:
    port = world.server.port
    query = dns.message.make_query("big.a.test", "TXT")  # no EDNS: 512 octets at most
    wire = query.to_wire()
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (LOOPBACK, port))
        await loop.sock_sendall(sock, wire)
        reply = await asyncio.wait_for(loop.sock_recv(sock, 65535), 2)
    assert len(reply) <= 512
    assert dns.message.from_wire(reply, raise_on_truncation=False).flags & dns.flags.TC

    small = Resolver((LOOPBACK, port), trust_anchor_file=world.zones.trust_anchor_file, payload=512)
    answer = await small.txt("big.a.test")  # UDP, TC, then TCP
    assert answer.records == (BIG_TEXT,) and answer.secure


async def test_malformed_udp_gets_formerr_or_nothing(world: Running) -> None:
    port = world.server.port
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (LOOPBACK, port))
        # too short for a header, a response (QR set), and random octets: no reply expected
        for junk in (b"", b"\x00", b"\xff" * 5, b"\x12\x34\x80" + b"\x00" * 9):
            await loop.sock_sendall(sock, junk)
        # a query header that promises a question and then breaks off: FORMERR
        await loop.sock_sendall(sock, b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07")
        reply = await asyncio.wait_for(loop.sock_recv(sock, 512), 2)
    formerr = dns.message.from_wire(reply)
    assert formerr.id == 0xABCD and formerr.rcode() == dns.rcode.FORMERR
    assert (await world.resolver().mx("a.test")).secure  # still serving


async def test_hostile_tcp_clients_do_not_stop_the_server(world: Running) -> None:
    port = world.server.port
    silent = await asyncio.open_connection(LOOPBACK, port)  # says nothing at all
    garbage = await asyncio.open_connection(LOOPBACK, port)
    garbage[1].write(b"\x00\x20" + b"\xff" * 32)  # a framed message that is not a query
    short = await asyncio.open_connection(LOOPBACK, port)
    short[1].write(b"\xff\xff" + b"\x00" * 10)  # announces 65535 octets, sends 10, stalls
    try:
        assert await asyncio.wait_for(garbage[0].read(), 2) == b""  # hung up on
        answer = await world.resolver().txt("big.a.test")  # TCP served meanwhile
        assert answer.records == (BIG_TEXT,)
        # both stalled clients are dropped after the idle timeout (0.5 s here)
        assert await asyncio.wait_for(silent[0].read(), 2) == b""
        assert await asyncio.wait_for(short[0].read(), 2) == b""
    finally:
        for _reader, writer in (silent, garbage, short):
            writer.close()
            await writer.wait_closed()


async def test_names_outside_the_world_are_refused(world: Running) -> None:
    query = dns.message.make_query("example.com", "A")
    response = await dns.asyncquery.udp(query, LOOPBACK, timeout=2, port=world.server.port)
    assert response.rcode() == dns.rcode.REFUSED
    with pytest.raises(DnsError, match="REFUSED"):
        await world.resolver().addresses("example.com")


async def test_a_silent_server_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))  # bound, never read: queries vanish
        resolver = Resolver((LOOPBACK, sock.getsockname()[1]), timeout=0.3)
        started = asyncio.get_running_loop().time()
        with pytest.raises(DnsTimeout) as caught:
            await resolver.mx("a.test")
        assert isinstance(caught.value, TimeoutError)
        assert asyncio.get_running_loop().time() - started < 2


# --- pure parts --------------------------------------------------------------------------


def _mutated_query(
    name: str, rdtype: str, dnssec: bool, edits: list[tuple[int, int]], keep: int
) -> bytes:
    wire = bytearray(dns.message.make_query(name, rdtype, want_dnssec=dnssec).to_wire())
    for position, value in edits:
        wire[position % len(wire)] = value
    return bytes(wire[:keep])


queries = st.builds(
    _mutated_query,
    st.sampled_from(["a.test", "mx.a.test", "x.unsigned.test", "test", "example.com"]),
    st.sampled_from(["A", "MX", "DS", "DNSKEY", "ANY", "RRSIG", "AXFR", "NSEC"]),
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
    st.integers(0, 300),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=600), queries))
def test_server_never_raises_on_hostile_input(zones: WorldZones, wire: bytes) -> None:
    for udp in (True, False):
        reply = answer_wire(zones, wire, udp=udp)
        assert reply is None or dns.message.from_wire(reply, raise_on_truncation=False).id >= 0


def test_parent_side_nsec_proves_only_the_missing_ds(zones: WorldZones) -> None:
    """RFC 6840 section 4.1: the parent's NSEC at a cut must not deny the child's data."""
    cut = dns.name.from_text("unsigned.test.")
    nsec = zones.zones[dns.name.from_text("test.")].find_rrset(cut, dns.rdatatype.NSEC)
    prove_denial(cut, dns.rdatatype.DS, False, [nsec])  # no DS: fine
    with pytest.raises(DnssecBogus):
        prove_denial(cut, dns.rdatatype.A, False, [nsec])
    with pytest.raises(DnssecBogus):
        prove_denial(dns.name.from_text("x.unsigned.test."), dns.rdatatype.A, True, [nsec])


async def test_referral_for_a_zone_the_server_does_not_hold(world: Running) -> None:
    del world.zones.zones[dns.name.from_text("island.test.")]
    query = dns.message.make_query("mx.island.test", "A", want_dnssec=True)
    response = await dns.asyncquery.udp(query, LOOPBACK, timeout=2, port=world.server.port)
    assert not response.flags & dns.flags.AA and not response.answer
    assert {r.rdtype for r in response.authority} == {
        dns.rdatatype.NS,
        dns.rdatatype.NSEC,
        dns.rdatatype.RRSIG,
    }
    answer = await world.resolver().addresses("mx.island.test")  # proven insecure delegation
    assert (answer.exists, answer.secure) == (False, False)


async def test_a_name_that_is_not_a_name_is_a_dns_error(world: Running) -> None:
    with pytest.raises(DnsError, match="not a domain name"):
        await world.resolver().mx("a..test")


@pytest.fixture(scope="module")
def zones(tmp_path_factory: pytest.TempPathFactory) -> WorldZones:
    return WorldZones.build(world_specs(), tmp_path_factory.mktemp("dns"))


@given(
    st.lists(
        st.builds(SrvRecord, st.integers(0, 3), st.integers(0, 5), st.just(1), st.just("h")),
        max_size=8,
    ),
    st.integers(),
)
def test_srv_order_is_a_permutation_by_priority(records: list[SrvRecord], seed: int) -> None:
    ordered = order_srv(records, random.Random(seed))
    assert sorted(ordered, key=repr) == sorted(records, key=repr)
    assert [r.priority for r in ordered] == sorted(r.priority for r in records)


async def test_system_resolver_path(world: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """nameserver=None goes through dns.asyncresolver; here its configuration is our server."""
    configured = dns.asyncresolver.Resolver

    def local_resolver() -> dns.asyncresolver.Resolver:
        resolver = configured(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(LOOPBACK, world.server.port)]
        return resolver

    monkeypatch.setattr(dns.asyncresolver, "Resolver", local_resolver)
    validating = Resolver(trust_anchor_file=world.zones.trust_anchor_file, timeout=2)
    assert (await validating.mx("a.test")).secure
    missing = await validating.addresses("nothing.a.test")
    assert (missing.exists, missing.secure) == (False, True)
    trusting = Resolver(trust_ad=True, timeout=2)  # an authoritative server never sets AD
    assert not (await trusting.mx("a.test")).secure
