"""AUTHENTICATE XOAUTH2 / OAUTHBEARER (RFC 7628) for the world's IMAP server.

A good token signs the session in as LOGIN does. A refused one: the error challenge
(`+ <base64 JSON>`), the client's dummy response, then `NO [AUTHENTICATIONFAILED] <why>`.
Offered only over TLS, when the server has a `token_verifier` (set by the provider).
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import TYPE_CHECKING

from mua.stack.imap import protocol
from mua.stack.oauth_tokens import (
    SaslError,
    TokenRefused,
    error_challenge,
    parse_oauthbearer,
    parse_xoauth2,
)

if TYPE_CHECKING:
    from mua.stack.imap.server import Session

log = logging.getLogger(__name__)

PARSERS = {"XOAUTH2": parse_xoauth2, "OAUTHBEARER": parse_oauthbearer}


async def authenticate_bearer(
    session: Session, tag: str, mechanism: str, initial: str | None
) -> None:
    verifier = session.server.token_verifier
    if verifier is None or not session.tls_active:
        await session.send(f"{tag} NO Unsupported authentication mechanism")
        return
    if initial is None:  # no SASL-IR: an empty challenge asks for the response
        initial = await _read_response(session, "+ ")
        if initial is None:
            return
    if initial == "*":
        await session.send(f"{tag} BAD Authentication cancelled")
        return
    try:
        response = PARSERS[mechanism](base64.b64decode(initial, validate=True))
        mailbox = verifier.verify(response.token, response.user)
    except (binascii.Error, SaslError):
        await session.send(f"{tag} BAD Invalid {mechanism} response")
        return
    except TokenRefused as refused:
        log.info("IMAP %s refused for %s: %s", mechanism, session.peer, refused.reason)
        challenge = base64.b64encode(error_challenge(refused.status, verifier.issuer)).decode()
        if await _read_response(session, f"+ {challenge}") is None:
            return
        await session.send(f"{tag} NO [AUTHENTICATIONFAILED] {refused.reason}")
        return
    await session.signed_in(tag, mailbox)


async def _read_response(session: Session, continuation: str) -> str | None:
    from mua.stack.imap.server import CloseConnection

    await session.send(continuation)
    line = await protocol.read_line(
        session.reader, max_line=session.server.limits.max_line, timeout=60
    )
    if line is None:
        raise CloseConnection
    return line.decode("ascii", "replace").strip()
