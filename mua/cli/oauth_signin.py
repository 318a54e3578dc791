"""`mua accounts add ADDRESS --oauth`: sign in with OAuth2 in the browser (issue 17).
Imported by the command line's parser: asyncio and the network come in only when it runs.

The provider comes from `--oauth-issuer` (RFC 8414 metadata, its issuer checked) with
`--oauth-client-id` (or MUA_OAUTH_CLIENT_ID), or from the table of known providers
(mua/net/oauth_providers.py: Gmail, Microsoft 365, ...), whose client IDs are configuration,
or from the issuer that discovery found in the provider's autoconfig file (`<oAuth2>`, over
HTTPS only), with --oauth-client-id.
The command prints the sign-in address, opens a browser when there is one, waits on the
loopback redirect, and keeps the refresh token in the keyring; the account is saved only
after IMAP accepted the token.
"""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from typing import TYPE_CHECKING

from mua.core.account import Account, OAuthSettings
from mua.core.i18n import _

if TYPE_CHECKING:
    from mua.net.autoconfig import AutoconfigOAuth2

SIGN_IN_TIMEOUT = 600.0


def add_arguments(add: argparse.ArgumentParser) -> None:
    add.add_argument(
        "--oauth",
        action="store_true",
        help=_("sign in with OAuth2 in the browser instead of a password"),
    )
    add.add_argument(
        "--oauth-issuer",
        metavar="URL",
        help=_("the authorization server (else a known provider's)"),
    )
    add.add_argument(
        "--oauth-client-id", metavar="ID", help=_("the client ID registered with that server")
    )
    add.add_argument(
        "--no-browser", action="store_true", help=_("only print the sign-in address; open none")
    )


def open_in_browser(url: str) -> None:
    """A graphical browser, when the session has one (never a text browser in this terminal)."""
    graphical = sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if graphical:
        webbrowser.open(url)


def settings_for(
    args: argparse.Namespace, account: Account, hint: AutoconfigOAuth2 | None = None
) -> OAuthSettings:
    """Where and as which client the account signs in: --oauth-issuer, else the table of
    known providers, else the issuer discovery found in the provider's autoconfig file
    (`hint`). Raises OAuthError (NoClientId)."""
    import asyncio

    from mua.client.oauth_accounts import http_settings
    from mua.net import oauth, oauth_providers

    hosts = (account.imap.server_name or account.imap.host, account.smtp.host)
    known = oauth_providers.known_provider(account.address, hosts)
    scopes: tuple[str, ...] = ("openid", "email", "mail", "offline_access")
    issuer = args.oauth_issuer
    if not issuer and known is None and hint is not None:
        issuer, scopes = hint.issuer, hint.scopes or scopes
        print(
            _("{address} signs in at {issuer} (its provider's autoconfig file says so).").format(
                address=account.address, issuer=issuer
            ),
            file=sys.stderr,
        )
    if issuer:
        client_id = args.oauth_client_id or os.environ.get("MUA_OAUTH_CLIENT_ID")
        if not client_id:
            raise oauth.OAuthError(
                _("Give the client ID registered with {issuer} (--oauth-client-id).").format(
                    issuer=issuer
                )
            )
        found = asyncio.run(oauth.discover(http_settings(account, 15.0), issuer, client_id, scopes))
        return OAuthSettings(
            found.issuer,
            found.authorization_endpoint,
            found.token_endpoint,
            client_id,
            found.scopes,
        )
    if known is None:
        raise oauth.OAuthError(
            _(
                "mua knows no OAuth2 sign-in for {address}; give the provider's authorization "
                "server with --oauth-issuer, or sign in with a password."
            ).format(address=account.address)
        )
    return oauth_providers.settings_for(known)


def sign_in(args: argparse.Namespace, account: Account) -> str:
    """The browser step, then an IMAP sign-in with the token; the refresh token."""
    import asyncio

    from mua.client.imap_connection import endpoint_for
    from mua.client.oauth_accounts import http_settings, provider_of
    from mua.net import oauth
    from mua.net.imap import ImapSession
    from mua.store.secrets import Secrets

    def show(url: str) -> None:
        print(_("Sign in to {address} in your browser:").format(address=account.address))
        print(url, flush=True)
        if not args.no_browser:
            open_in_browser(url)
        print(_("Waiting for the browser to come back to mua..."), file=sys.stderr, flush=True)

    async def run() -> str:
        settings = http_settings(account, 15.0)
        tokens = await oauth.sign_in(
            provider_of(account), settings, show, login_hint=account.address,
            timeout=SIGN_IN_TIMEOUT,
        )  # fmt: skip
        assert account.oauth is not None
        mechanism = account.oauth.mechanism
        session = await asyncio.to_thread(ImapSession.connect, endpoint_for(account), timeout=15)
        try:
            await asyncio.to_thread(
                session.login_bearer, account.imap.username, tokens.access_token, mechanism
            )
        finally:
            await asyncio.to_thread(session.close)
        holder = Secrets.session_only()
        oauth.AccessTokens(provider_of(account), account.key, holder, settings).accept(tokens)
        refresh = holder.get(account.key, "oauth")
        if not refresh:
            raise oauth.OAuthError(
                _("The provider gave no refresh token: mua could not stay signed in.")
            )
        return refresh

    return asyncio.run(run())
