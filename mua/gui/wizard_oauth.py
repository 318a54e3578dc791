"""The account wizard's OAuth2 path (issue 17): the test page signs in in the system browser
instead of with a password, shows that it waits for the browser, offers a Cancel, then checks
IMAP with the token and greets the SMTP server. The sign-in itself is Qt-free
(mua.net.oauth); this module only opens the browser and reports.

Where the account signs in: the table of known providers (mua.net.oauth_providers, client
IDs from settings or the environment), or the wizard's `oauth_options` (per domain: issuer
and client ID, which the demo world's settings provide), which the issuer discovery found in
the provider's autoconfig file joins (wizard_oauth_offer.py, on the discovery page).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from mua.client.imap_connection import endpoint_for
from mua.client.oauth_accounts import http_settings, provider_of
from mua.core.account import Account, OAuthSettings
from mua.core.i18n import _
from mua.gui import wizard_check as check
from mua.net import oauth, oauth_providers
from mua.net.errors import NetError
from mua.net.imap import ImapSession
from mua.store.secrets import Secrets

SCOPES = ("openid", "email", "mail", "offline_access")


def demo_oauth_options(settings: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The demo world's issuers (`mua stack --json`'s domains[].oauth) and its client ID."""
    return {
        d["name"]: {"issuer": d["oauth"]["issuer"], "client_id": "mua"}
        for d in settings.get("domains", ())
        if (d.get("oauth") or {}).get("issuer")
    }


def open_in_browser(url: str) -> None:
    """The system browser (tests replace this with an HTTP client that answers the form)."""
    QDesktopServices.openUrl(QUrl(url))


async def oauth_settings(
    account: Account, options: Mapping[str, Mapping[str, str]], timeout: float
) -> OAuthSettings:
    """The wizard's options for the domain, else the table. Raises OAuthError (NoClientId)."""
    given = options.get(account.domain)
    if given and not given.get("client_id"):
        raise oauth_providers.NoClientId(
            _(
                "{address} signs in at {issuer}, and this copy of mua has no client ID for it "
                "(set MUA_OAUTH_CLIENT_ID, see the README); sign in with a password instead."
            ).format(address=account.address, issuer=given["issuer"])
        )
    if given:
        found = await oauth.discover(
            http_settings(account, timeout), given["issuer"], given["client_id"], SCOPES
        )
        return OAuthSettings(
            found.issuer,
            found.authorization_endpoint,
            found.token_endpoint,
            found.client_id,
            found.scopes,
        )
    hosts = (account.imap.server_name or account.imap.host, account.smtp.host)
    known = oauth_providers.known_provider(account.address, hosts)
    if known is None:
        raise oauth.OAuthError(
            _("mua knows no OAuth2 sign-in for {address}; sign in with a password instead.").format(
                address=account.address
            )
        )
    return oauth_providers.settings_for(known)


async def sign_in_and_check(
    account: Account,
    options: Mapping[str, Mapping[str, str]],
    waiting: Callable[[], None],
    *,
    timeout: float,
) -> tuple[Account, str, list[check.CheckResult]]:
    """(the account with its OAuth settings, the refresh token, the IMAP and SMTP results)."""
    account = account.with_changes(oauth=await oauth_settings(account, options, timeout))
    settings = http_settings(account, timeout)

    def show(url: str) -> None:
        open_in_browser(url)
        waiting()

    tokens = await oauth.sign_in(provider_of(account), settings, show, login_hint=account.address)
    holder = Secrets.session_only()
    oauth.AccessTokens(provider_of(account), account.key, holder, settings).accept(tokens)
    refresh = holder.get(account.key, "oauth") or ""
    imap = await _check_imap(account, tokens.access_token, timeout)
    smtp = await check.check_smtp(account, timeout)
    return account, refresh, [imap, smtp]


async def _check_imap(account: Account, token: str, timeout: float) -> check.CheckResult:
    assert account.oauth is not None
    mechanism = account.oauth.mechanism
    try:
        session = await asyncio.to_thread(
            ImapSession.connect, endpoint_for(account), timeout=timeout
        )
        try:
            await asyncio.to_thread(session.login_bearer, account.imap.username, token, mechanism)
        finally:
            await asyncio.to_thread(session.close)
    except NetError as exc:
        return check.CheckResult("imap", False, str(exc))
    return check.CheckResult(
        "imap",
        True,
        _("Signed in with an OAuth2 token ({mechanism}) over {tls}.").format(
            mechanism=mechanism, tls=session.tls.version or "TLS"
        ),
        tls=session.tls,
    )
