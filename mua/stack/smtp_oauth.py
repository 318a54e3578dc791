"""The MSA's OAuth2 mechanisms, XOAUTH2 and OAUTHBEARER (RFC 7628), for a session thread.

A good token: 235. A refused one: the RFC 7628 error challenge (`334 <base64 JSON>`), the
client's dummy response (empty for XOAUTH2, ^A for OAUTHBEARER), then `535 5.7.8 <why>`.
The token is checked by the provider's `TokenVerifier`, or in the MSA process by the parent's,
asked over a pipe (`msa_process.RemoteTokens`): a coroutine of the event loop that started the
MSA, which the session thread waits for.
"""

from __future__ import annotations

import asyncio
import logging

from mua.stack.oauth_tokens import (
    SaslError,
    TokenCheck,
    TokenRefused,
    error_challenge,
    parse_oauthbearer,
    parse_xoauth2,
)
from mua.stack.submission_session import AUTH_INVALID, BearerRefusal
from mua.stack.users import Mailbox

log = logging.getLogger(__name__)

PARSERS = {"XOAUTH2": parse_xoauth2, "OAUTHBEARER": parse_oauthbearer}
CHECK_TIMEOUT = 30.0  # seconds a session waits for its token to be checked


def check_bearer(
    verifier: TokenCheck | None,
    loop: asyncio.AbstractEventLoop | None,
    mechanism: str,
    message: bytes,
) -> Mailbox | BearerRefusal:
    """The mailbox whose token `message` (the client's SASL message) carries, or how to refuse
    it. Called from a session thread; `verifier.check` runs on `loop`."""
    if verifier is None or loop is None:
        return BearerRefusal(AUTH_INVALID)
    try:
        response = PARSERS[mechanism](message)
        check = verifier.check(response.token, response.user)
        return asyncio.run_coroutine_threadsafe(check, loop).result(CHECK_TIMEOUT)
    except SaslError as exc:
        return BearerRefusal(f"501 5.5.2 Invalid {mechanism}: {exc}")
    except TokenRefused as refused:
        log.info("AUTH %s refused for %r: %s", mechanism, response.user, refused.reason)
        return BearerRefusal(
            f"535 5.7.8 {refused.reason}", error_challenge(refused.status, verifier.issuer)
        )
    except TimeoutError:
        log.warning("AUTH %s: the token check took over %.0f s", mechanism, CHECK_TIMEOUT)
        return BearerRefusal("454 4.7.0 Temporary authentication failure")
