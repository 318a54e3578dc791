"""AUTH XOAUTH2 / OAUTHBEARER (RFC 5034 POP3 SASL, RFC 7628) for the world's POP3 server.

A good token signs the session in as USER/PASS does. A refused one: the error challenge
(`+ <base64 JSON>`), the client's dummy response, then `-ERR [AUTH] <why>`. Offered only over
TLS (implicit, or after STLS), when the server has a `token_verifier` (set by the provider),
also where a legacy provider lets passwords cross in clear.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import TYPE_CHECKING

from mua.stack.oauth_tokens import (
    SaslError,
    TokenRefused,
    error_challenge,
    parse_oauthbearer,
    parse_xoauth2,
)

if TYPE_CHECKING:
    from mua.stack.pop3.server import Session

log = logging.getLogger(__name__)

PARSERS = {"XOAUTH2": parse_xoauth2, "OAUTHBEARER": parse_oauthbearer}


def mechanisms(session: Session) -> list[str]:
    """The token mechanisms this session may use: over TLS, with a verifier."""
    if session.server.token_verifier is None or not session.tls_active:
        return []
    return list(PARSERS)


async def authenticate_bearer(session: Session, mechanism: str, initial: str | None) -> None:
    from mua.stack.pop3.commands import Close

    verifier = session.server.token_verifier
    if verifier is None:
        await session.send("-ERR Unsupported mechanism; use PLAIN")
        return
    if not session.tls_active:
        await session.send("-ERR [AUTH] Tokens are accepted only over TLS")
        return
    if initial is None:  # no initial response: an empty challenge asks for it
        await session.send("+ ")
        initial = await session.read_line()
        if initial is None:
            raise Close from None
    if initial == "*":
        await session.send("-ERR Authentication cancelled")
        return
    try:
        response = PARSERS[mechanism](base64.b64decode(initial, validate=True))
        mailbox = verifier.verify(response.token, response.user)
    except (binascii.Error, SaslError):
        await session.send(f"-ERR Invalid {mechanism} response")
        return
    except TokenRefused as refused:
        log.info("POP3 %s refused for %s: %s", mechanism, session.peer, refused.reason)
        challenge = base64.b64encode(error_challenge(refused.status, verifier.issuer)).decode()
        await session.send(f"+ {challenge}")
        if await session.read_line() is None:  # the client's dummy response (RFC 7628 3.2.3)
            raise Close from None
        await session.send(f"-ERR [AUTH] {refused.reason}")
        return
    await session.open_maildrop(mailbox)
