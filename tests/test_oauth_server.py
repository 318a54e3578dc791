"""The world's authorization server (https://auth.<domain>/), driven over real HTTPS on
loopback the way a browser and a native client would: metadata, the consent form, the
authorization code grant with PKCE S256, the refresh token grant, the world's controls."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from mua.net.http import https_client
from mua.stack.world import World

REDIRECT = "http://127.0.0.1:50123/"


class FormReader(HTMLParser):
    """The consent page's form: its action and every named input's value."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "button":
            self.buttons.append(a.get("value", ""))


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def client_for(world: World) -> httpx.AsyncClient:
    return https_client(ca_file=world.ca.ca_file, resolver=world.resolver())


def issuer_of(world: World, domain: str = "a.test") -> str:
    return next(d for d in world.settings()["domains"] if d["name"] == domain)["oauth"]["issuer"]


async def sign_in(
    http: httpx.AsyncClient,
    issuer: str,
    *,
    challenge: str,
    username: str,
    password: str,
    method: str = "S256",
    action: str = "approve",
) -> httpx.Response:
    """Open the authorization URL and answer the consent form as a person would."""
    params = {
        "response_type": "code",
        "client_id": "mua",
        "redirect_uri": REDIRECT,
        "scope": "openid email mail offline_access",
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": method,
    }
    page = await http.get(issuer + "authorize", params=params)
    assert page.status_code == 200, page.text
    assert "text/html" in page.headers["content-type"]
    form = FormReader()
    form.feed(page.text)
    assert form.action == "/authorize"
    assert {"approve", "deny"} <= set(form.buttons)
    answer = {**form.fields, "username": username, "password": password, "action": action}
    return await http.post(issuer.rstrip("/") + form.action, data=answer)


async def test_metadata_at_both_discovery_paths(world: World) -> None:
    issuer = issuer_of(world)
    assert re.fullmatch(r"https://auth\.a\.test:\d+/", issuer)
    async with client_for(world) as http:
        for path in (".well-known/oauth-authorization-server", ".well-known/openid-configuration"):
            meta = (await http.get(issuer + path)).json()
            assert meta["issuer"] == issuer
            assert meta["code_challenge_methods_supported"] == ["S256"]
            assert meta["authorization_response_iss_parameter_supported"] is True
            assert meta["token_endpoint"] == issuer + "token"


async def test_code_pkce_refresh_and_revoke(world: World) -> None:
    issuer = issuer_of(world)
    alice = world.mailbox("alice@a.test")
    verifier, challenge = pkce()
    async with client_for(world) as http:
        redirect = await sign_in(
            http, issuer, challenge=challenge, username="alice", password=alice.password
        )
        assert redirect.status_code == 302
        location = redirect.headers["location"]
        assert location.startswith(REDIRECT)
        query = parse_qs(urlsplit(location).query)
        assert query["state"] == ["st-123"]
        assert query["iss"] == [issuer]  # RFC 9207
        token_request = {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REDIRECT,
            "client_id": "mua",
            "code_verifier": verifier,
        }
        tokens = (await http.post(issuer + "token", data=token_request)).json()
        assert tokens["token_type"].lower() == "bearer"
        # The code is used up.
        again = await http.post(issuer + "token", data=token_request)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

        keys = KeySet.import_key_set((await http.get(issuer + "jwks.json")).json())
        token = jwt.decode(tokens["access_token"], keys)
        assert token.header["typ"] == "at+jwt"  # RFC 9068 section 2.1
        assert token.claims["iss"] == issuer
        assert token.claims["aud"] == "mail.a.test"
        assert token.claims["sub"] == "alice@a.test"
        assert "mail" in token.claims["scope"].split()

        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        fresh = (await http.post(issuer + "token", data={**refresh, "client_id": "mua"})).json()
        assert fresh["access_token"] != tokens["access_token"]
        assert fresh["refresh_token"] != tokens["refresh_token"]  # rotated
        reused = await http.post(issuer + "token", data={**refresh, "client_id": "mua"})
        assert reused.json()["error"] == "invalid_grant"

        provider_auth = world.providers["a.test"].auth_server
        assert provider_auth is not None
        assert provider_auth.authorization.revoke("alice@a.test") == 1
        revoked = await http.post(
            issuer + "token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": fresh["refresh_token"],
                "client_id": "mua",
            },
        )
        assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
        jti = jwt.decode(fresh["access_token"], keys).claims["jti"]
        assert provider_auth.authorization.withdrawn(jti) == "revoked"


async def test_wrong_password_shows_the_form_again(world: World) -> None:
    _, challenge = pkce()
    async with client_for(world) as http:
        answer = await sign_in(
            http, issuer_of(world), challenge=challenge, username="alice", password="nope"
        )
    assert answer.status_code == 401
    assert "Wrong user name or password." in answer.text
    assert "<form" in answer.text


async def test_deny_redirects_with_access_denied(world: World) -> None:
    _, challenge = pkce()
    alice = world.mailbox("alice@a.test")
    async with client_for(world) as http:
        answer = await sign_in(
            http,
            issuer_of(world),
            challenge=challenge,
            username="alice",
            password=alice.password,
            action="deny",
        )
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["st-123"]


@pytest.mark.parametrize("method", ["plain", None])
async def test_pkce_s256_is_required(world: World, method: str | None) -> None:
    params = {
        "response_type": "code",
        "client_id": "mua",
        "redirect_uri": REDIRECT,
        "scope": "mail",
        "state": "s",
    }
    if method:
        params |= {"code_challenge": "x" * 43, "code_challenge_method": method}
    async with client_for(world) as http:
        page = await http.get(issuer_of(world) + "authorize", params=params)
    # The request is not honoured: an error (page or redirect), never a consent form.
    assert page.status_code in (302, 400)
    assert "<form" not in page.text


async def test_a_redirect_off_loopback_is_refused(world: World) -> None:
    _, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": "mua",
        "redirect_uri": "https://evil.example/",
        "scope": "mail",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    async with client_for(world) as http:
        page = await http.get(issuer_of(world) + "authorize", params=params)
    assert page.status_code == 400
    assert "evil.example" not in page.headers.get("location", "")


def test_the_signing_key_survives_a_restart(tmp_path) -> None:
    """The key file is read back as the JWK it was written as: tokens issued before a world
    restart still verify after it (and the file is the owner's alone)."""
    from mua.stack.oauth_server import load_or_create_key

    path = tmp_path / "oauth" / "signing-key.json"
    first = load_or_create_key(path)
    again = load_or_create_key(path)
    assert again.thumbprint() == first.thumbprint() and again.kid == first.kid
    assert path.stat().st_mode & 0o077 == 0
