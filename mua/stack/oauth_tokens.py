"""The mail servers' side of OAuth2: checking the world's access tokens, and the SASL
mechanisms that carry them (XOAUTH2, Google's; OAUTHBEARER, RFC 7628).

`TokenVerifier.verify(token, login)` checks what RFC 9068 section 4 asks of a resource
server: the signature (the world's key), `typ` at+jwt, the issuer, the audience (this
provider's mail service), the expiry (and the world's expire/revoke controls), the `mail`
scope, and that the token's subject is the account signing in. A refusal is `TokenRefused`
with the RFC 7628 status and a sentence for the server's final reply.

The SASL messages are parsed by pure functions; a refused token is answered first with the
RFC 7628 section 3.2.2 error challenge (base64 JSON: status, scope, openid-configuration),
and the final failure follows the client's dummy response.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from joserfc import jwt
from joserfc.errors import JoseError

from mua.stack.oauth_server import MAIL_SCOPE, WorldAuthorizationServer, mail_audience
from mua.stack.users import Mailbox

log = logging.getLogger(__name__)

MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


class TokenRefused(PermissionError):
    """`status`: RFC 7628's invalid_token or insufficient_scope; str(): the reason."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SaslError(ValueError):
    """A SASL message that is not what the mechanism defines."""


@dataclass(frozen=True)
class BearerResponse:
    user: str
    token: str

    def __repr__(self) -> str:  # never a token in a log line
        return f"BearerResponse(user={self.user!r})"


def parse_xoauth2(message: bytes) -> BearerResponse:
    """`user=<user>^Aauth=Bearer <token>^A^A` (Google's XOAUTH2)."""
    return _bearer_fields(message, gs2=False)


def parse_oauthbearer(message: bytes) -> BearerResponse:
    """RFC 7628 section 3.1: `n,a=<user>,^Ahost=..^Aport=..^Aauth=Bearer <token>^A^A`."""
    return _bearer_fields(message, gs2=True)


def _bearer_fields(message: bytes, *, gs2: bool) -> BearerResponse:
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SaslError("not UTF-8") from exc
    user = ""
    if gs2:
        header, sep, text = text.partition("\x01")
        parts = header.split(",")
        if not sep or len(parts) < 2 or parts[0] not in ("n", "y"):
            raise SaslError("no GS2 header")
        user = next((p[2:] for p in parts[1:] if p.startswith("a=")), "")
        user = user.replace("=2C", ",").replace("=3D", "=")
    if not text.endswith("\x01\x01") and not (gs2 and text.endswith("\x01")):
        raise SaslError("not terminated by ^A^A")
    fields = {}
    for item in text.rstrip("\x01").split("\x01"):
        key, eq, value = item.partition("=")
        if not eq:
            raise SaslError("a key without a value")
        fields[key] = value
    if not gs2:
        user = fields.get("user", "")
    scheme, _, token = fields.get("auth", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise SaslError("no bearer token")
    return BearerResponse(user, token.strip())


def error_challenge(status: str, issuer: str) -> bytes:
    """RFC 7628 section 3.2.2: the server's error, sent (base64) before the final failure."""
    return json.dumps(
        {
            "status": status,
            "scope": MAIL_SCOPE,
            "openid-configuration": issuer + ".well-known/openid-configuration",
        }
    ).encode()


class TokenCheck(Protocol):
    """What a server's SASL bearer mechanism asks: a `TokenVerifier`, or one in another
    process (`mua.stack.msa_process.RemoteTokens`)."""

    @property
    def issuer(self) -> str: ...

    async def check(self, token: str, login: str) -> Mailbox: ...


class TokenVerifier:
    def __init__(
        self, authorization: WorldAuthorizationServer, clock: Callable[[], float] = time.time
    ) -> None:
        self.authorization = authorization
        self.clock = clock

    @property
    def issuer(self) -> str:
        return self.authorization.issuer

    async def check(self, token: str, login: str) -> Mailbox:
        """`verify`, as `TokenCheck` asks it."""
        return self.verify(token, login)

    def verify(self, token: str, login: str) -> Mailbox:
        server = self.authorization
        try:
            decoded = jwt.decode(token, server.key, algorithms=["RS256"])
        except (JoseError, ValueError) as exc:
            reason = "The token is not one this provider signed."
            raise TokenRefused("invalid_token", reason) from exc
        claims = decoded.claims
        if decoded.header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
            raise TokenRefused("invalid_token", "The token is not an access token.")
        if claims.get("iss") != server.issuer:
            raise TokenRefused(
                "invalid_token", f"The token was issued by {claims.get('iss')}, not this provider."
            )
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if mail_audience(server.domain) not in audiences:
            raise TokenRefused("invalid_token", "The token is meant for another service.")
        withdrawn = server.withdrawn(str(claims.get("jti")))
        if withdrawn == "revoked":
            raise TokenRefused("invalid_token", "The token was revoked: sign in again.")
        if withdrawn == "expired" or float(claims.get("exp", 0)) <= self.clock():
            raise TokenRefused("invalid_token", "The token has expired.")
        if MAIL_SCOPE not in str(claims.get("scope", "")).split():
            raise TokenRefused("insufficient_scope", "The token does not allow mail access.")
        mailbox = server.users.get(login) if login else None
        subject = server.users.get(str(claims.get("sub", "")))
        if (
            subject is None
            or (mailbox is not None and mailbox != subject)
            or (login and mailbox is None)
        ):
            raise TokenRefused("invalid_token", "The token belongs to another account.")
        return subject
