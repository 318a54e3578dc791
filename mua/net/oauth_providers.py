"""Which providers want OAuth2, and with what: a small table, and autoconfig's word for it.

The table (endpoints and scopes as Thunderbird's OAuth2 provider list has them) is matched by
the address's domain or by a server's host name. Client IDs are NOT in it: a program may not
borrow another application's registration. A distributor registers its own (README, "Signing
in to Gmail and Microsoft 365") and supplies it in settings (`oauth_client_ids`, keyed by the
provider's key) or the environment (`MUA_OAUTH_<KEY>_CLIENT_ID`, and `..._CLIENT_SECRET` for
Google, whose desktop clients carry a non-secret secret). Without one, `client_for` raises
`NoClientId` with a sentence that says so and, where the provider has app passwords, offers
that route.

An autoconfig file says a server takes OAuth2 with `<authentication>OAuth2</authentication>`
and may describe the provider in an `<oAuth2>` element (issuer, scope, authURL, tokenURL):
`autoconfig_oauth2` reads it (with autoconfig's hardened parser).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from mua.core.account import OAuthSettings
from mua.core.i18n import T_
from mua.net.autoconfig import AutoconfigOAuth2, parse_oauth2
from mua.net.oauth import OAuthError, OAuthProvider


@dataclass(frozen=True)
class KnownProvider:
    key: str  # settings and environment name: MUA_OAUTH_<KEY>_CLIENT_ID
    name: str  # what the user calls it
    domains: tuple[str, ...]
    hosts: tuple[str, ...]  # IMAP / SMTP servers (a custom domain hosted there matches too)
    issuer: str = ""  # "" : no OAuth2 for other programs
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    scopes: tuple[str, ...] = ()
    app_passwords: bool = False  # the provider lets a user make a password for one program

    @property
    def oauth(self) -> bool:
        return bool(self.issuer)


PROVIDERS = (
    KnownProvider(
        "google",
        "Gmail / Google Workspace",
        ("gmail.com", "googlemail.com"),
        ("imap.gmail.com", "smtp.gmail.com", "pop.gmail.com"),
        "https://accounts.google.com",
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
        ("https://mail.google.com/",),
        app_passwords=True,  # with 2-Step Verification; Workspace admins may forbid them
    ),
    KnownProvider(
        "microsoft",
        "Outlook.com / Microsoft 365",
        ("outlook.com", "hotmail.com", "live.com", "msn.com"),
        ("outlook.office365.com", "smtp.office365.com", "smtp-mail.outlook.com"),
        "https://login.microsoftonline.com/common/v2.0",
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        (
            "https://outlook.office.com/IMAP.AccessAsUser.All",
            "https://outlook.office.com/POP.AccessAsUser.All",
            "https://outlook.office.com/SMTP.Send",
            "offline_access",
        ),
    ),
    KnownProvider(
        "yahoo",
        "Yahoo Mail",
        ("yahoo.com", "ymail.com", "rocketmail.com"),
        ("imap.mail.yahoo.com", "smtp.mail.yahoo.com"),
        "https://api.login.yahoo.com",
        "https://api.login.yahoo.com/oauth2/request_auth",
        "https://api.login.yahoo.com/oauth2/get_token",
        ("mail-w",),
        app_passwords=True,
    ),
    KnownProvider(
        "aol",
        "AOL Mail",
        ("aol.com", "aim.com"),
        ("imap.aol.com", "smtp.aol.com"),
        "https://api.login.aol.com",
        "https://api.login.aol.com/oauth2/request_auth",
        "https://api.login.aol.com/oauth2/get_token",
        ("mail-w",),
        app_passwords=True,
    ),
    KnownProvider(
        "fastmail",
        "Fastmail",
        ("fastmail.com", "fastmail.fm"),
        ("imap.fastmail.com", "smtp.fastmail.com"),
        "https://www.fastmail.com",
        "https://api.fastmail.com/oauth/authorize",
        "https://api.fastmail.com/oauth/refresh",
        (
            "https://www.fastmail.com/dev/protocol-imap",
            "https://www.fastmail.com/dev/protocol-smtp",
        ),
        app_passwords=True,
    ),
    KnownProvider(  # no OAuth2 for other programs: app-specific passwords only
        "icloud",
        "iCloud Mail",
        ("icloud.com", "me.com", "mac.com"),
        ("imap.mail.me.com", "smtp.mail.me.com"),
        app_passwords=True,
    ),
    KnownProvider(
        "yandex",
        "Yandex Mail",
        ("yandex.ru", "yandex.com", "ya.ru"),
        ("imap.yandex.com", "smtp.yandex.com", "imap.yandex.ru", "smtp.yandex.ru"),
        "https://oauth.yandex.com",
        "https://oauth.yandex.com/authorize",
        "https://oauth.yandex.com/token",
        ("mail:imap_full", "mail:smtp"),
        app_passwords=True,
    ),
    KnownProvider(
        "mailru",
        "Mail.ru",
        ("mail.ru", "inbox.ru", "list.ru", "bk.ru"),
        ("imap.mail.ru", "smtp.mail.ru"),
        "https://o2.mail.ru",
        "https://o2.mail.ru/login",
        "https://o2.mail.ru/token",
        ("mail.imap",),
        app_passwords=True,  # "passwords for external applications"
    ),
)


class NoClientId(OAuthError):
    """The provider wants OAuth2 and this build of mua has no client ID for it."""


def known_provider(address: str, hosts: tuple[str, ...] = ()) -> KnownProvider | None:
    """The table's entry for an address (by domain) or its servers (by host name)."""
    domain = address.rpartition("@")[2].lower().rstrip(".")
    names = {h.lower().rstrip(".") for h in hosts}
    for provider in PROVIDERS:
        if domain in provider.domains or names & set(provider.hosts):
            return provider
    return None


