"""OAuth 2.0 sign-in for mail accounts, Qt-free: authlib's client over httpx.

- `discover(settings, issuer)`: the provider's RFC 8414 metadata, its `issuer` checked.
- `sign_in(...)`: the authorization code flow with PKCE (S256) in the system browser, with
  a loopback redirect (RFC 8252; `oauth_redirect.py`); `state` and the RFC 9207 `iss`
  parameter are checked before the code is exchanged.
- `AccessTokens`: one account's tokens. The refresh token lives in the keyring
  (`Secrets`, kind "oauth": the same rules as passwords), the access token in memory; it is
  refreshed shortly before it expires, and once more when a server refused it. A refused
  refresh (`invalid_grant`: consent withdrawn, token too old) raises `SignInAgain`.

No token is logged, shown by repr(), or put in an exception message.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx2 as httpx
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client

from mua.core.i18n import T_
from mua.net.errors import NetError
from mua.net.http import HttpSettings
from mua.net.oauth_redirect import LoopbackRedirect

log = logging.getLogger(__name__)

REFRESH_MARGIN = 60.0  # seconds before expiry at which a token is refreshed
SIGN_IN_TIMEOUT = 600.0  # how long the browser step may take


class OAuthError(NetError):
    """A sign-in or refresh that did not work; str() is one sentence for the user. Not an
    OSError (nor PermissionError, which is one): a mail connection's error handling must not
    take it for a network failure of its own."""


class SignInRefused(OAuthError):
    """The answer from the browser or the server cannot be trusted or was a refusal."""


class SignInAgain(OAuthError):
    """The provider no longer accepts the stored consent: the user must sign in again."""


class OAuthUnavailable(OAuthError):
    """The authorization server could not be reached (not an OSError: a mail connection's
    error handling must not take it for its own)."""


@dataclass(frozen=True)
class OAuthProvider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    client_id: str
    scopes: tuple[str, ...]
    iss_parameter: bool = False  # RFC 9207: the server adds `iss` to its redirects
    # Google's desktop clients carry a "secret" that is not one (RFC 8252 section 8.5)
    client_secret: str | None = field(default=None, repr=False)


@dataclass
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float
    scope: str = ""


def metadata_url(issuer: str) -> str:
    """RFC 8414 section 3: the well-known path inserted after the issuer's host."""
    return issuer.rstrip("/") + "/.well-known/oauth-authorization-server"


async def discover(
    settings: HttpSettings, issuer: str, client_id: str, scopes: tuple[str, ...]
) -> OAuthProvider:
    async with httpx.AsyncClient(**settings.client_options()) as http:
        try:
            response = await http.get(metadata_url(issuer))
            response.raise_for_status()
            meta = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OAuthUnavailable(
                T_(
                    "The sign-in server {issuer} could not be asked: {why}.",
                    issuer=issuer,
                    why=exc.__class__.__name__,
                )
            ) from exc
    if meta.get("issuer") != issuer:  # RFC 8414 section 3.3
        raise SignInRefused(
            T_(
                "The sign-in server calls itself {found}, not {issuer}: not signing in.",
                found=meta.get("issuer"),
                issuer=issuer,
            )
        )
    return OAuthProvider(
        issuer=issuer,
        authorization_endpoint=meta["authorization_endpoint"],
        token_endpoint=meta["token_endpoint"],
        client_id=client_id,
        scopes=scopes,
        iss_parameter=bool(meta.get("authorization_response_iss_parameter_supported")),
    )


def _client(provider: OAuthProvider, settings: HttpSettings, **kw: Any) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        token_endpoint_auth_method="client_secret_post" if provider.client_secret else "none",
        scope=" ".join(provider.scopes),
        code_challenge_method="S256",
        **kw,
        **settings.client_options(),
    )


def check_redirect(params: dict[str, str], state: str, provider: OAuthProvider) -> str:
    """The code from the redirect, once `state` and `iss` say it answers our request."""
    if not hmac.compare_digest(params.get("state", ""), state):
        raise SignInRefused(
            T_("The sign-in answer does not belong to this sign-in (wrong state): try again.")
        )
    iss = params.get("iss")
    if (iss is not None or provider.iss_parameter) and iss != provider.issuer:
        raise SignInRefused(
            T_(
                "The sign-in answer came from {found}, not from {issuer}: not signing in.",
                found=iss or "?",
                issuer=provider.issuer,
            )
        )
    if "error" in params:
        if params["error"] == "access_denied":
            raise SignInRefused(T_("Access was not granted in the browser."))
        raise SignInRefused(T_("The sign-in server refused: {error}.", error=params["error"]))
    return params["code"]


