"""POP3 with OAuth2 tokens (issue 17): the world's POP3 server takes AUTH XOAUTH2 and
OAUTHBEARER (RFC 5034, RFC 7628) only over TLS, answers a bad token with the error challenge
and then -ERR; mua's POP3 client signs in with a token and downloads, end to end."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest

from mua.client.pop3_sync import Pop3Sync
from mua.core.account import OAuthSettings, Pop3Settings, ServerSettings
from mua.core.tls_facts import Security
from mua.net.errors import TokenRefused
from mua.net.pop3 import Pop3Endpoint, Pop3Session
from mua.net.pop3_oauth import login_bearer
from mua.net.sasl_oauth import xoauth2_message
from mua.stack.world import World
from mua.store.pop3_state import Pop3State
from tests.client_fixtures import make_engine, memory_keyring, world_account  # noqa: F401
from tests.test_oauth_mail import forged, signed_in
from tests.test_pop3_server import Pop3Wire

pytestmark = pytest.mark.usefixtures("memory_keyring")

MESSAGE = (
    b"From: Bob <bob@b.test>\r\nTo: Alice <alice@a.test>\r\nSubject: Over POP3\r\n"
    b"Message-ID: <pop3-oauth@b.test>\r\n\r\nread with a token\r\n"
)


async def wire_to_alice(world: World, *, implicit: bool = True) -> Pop3Wire:
    provider = world.providers["a.test"]
    assert provider.ports is not None
    port = provider.ports.pop3_implicit if implicit else provider.ports.pop3_starttls
    context = world.ca.client_context() if implicit else None
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname=provider.pop3_host if implicit else None
    )
    wire = Pop3Wire(reader, writer)
    wire.greeting = await wire.line()
    return wire


def xoauth2(token: str) -> str:
    return base64.b64encode(xoauth2_message("alice@a.test", token)).decode()


def oauthbearer(token: str) -> str:
    message = f"n,a=alice@a.test,\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(message.encode()).decode()


async def test_a_good_token_signs_in_with_either_mechanism(world: World) -> None:
    token = forged(world)
    wire = await wire_to_alice(world)
    try:
        _status, caps = await wire.multiline("CAPA")
        assert b"SASL PLAIN XOAUTH2 OAUTHBEARER\r\n" in caps
        assert (await wire.command(f"AUTH XOAUTH2 {xoauth2(token)}")).startswith(
            "+OK Maildrop locked"
        )
    finally:
        await wire.close()
    wire = await wire_to_alice(world)
    try:  # RFC 5034: no initial response, an empty challenge asks for it
        assert (await wire.command("AUTH OAUTHBEARER")) == "+ "
        assert (await wire.command(oauthbearer(token))).startswith("+OK Maildrop locked")
        assert (await wire.command("STAT")).startswith("+OK")
    finally:
        await wire.close()


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": "mail.b.test"}, "meant for another service"),
        ({"exp": 1_000_000_000}, "expired"),
    ],
)
async def test_a_bad_token_gets_the_error_challenge_then_err(
    world: World, claims: dict, why: str
) -> None:
    wire = await wire_to_alice(world)
    try:
        reply = await wire.command(f"AUTH OAUTHBEARER {oauthbearer(forged(world, **claims))}")
        assert reply.startswith("+ "), reply
        error = json.loads(base64.b64decode(reply[2:]))
        assert error["status"] == "invalid_token" and error["scope"] == "mail"
        final = await wire.command(base64.b64encode(b"\x01").decode())
        assert final.startswith("-ERR [AUTH]") and why in final, final
        assert (await wire.command("STAT")).startswith("-ERR")  # still not signed in
        assert (await wire.command(f"AUTH XOAUTH2 {xoauth2(forged(world))}")).startswith(
            "+OK Maildrop locked"
        )
    finally:
        await wire.close()


async def test_no_token_before_tls(world: World) -> None:
    token = forged(world)
    wire = await wire_to_alice(world, implicit=False)
    try:
        _status, caps = await wire.multiline("CAPA")
        assert not any(b"XOAUTH2" in c for c in caps)
        assert (await wire.command(f"AUTH XOAUTH2 {xoauth2(token)}")).startswith("-ERR [AUTH]")
        assert (await wire.command("STAT")).startswith("-ERR")
        assert (await wire.command("STLS")).startswith("+OK")
        await wire.writer.start_tls(world.ca.client_context(), server_hostname="pop.a.test")
        _status, caps = await wire.multiline("CAPA")
        assert b"SASL PLAIN XOAUTH2 OAUTHBEARER\r\n" in caps
        assert (await wire.command(f"AUTH XOAUTH2 {xoauth2(token)}")).startswith("+OK")
    finally:
        await wire.close()


def alices_pop3(world: World) -> Pop3Endpoint:
    provider = world.providers["a.test"]
    assert provider.ports is not None
    return Pop3Endpoint(
        "127.0.0.1",
        provider.ports.pop3_implicit,
        Security.IMPLICIT,
        world.ca.ca_file,
        provider.pop3_host,
    )


async def test_the_client_says_what_was_refused(world: World) -> None:
    session = await asyncio.to_thread(Pop3Session.connect, alices_pop3(world), timeout=20)
    try:
        with pytest.raises(TokenRefused, match="refused the sign-in token") as refused:
            await asyncio.to_thread(
                login_bearer, session, "alice@a.test", forged(world, aud="x"), "OAUTHBEARER"
            )
        assert refused.value.status == "invalid_token"
        await asyncio.to_thread(login_bearer, session, "alice@a.test", forged(world))
        assert session.auth == "XOAUTH2"
    finally:
        await asyncio.to_thread(session.close)


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
async def test_a_pop3_account_downloads_with_a_token(
    world: World, tmp_path: Path, mechanism: str
) -> None:
    """Signed in at a.test's authorization server (code + PKCE), then Pop3Sync downloads
    alice's mail with the access token; an expired one is refreshed once and accepted."""
    keeper = await signed_in(world)
    loop = asyncio.get_running_loop()

    def token(refreshed: bool) -> str:  # as the engine's thread_token: on the event loop
        call = keeper.refreshed() if refreshed else keeper.token()
        return asyncio.run_coroutine_threadsafe(call, loop).result(30)

    provider = world.providers["a.test"]
    provider.store_for(world.mailbox("alice@a.test")).folder("INBOX").append(MESSAGE)
    endpoint = alices_pop3(world)
    server = ServerSettings(
        endpoint.host, endpoint.port, endpoint.security, "alice@a.test", world.ca.ca_file,
        provider.pop3_host,
    )  # fmt: skip
    oauth = OAuthSettings("issuer", "authorize", "token", "mua", ("mail",), mechanism)
    account = replace(world_account(world, "alice@a.test"), pop3=Pop3Settings(server), oauth=oauth)
    engine = make_engine(world, tmp_path, "alice@a.test")
    try:
        sync = Pop3Sync(
            account,
            lambda: pytest.fail("no password is asked"),
            engine.cache,
            Pop3State(tmp_path / "pop3.sqlite3"),
            token=token,
        )
        assert (await asyncio.to_thread(sync.sync_folder, "INBOX")).added == 1
        assert sync.last_tls is not None and sync.last_tls.encrypted
        assert engine.cache.count("alice@a.test", "INBOX") == 1

        first = await keeper.token()
        assert provider.auth_server is not None
        provider.auth_server.authorization.expire("alice@a.test")
        provider.store_for(world.mailbox("alice@a.test")).folder("INBOX").append(
            MESSAGE.replace(b"<pop3-oauth@", b"<pop3-oauth-2@")
        )
        assert (await asyncio.to_thread(sync.sync_folder, "INBOX")).added == 1
        assert await keeper.token() != first  # refused once, refreshed, accepted
    finally:
        await engine.aclose()
