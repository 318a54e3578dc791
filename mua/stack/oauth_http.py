"""`https://auth.<domain>/`: the authorization server's web side, on aiohttp (`web_host.py`
says why aiohttp).

Endpoints (RFC 8414 metadata, also at the OpenID Connect discovery path):
- GET  /.well-known/oauth-authorization-server and /.well-known/openid-configuration
- GET  /authorize: the sign-in and consent page, a plain HTML form a person can use
- POST /authorize: the form's answer; redirects to the client with `code`, `state`, `iss`
- POST /token: authorization_code (with PKCE) and refresh_token grants
- GET  /jwks.json: the public key the access tokens are signed with
- GET  /.well-known/autoconfig/mail/config-v1.1.xml: the provider's autoconfig file, which
  names OAuth2 (`<authentication>OAuth2</authentication>` and an `<oAuth2>` element); also
  at /mail/config-v1.1.xml, as https://autoconfig.<domain>/ (the same server: its certificate
  by SNI, its port in the world's RFC 9460 HTTPS record)
"""

from __future__ import annotations

import html
import json
import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from authlib.oauth2 import OAuth2Error

from mua.stack.oauth_requests import OAuthAnswer, WorldRequest
from mua.stack.oauth_server import SCOPES, OAuthUser, WorldAuthorizationServer
from mua.stack.users import UserDirectory
from mua.stack.web_host import WebHost

log = logging.getLogger(__name__)

AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
)


class AuthWebServer(WebHost):
    """The authorization server of one provider, listening with TLS on 127.0.0.1."""

    def __init__(
        self,
        domain: str,
        users: UserDirectory,
        tls_context: ssl.SSLContext,
        key_file: Path,
        *,
        host: str = "127.0.0.1",
        autoconfig: Callable[[], str] | None = None,
    ) -> None:
        super().__init__(tls_context, host=host)
        self.domain = domain
        self._autoconfig = autoconfig  # the provider's autoconfig file (OAuth2 named in it)
        self.hostname = f"auth.{domain}"
        self.authorization = WorldAuthorizationServer(domain, users, key_file)

    @property
    def issuer(self) -> str:
        return self.authorization.issuer

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/.well-known/oauth-authorization-server", self._metadata),
            web.get("/.well-known/openid-configuration", self._metadata),
            web.get("/jwks.json", self._jwks),
            web.get("/authorize", self._authorize_page),
            web.post("/authorize", self._authorize_answer),
            web.post("/token", self._token),
            web.get("/.well-known/autoconfig/mail/config-v1.1.xml", self._autoconfig_file),
            web.get("/mail/config-v1.1.xml", self._autoconfig_file),  # as autoconfig.<domain>
        ]

    async def start(self, port: int = 0) -> int:
        port = await super().start(port)
        self.authorization.set_issuer(f"https://{self.hostname}:{port}/")
        return port

    def metadata(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": base + "authorize",
            "token_endpoint": base + "token",
            "jwks_uri": base + "jwks.json",
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,  # RFC 9207
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response(self.metadata())

    async def _autoconfig_file(self, request: web.Request) -> web.Response:
        if self._autoconfig is None:
            raise web.HTTPNotFound()
        return web.Response(text=self._autoconfig(), content_type="application/xml")

    async def _jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.authorization.key.as_dict(private=False)]})

    async def _world_request(self, request: web.Request) -> WorldRequest:
        form = dict(await request.post()) if request.method == "POST" else {}
        return WorldRequest(
            request.method,
            self.issuer.rstrip("/") + request.path_qs,
            dict(request.headers),
            dict(request.query),
            {k: v for k, v in form.items() if isinstance(v, str)},
        )

    def _answer(self, answer: object) -> web.Response:
        assert isinstance(answer, OAuthAnswer)  # WorldAuthorizationServer.handle_response's
        body = answer.body
        response = web.Response(
            status=answer.status,
            text=body if isinstance(body, str) else json.dumps(body),
            content_type="application/json",
        )
        for name, value in answer.headers.items():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    async def _authorize_page(self, request: web.Request) -> web.Response:
        world_request = await self._world_request(request)
        try:
            self.authorization.get_consent_grant(world_request)
        except OAuth2Error as exc:  # the request itself is wrong: no redirect to trust
            description = exc.description or exc.error or ""
            log.info("%s: authorization request refused: %s", self.hostname, description)
            return consent_error(description)
        return consent_form(self.domain, dict(request.query))

    async def _authorize_answer(self, request: web.Request) -> web.Response:
        world_request = await self._world_request(request)
        form = world_request.form
        try:
            grant = self.authorization.get_consent_grant(world_request)
        except OAuth2Error as exc:
            return consent_error(exc.description or exc.error or "")
        user = None
        if form.get("action") == "approve":
            mailbox = self.authorization.users.authenticate(
                form.get("username", ""), form.get("password", "")
            )
            if mailbox is None:
                params = {k: form[k] for k in AUTHORIZE_FIELDS if k in form}
                return consent_form(
                    self.domain, params, error="Wrong user name or password.", status=401
                )
            user = OAuthUser(mailbox)
        return self._answer(
            self.authorization.create_authorization_response(
                world_request, grant_user=user, grant=grant
            )
        )

    async def _token(self, request: web.Request) -> web.Response:
        world_request = await self._world_request(request)
        answer: object = self.authorization.create_token_response(world_request)
        assert isinstance(answer, OAuthAnswer)  # WorldAuthorizationServer.handle_response's
        if answer.status != 200:
            log.info("%s: token request refused: %s", self.hostname, answer.body.get("error"))
        return self._answer(answer)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to {domain}</title>
<style>body{{font-family:sans-serif;max-width:28em;margin:3em auto}}
label{{display:block;margin:.6em 0}}input[type=text],input[type=password]{{width:100%}}
.error{{color:#b00}}</style></head>
<body><h1>Sign in to {domain}</h1>
{body}
</body></html>
"""


def consent_form(
    domain: str, params: dict[str, str], *, error: str = "", status: int = 200
) -> web.Response:
    hidden = "\n".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k in AUTHORIZE_FIELDS
    )
    scope = " ".join(params.get("scope", "").split())
    body = f"""<p><b>{html.escape(params.get("client_id", ""))}</b> asks to read and send your mail
(scope: <code>{html.escape(scope)}</code>).</p>
{f'<p class="error">{html.escape(error)}</p>' if error else ""}
<form method="post" action="/authorize">
{hidden}
<label>User name <input type="text" name="username"
 value="{html.escape(params.get("login_hint", ""))}" autocomplete="username"></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit" name="action" value="approve">Allow</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>"""
    return web.Response(
        status=status,
        text=PAGE.format(domain=html.escape(domain), body=body),
        content_type="text/html",
    )


def consent_error(description: str) -> web.Response:
    body = f'<p class="error">This sign-in request cannot be used: {html.escape(description)}</p>'
    return web.Response(
        status=400, text=PAGE.format(domain="", body=body), content_type="text/html"
    )
