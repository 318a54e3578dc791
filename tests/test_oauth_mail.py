"""The whole OAuth2 path on loopback: sign in with code + PKCE at the world's authorization
server, send over XOAUTH2 and OAUTHBEARER, read over IMAP with a token, refresh an expired
token, be asked to sign in again after a revocation; tokens for another audience or issuer,
expired or without the mail scope are refused with the RFC 7628 error challenge and a
sentence that says why."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from email.message import EmailMessage

import pytest
from joserfc import jwt

from mua.core.tls_facts import Security
from mua.net.errors import AuthenticationFailed, TokenRefused
from mua.net.imap import ImapEndpoint, ImapSession
from mua.net.oauth import AccessTokens, SignInAgain, sign_in
from mua.net.sasl_oauth import BearerAuth, imap_bearer
from mua.net.submission import SubmissionEndpoint, submit
from mua.stack.world import World
from mua.store.secrets import Secrets
from tests.test_oauth_client import Browser, provider_for, settings_for

LOOPBACK = "127.0.0.1"


async def signed_in(world: World) -> AccessTokens:
    provider = await provider_for(world)
    browser = Browser(world, world.mailbox("alice@a.test").password)
    tokens = await sign_in(provider, settings_for(world), browser.open, timeout=60)
    await asyncio.gather(*browser.tasks)
    keeper = AccessTokens(provider, "alice@a.test", Secrets.session_only(), settings_for(world))
    keeper.accept(tokens)
    return keeper


def smtp_endpoint(world: World, implicit: bool = True) -> SubmissionEndpoint:
    provider = world.providers["a.test"]
    assert provider.ports is not None
    port = provider.ports.submission_implicit if implicit else provider.ports.submission_starttls
    return SubmissionEndpoint(
        LOOPBACK,
        port,
        Security.IMPLICIT if implicit else Security.STARTTLS,
        ca_file=world.ca.ca_file,
        server_name=provider.smtp_host,
    )


def imap_endpoint(world: World) -> ImapEndpoint:
    provider = world.providers["a.test"]
    assert provider.ports is not None
    return ImapEndpoint(
        LOOPBACK,
        provider.ports.imap_implicit,
        Security.IMPLICIT,
        ca_file=world.ca.ca_file,
        server_name=provider.imap_host,
    )


def note(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "alice@a.test"
    msg["To"] = "bob@b.test"
    msg["Subject"] = subject
    msg.set_content("sent with a token\n")
    return msg


def forged(world: World, **claims: object) -> str:
    """A token signed with a.test's own key, with some claims changed."""
    auth = world.providers["a.test"].auth_server
    assert auth is not None
    now = int(time.time())
    base = {
        "iss": auth.issuer,
        "aud": "mail.a.test",
        "sub": "alice@a.test",
        "scope": "mail",
        "exp": now + 600,
        "iat": now,
        "jti": f"forged-{now}",
    }
    return jwt.encode({"alg": "RS256", "typ": "at+jwt"}, base | claims, auth.authorization.key)


def fixed(token: str, mechanism: str = "XOAUTH2") -> BearerAuth:
    async def same() -> str:
        return token

    return BearerAuth(mechanism, same, same)


@pytest.mark.slow
async def test_send_and_read_with_tokens(world: World) -> None:
    keeper = await signed_in(world)
    for implicit, mechanism in ((True, "XOAUTH2"), (False, "OAUTHBEARER")):
        result = await submit(
            smtp_endpoint(world, implicit),
            note(f"over {mechanism}"),
            username="alice@a.test",
            password=None,
            bearer=BearerAuth.from_tokens(keeper, mechanism),
            timeout=20,
        )
        assert result.auth == mechanism
        assert not result.refused
    for mechanism in ("XOAUTH2", "OAUTHBEARER"):
        session = await asyncio.to_thread(ImapSession.connect, imap_endpoint(world), timeout=20)
        try:
            await imap_bearer(session, "alice@a.test", BearerAuth.from_tokens(keeper, mechanism))
            assert session.auth == mechanism
            folders = await asyncio.to_thread(session.client.list_folders)
            assert any(name == "INBOX" for _, _, name in folders)
        finally:
            await asyncio.to_thread(session.close)


