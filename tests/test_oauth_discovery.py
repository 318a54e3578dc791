"""Which providers want OAuth2: the table (client IDs from settings or the environment, never
shipped), and the world's autoconfig file naming OAuth2, found by discovery and followed all
the way to a signed-in IMAP session."""

from __future__ import annotations

import asyncio

import pytest

from mua.net.discovery import discover as discover_servers
from mua.net.http import https_client
from mua.net.imap import ImapSession
from mua.net.oauth import discover, sign_in
from mua.net.oauth_providers import (
    PROVIDERS,
    NoClientId,
    autoconfig_oauth2,
    client_for,
    known_provider,
    wants_oauth2,
)
from mua.stack.world import World
from tests.test_oauth_client import Browser, issuer_of, settings_for
from tests.test_oauth_mail import imap_endpoint


def test_the_table_knows_the_big_providers_and_ships_no_client_id() -> None:
    assert {p.key for p in PROVIDERS} >= {
        "google", "microsoft", "yahoo", "aol", "fastmail", "icloud", "yandex", "mailru"
    }  # fmt: skip
    assert known_provider("someone@gmail.com").key == "google"
    hosted = known_provider("me@example.org", hosts=("outlook.office365.com",))
    assert hosted is not None and hosted.key == "microsoft"
    assert known_provider("alice@a.test") is None
    for provider in PROVIDERS:
        if provider.oauth:
            with pytest.raises(NoClientId, match=f"MUA_OAUTH_{provider.key.upper()}_CLIENT_ID"):
                client_for(provider, environ={})


def test_without_a_client_id_the_user_is_told_plainly() -> None:
    google, microsoft, icloud = (
        known_provider(f"x@{d}") for d in ("gmail.com", "outlook.com", "icloud.com")
    )
    with pytest.raises(NoClientId, match="create an app password"):
        client_for(google, environ={})
    with pytest.raises(NoClientId, match="offers no app passwords"):
        client_for(microsoft, environ={})
    with pytest.raises(NoClientId, match="app-specific password"):
        client_for(icloud, environ={"MUA_OAUTH_ICLOUD_CLIENT_ID": "x"})


def test_client_id_from_settings_or_environment() -> None:
    google = known_provider("x@gmail.com")
    env = {"MUA_OAUTH_GOOGLE_CLIENT_ID": "env-id", "MUA_OAUTH_GOOGLE_CLIENT_SECRET": "s"}
    provider = client_for(google, environ=env)
    assert (provider.client_id, provider.client_secret) == ("env-id", "s")
    assert "client_secret" not in repr(provider)
    assert client_for(google, {"google": "settings-id"}, environ=env).client_id == "settings-id"
    assert provider.token_endpoint == "https://oauth2.googleapis.com/token"


async def test_discovery_finds_that_the_world_wants_oauth2_and_signs_in(world: World) -> None:
    issuer = issuer_of(world)
    url = issuer + ".well-known/autoconfig/mail/config-v1.1.xml"
    dns = world.settings()["dns"]
    found = await discover_servers(
        "alice@a.test",
        nameserver=(dns["host"], dns["port"]),
        trust_anchor_file=world.zones.trust_anchor_file,
        ca_file=world.ca.ca_file,
        srv=False,
        autoconfig_urls=lambda domain, address: [url],
        probe=False,
    )
    assert found.imap and found.smtp
    assert all(wants_oauth2(c.authentication) for c in (*found.imap, *found.smtp))

    async with https_client(ca_file=world.ca.ca_file, resolver=world.resolver()) as http:
        hint = autoconfig_oauth2((await http.get(url)).content)
    assert hint is not None and hint.issuer == issuer and "mail" in hint.scopes

    provider = await discover(settings_for(world), hint.issuer, "mua", hint.scopes)
    browser = Browser(world, world.mailbox("alice@a.test").password)
    tokens = await sign_in(provider, settings_for(world), browser.open, timeout=60)
    await asyncio.gather(*browser.tasks)
    session = await asyncio.to_thread(ImapSession.connect, imap_endpoint(world), timeout=20)
    try:
        await asyncio.to_thread(session.login_bearer, "alice@a.test", tokens.access_token)
        assert session.auth == "XOAUTH2"
    finally:
        await asyncio.to_thread(session.close)
