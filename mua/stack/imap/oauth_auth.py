"""AUTHENTICATE XOAUTH2 / OAUTHBEARER (RFC 7628) for the world's IMAP server.

A good token signs the session in as LOGIN does. A refused one: the error challenge
(`+ <base64 JSON>`), the client's dummy response, then `NO [AUTHENTICATIONFAILED] <why>`.
Offered only over TLS, when the server has a `token_verifier` (set by the provider). The
exchange itself is `mua.stack.sasl_bearer`'s (the POP3 server's too); this is IMAP's framing.
Named as `mua.stack.pop3.oauth_auth` is: the same step in each protocol's server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mua.stack.imap import command_reader
from mua.stack.imap.session import CloseConnection
from mua.stack.sasl_bearer import PARSERS as PARSERS
from mua.stack.sasl_bearer import BearerFailure, Failure, check_bearer

if TYPE_CHECKING:
    from mua.stack.imap.server import Session

_REPLIES = {
    Failure.CANCELLED: "BAD Authentication cancelled",
    Failure.MALFORMED: "BAD Invalid {mechanism} response",
    Failure.REFUSED: "NO [AUTHENTICATIONFAILED] {reason}",
}


async def authenticate_bearer(
    session: Session, tag: str, mechanism: str, initial: str | None
) -> None:
    verifier = session.server.token_verifier
    if verifier is None or not session.tls_active:
        await session.send(f"{tag} NO Unsupported authentication mechanism")
        return

    async def ask(continuation: str) -> str:
        return await _read_response(session, continuation)

    outcome = await check_bearer(
        verifier, mechanism, initial, ask, protocol="IMAP", peer=session.peer
    )
    if isinstance(outcome, BearerFailure):
        await session.send(f"{tag} {outcome.worded(_REPLIES, mechanism)}")
        return
    await session.signed_in(tag, outcome)


async def _read_response(session: Session, continuation: str) -> str:
    await session.send(continuation)
    line = await command_reader.read_line(
        session.reader, max_line=session.server.limits.max_line, timeout=60
    )
    if line is None:
        raise CloseConnection
    return line.decode("ascii", "replace").strip()
