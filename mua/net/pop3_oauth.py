"""POP3 sign-in with an OAuth2 access token: AUTH XOAUTH2 or OAUTHBEARER (RFC 5034, RFC 7628).

poplib speaks no SASL, so the exchange is sent raw through poplib's own command helper
(`POP3._shortcmd`: one line out, one status line back, `error_proto` on "-ERR"; a "+ "
continuation counts as a success for it, which is what lets the exchange go on):

    C: AUTH XOAUTH2                      (RFC 5034 section 4: the initial response would
    S: +                                  make the command longer than 255 octets, so it
    C: <base64 initial response>          goes after an empty challenge)
    S: +OK Maildrop locked ...           a good token
    S: + <base64 JSON error>             a refused one (RFC 7628 section 3.2.2): the client
    C: <dummy response>                   answers, and the server ends the exchange:
    S: -ERR [AUTH] <why>

Only over TLS: a token in clear is as good as a password to whoever reads it.
"""

from __future__ import annotations

import poplib
from typing import Any

from mua.core.i18n import T_
from mua.net.errors import CleartextRefused, NetError, TokenRefused
from mua.net.pop3 import MaildropInUse, Pop3Error, Pop3Session, _translate
from mua.net.sasl_oauth import (
    dummy_response,
    initial_response,
    read_error_challenge,
    refusal_sentence,
)

MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


def login_bearer(
    session: Pop3Session, username: str, token: str, mechanism: str = "XOAUTH2"
) -> None:
    """Sign `session` in with `token`. Raises `TokenRefused` (the caller refreshes the token
    once and tries again), `CleartextRefused` without TLS, `Pop3Error` otherwise."""
    if mechanism not in MECHANISMS:
        raise ValueError(f"unknown mechanism {mechanism!r}")
    if not session.tls.encrypted:
        raise CleartextRefused.for_token()
    endpoint = session.endpoint
    client = session.client
    response = initial_response(mechanism, username, token, endpoint.verify_name, endpoint.port)
    try:
        _command(client, f"AUTH {mechanism}")  # "+ ": send the response
        reply = _command(client, response.decode("ascii"))
        if not reply.startswith(b"+OK"):  # "+ <challenge>": the token was refused
            error = read_error_challenge(reply[1:].decode("ascii", "replace"))
            try:
                _command(client, dummy_response(mechanism).decode("ascii"))
            except poplib.error_proto as exc:
                raise _refused(session, error, exc) from exc
            raise Pop3Error(
                T_("{where} answered the sign-in oddly; try again.", where=endpoint.describe())
            )
        session.auth = mechanism
    except poplib.error_proto as exc:
        text = str(exc)
        if "[IN-USE]" in text:
            raise MaildropInUse(
                T_(
                    "{where} says another program is reading this mailbox; try again when "
                    "it is done.",
                    where=endpoint.describe(),
                )
            ) from exc
        if "[SYS/TEMP]" in text:
            raise Pop3Error(
                T_("{where} cannot open the mailbox now; try again later.",
                   where=endpoint.describe())
            ) from exc  # fmt: skip
        raise _refused(session, {}, exc) from exc
    except NetError:
        raise
    except BaseException as exc:
        raise _translate(exc, endpoint, T_("signing in")) from exc


def _command(client: poplib.POP3, line: str) -> bytes:
    """One line out, its status line back: poplib's private `_shortcmd`, which typeshed omits."""
    reply: bytes = client._shortcmd(line)  # type: ignore[attr-defined]
    return reply


def _refused(session: Pop3Session, error: dict[str, Any], exc: poplib.error_proto) -> TokenRefused:
    said = " ".join(_said(exc).split())[:160]
    return TokenRefused(
        refusal_sentence(session.endpoint.describe(), error, said),
        status=str(error.get("status") or ""),
    )


def _said(exc: poplib.error_proto) -> str:
    raw = exc.args[0] if exc.args else b""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
