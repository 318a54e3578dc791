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


async def test_discovery_for_alice_finds_the_worlds_issuer_by_itself(world: World) -> None:
    """Thunderbird's own autoconfig address (https://autoconfig.a.test/...), through the world's
    DNS: its HTTPS record (RFC 9460) names the port, the certificate is autoconfig.a.test's.
    The SRV records name both servers; the file still says OAuth2 and who issues tokens."""
    dns = world.settings()["dns"]
    found = await discover_servers(
        "alice@a.test",
        nameserver=(dns["host"], dns["port"]),
        trust_anchor_file=world.zones.trust_anchor_file,
        ca_file=world.ca.ca_file,
        probe=False,
    )
    assert found.imap and found.smtp
    assert found.wants_oauth2
    assert found.oauth2 is not None and found.oauth2.issuer == issuer_of(world)
    assert "mail" in found.oauth2.scopes
    assert any("signs in with OAuth2 at " + issuer_of(world) in step for step in found.steps)

    bob = await discover_servers(
        "bob@b.test",
        nameserver=(dns["host"], dns["port"]),
        trust_anchor_file=world.zones.trust_anchor_file,
        ca_file=world.ca.ca_file,
        probe=False,
    )
    assert bob.oauth2 is not None and bob.oauth2.issuer == issuer_of(world, "b.test")


async def test_an_oauth2_hint_over_plain_http_is_not_taken(world: World) -> None:
    """Anyone on the path could rewrite a file fetched in clear, and send the user to sign in
    at their own server: servers from it are marked, its issuer is not used."""
    from tests.test_discovery import Page, Site

    issuer = issuer_of(world)
    async with https_client(ca_file=world.ca.ca_file, resolver=world.resolver()) as http:
        body = (await http.get(issuer + ".well-known/autoconfig/mail/config-v1.1.xml")).content
    site = Site({"/config.xml": Page(body)}, None)
    try:
        found = await discover_servers(
            "alice@a.test",
            srv=False,
            probe=False,
            autoconfig_urls=lambda d, a: [site.url("/config.xml")],
        )
    finally:
        site.close()
    assert found.imap and all(c.confirm for c in found.imap)
    assert found.oauth2 is None