def client_for(
    provider: KnownProvider,
    settings_ids: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> OAuthProvider:
    """The OAuthProvider to sign in with, its client ID from settings or the environment."""
    env = os.environ if environ is None else environ
    if not provider.oauth:
        raise NoClientId(
            T_(
                "{name} does not let other programs sign in with OAuth2; create an app-specific "
                "password in its account settings and sign in with that.",
                name=provider.name,
            )
        )
    key = provider.key.upper()
    client_id = (settings_ids or {}).get(provider.key) or env.get(f"MUA_OAUTH_{key}_CLIENT_ID")
    if not client_id:
        if provider.app_passwords:
            raise NoClientId(
                T_(
                    "{name} wants an OAuth2 sign-in, and this copy of mua has no client ID "
                    "for it (set MUA_OAUTH_{key}_CLIENT_ID, see the README); meanwhile, create "
                    "an app password in your {name} account and sign in with that.",
                    name=provider.name,
                    key=key,
                )
            )
        raise NoClientId(
            T_(
                "{name} wants an OAuth2 sign-in, and this copy of mua has no client ID for it "
                "(set MUA_OAUTH_{key}_CLIENT_ID, see the README); {name} offers no app "
                "passwords, so mua cannot sign in to it without one.",
                name=provider.name,
                key=key,
            )
        )
    return OAuthProvider(
        issuer=provider.issuer,
        authorization_endpoint=provider.authorization_endpoint,
        token_endpoint=provider.token_endpoint,
        client_id=client_id,
        scopes=provider.scopes,
        client_secret=env.get(f"MUA_OAUTH_{key}_CLIENT_SECRET") or None,
    )


def autoconfig_oauth2(data: bytes) -> AutoconfigOAuth2 | None:
    """The `<oAuth2>` element of an autoconfig file, or None when it has none."""
    return parse_oauth2(data)


def wants_oauth2(authentication: tuple[str, ...]) -> bool:
    """An autoconfig server's `<authentication>` values name OAuth2."""
    return any(m.strip().lower() == "oauth2" for m in authentication)


def settings_for(provider: KnownProvider) -> OAuthSettings:
    """What an account keeps of `provider`'s sign-in (the endpoints, the client ID from the
    environment, the scopes), as the CLI and the wizard both store it."""
    client = client_for(provider)
    return OAuthSettings(
        client.issuer,
        client.authorization_endpoint,
        client.token_endpoint,
        client.client_id,
        client.scopes,
        provider_key=provider.key,
    )
