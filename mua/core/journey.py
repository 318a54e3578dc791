"""A message's journey read from its headers: one `Leg` per Received field, oldest first.

Trust (docs/design.md#trust-sources): a Received field is *recorded* when the user's own
provider wrote it, and *claimed* when anyone upstream could have. The topmost
field is always recorded: the provider handed the message over with it on top. Below it, a
field is recorded while the field above it names, as the host that handed the message over,
one of the provider's own servers (`own_hosts`, matched case-insensitively and by parent
domain: "b.test" covers "mx.b.test"), or a local program on that server (`localhost` at a
loopback address); a field that names no sending host at all (Gmail's internal hops) passes
the chain on when the field below was written by an own host. The first field whose sender is
outside is the hop into the provider: recorded, and everything older is claimed. With no
`own_hosts`, only the topmost field counts. The sender's name is its reverse DNS name when the
header records one, and its HELO name only when the header shows no failed lookup.

Roles (RFC 5598): the oldest hop is MUA -> MSA when it is authenticated submission (the A of
RFC 3848, "Authenticated sender") or a client protocol (HTTP, MAPI) or a local program; LMTP
and local hops further on are delivery (MX -> MDA, then MDA -> MS); SMTP hops are relays,
MTA -> MX between organisations, MTA -> MTA or MX -> MX inside one. Ports are not in the
headers, so `port_role` stays None. Legs are graded by the one grading function (Leg.grade).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from email.header import decode_header, make_header
from itertools import pairwise
from typing import Any

from mua.core.authresults import AuthenticationResults, parse_authentication_results
from mua.core.i18n import T_, TN_, Text
from mua.core.legs import Endpoint, Leg, LegKind, Protocol, Role, Source, Trace, TraceStatus
from mua.core.received import (
    HeaderSource,
    ProtocolFamily,
    ReceivedHop,
    header_fields,
    parse_received,
)
from mua.core.tls_facts import TlsFacts

CLAIMED_NOTE = T_(
    "Claimed by a server outside your provider: anyone could have written this header"
)
_LOCAL_NAMES = {"localhost", "localhost.localdomain"}
_KIND_ORDER = {
    LegKind.SUBMISSION: 0,
    LegKind.HANDOFF: 1,
    LegKind.RELAY: 2,
    LegKind.OTHER: 2,
    LegKind.DELIVERY: 3,
    LegKind.RETRIEVAL: 4,
}


@dataclass(frozen=True)
class TransportNotes:
    """What else the headers say about transport, beyond the legs."""

    tls_required_no: bool  # RFC 8689 "TLS-Required: No": the sender asked not to insist on TLS
    authentication: tuple[AuthenticationResults, ...]  # only those written by the own provider
    delays: tuple[float | None, ...]  # seconds since the previous hop, oldest first

    def to_json(self) -> dict[str, Any]:
        return {
            "tls_required_no": self.tls_required_no,
            "authentication_results": [a.to_json() for a in self.authentication],
            "delays": list(self.delays),
        }


def trace_from_headers(
    headers: HeaderSource, *, own_hosts: Iterable[str] = (), observed: Iterable[Leg] = ()
) -> Trace:
    """The journey the headers show, oldest leg first, merged with what the client observed.

    `observed` legs replace what headers say about the same leg: the client's own submission
    replaces the header-derived MUA -> MSA leg (or goes first when there is none), its IMAP
    retrieval goes last as MS -> MUA; any other observed leg goes after the legs of its kind.
    """
    fields = header_fields(headers)
    own = _own_names(own_hosts)
    hops = [parse_received(v) for k, v in fields if k.lower() == "received"]
    recorded = recorded_count(hops, own)
    oldest = hops[::-1]
    legs = _hop_legs(oldest, len(oldest) - recorded, own)
    return Trace(
        TraceStatus.PARSED,
        merge_observed(legs, observed),
        subject=_first_text(fields, "Subject"),
        message_id=_first_text(fields, "Message-ID"),
    )


def transport_notes(headers: HeaderSource, own_hosts: Iterable[str] = ()) -> TransportNotes:
    """TLS-Required: No, the own provider's Authentication-Results, and per-hop delays.

    An Authentication-Results field counts only when its authserv-id is an own host (with no
    own hosts: the host that wrote the topmost Received field) and it sits above the first
    claimed Received field, where nobody upstream could have put it.
    """
    fields = header_fields(headers)
    own = _own_names(own_hosts)
    hops = [parse_received(v) for k, v in fields if k.lower() == "received"]
    recorded = recorded_count(hops, own)
    trusted = own or _own_names([hops[0].by_host] if hops and hops[0].by_host else [])
    results: list[AuthenticationResults] = []
    seen_received = 0
    for name, value in fields:
        lowered = name.lower()
        if lowered == "received":
            seen_received += 1
        elif lowered == "authentication-results" and seen_received <= recorded:
            parsed = parse_authentication_results(value)
            if parsed is not None and _matches(parsed.authserv_id, trusted):
                results.append(parsed)
    no_tls_required = any(
        k.lower() == "tls-required" and v.strip().lower() == "no" for k, v in fields
    )
    return TransportNotes(no_tls_required, tuple(results), tuple(hop_delays(hops[::-1])))


def recorded_count(hops: list[ReceivedHop], own: set[str]) -> int:
    """How many fields, from the top (newest first), the user's own provider wrote."""
    if not hops:
        return 0
    count = 1
    if not own:
        return count
    for newer, older in pairwise(hops):
        if not _handed_over_inside(newer, older, own):
            break
        count += 1
    return count


