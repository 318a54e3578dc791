"""The engine's OAuth2 accounts: one `AccessTokens` per account (refresh token in the
keyring, access token in memory), handed to the outbox as a `BearerAuth` and to the IMAP
worker threads as a function that fetches a token on the engine's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from mua.core.account import Account

if TYPE_CHECKING:  # loaded with the first OAuth2 account: httpx2, authlib and aiohttp cost
    # about 250 ms, and the engine is on the app's start-up path (bench/startup.py)
    from mua.net.http import HttpSettings
    from mua.net.oauth import AccessTokens, OAuthProvider, Tokens
    from mua.net.sasl_oauth import BearerAuth
    from mua.store.secrets import Secrets


def http_settings(account: Account, timeout: float) -> HttpSettings:
    """HTTPS to the account's authorization server: its CA, and its name server if it has one
    (the demo world's names are known only there)."""
    from mua.net.dns import Resolver
    from mua.net.http import HttpSettings

    resolver = None
    if account.nameserver:
        host, _, port = account.nameserver.rpartition(":")
        resolver = Resolver((host, int(port)), timeout=timeout)
    return HttpSettings(ca_file=account.imap.ca_file, resolver=resolver, timeout=timeout)


def provider_of(account: Account) -> OAuthProvider:
    import os

    from mua.net.oauth import OAuthProvider

    oauth = account.oauth
    assert oauth is not None
    secret = None
    if oauth.provider_key:  # a distributor's client secret (Google's is not one)
        secret = os.environ.get(f"MUA_OAUTH_{oauth.provider_key.upper()}_CLIENT_SECRET")
    return OAuthProvider(
        issuer=oauth.issuer,
        authorization_endpoint=oauth.authorization_endpoint,
        token_endpoint=oauth.token_endpoint,
        client_id=oauth.client_id,
        scopes=oauth.scopes,
        client_secret=secret,
    )


class OAuthAccounts:
    def __init__(self, secrets: Secrets, timeout: float = 30.0) -> None:
        self.secrets = secrets
        self.timeout = timeout
        self._tokens: dict[str, AccessTokens] = {}
        # accounts whose provider refused the stored sign-in: the GUI offers a new one
        self.needs_sign_in: set[str] = set()

    def tokens(self, account: Account) -> AccessTokens:
        found = self._tokens.get(account.key)
        if found is None:
            from mua.net.oauth import AccessTokens

            found = AccessTokens(
                provider_of(account),
                account.key,
                self.secrets,
                http_settings(account, self.timeout),
            )
            self._tokens[account.key] = found
        return found

    def signed_in(self, account: Account, tokens: Tokens) -> None:
        """A new sign-in (the wizard's, or a "sign in again"): its tokens are kept."""
        self.tokens(account).accept(tokens)
        self.needs_sign_in.discard(account.key)

    async def _token(self, account: Account, refreshed: bool) -> str:
        from mua.net.oauth import SignInAgain

        tokens = self.tokens(account)
        try:
            return await (tokens.refreshed() if refreshed else tokens.token())
        except SignInAgain:
            self.needs_sign_in.add(account.key)
            raise

    def bearer(self, account: Account) -> BearerAuth | None:
        if account.oauth is None:
            return None
        from mua.net.sasl_oauth import BearerAuth

        async def token() -> str:
            return await self._token(account, False)

        async def refreshed() -> str:
            return await self._token(account, True)

        return BearerAuth(account.oauth.mechanism, token, refreshed)

    def thread_token(self, account: Account) -> Callable[[bool], str]:
        """For a worker thread: `token(refreshed)` runs on the loop this was made on."""
        loop = asyncio.get_running_loop()

        def token(refreshed: bool = False) -> str:
            call = self._token(account, refreshed)
            return asyncio.run_coroutine_threadsafe(call, loop).result(self.timeout)

        return token
