"""The client's OAuth2 sign-in (mua/net/oauth.py) against the world's authorization server,
on loopback: discovery, code + PKCE through a driven "browser", the loopback redirect,
state and issuer checks, refresh near expiry, and the re-sign-in after a revocation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest

from mua.net.http import HttpSettings
from mua.net.oauth import (
    AccessTokens,
    OAuthProvider,
    SignInAgain,
    SignInRefused,
    check_redirect,
    discover,
    sign_in,
)
from mua.stack.world import World
from mua.store.secrets import Secrets
from tests.test_oauth_server import FormReader, issuer_of

SCOPES = ("openid", "email", "mail", "offline_access")


def settings_for(world: World) -> HttpSettings:
    return HttpSettings(ca_file=world.ca.ca_file, resolver=world.resolver())


class Browser:
    """What a person does in the browser: open the URL, fill the consent form, and follow
    the redirect back to mua's loopback listener. `tamper` may change the redirect first."""

    def __init__(
        self,
        world: World,
        password: str,
        tamper: Callable[[str], str] | None = None,
    ) -> None:
        self.world = world
        self.password = password
        self.tamper = tamper
        self.visits: list[str] = []
        self.tasks: list[asyncio.Task] = []

    def open(self, url: str) -> None:
        self.visits.append(url)
        self.tasks.append(asyncio.get_running_loop().create_task(self._browse(url)))

    async def _browse(self, url: str) -> None:
        settings = settings_for(self.world)
        async with httpx.AsyncClient(**settings.client_options()) as web:
            page = await web.get(url)
            form = FormReader()
            form.feed(page.text)
            answer = {**form.fields, "username": "alice", "password": self.password}
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
            redirect = await web.post(origin + form.action, data={**answer, "action": "approve"})
        location = redirect.headers["location"]
        if self.tamper:
            location = self.tamper(location)
        async with httpx.AsyncClient() as local:  # plain HTTP to 127.0.0.1
            await local.get(location)


async def provider_for(world: World) -> OAuthProvider:
    return await discover(settings_for(world), issuer_of(world), "mua", SCOPES)


async def test_discovery_checks_the_issuer(world: World) -> None:
    provider = await provider_for(world)
    assert provider.token_endpoint == issuer_of(world) + "token"
    assert provider.iss_parameter
    with pytest.raises(SignInRefused, match="calls itself"):
        await discover(settings_for(world), issuer_of(world).rstrip("/"), "mua", SCOPES)


async def test_sign_in_refresh_and_sign_in_again(world: World) -> None:
    provider = await provider_for(world)
    password = world.mailbox("alice@a.test").password
    browser = Browser(world, password)
    tokens = await sign_in(provider, settings_for(world), browser.open, timeout=60)
    await asyncio.gather(*browser.tasks)
    query = parse_qs(urlsplit(browser.visits[0]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert urlsplit(query["redirect_uri"][0]).hostname == "127.0.0.1"
    assert "code_verifier" not in query
    assert tokens.refresh_token and tokens.access_token
    assert "refresh" not in repr(tokens) or tokens.refresh_token not in repr(tokens)

    now = [1000.0]
    secrets = Secrets.session_only()
    keeper = AccessTokens(
        provider, "alice@a.test", secrets, settings_for(world), clock=lambda: now[0]
    )
    keeper.accept(tokens)
    assert secrets.get("alice@a.test", "oauth") == tokens.refresh_token
    assert await keeper.token() == tokens.access_token  # fresh: no refresh
    # Near the end of its life the access token is refreshed; the refresh token rotates.
    now[0] = tokens.expires_at - 30
    refreshed = await keeper.token()
    assert refreshed != tokens.access_token
    assert secrets.get("alice@a.test", "oauth") not in (None, tokens.refresh_token)
    # A server refused the token: one forced refresh.
    again = await keeper.refreshed()
    assert again != refreshed

    auth = world.providers["a.test"].auth_server
    assert auth is not None
    auth.authorization.revoke("alice@a.test")
    with pytest.raises(SignInAgain, match="sign in again"):
        await keeper.refreshed()


async def test_a_wrong_state_is_refused(world: World) -> None:
    provider = await provider_for(world)
    password = world.mailbox("alice@a.test").password

    def forged_state(location: str) -> str:
        return location.replace("state=", "state=forged")

    browser = Browser(world, password, tamper=forged_state)
    with pytest.raises(SignInRefused, match="wrong state"):
        await sign_in(provider, settings_for(world), browser.open, timeout=60)
    await asyncio.gather(*browser.tasks)


def test_a_wrong_issuer_in_the_redirect_is_refused() -> None:
    provider = OAuthProvider(
        "https://auth.a.test:1/", "https://auth.a.test:1/authorize", "x", "mua", SCOPES, True
    )
    params = {"code": "c", "state": "s", "iss": "https://auth.evil.test/"}
    with pytest.raises(SignInRefused, match=r"came from https://auth\.evil\.test/"):
        check_redirect(params, "s", provider)
    del params["iss"]  # the server promised iss (RFC 9207 metadata): its absence is refused
    with pytest.raises(SignInRefused, match="not from"):
        check_redirect(params, "s", provider)
    assert check_redirect({**params, "iss": provider.issuer}, "s", provider) == "c"
