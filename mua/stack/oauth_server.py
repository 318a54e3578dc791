"""The world's OAuth 2.0 authorization server: authlib's grants, the world's users and key.

Authorization code grant with PKCE (S256 only, required: RFC 7636, OAuth 2.1), the refresh
token grant with rotation, the RFC 9207 `iss` parameter on every authorization response,
and RFC 9068 JWT access tokens signed by the world's key (`<dir>/signing-key.json`, RS256).
One public client, `mua`, is registered; RFC 8252 section 7.3: its loopback redirect may
use any port.

Codes and tokens live in memory only (never in a file: a restarted world forgets them, and
a client then signs in again). Tests and the demo turn the clock: `expire(address)` makes
the user's access tokens expired at the mail servers, `revoke(address)` also drops the
refresh tokens (the next refresh answers `invalid_grant`). The HTTP side is
`oauth_http.py`; the mail servers check tokens with `oauth_tokens.TokenVerifier`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    JsonRequest,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oauth2.rfc9207 import IssuerParameter
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from mua import durable
from mua.stack.oauth_requests import OAuthAnswer, WorldJsonPayload, WorldRequest
from mua.stack.users import Mailbox, UserDirectory

log = logging.getLogger(__name__)

CLIENT_ID = "mua"  # the world's registered public client (native app, no secret)
MAIL_SCOPE = "mail"  # what the MSA, IMAP and POP3 servers ask of a token
SCOPES = ("openid", "email", MAIL_SCOPE, "offline_access")
ACCESS_LIFETIME = 3600  # seconds; a test may shorten it
CODE_LIFETIME = 300


class _NoTokensLogged(logging.Filter):
    """authlib's grants log every issued token at DEBUG ("Issue token {...}"): dropped, so
    no access or refresh token reaches a log (tests/test_oauth_mail.py greps for them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Issue token", "Grant token"))


for _name in (
    "authlib.oauth2.rfc6749.grants.authorization_code",
    "authlib.oauth2.rfc6749.grants.refresh_token",
):
    logging.getLogger(_name).addFilter(_NoTokensLogged())


def mail_audience(domain: str) -> str:
    """The `aud` of the world's access tokens: the provider's mail service."""
    return f"mail.{domain}"


@dataclass
class OAuthUser:
    mailbox: Mailbox

    def get_user_id(self) -> str:
        return self.mailbox.address


class NativeClient(ClientMixin):
    """A public native client: no secret, any loopback port (RFC 8252 sections 7.3, 8.4)."""

    client_id = CLIENT_ID

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return ""  # none: a native client names its loopback redirect each time

    def get_allowed_scope(self, scope: Collection[str] | str) -> str:
        words = scope.split() if isinstance(scope, str) else scope
        return " ".join(s for s in words if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        try:
            parts = urlsplit(redirect_uri)
            port = parts.port
        except ValueError:
            return False
        return (
            parts.scheme == "http"
            and parts.hostname in ("127.0.0.1", "::1")
            and port is not None
            and not parts.fragment
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class IssuedCode(AuthorizationCodeMixin):
    code: str
    user: OAuthUser
    redirect_uri: str
    scope: str
    challenge: str
    challenge_method: str
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class RefreshRecord(TokenMixin):
    user: OAuthUser
    scope: str
    revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == CLIENT_ID

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return self.revoked


@dataclass
class TokenState:
    """What the server remembers (in memory): codes, refresh tokens, withdrawn access tokens."""

    codes: dict[str, IssuedCode] = field(default_factory=dict)
    refresh: dict[str, RefreshRecord] = field(default_factory=dict)
    access: dict[str, str] = field(default_factory=dict)  # jti -> address
    expired: set[str] = field(default_factory=set)  # jti the world declared expired
    revoked: set[str] = field(default_factory=set)  # jti of revoked grants


def load_or_create_key(path: Path) -> RSAKey:
    """The world's signing key (private JWK, kept beside the CA: a key, never a token)."""
    if path.exists():
        return RSAKey.import_key(json.loads(path.read_text()))  # a JWK, not a PEM string
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True)
    key.ensure_kid()
    path.parent.mkdir(parents=True, exist_ok=True)
    durable.write_atomic(path, json.dumps(key.as_dict(private=True)).encode(), mode=0o600)
    return key


class WorldTokenGenerator(JWTBearerTokenGenerator):
    def __init__(self, issuer: str, key: RSAKey, audience: str, lifetime: Callable[[], int]):
        super().__init__(
            issuer,
            alg="RS256",
            refresh_token_generator=lambda **_: secrets.token_urlsafe(32),
            expires_generator=lambda client, grant_type: lifetime(),
        )
        self._key = key
        self._audience = audience

    def get_jwks(self) -> KeySet:
        return KeySet([self._key])

    def get_audiences(self, client: Any, user: Any, scope: str) -> str:
        return self._audience

    def get_extra_claims(
        self, client: Any, grant_type: str, user: Any, scope: str
    ) -> dict[str, Any]:
        return {"email": user.get_user_id()} if user else {}


class WorldAuthorizationServer(AuthorizationServer):
    """authlib's framework-neutral server, fed requests that `oauth_http.py` has read."""

    def __init__(self, domain: str, users: UserDirectory, key_file: Path) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.domain = domain
        self.users = users
        self.key = load_or_create_key(key_file)
        self.issuer = ""  # set by the web server once it knows its port
        self.access_lifetime = ACCESS_LIFETIME
        self.state = TokenState()
        self.client = NativeClient()
        self.register_extension(WorldIssuer(self))
        self.register_grant(CodeGrant, [S256Challenge(required=True)])
        self.register_grant(RotatingRefreshGrant)

    def set_issuer(self, issuer: str) -> None:
        self.issuer = issuer
        self.register_token_generator(
            "default",
            WorldTokenGenerator(
                issuer, self.key, mail_audience(self.domain), lambda: self.access_lifetime
            ),
        )

    # authlib's hooks ------------------------------------------------------------------
    # authlib expects None for an unknown client (its docs); types-authlib says ClientMixin.
    def query_client(self, client_id: str) -> NativeClient | None:  # type: ignore[override]
        return self.client if client_id == CLIENT_ID else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        user = request.user
        address = user.get_user_id() if user else ""
        claims = jwt.decode(token["access_token"], self.key).claims
        self.state.access[claims["jti"]] = address
        if "refresh_token" in token and user is not None:  # granted to a signed-in user
            self.state.refresh[token["refresh_token"]] = RefreshRecord(
                user=user, scope=token.get("scope", "")
            )
        log.info("%s: tokens issued to %s (scope %s)", self.domain, address, token.get("scope"))

    def get_consent_grant(
        self, request: WorldRequest | None = None, end_user: OAuthUser | None = None
    ) -> AuthorizationCodeGrant:
        """The grant an authorization request asks for (raises OAuth2Error): authlib's, with
        the type types-authlib leaves out (the code grant is the only one registered)."""
        consent: Callable[..., AuthorizationCodeGrant] = super().get_consent_grant
        return consent(request, end_user)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: WorldRequest) -> WorldRequest:
        return request

    def create_json_request(self, request: WorldRequest) -> JsonRequest:
        json_request = JsonRequest(request.method, request.uri, request.headers)
        json_request.payload = WorldJsonPayload(request.form)
        return json_request

    def handle_response(
        self, status: int, body: Any, headers: Mapping[str, str] | list[tuple[str, str]]
    ) -> OAuthAnswer:
        return OAuthAnswer(status, body, dict(headers))

    # the world's controls -------------------------------------------------------------
    def expire(self, address: str) -> int:
        """Make every access token issued to `address` so far count as expired."""
        jtis = {j for j, a in self.state.access.items() if a == address}
        self.state.expired |= jtis
        return len(jtis)

    def revoke(self, address: str) -> int:
        """Withdraw the user's consent: refresh tokens refused, access tokens revoked."""
        count = 0
        for record in self.state.refresh.values():
            if record.user.get_user_id() == address and not record.revoked:
                record.revoked = True
                count += 1
        self.state.revoked |= {j for j, a in self.state.access.items() if a == address}
        return count

    def withdrawn(self, jti: str) -> str | None:
        """'revoked' or 'expired' when the world withdrew an access token, else None."""
        if jti in self.state.revoked:
            return "revoked"
        if jti in self.state.expired:
            return "expired"
        return None


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    server: WorldAuthorizationServer

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        assert request.payload is not None and request.user is not None  # a consented request
        data = request.payload.data
        self.server.state.codes[code] = IssuedCode(
            code=code,
            user=request.user,
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.scope or "",
            challenge=data.get("code_challenge", ""),
            challenge_method=data.get("code_challenge_method", "S256"),
            expires_at=time.time() + CODE_LIFETIME,
        )

    def query_authorization_code(self, code: str, client: ClientMixin) -> IssuedCode | None:
        found = self.server.state.codes.get(code)
        if found is None or found.expires_at < time.time():
            return None
        return found

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        self.server.state.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: IssuedCode) -> OAuthUser:
        return authorization_code.user


class RotatingRefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: WorldAuthorizationServer

    # authlib expects None for an unknown token (its docs); types-authlib says TokenMixin.
    def authenticate_refresh_token(  # type: ignore[override]
        self, refresh_token: str
    ) -> RefreshRecord | None:
        record = self.server.state.refresh.get(refresh_token)
        if record is None or record.revoked:
            return None
        return record

    def authenticate_user(self, refresh_token: RefreshRecord) -> OAuthUser:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: TokenMixin) -> None:
        assert isinstance(refresh_token, RefreshRecord)  # what authenticate_refresh_token gave
        refresh_token.revoked = True


class S256Challenge(CodeChallenge):
    """PKCE required, S256 only (RFC 7636 section 4.2; `plain` is refused)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        payload = grant.request.payload
        if payload is None or not payload.data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE (S256) is required.")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: IssuedCode) -> str:
        return authorization_code.challenge

    def get_authorization_code_challenge_method(self, authorization_code: IssuedCode) -> str:
        return authorization_code.challenge_method


class WorldIssuer(IssuerParameter):
    def __init__(self, server: WorldAuthorizationServer) -> None:
        self.server = server

    def get_issuer(self) -> str:
        return self.server.issuer
