"""The world's authoritative name server: UDP and TCP on one loopback port, DNSSEC-aware.

dnspython parses and renders messages; this module decides what goes in them. It answers from
the closest enclosing zone it holds (DS from the parent side of a cut, RFC 4035 section 3.1.4.1),
with the AA flag; it adds RRSIGs and NSEC denial proofs only when the query sets the DO bit
(RFC 3225, RFC 4035 section 3.1). It never recurses and refuses names outside its zones.

Hostile input must not take it down: unparseable queries get FORMERR (or nothing, when even the
header is unusable), TCP connections are idle-limited and capped in number, and an exception
while answering becomes SERVFAIL plus a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import cast

import dns.flags
import dns.message
import dns.name
import dns.node
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

from mua.stack.zones import WorldZones

log = logging.getLogger(__name__)

TCP_IDLE_TIMEOUT = 10.0  # seconds a TCP client may stay silent (RFC 7766 section 6.2.3)
MAX_TCP_CONNECTIONS = 64
OUR_UDP_PAYLOAD = 1232  # the EDNS buffer size DNS Flag Day 2020 settled on
MAX_UDP_RESPONSE = 4096
_BIND_ATTEMPTS = 20
_IN = dns.rdataclass.IN


class DnsServer:
    """Serve a `WorldZones` on host:port over UDP and TCP until `stop()`."""

    def __init__(
        self,
        zones: WorldZones,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        idle_timeout: float = TCP_IDLE_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self._zones = zones
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    def replace_zones(self, zones: WorldZones) -> None:
        """Answer from `zones` from the next query on (tests change records live)."""
        self._zones = zones

    async def start(self) -> None:
        """Bind TCP, then UDP on the same port; with port 0, retry when UDP's port is taken."""
        loop = asyncio.get_running_loop()
        for _attempt in range(_BIND_ATTEMPTS):
            tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port)
            port = tcp.sockets[0].getsockname()[1]
            try:
                udp, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(self), local_addr=(self.host, port)
                )
            except OSError:
                tcp.close()
                await tcp.wait_closed()
                if self.port:
                    raise
                continue
            self._tcp, self._udp, self.port = tcp, udp, port
            log.info("DNS server listening on %s port %d (UDP and TCP)", self.host, port)
            return
        raise OSError(f"no port on {self.host} free for both UDP and TCP")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._tcp.wait_closed()
            self._tcp = None

    def handle(self, wire: bytes, *, udp: bool) -> bytes | None:
        """The reply to one query in wire format, or None when nothing should be sent back."""
        return answer_wire(self._zones, wire, udp=udp)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._connections) >= MAX_TCP_CONNECTIONS:
            writer.close()
            return
        self._connections.add(task)
        try:
            while True:  # RFC 7766 section 6.2.1: several queries may share a connection
                async with asyncio.timeout(self.idle_timeout):
                    length = int.from_bytes(await reader.readexactly(2), "big")
                    wire = await reader.readexactly(length)
                reply = self.handle(wire, udp=False)
                if reply is None:
                    break  # not a DNS query: a stream out of step, hang up
                writer.write(len(reply).to_bytes(2, "big") + reply)
                async with asyncio.timeout(self.idle_timeout):
                    await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass  # idle, half a message, or gone: close quietly
        except Exception:
            log.exception("DNS over TCP: unexpected error, closing the connection")
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = self._server.handle(data, udp=True)
            if reply is not None and self._transport is not None:
                self._transport.sendto(reply, addr)
        except Exception:
            log.exception("DNS over UDP: unexpected error answering %s", addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("DNS over UDP: %s", exc)


def answer_wire(zones: WorldZones, wire: bytes, *, udp: bool) -> bytes | None:
    """Parse, answer and render one query; never raises on bad input."""
    try:
        query = dns.message.from_wire(wire)
    except Exception as exc:
        log.debug("malformed DNS query (%s)", exc)
        return _formerr(wire)
    if query.flags & dns.flags.QR:
        return None  # a response sent to us: answering it could start a loop
    try:
        response = answer(zones, query)
    except Exception:
        log.exception("DNS: error answering %s", query.question)
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.SERVFAIL)
    if not udp:
        return response.to_wire(max_size=65535, prefer_truncation=True)
    # RFC 6891 section 6.2.5: the requestor's payload size, at least 512; RFC 1035 4.2.1: 512
    # without EDNS. What does not fit is cut at an rrset boundary with TC set (RFC 2181
    # section 9), so the client retries over TCP.
    size = max(512, min(query.payload, MAX_UDP_RESPONSE)) if query.edns >= 0 else 512
    return response.to_wire(max_size=size, prefer_truncation=True)


def answer(zones: WorldZones, query: dns.message.Message) -> dns.message.Message:
    """The authoritative response to a parsed query."""
    response = dns.message.make_response(query, our_payload=OUR_UDP_PAYLOAD)
    dnssec = query.edns >= 0 and bool(query.ednsflags & dns.flags.DO)
    response.flags |= query.flags & dns.flags.CD  # RFC 4035 section 3.1.6
    if query.edns >= 0:  # RFC 3225 section 3: the DO bit is copied into the response
        response.use_edns(0, query.ednsflags & dns.flags.DO, OUR_UDP_PAYLOAD)
    if query.edns > 0:
        response.set_rcode(dns.rcode.BADVERS)  # RFC 6891 section 6.1.3
        return response
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
        return response
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = query.question[0]
    qname, qtype = question.name, question.rdtype
    zone = zones.zone_for(qname, qtype) if question.rdclass == _IN else None
    if zone is None or (dns.rdatatype.is_metatype(qtype) and qtype != dns.rdatatype.ANY):
        response.set_rcode(dns.rcode.REFUSED)  # not ours, or a zone transfer
        return response
    _Answerer(zone, response, dnssec).answer(qname, qtype)
    log.debug("DNS %s %s -> %s", qname, dns.rdatatype.to_text(qtype), response.rcode())
    return response


