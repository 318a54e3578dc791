"""The MSA's OAuth2 mechanisms: aiosmtpd `auth_XOAUTH2` / `auth_OAUTHBEARER` handler hooks.

A good token: 235. A refused one: the RFC 7628 error challenge (`334 <base64 JSON>`), the
client's dummy response (empty for XOAUTH2, ^A for OAUTHBEARER), then `535 5.7.8 <why>`.
Mixed into the MSA's handler; `token_verifier` is set by `Msa.accept_tokens`: the provider's
`TokenVerifier`, or in the MSA process the parent's, asked over a pipe (`msa_process`).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable

from aiosmtpd.smtp import MISSING, AuthResult

from mua.stack.oauth_tokens import (
    BearerResponse,
    SaslError,
    TokenCheck,
    TokenRefused,
    error_challenge,
    parse_oauthbearer,
    parse_xoauth2,
)
from mua.stack.smtpd import WorldSMTP

log = logging.getLogger(__name__)


class OAuthSubmission:
    token_verifier: TokenCheck | None = None

    async def auth_XOAUTH2(self, server: WorldSMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "XOAUTH2", parse_xoauth2)

    async def auth_OAUTHBEARER(self, server: WorldSMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "OAUTHBEARER", parse_oauthbearer)

    async def _bearer(
        self,
        server: WorldSMTP,
        args: list[str],
        mechanism: str,
        parse: Callable[[bytes], BearerResponse],
    ) -> AuthResult:
        if self.token_verifier is None:
            return AuthResult(success=False, handled=False)
        if not server.over_tls():  # the legacy listener in clear: no token crosses it
            return AuthResult(
                success=False,
                handled=False,
                message="538 5.7.11 Encryption required for requested authentication mechanism",
            )
        if len(args) > 1:
            try:
                message = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                return AuthResult(
                    success=False, handled=False, message="501 5.5.2 Can't decode base64"
                )
        else:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
            assert isinstance(blob, bytes)
            message = blob
        try:
            response = parse(message)
            mailbox = await self.token_verifier.check(response.token, response.user)
        except SaslError as exc:
            return AuthResult(
                success=False, handled=False, message=f"501 5.5.2 Invalid {mechanism}: {exc}"
            )
        except TokenRefused as refused:
            log.info("AUTH %s refused for %r: %s", mechanism, response.user, refused.reason)
            challenge = error_challenge(refused.status, self.token_verifier.issuer)
            # The client answers the challenge with a dummy response; then the final reply.
            if await server.challenge_auth(challenge) is MISSING:
                return AuthResult(success=False, handled=True)
            return AuthResult(success=False, handled=False, message=f"535 5.7.8 {refused.reason}")
        return AuthResult(success=True, auth_data=mailbox)