@pytest.mark.slow
async def test_expired_token_is_refreshed_and_revoked_asks_to_sign_in_again(
    world: World,
) -> None:
    keeper = await signed_in(world)
    first = await keeper.token()
    auth = world.providers["a.test"].auth_server
    assert auth is not None
    assert auth.authorization.expire("alice@a.test") == 1
    result = await submit(
        smtp_endpoint(world),
        note("after expiry"),
        username="alice@a.test",
        password=None,
        bearer=BearerAuth.from_tokens(keeper),
        timeout=20,
    )
    assert result.auth == "XOAUTH2"
    assert await keeper.token() != first  # refused once, refreshed, accepted

    auth.authorization.revoke("alice@a.test")
    with pytest.raises(SignInAgain, match="sign in again"):
        await submit(
            smtp_endpoint(world),
            note("after revocation"),
            username="alice@a.test",
            password=None,
            bearer=BearerAuth.from_tokens(keeper),
            timeout=20,
        )


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": "mail.b.test"}, "meant for another service"),
        ({"iss": "https://auth.evil.test/"}, "issued by https://auth.evil.test/"),
        ({"exp": int(time.time()) - 10}, "has expired"),
        ({"sub": "bob@b.test"}, "belongs to another account"),
    ],
)
async def test_bad_tokens_are_refused_with_a_reason(world: World, claims: dict, why: str) -> None:
    token = forged(world, **claims)
    with pytest.raises(AuthenticationFailed, match="refused the sign-in token") as refused:
        await submit(
            smtp_endpoint(world),
            note("forged"),
            username="alice@a.test",
            password=None,
            bearer=fixed(token),
            timeout=20,
        )
    assert why in str(refused.value)
    session = await asyncio.to_thread(ImapSession.connect, imap_endpoint(world), timeout=20)
    try:
        with pytest.raises(TokenRefused, match=why):
            await asyncio.to_thread(session.login_bearer, "alice@a.test", token, "OAUTHBEARER")
    finally:
        await asyncio.to_thread(session.close)


async def test_missing_scope_says_so(world: World) -> None:
    with pytest.raises(AuthenticationFailed, match="does not allow mail access"):
        await submit(
            smtp_endpoint(world),
            note("no scope"),
            username="alice@a.test",
            password=None,
            bearer=fixed(forged(world, scope="openid email")),
            timeout=20,
        )


async def test_the_error_challenge_on_the_wire(world: World, connect) -> None:
    """RFC 7628 section 3.2.2: 334 with base64 JSON, then the final 535 after ^A."""
    provider = world.providers["a.test"]
    assert provider.ports is not None
    wire = await connect(provider.ports.submission_implicit, world.ca.client_context())
    assert (await wire.send("EHLO client.test")).startswith("250")
    message = f"n,a=alice@a.test,\x01auth=Bearer {forged(world, aud='x')}\x01\x01"
    reply = await wire.send("AUTH OAUTHBEARER " + base64.b64encode(message.encode()).decode())
    assert reply.startswith("334 "), reply
    error = json.loads(base64.b64decode(reply.split(" ", 1)[1]))
    assert error["status"] == "invalid_token"
    assert error["scope"] == "mail"
    assert error["openid-configuration"].endswith("/.well-known/openid-configuration")
    final = await wire.send(base64.b64encode(b"\x01").decode())
    assert final.startswith("535 5.7.8 The token is meant for another service"), final


@pytest.mark.slow
async def test_no_token_in_any_file_or_log(world: World, tmp_path, caplog) -> None:
    """The refresh token lives in the keyring, the access token in memory: after signing in,
    sending, reading, a refresh and a refused token, neither is in any file under the test's
    directory (the world's and the client's) nor in any log line, at DEBUG."""
    caplog.set_level(logging.DEBUG)
    keeper = await signed_in(world)
    seen = {await keeper.token(), keeper._secrets.get("alice@a.test", "oauth")}
    await submit(
        smtp_endpoint(world),
        note("quiet"),
        username="alice@a.test",
        password=None,
        bearer=BearerAuth.from_tokens(keeper, "OAUTHBEARER"),
        timeout=20,
    )
    session = await asyncio.to_thread(ImapSession.connect, imap_endpoint(world), timeout=20)
    try:
        await imap_bearer(session, "alice@a.test", BearerAuth.from_tokens(keeper))
    finally:
        await asyncio.to_thread(session.close)
    seen |= {await keeper.refreshed(), keeper._secrets.get("alice@a.test", "oauth")}
    refused = forged(world, aud="elsewhere")
    with pytest.raises(AuthenticationFailed):
        await submit(
            smtp_endpoint(world),
            note("refused"),
            username="alice@a.test",
            password=None,
            bearer=fixed(refused),
            timeout=20,
        )
    seen.add(refused)
    assert len(seen) == 5 and all(seen)
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "nothing was logged: the test would prove nothing"
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "events.jsonl" for p in files)
    for token in seen:
        assert token not in logged
        # The part after the JWT header: a token split or re-encoded would still show it.
        tail = token[-40:]
        assert tail not in logged
        for path in files:
            with contextlib.suppress(FileNotFoundError):  # a queue file the MTA just sent
                assert tail.encode() not in path.read_bytes(), path


async def test_the_oauth_demo_scenario(tmp_path) -> None:
    """`mua demo --scenario oauth`: alice signs in with code + PKCE and sends with a token;
    her submission leg says XOAUTH2 (no password), bob's retrieval says LOGIN."""
    from mua.core.legs import TraceStatus
    from mua.stack.demo import SCENARIOS, run_demo

    trace = await run_demo(SCENARIOS["oauth"], tmp_path / "demo")
    assert trace.status is TraceStatus.DELIVERED
    submission, retrieval = trace.legs[0], trace.legs[-1]
    assert submission.auth == "XOAUTH2" and "no password crossed" in submission.note
    assert submission.to_json(1)["auth"] == "XOAUTH2"
    assert retrieval.auth == "LOGIN"