class _Answerer:
    def __init__(self, zone: dns.zone.Zone, response: dns.message.Message, dnssec: bool) -> None:
        self.zone = zone
        assert zone.origin is not None
        self.origin: dns.name.Name = zone.origin
        self.response = response
        self.dnssec = dnssec

    def answer(self, qname: dns.name.Name, qtype: dns.rdatatype.RdataType) -> None:
        cut = self._cut_above(qname)
        if cut is not None and not (qtype == dns.rdatatype.DS and cut == qname):
            self._referral(cut)
            return
        self.response.flags |= dns.flags.AA
        node = self.zone.get_node(qname)
        if node is not None:
            found = [
                rds
                for rds in node.rdatasets
                if rds.rdtype == qtype
                or (qtype == dns.rdatatype.ANY and (self.dnssec or not _is_dnssec(rds.rdtype)))
            ]
            if found:
                for rds in found:
                    self._add(self.response.answer, qname, rds.rdtype, rds.covers)
                return
        self._add_soa()
        if node is not None or self._is_empty_non_terminal(qname):
            self._add_nsec(qname if node is not None else self._nsec_covering(qname))  # NODATA
            return
        # NXDOMAIN: an NSEC covering the name and one proving no wildcard at the closest
        # encloser could have matched (RFC 4035 section 3.1.3.2).
        self.response.set_rcode(dns.rcode.NXDOMAIN)
        self._add_nsec(self._nsec_covering(qname))
        encloser = self._closest_encloser(qname)
        self._add_nsec(self._nsec_covering(dns.name.from_text("*", encloser)))

    def _referral(self, cut: dns.name.Name) -> None:
        """A delegation to a zone this server does not hold: NS, plus DS or its denial."""
        self._add(self.response.authority, cut, dns.rdatatype.NS)
        if not self._add(self.response.authority, cut, dns.rdatatype.DS):
            self._add_nsec(cut)  # RFC 4035 section 3.1.4: prove that no DS exists

    def _add(
        self,
        section: list[dns.rrset.RRset],
        name: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        covers: dns.rdatatype.RdataType = dns.rdatatype.NONE,
        ttl: int | None = None,
    ) -> bool:
        rds = self.zone.get_rdataset(name, rdtype, covers)
        if rds is None:
            return False
        rrset = dns.rrset.from_rdata_list(name, rds.ttl if ttl is None else ttl, list(rds))
        if rrset not in section:
            section.append(rrset)
        if self.dnssec and rdtype != dns.rdatatype.RRSIG:
            self._add(section, name, dns.rdatatype.RRSIG, rdtype)
        return True

    def _add_soa(self) -> None:
        soa = self.zone.get_rdataset(self.origin, dns.rdatatype.SOA)
        assert soa is not None
        # RFC 2308 section 3: the negative TTL is the smaller of the SOA's TTL and MINIMUM.
        self._add(
            self.response.authority,
            self.origin,
            dns.rdatatype.SOA,
            ttl=min(soa.ttl, soa[0].minimum),
        )

    def _add_nsec(self, name: dns.name.Name | None) -> None:
        if self.dnssec and name is not None:
            self._add(self.response.authority, name, dns.rdatatype.NSEC)

    def _cut_above(self, qname: dns.name.Name) -> dns.name.Name | None:
        """The highest delegation point (NS below the apex) at or above qname, if any."""
        for depth in range(len(self.origin) + 1, len(qname) + 1):
            name = qname.split(depth)[1]
            if self.zone.get_rdataset(name, dns.rdatatype.NS) is not None:
                return name
        return None

    def _is_empty_non_terminal(self, qname: dns.name.Name) -> bool:
        """RFC 4592 section 2.2.2: a name with no records but descendants exists (NODATA)."""
        return any(n != qname and n.is_subdomain(qname) for n in self.zone.nodes)

    def _closest_encloser(self, qname: dns.name.Name) -> dns.name.Name:
        name = qname
        while name != self.origin:
            name = name.parent()
            if name in self.zone.nodes or self._is_empty_non_terminal(name):
                return name
        return self.origin

    def _nsec_covering(self, name: dns.name.Name) -> dns.name.Name | None:
        """The owner of the NSEC whose span covers `name`: the last NSEC owner before it in
        canonical order (RFC 4034 section 6.1; dnspython's Name ordering is that order)."""
        owners = [
            n
            for n, node in self.zone.nodes.items()
            if n < name and node.get_rdataset(_IN, dns.rdatatype.NSEC) is not None
        ]
        return max(owners, default=None)


def _is_dnssec(rdtype: dns.rdatatype.RdataType) -> bool:
    return rdtype in (dns.rdatatype.RRSIG, dns.rdatatype.NSEC)


def _formerr(wire: bytes) -> bytes | None:
    """A bare FORMERR header echoing the query's ID, or None if it was not even a query."""
    if len(wire) < 12 or wire[2] & 0x80:
        return None
    opcode_bits = (wire[2] & 0x78) << 8
    flags = dns.flags.QR | opcode_bits | dns.rcode.FORMERR
    return struct.pack("!HHHHHH", int.from_bytes(wire[:2], "big"), flags, 0, 0, 0, 0)