async def sign_in(
    provider: OAuthProvider,
    settings: HttpSettings,
    open_browser: Callable[[str], object],
    *,
    login_hint: str | None = None,
    timeout: float = SIGN_IN_TIMEOUT,
    clock: Callable[[], float] = time.time,
) -> Tokens:
    """Open the browser at the authorization URL, wait for the redirect, get the tokens."""
    async with LoopbackRedirect() as redirect:
        verifier, state = generate_token(64), generate_token(32)
        async with _client(provider, settings, redirect_uri=redirect.uri) as client:
            extra = {"login_hint": login_hint} if login_hint else {}
            url, _ = client.create_authorization_url(
                provider.authorization_endpoint, state=state, code_verifier=verifier, **extra
            )
            log.info("signing in at %s (redirect to %s)", provider.issuer, redirect.uri)
            open_browser(url)
            async with asyncio.timeout(timeout):
                params = await redirect.answer()
            await redirect.close()  # listen once
            code = check_redirect(params, state, provider)
            token = await _token_call(
                client.fetch_token(
                    provider.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=verifier,
                )
            )
    return _tokens(token, clock)


async def _token_call(call: Any) -> dict[str, Any]:
    try:
        return dict(await call)
    except AuthlibBaseError as exc:
        if exc.error == "invalid_grant":
            raise SignInAgain(
                T_("The provider no longer accepts this sign-in: sign in again.")
            ) from None
        raise SignInRefused(T_("The sign-in server refused: {error}.", error=exc.error)) from None
    except httpx.HTTPError as exc:
        raise OAuthUnavailable(
            T_("The sign-in server could not be reached: {why}.", why=exc.__class__.__name__)
        ) from exc


def _tokens(token: dict[str, Any], clock: Callable[[], float]) -> Tokens:
    expires_in = float(token.get("expires_in") or 3600)
    return Tokens(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token"),
        expires_at=clock() + expires_in,
        scope=token.get("scope", ""),
    )


class SecretStore(Protocol):
    """Where the refresh token is kept: mua.store.secrets.Secrets (the keyring), passed in by
    the client layer, since the network layer does not import the store."""

    def get(self, account_key: str, kind: Literal["oauth"], /) -> str | None: ...

    def set(self, account_key: str, kind: Literal["oauth"], secret: str, /) -> None: ...


class AccessTokens:
    """One account's tokens: the refresh token in the keyring, the access token in memory."""

    def __init__(
        self,
        provider: OAuthProvider,
        account_key: str,
        secrets: SecretStore,
        settings: HttpSettings,
        *,
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN,
    ) -> None:
        self.provider = provider
        self.account_key = account_key
        self._secrets = secrets
        self._settings = settings
        self._clock = clock
        self._margin = margin
        self._current: Tokens | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"AccessTokens({self.account_key!r}, {self.provider.issuer!r})"

    def accept(self, tokens: Tokens) -> None:
        """Keep what a sign-in returned."""
        if tokens.refresh_token:
            self._secrets.set(self.account_key, "oauth", tokens.refresh_token)
        self._current = tokens

    async def token(self) -> str:
        """A valid access token: the one in memory, or a refreshed one near its expiry."""
        async with self._lock:
            current = self._current
            if current is None or current.expires_at - self._margin <= self._clock():
                current = await self._refresh()
            return current.access_token

    async def refreshed(self) -> str:
        """A new access token, after a server refused the one in memory."""
        async with self._lock:
            return (await self._refresh()).access_token

    async def _refresh(self) -> Tokens:
        refresh_token = self._secrets.get(self.account_key, "oauth")
        if not refresh_token:
            raise SignInAgain(
                T_("No sign-in is stored for {account}: sign in.", account=self.account_key)
            )
        async with _client(self.provider, self._settings) as client:
            token = await _token_call(
                client.refresh_token(self.provider.token_endpoint, refresh_token=refresh_token)
            )
        tokens = _tokens(token, self._clock)
        if tokens.refresh_token and tokens.refresh_token != refresh_token:
            self._secrets.set(self.account_key, "oauth", tokens.refresh_token)  # rotated
        self._current = tokens
        log.info("access token for %s refreshed", self.account_key)
        return tokens