def hop_delays(oldest: list[ReceivedHop]) -> list[float | None]:
    """Seconds between each hop and the one before it (oldest first); None when unknown."""
    delays: list[float | None] = [None] * len(oldest)
    for i in range(1, len(oldest)):
        before, after = oldest[i - 1].date, oldest[i].date
        if before is not None and after is not None:
            delays[i] = (after - before).total_seconds()
    return delays


def merge_observed(legs: list[Leg], observed: Iterable[Leg]) -> list[Leg]:
    """Header legs with the observed ones in place (see trace_from_headers)."""
    merged = list(legs)
    for leg in observed:
        same = [i for i, known in enumerate(merged) if known.kind is leg.kind]
        if leg.kind in (LegKind.SUBMISSION, LegKind.RETRIEVAL) and same:
            merged[same[0]] = leg
            continue
        rank = _KIND_ORDER[leg.kind]
        at = 0
        for i, known in enumerate(merged):
            if _KIND_ORDER[known.kind] <= rank:
                at = i + 1
        merged.insert(at, leg)
    return merged


def _hop_legs(oldest: list[ReceivedHop], first_recorded: int, own: set[str]) -> list[Leg]:
    legs: list[Leg] = []
    delays = hop_delays(oldest)
    prev_to: Role | None = None
    prev_by: str | None = None
    for i, hop in enumerate(oldest):
        source = Source.RECORDED if i >= first_recorded else Source.CLAIMED
        inside = i > first_recorded  # past the hop into the provider
        same_org = inside or _same_organisation(prev_by, hop.by_host, own)
        from_role, to_role, protocol = _roles(hop, i == 0, prev_to, same_org)
        legs.append(
            Leg(
                Endpoint(from_role, _sender(hop)),
                Endpoint(to_role, hop.by_host),
                protocol,
                _leg_tls(hop),
                source,
                note=_note(hop, source, delays[i]),
                with_keyword=hop.with_protocol,
                header=" ".join(hop.raw.split()),
            )
        )
        prev_to, prev_by = to_role, hop.by_host
    return legs


def _roles(
    hop: ReceivedHop, origin: bool, prev_to: Role | None, same_org: bool
) -> tuple[Role, Role, Protocol]:
    family = hop.protocol
    client_protocols = (ProtocolFamily.HTTP, ProtocolFamily.MAPI, ProtocolFamily.LOCAL)
    submitted = hop.authenticated and family is not ProtocolFamily.LMTP  # Cyrus LMTPA: delivery
    if origin and (submitted or family in client_protocols):
        local = family is ProtocolFamily.LOCAL
        return Role.MUA, Role.MSA, Protocol.INTERNAL if local else Protocol.SUBMISSION
    if _internal_step(hop):  # Gmail "by 2002:a05:... with SMTP id": no sending host named
        if prev_to in (None, Role.MUA, Role.MSA):
            return Role.MSA, Role.MTA, Protocol.INTERNAL
        if prev_to in (Role.MDA, Role.MS):
            return Role.MDA, Role.MS, Protocol.INTERNAL
        return prev_to, prev_to, Protocol.INTERNAL
    if family in (ProtocolFamily.LMTP, ProtocolFamily.LOCAL):
        local = family is ProtocolFamily.LOCAL or hop.local_socket
        protocol = Protocol.INTERNAL if local else Protocol.LMTP
        if prev_to in (Role.MDA, Role.MS):
            return Role.MDA, Role.MS, protocol
        return Role.MX, Role.MDA, protocol
    if prev_to is None or not same_org:
        return Role.MTA, Role.MX, Protocol.SMTP
    if prev_to in (Role.MX, Role.MDA, Role.MS):
        return Role.MX, Role.MX, Protocol.SMTP
    return Role.MTA, Role.MTA, Protocol.SMTP


def _leg_tls(hop: ReceivedHop) -> TlsFacts:
    """The field's TLS facts; for an internal step, a plain keyword ("with SMTP") says nothing
    about a network that was not crossed: unknown, unless the field states TLS."""
    if _internal_step(hop) and hop.tls.encrypted is False:
        return TlsFacts.unknown()
    return hop.tls


