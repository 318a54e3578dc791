"""Which journey the hop panel shows for a message (plain Python, no Qt).

Ground truth first: in demo mode the embedded stack recorded every leg of its own mail, so
those legs are used as observed; a Demo menu scenario's message (and its bounce) gets the
journey its scenario computed in a world of its own. Otherwise the legs come from the
Received headers, with the account's provider deciding what is recorded and what is merely
claimed, merged with what this client observed itself: the submission leg it made when it
sent the message (kept in the cache), and the IMAP session it read the message over.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from mua.core.i18n import T_
from mua.core.legs import Endpoint, Leg, LegKind, Protocol, Role, Source, Trace, TraceStatus

log = logging.getLogger(__name__)

TraceProvider = Callable[[str, str, int, bytes], Trace]


def trace_provider(engine, demo=None) -> TraceProvider:
    def provide(address: str, folder: str, uid: int, raw: bytes) -> Trace:
        import email.policy

        from mua.core.mime import parse_bytes

        message = parse_bytes(raw, policy=email.policy.compat32)
        message_id = str(message.get("Message-ID", "")).strip()
        account = engine.accounts.get(address)
        observed = _sent_by_this_client(engine, message_id)
        retrieval = _retrieval_leg(engine, address, account)
        # A POP3 account's download was observed when it happened, and kept with the
        # message in that account's cache: that is its retrieval leg, whatever is open now.
        observed = [leg for leg in observed if leg.kind is not LegKind.RETRIEVAL]
        downloaded = _downloaded(engine, account, message_id)
        if downloaded is not None:
            retrieval = downloaded
        if demo is not None and demo.world is not None and message_id:
            kept = demo.journeys.get(message_id) if demo.journeys is not None else None
            if kept is not None:  # a Demo menu scenario's message, or its bounce
                return kept
            from mua.stack.demo import stack_legs

            legs = stack_legs(demo.world.world, message_id)
            if legs:
                submission = observed or _submission_from_log(demo.world.world, message_id)
                full = [*submission, *legs, *([retrieval] if retrieval else [])]
                subject = str(message.get("Subject", ""))
                trace = Trace(TraceStatus.DELIVERED, full, subject=subject, message_id=message_id)
                trace.content = _content(raw, _own_hosts(account))
                return trace
        own_hosts = _own_hosts(account)
        if retrieval is not None:
            observed.append(retrieval)
        # imported on the first journey shown, not at start-up (the parsers take ~20 ms)
        from mua.core.journey import trace_from_headers

        trace = trace_from_headers(message, own_hosts=own_hosts, observed=observed)
        trace.content = _content(raw, own_hosts)
        return trace

    return provide


def _own_hosts(account) -> list[str]:
    if account is None:
        return []
    hosts = [account.domain, *account.provider_hosts]
    return hosts + [s.server_name or s.host for s in (account.imap, account.smtp)]


def _content(raw: bytes, own_hosts: list[str]):
    """The content verdict with the keys in the cache (the GUI thread asks no DNS); None for
    a header section alone (a badge's fetch), whose body cannot be checked."""
    _head, blank, body = raw.partition(b"\r\n\r\n")
    if not blank or not body:
        return None
    from mua.net.dkim_check import verify_content_offline
    from mua.store.key_cache import KeyCache

    return verify_content_offline(raw, keys=KeyCache(), own_hosts=set(own_hosts))


def _sent_by_this_client(engine, message_id: str) -> list[Leg]:
    """The submission leg, when this client sent the message from any of its accounts
    (in the demo, alice's client sends what bob's reads): what it saw is observed."""
    if not message_id:
        return []
    for account in engine.accounts.load():
        stored = engine.cache.trace(account.key, message_id)
        if stored is not None and stored.observed_legs:
            return [Leg.from_json(leg) for leg in stored.observed_legs]
    return []


def _downloaded(engine, account, message_id: str) -> Leg | None:
    """The retrieval leg a POP3 account kept when it downloaded the message."""
    if account is None or account.pop3 is None or not message_id:
        return None
    stored = engine.cache.trace(account.key, message_id)
    legs = [Leg.from_json(leg) for leg in (stored.observed_legs if stored else [])]
    found = [leg for leg in legs if leg.kind is LegKind.RETRIEVAL]
    return found[-1] if found else None


def _retrieval_leg(engine, address: str, account) -> Leg | None:
    tls = engine.imap_tls(address)
    if tls is None or account is None:
        return None
    settings = account.imap
    return Leg(
        Endpoint(Role.MS, settings.server_name or settings.host),
        Endpoint(Role.MUA, socket.gethostname()),
        Protocol.IMAP,
        tls,
        Source.OBSERVED,
        port_role=993 if settings.security.value == "implicit" else 143,
        port_actual=settings.port,
        note=(
            T_(
                "The IMAP session this client is reading the message over: no TLS, so your "
                "password crossed in clear, as this account allows."
            )
            if tls.encrypted is False and account.allow_cleartext_auth
            else T_("The IMAP session this client is reading the message over.")
        ),
    )


def _submission_from_log(world, message_id: str) -> list[Leg]:
    """The MSA's own record of the submission leg (demo mode, when the client that sent it
    was another one than this, e.g. swaks)."""
    for record in world.events.read():
        if (
            record.get("event") == "leg"
            and record.get("message_id") == message_id
            and record.get("leg") == "submission"
        ):
            return [Leg.from_json(record)]
    return []
