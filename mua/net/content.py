"""The client's own DKIM check of a message (RFC 6376), on the raw bytes it received.

Each DKIM-Signature's key is looked up through mua's validating resolver (so the verdict
says whether the key's record was DNSSEC-signed), or taken from the key cache when there is
no DNS; dkimpy then verifies the signature against that key, telling a changed body (its
hash, RFC 6376 section 6.1.3) from changed headers. What the user's provider recorded in
Authentication-Results (authserv-id one of its hosts) and what others claimed there are
handed to `mua.core.content.decide`, which is used only when the client could not check.
"""

from __future__ import annotations

import asyncio
import email.message
import email.parser
import email.policy
import email.utils
import logging
from typing import Protocol

import dkim

from mua.core.authresults import AuthenticationResults, parse_authentication_results
from mua.core.content import ContentVerdict, SignatureCheck, SignatureOutcome, decide
from mua.core.journey import transport_notes
from mua.net.dns import DnsError, Resolver

log = logging.getLogger(__name__)

_headers = email.parser.BytesHeaderParser(policy=email.policy.compat32)


class KeyStore(Protocol):
    """Where keys looked up before are kept (mua.store.key_cache.KeyCache)."""

    def get(self, name: str) -> tuple[str | None, bool] | None: ...  # (record, dnssec)

    def put(self, name: str, record: str | None, dnssec: bool) -> None: ...


async def verify_content(
    raw: bytes,
    *,
    resolver: Resolver | None,
    keys: KeyStore | None = None,
    own_hosts: frozenset[str] | set[str] = frozenset(),
) -> ContentVerdict:
    """The content verdict of `raw` (the message as received, wire form)."""
    headers = _headers.parsebytes(raw)
    checks = []
    for index in range(len(headers.get_all("DKIM-Signature") or [])):
        checks.append(await _check(raw, index, resolver, keys))
    recorded, claimed = _authentication_results(headers, own_hosts)
    _, sender = email.utils.parseaddr(str(headers.get("From", "")))
    from_domain = sender.rpartition("@")[2] or None
    return decide(checks, from_domain, recorded=recorded, claimed=claimed)


async def _check(
    raw: bytes, index: int, resolver: Resolver | None, keys: KeyStore | None
) -> SignatureCheck:
    try:
        prep = dkim.DKIM(raw).verify_headerprep(index)
    except dkim.DKIMException as exc:
        log.info("DKIM-Signature %d unreadable: %s", index, exc)
        return SignatureCheck("?", "?", "?", SignatureOutcome.BROKEN)
    if not prep:
        return SignatureCheck("?", "?", "?", SignatureOutcome.BROKEN)
    sig = prep[0]
    domain = sig[b"d"].decode("ascii", "replace").lower()
    selector = sig[b"s"].decode("ascii", "replace")
    algorithm = sig[b"a"].decode("ascii", "replace")
    name = f"{selector}._domainkey.{domain}"
    found = await _key(name, resolver, keys)
    if found is None:
        return SignatureCheck(domain, selector, algorithm, SignatureOutcome.NO_DNS)
    record, dnssec = found
    if record is None:
        return SignatureCheck(domain, selector, algorithm, SignatureOutcome.KEY_GONE, dnssec)
    outcome = await asyncio.to_thread(_verify, raw, index, record.encode())
    return SignatureCheck(domain, selector, algorithm, outcome, dnssec)


async def _key(
    name: str, resolver: Resolver | None, keys: KeyStore | None
) -> tuple[str | None, bool] | None:
    """(record or None when none is published, DNSSEC-validated); None: could not look."""
    if resolver is not None:
        try:
            answer = await resolver.txt(name)
        except DnsError as exc:
            log.info("DKIM key %s: no answer (%s)", name, exc)
        else:
            record = next((r for r in answer.records if "p=" in r), None)
            if keys is not None:
                keys.put(name, record, answer.secure)
            return record, answer.secure
    return keys.get(name) if keys is not None else None


def _verify(raw: bytes, index: int, record: bytes) -> SignatureOutcome:
    try:
        dkim.evaluate_pk(b"key", record)
    except dkim.DKIMException:
        return SignatureOutcome.BROKEN
    checker = dkim.DKIM(raw)
    try:
        ok = checker.verify(index, dnsfunc=lambda _name, timeout=5: record)
    except dkim.ValidationError as exc:
        if "body hash mismatch" in str(exc):
            return SignatureOutcome.BODY_CHANGED
        return SignatureOutcome.BROKEN
    except dkim.DKIMException:
        return SignatureOutcome.BROKEN
    return SignatureOutcome.PASS if ok else SignatureOutcome.HEADER_CHANGED


def _authentication_results(
    headers: email.message.Message, own_hosts: frozenset[str] | set[str]
) -> tuple[list[AuthenticationResults], list[AuthenticationResults]]:
    """Recorded fields (the provider's, as `transport_notes` tells them: an own authserv-id
    above the first claimed Received field) and the others, claimed; top first."""
    recorded = list(transport_notes(headers, own_hosts).authentication)
    claimed = []
    for value in headers.get_all("Authentication-Results") or []:
        parsed = parse_authentication_results(str(value))
        if parsed is not None and parsed not in recorded:
            claimed.append(parsed)
    return recorded, claimed
