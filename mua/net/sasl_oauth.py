"""Signing in with an OAuth2 access token: SASL XOAUTH2 (Google's) and OAUTHBEARER (RFC 7628).

`BearerAuth` says which mechanism and where the tokens come from (`AccessTokens`). For SMTP
the exchange is raw commands on aiosmtplib (its own XOAUTH2 drops the server's error):
`AUTH <mech> <initial response>`; a refusal comes as `334 <base64 JSON>` (RFC 7628
section 3.2.2: status, scope, openid-configuration), answered with the dummy response
(empty for XOAUTH2, ^A for OAUTHBEARER) before the final 535. A refused token is refreshed
once and tried again; then the user is told in one sentence what went wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mua.core.i18n import T_, Text
from mua.net.errors import AuthenticationFailed, TokenRefused

log = logging.getLogger(__name__)

MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


@dataclass(frozen=True)
class BearerAuth:
    mechanism: str  # "XOAUTH2" or "OAUTHBEARER"
    token: Callable[[], Awaitable[str]]  # the current access token
    refreshed: Callable[[], Awaitable[str]]  # a new one, after a refusal

    @classmethod
    def from_tokens(cls, tokens: Any, mechanism: str = "XOAUTH2") -> BearerAuth:
        """From an `mua.net.oauth.AccessTokens`."""
        return cls(mechanism.upper(), tokens.token, tokens.refreshed)


def xoauth2_message(user: str, token: str) -> bytes:
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer_message(user: str, token: str, host: str, port: int) -> bytes:
    """RFC 7628 section 3.1, with the GS2 header's authzid escaped (RFC 5801 section 4)."""
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01".encode()


def initial_response(mechanism: str, user: str, token: str, host: str, port: int) -> bytes:
    """The base64 initial client response of `mechanism`."""
    if mechanism == "OAUTHBEARER":
        message = oauthbearer_message(user, token, host, port)
    else:
        message = xoauth2_message(user, token)
    return base64.b64encode(message)


def dummy_response(mechanism: str) -> bytes:
    """What the client sends after the error challenge (RFC 7628 section 3.2.3)."""
    return base64.b64encode(b"\x01") if mechanism == "OAUTHBEARER" else b""


def read_error_challenge(challenge: str) -> dict[str, Any]:
    """The server's base64 JSON error; {} when it is not one."""
    try:
        found = json.loads(base64.b64decode(challenge.strip(), validate=True))
    except (binascii.Error, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def refusal_sentence(where: str, error: dict[str, Any], said: str) -> Text:
    """One sentence: what the server's refusal of the token means for the user."""
    if error.get("status") == "insufficient_scope":
        return T_(
            "{where} refused the sign-in: it does not allow mail access ({said}); sign in "
            "again and allow mua to read and send mail.",
            where=where,
            said=said,
        )
    return T_("{where} refused the sign-in token ({said}); sign in again.", where=where, said=said)


async def smtp_bearer(smtp: Any, username: str, bearer: BearerAuth, host: str, port: int) -> None:
    """AUTH with a bearer token on an aiosmtplib connection. Raises `AuthenticationFailed`
    when the server refuses it even after a refresh."""
    mechanism = bearer.mechanism
    for attempt in (1, 2):
        token = await (bearer.token() if attempt == 1 else bearer.refreshed())
        response = await smtp.execute_command(
            b"AUTH", mechanism.encode(), initial_response(mechanism, username, token, host, port)
        )
        error: dict[str, Any] = {}
        if response.code == 334:
            error = read_error_challenge(response.message)
            response = await smtp.execute_command(dummy_response(mechanism))
        if response.code == 235:
            return
        log.info("AUTH %s refused (%s): %s", mechanism, error.get("status"), response.message)
        if attempt == 1 and error.get("status") == "invalid_token":
            continue  # expired or revoked at the server: refresh once and try again
        raise AuthenticationFailed(
            refusal_sentence(f"{host}:{port}", error, f"{response.code} {response.message}"),
            code=response.code,
        )


async def imap_bearer(session: Any, username: str, bearer: BearerAuth) -> None:
    """Sign an `mua.net.imap.ImapSession` in with a token; refreshed once if refused."""
    import asyncio

    token = await bearer.token()
    try:
        await asyncio.to_thread(session.login_bearer, username, token, bearer.mechanism)
    except TokenRefused:
        token = await bearer.refreshed()  # SignInAgain when the refresh is refused too
        await asyncio.to_thread(session.login_bearer, username, token, bearer.mechanism)
