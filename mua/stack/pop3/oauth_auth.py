"""AUTH XOAUTH2 / OAUTHBEARER (RFC 5034 POP3 SASL, RFC 7628) for the world's POP3 server.

A good token signs the session in as USER/PASS does. A refused one: the error challenge
(`+ <base64 JSON>`), the client's dummy response, then `-ERR [AUTH] <why>`. Offered only over
TLS (implicit, or after STLS), when the server has a `token_verifier` (set by the provider),
also where a legacy provider lets passwords cross in clear. The exchange itself is
`mua.stack.sasl_bearer`'s (the IMAP server's too); this is POP3's framing.
Named as `mua.stack.imap.oauth_auth` is: the same step in each protocol's server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mua.stack.pop3.state import Close
from mua.stack.sasl_bearer import PARSERS, BearerFailure, Failure, check_bearer

if TYPE_CHECKING:
    from mua.stack.pop3.server import Session

_REPLIES = {
    Failure.CANCELLED: "-ERR Authentication cancelled",
    Failure.MALFORMED: "-ERR Invalid {mechanism} response",
    Failure.REFUSED: "-ERR [AUTH] {reason}",
}


def mechanisms(session: Session) -> list[str]:
    """The token mechanisms this session may use: over TLS, with a verifier."""
    if session.server.token_verifier is None or not session.tls_active:
        return []
    return list(PARSERS)


async def authenticate_bearer(session: Session, mechanism: str, initial: str | None) -> None:
    verifier = session.server.token_verifier
    if verifier is None:
        await session.send("-ERR Unsupported mechanism; use PLAIN")
        return
    if not session.tls_active:
        await session.send("-ERR [AUTH] Tokens are accepted only over TLS")
        return

    async def ask(continuation: str) -> str:
        await session.send(continuation)
        line = await session.read_line()
        if line is None:
            raise Close
        return line

    outcome = await check_bearer(
        verifier, mechanism, initial, ask, protocol="POP3", peer=session.peer
    )
    if isinstance(outcome, BearerFailure):
        await session.send(outcome.worded(_REPLIES, mechanism))
        return
    await session.open_maildrop(outcome)
