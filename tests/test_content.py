"""Content authenticity on the real world: the MSA signs, the MX records its checks, and the
client verifies DKIM itself on the bytes it read over IMAP (mua.net.dkim_check)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import dkim
import pytest

from mua.cli import main
from mua.core.authresults import parse_authentication_results
from mua.core.content import ContentStatus, organisational_domain
from mua.core.legs import Source
from mua.net.dkim_check import verify_content, verify_content_offline
from mua.net.imap import ImapEndpoint, ImapSession
from mua.net.submission import Security
from mua.stack.world import World
from mua.stack.zones import DomainSpec
from mua.store.key_cache import KeyCache
from tests.conftest import eventually, maildir_messages
from tests.stackhelp import send

BOB_HOSTS = {"mx.b.test", "imap.b.test", "b.test"}


def _read_over_imap(world: World, address: str, subject: str) -> bytes:
    mailbox = world.mailbox(address)
    provider = world.providers[address.rpartition("@")[2]]
    assert provider.ports is not None
    endpoint = ImapEndpoint(
        host="127.0.0.1",
        port=provider.ports.imap_implicit,
        security=Security.IMPLICIT,
        ca_file=world.ca.ca_file,
        server_name=provider.imap_host,
    )
    with ImapSession.connect(endpoint, timeout=10.0) as session:
        session.login(mailbox.user, mailbox.password)
        session.client.select_folder("INBOX")
        uids = session.client.search(["SUBJECT", subject])
        fetched = session.client.fetch(uids[-1:], ["BODY[]"])
        return next(iter(fetched.values()))[b"BODY[]"]


async def _delivered(world: World, subject: str) -> bytes:
    await send(world, "alice@a.test", ["bob@b.test"], subject=subject)
    await eventually(lambda: maildir_messages(world, "bob@b.test"), what="delivery")
    return await asyncio.to_thread(_read_over_imap, world, "bob@b.test", subject)


async def _verdict(world: World, raw: bytes):
    return await verify_content(raw, resolver=world.resolver(), own_hosts=BOB_HOSTS)


def _tamper(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert old in raw
    return raw.replace(old, new, 1)


async def test_signed_by_the_msa_and_verified_by_the_client(world: World) -> None:
    raw = await _delivered(world, "signed")
    verdict = await _verdict(world, raw)
    assert verdict.verdict is ContentStatus.INTACT
    assert verdict.source is Source.OBSERVED
    assert (verdict.domain, verdict.algorithm) == ("a.test", "ed25519-sha256")
    assert verdict.dnssec is True  # the key's TXT record is in the world's signed zone
    assert verdict.note == "Signed by a.test and intact: the message is as it was sent."
    # Both signatures are there (RFC 8463: Ed25519 beside RSA), and the MX recorded its checks.
    assert raw.count(b"DKIM-Signature:") == 2 and b"a=rsa-sha256" in raw
    top = raw.split(b"\r\n", 1)[0].decode()
    assert top.startswith("Authentication-Results: mx.b.test;")
    recorded = parse_authentication_results(top.partition(":")[2])
    assert recorded is not None
    results = {r.method: r.result for r in recorded.results}
    assert results["dkim"] == "pass" and results["dmarc"] == "pass"


async def test_altered_body_and_altered_header_are_told_apart(world: World) -> None:
    raw = await _delivered(world, "tamper")
    body = await _verdict(world, _tamper(raw, b"Hi.", b"Pay me."))
    assert body.verdict is ContentStatus.ALTERED
    assert body.note == "Altered after signing (body): the text is not what a.test signed."
    header = await _verdict(world, _tamper(raw, b"Subject: tamper", b"Subject: urgent"))
    assert header.verdict is ContentStatus.ALTERED
    assert "(header)" in header.note


async def test_a_rotated_key_is_key_gone_not_forged(world: World) -> None:
    raw = await _delivered(world, "rotated")

    def drop_keys(specs: list[DomainSpec]) -> None:
        for spec in specs:
            spec.txt = {k: v for k, v in spec.txt.items() if "._domainkey." not in k}

    world.rebuild_zones(drop_keys)
    verdict = await _verdict(world, raw)
    assert verdict.verdict is ContentStatus.KEY_GONE
    assert verdict.dnssec is True  # the key's absence is proven by a signed denial
    assert "does not make it forged" in verdict.note


async def test_unsigned_and_unrelated_domain(world: World) -> None:
    raw = await _delivered(world, "plain")
    head, _, body = raw.partition(b"\r\n\r\n")
    kept = [
        line
        for line in head.replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ").split(b"\r\n")
        if not line.lower().startswith((b"dkim-signature:", b"authentication-results:"))
    ]
    unsigned = b"\r\n".join(kept) + b"\r\n\r\n" + body
    verdict = await _verdict(world, unsigned)
    assert verdict.verdict is ContentStatus.UNSIGNED and verdict.source is Source.OBSERVED
    # Signed with b.test's keys, but From says a.test: not aligned (RFC 7489 section 3.1).
    other = world.providers["b.test"].dkim.sign(unsigned)
    verdict = await _verdict(world, other)
    assert verdict.verdict is ContentStatus.UNALIGNED and verdict.domain == "b.test"
    assert "unrelated to the From address (a.test)" in verdict.note


async def test_recorded_and_claimed_results_when_the_client_cannot_check(
    world: World, tmp_path: Path
) -> None:
    raw = await _delivered(world, "recorded")
    keys = KeyCache(tmp_path / "keys.json")  # empty: no key, no DNS
    recorded = verify_content_offline(raw, keys=keys, own_hosts=BOB_HOSTS)
    assert recorded.verdict is ContentStatus.UNKNOWN and recorded.source is Source.RECORDED
    assert recorded.note.startswith("Could not check: no DNS")
    assert "your provider (mx.b.test) recorded dkim=pass" in recorded.note
    # An Authentication-Results field under another name is only a claim.
    forged = _tamper(
        raw, b"Authentication-Results: mx.b.test;", b"Authentication-Results: mx.evil.example;"
    )
    claimed = verify_content_offline(forged, keys=keys, own_hosts=BOB_HOSTS)
    assert claimed.source is Source.CLAIMED and "not your provider, claims" in claimed.note


def test_organisational_domain_from_the_public_suffix_list() -> None:
    assert organisational_domain("mail.a.test") == "a.test"
    assert organisational_domain("news.example.co.uk") == "example.co.uk"


async def test_trace_offline_with_and_without_a_cached_key(
    world: World, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUA_HOME", str(tmp_path / "home"))
    raw = await _delivered(world, "traced")
    eml = tmp_path / "m.eml"
    eml.write_bytes(raw)

    def trace(*extra: str) -> dict:
        assert main(["trace", str(eml), "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out)["content"]

    # Nothing cached, no DNS: no verdict, never a guess.
    offline = await asyncio.to_thread(trace)
    assert offline["verdict"] == "unknown" and offline["note"].startswith("Could not check: no DNS")
    # With the world's DNS the key is looked up, verified and kept...
    assert world.dns is not None and world.zones is not None
    dns = f"127.0.0.1:{world.dns.port}"
    anchor = str(world.zones.trust_anchor_file)
    online = await asyncio.to_thread(trace, "--dns", dns, "--trust-anchor", anchor)
    assert (online["verdict"], online["dnssec"], online["source"]) == ("intact", True, "observed")
    # ... so that the next trace needs no DNS.
    assert await asyncio.to_thread(trace) == online
    assert main(["trace", str(eml)]) == 0
    assert "Content: Signed by a.test and intact" in capsys.readouterr().out


async def test_an_arc_chain_vouches_for_a_forwarded_message(world: World) -> None:
    """b.test forwards Alice's message as a mailing list would: it adds a footer (breaking
    a.test's signature) and seals an ARC set over what it received and changed."""
    raw = await _delivered(world, "forwarded")
    assert raw.startswith(b"Authentication-Results: mx.b.test;")  # what b.test checked
    changed = raw.rstrip(b"\r\n") + b"\r\n-- \r\nlist footer\r\n"
    rsa = world.providers["b.test"].dkim.keys[1]
    arc = dkim.arc_sign(changed, rsa.selector.encode(), b"b.test", rsa.private, b"mx.b.test")
    forwarded = b"".join(arc) + changed
    verdict = await verify_content(forwarded, resolver=world.resolver(), own_hosts=set())
    assert verdict.verdict is ContentStatus.ALTERED  # what the client saw stays the verdict
    assert "An ARC chain sealed by b.test passes" in verdict.note
    broken = forwarded.replace(b"list footer", b"list f00ter")
    verdict = await verify_content(broken, resolver=world.resolver(), own_hosts=set())
    assert "An ARC chain sealed by b.test does not validate" in verdict.note