def _internal_step(hop: ReceivedHop) -> bool:
    """A record with no `from` clause: a step inside the provider that wrote it, not a network
    leg between two named hosts (docs/design.md#grades: internal to that provider, or unknown,
    never red)."""
    return not hop.has_from and hop.by_host is not None


def _note(hop: ReceivedHop, source: Source, delay: float | None) -> Text:
    if source is Source.CLAIMED:
        if hop.tls.encrypted:
            first = T_(
                "Claimed by a server outside your provider: anyone could have written this "
                "header, including its TLS details"
            )
        else:
            first = CLAIMED_NOTE
    else:
        host = hop.by_host or T_("(unnamed)")
        first = T_("Recorded by your provider's server {host}", host=host)
    parts = [first]
    family = hop.protocol
    if family is ProtocolFamily.HTTP:
        parts.append(T_("handed in over HTTP (webmail or an API), not SMTP"))
    elif family is ProtocolFamily.MAPI:
        parts.append(T_("handed in by an Exchange client over MAPI"))
    if _internal_step(hop) and family not in (ProtocolFamily.HTTP, ProtocolFamily.MAPI):
        parts.append(
            T_(
                "a step inside the provider that wrote it: the header names no sending host, "
                "so it is no hop between two servers"
            )
        )
    elif hop.local_socket:
        parts.append(T_("handed over through a local socket on the same machine"))
    if family is ProtocolFamily.LMTP and hop.authenticated:
        parts.append(T_("delivered over authenticated LMTP"))
    if hop.tls.encrypted is None and family is not ProtocolFamily.LOCAL:
        parts.append(T_("the header does not say whether TLS protected it"))
    if hop.tls_version_text is not None:
        parts.append(
            T_(
                "the header names the TLS version as {written}, which is no single version",
                written=hop.tls_version_text,
            )
        )
    if delay is not None:
        parts.append(_delay_phrase(delay))
    return Text.joined(parts, "; ", ".")


def _delay_phrase(seconds: float) -> Text:
    if seconds < 0:
        return T_(
            "stamped {duration} before the previous hop (their clocks disagree)",
            duration=_duration(-seconds),
        )
    if seconds < 1:
        return T_("arrived within a second of the previous hop")
    return T_("arrived {duration} after the previous hop", duration=_duration(seconds))


def _duration(seconds: float) -> Text:
    if seconds < 120:
        return TN_("{n} s", "{n} s", max(1, round(seconds)))
    if seconds < 2 * 3600:
        return TN_("{n} min", "{n} min", round(seconds / 60))
    if seconds < 2 * 86400:
        return TN_("{n} h", "{n} h", round(seconds / 3600))
    return TN_("{n} day", "{n} days", round(seconds / 86400))


def _handed_over_inside(newer: ReceivedHop, older: ReceivedHop, own: set[str]) -> bool:
    """Whether the server that wrote `newer` got the message from one of the provider's own."""
    name = newer.client_name
    if name is not None and _matches(name, own):
        return True
    if name is not None and name.lower() in _LOCAL_NAMES and _loopback(newer.from_address):
        return True
    says_nothing = not (newer.from_helo or newer.from_host or newer.from_address)
    return says_nothing and older.by_host is not None and _matches(older.by_host, own)


def _sender(hop: ReceivedHop) -> str | None:
    return hop.from_host or hop.client_name or hop.from_address or hop.from_helo


def _same_organisation(a: str | None, b: str | None, own: set[str]) -> bool:
    """Both names under one own host, or sharing their last two DNS labels; False if unsure."""
    if a is None or b is None:
        return False
    if any(_matches(a, {o}) and _matches(b, {o}) for o in own):
        return True
    labels_a, labels_b = _norm(a).split("."), _norm(b).split(".")
    if len(labels_a) < 2 or len(labels_b) < 2 or _is_ip(_norm(a)) or _is_ip(_norm(b)):
        return False
    return labels_a[-2:] == labels_b[-2:]  # no public-suffix list: "co.uk" would look shared


def _own_names(hosts: Iterable[str]) -> set[str]:
    return {n for n in (_norm(h) for h in hosts if h) if n}


def _matches(name: str, own: set[str]) -> bool:
    name = _norm(name)
    return bool(name) and any(name == o or name.endswith("." + o) for o in own)


def _norm(name: str) -> str:
    return str(name).strip().strip("[]").rstrip(".").lower()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _loopback(address: str | None) -> bool:
    return address is not None and ipaddress.ip_address(address).is_loopback


def _first_text(fields: list[tuple[str, str]], name: str) -> str | None:
    value = next((v for k, v in fields if k.lower() == name.lower()), None)
    if value is None:
        return None
    try:
        return " ".join(str(make_header(decode_header(value))).split())
    except Exception:  # a malformed encoded-word: show the field as written
        return " ".join(value.split())
