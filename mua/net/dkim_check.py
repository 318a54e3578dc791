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
import dkim.util

from mua.core.authresults import AuthenticationResults, parse_authentication_results
from mua.core.content import (
    ArcChain,
    ContentVerdict,
    SignatureCheck,
    SignatureOutcome,
    decide,
    with_arc,
)
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
    verdict = decide(checks, from_domain, recorded=recorded, claimed=claimed)
    return with_arc(verdict, await _arc(raw, headers, resolver, keys))


def verify_content_offline(
    raw: bytes, *, keys: KeyStore | None, own_hosts: frozenset[str] | set[str] = frozenset()
) -> ContentVerdict:
    """`verify_content` without DNS: only keys in the cache count; a signature whose key is
    not there is "could not check" (or the provider's record, when it wrote one)."""
    headers = _headers.parsebytes(raw)
    checks = []
    for index in range(len(headers.get_all("DKIM-Signature") or [])):
        fields = _fields(raw, index)
        if fields is None:
            checks.append(SignatureCheck("?", "?", "?", SignatureOutcome.BROKEN))
            continue
        domain, selector, _algorithm = fields
        found = keys.get(f"{selector}._domainkey.{domain}") if keys is not None else None
        checks.append(_against(raw, index, fields, found))
    recorded, claimed = _authentication_results(headers, own_hosts)
    _, sender = email.utils.parseaddr(str(headers.get("From", "")))
    return decide(checks, sender.rpartition("@")[2] or None, recorded=recorded, claimed=claimed)


def _fields(raw: bytes, index: int) -> tuple[str, str, str] | None:
    """(d=, s=, a=) of the index-th DKIM-Signature; None when it cannot be read."""
    try:
        prep = dkim.DKIM(raw).verify_headerprep(index)
    except dkim.DKIMException as exc:
        log.info("DKIM-Signature %d unreadable: %s", index, exc)
        return None
    if not prep:
        return None
    sig = prep[0]
    return (
        sig[b"d"].decode("ascii", "replace").lower(),
        sig[b"s"].decode("ascii", "replace"),
        sig[b"a"].decode("ascii", "replace"),
    )


def _against(
    raw: bytes, index: int, fields: tuple[str, str, str], found: tuple[str | None, bool] | None
) -> SignatureCheck:
    """The check of one signature against its key (None: no key to check with)."""
    domain, selector, algorithm = fields
    if found is None:
        return SignatureCheck(domain, selector, algorithm, SignatureOutcome.NO_DNS)
    record, dnssec = found
    if record is None:
        return SignatureCheck(domain, selector, algorithm, SignatureOutcome.KEY_GONE, dnssec)
    outcome = _verify(raw, index, record.encode())
    return SignatureCheck(domain, selector, algorithm, outcome, dnssec)


async def _arc(
    raw: bytes, headers: email.message.Message, resolver: Resolver | None, keys: KeyStore | None
) -> ArcChain | None:
    """The ARC chain (RFC 8617) as dkimpy validates it with keys found as for DKIM; None
    when the message has none, or a key could not be looked up."""
    seals = headers.get_all("ARC-Seal") or []
    if not seals:
        return None
    found: dict[str, str | None] = {}
    sealers = []
    for value in [*seals, *(headers.get_all("ARC-Message-Signature") or [])]:
        try:
            tags = dkim.util.parse_tag_value(" ".join(str(value).split()).encode())
        except dkim.util.InvalidTagValueList:
            continue
        domain = tags.get(b"d", b"").decode("ascii", "replace").lower()
        name = f"{tags.get(b's', b'').decode('ascii', 'replace')}._domainkey.{domain}"
        if domain and domain not in sealers:
            sealers.append(domain)
        if name not in found:
            key = await _key(name, resolver, keys)
            if key is None:
                return None
            found[name] = key[0]

    def dnsfunc(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        record = found.get(text.rstrip(".").lower())
        return record.encode() if record else None

    def validate() -> str:
        try:
            cv, _results, _comment = dkim.ARC(raw).verify(dnsfunc=dnsfunc)
        except dkim.DKIMException:
            return "fail"
        return cv.decode("ascii") if cv else "fail"

    return ArcChain(await asyncio.to_thread(validate), tuple(sealers))


async def remember_keys(resolver: Resolver, names: list[str], keys: KeyStore) -> None:
    """Look the named key records up now and keep them (a client that knows where it will
    read mail from, such as the demo session, so that later checks need no DNS)."""
    for name in names:
        await _key(name, resolver, keys)


async def _check(
    raw: bytes, index: int, resolver: Resolver | None, keys: KeyStore | None
) -> SignatureCheck:
    fields = _fields(raw, index)
    if fields is None:
        return SignatureCheck("?", "?", "?", SignatureOutcome.BROKEN)
    domain, selector, _algorithm = fields
    found = await _key(f"{selector}._domainkey.{domain}", resolver, keys)
    return await asyncio.to_thread(_against, raw, index, fields, found)


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
