"""What can go wrong in SMTP submission, as exceptions a caller can catch by meaning.

`translate` turns what aiosmtplib, ssl and the socket layer raised into the `mua.net.errors`
error whose str() is one sentence for a user: what happened, and what to do. The refusals
only submission has (sender, recipients, message, REQUIRETLS) are `SubmissionError`s.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Mapping

import aiosmtplib

from mua.core.i18n import T_
from mua.net.errors import (
    AuthenticationFailed,
    CertificateInvalid,
    NetError,
    NetTimeout,
    ProtocolError,
    Unreachable,
    chained,
)

CONNECTING = T_("connecting")


class SubmissionError(ProtocolError):
    """The server refused a command of the submission; `code` is its reply code."""


class SenderRefused(SubmissionError):
    """MAIL FROM was refused (often: the account may not send from that address)."""


class RecipientsRefused(SubmissionError):
    def __init__(self, message: str, refused: Mapping[str, tuple[int, str]], code: int) -> None:
        super().__init__(message, code=code)
        self.refused = dict(refused)  # address -> (code, server text), every recipient


class RequireTlsUnsupported(SubmissionError):
    """REQUIRETLS (RFC 8689) was asked for, and the server does not advertise it."""


class MessageRefused(SubmissionError):
    """DATA was refused: the message itself (size, content, policy)."""


def _said(code: int, text: str) -> str:
    return f'"{code} {" ".join(text.split())[:160]}"'


def translate(exc: BaseException, where: str, host: str, doing: str, timeout: float) -> NetError:
    """The error that says, in one sentence, what `exc` means for the user, who
    was `doing` something with the server `where` ("host port N"), named `host`."""
    if (cert := chained(exc, ssl.SSLCertVerificationError)) is not None:
        return CertificateInvalid.of(cert, where)
    # asyncio aborts a handshake that outlives ssl_handshake_timeout with ConnectionAbortedError
    aborted = isinstance(exc, aiosmtplib.SMTPConnectError) and isinstance(
        exc.__cause__, ConnectionAbortedError
    )
    if isinstance(exc, TimeoutError) or aborted:
        return NetTimeout.waiting(where, timeout, doing)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        first = exc.recipients[0]
        said = f"{first.recipient}: {_said(first.code, first.message)}"
        return RecipientsRefused(
            T_(
                "{where} refused every recipient ({said}); check the addresses.",
                where=where,
                said=said,
            ),
            {r.recipient: (r.code, r.message) for r in exc.recipients},
            code=max(r.code for r in exc.recipients),  # temporary only if all were
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code, said = exc.code, _said(exc.code, exc.message)
        later = 400 <= code < 500
        advice = T_("try again later") if later else T_("check the account settings")
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError) and code < 500:
            text = T_(
                "{where} could not check the password right now ({said}); {advice}.",
                where=where,
                said=said,
                advice=advice,
            )
            return AuthenticationFailed(text, code=code)
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            text = T_(
                "{where} rejected the user name or password ({said}); check them.",
                where=where,
                said=said,
            )
            return AuthenticationFailed(text, code=code)
        if isinstance(exc, aiosmtplib.SMTPSenderRefused):
            text = T_(
                "{where} refused the sender {sender} ({said}); check that your account may send "
                "from that address.",
                where=where,
                sender=exc.sender,
                said=said,
            )
            return SenderRefused(text, code=code)
        if isinstance(exc, aiosmtplib.SMTPDataError):
            advice = advice if code < 500 else T_("check its size and attachments")
            text = T_(
                "{where} refused the message ({said}); {advice}.",
                where=where,
                said=said,
                advice=advice,
            )
            return MessageRefused(text, code=code)
        text = T_(
            "{where} answered {said} while {doing}; {advice}.",
            where=where,
            said=said,
            doing=doing,
            advice=advice,
        )
        return SubmissionError(text, code=code)
    if (tls := chained(exc, ssl.SSLError)) is not None:
        return Unreachable(
            T_(
                "TLS with {where} failed ({why}); check that the security setting matches the "
                "port (465: TLS, 587: STARTTLS).",
                where=where,
                why=tls.reason or tls,
            ),
            temporary=False,  # often the wrong port: trying again will not help
        )
    if chained(exc, socket.gaierror) is not None:
        return Unreachable(
            T_(
                "The server name {host} could not be found; check it, and that this computer "
                "is online.",
                host=host,
            ),
        )
    if doing != CONNECTING:
        text = T_(
            "{where} closed the connection while {doing}; try again later.",
            where=where,
            doing=doing,
        )
        return Unreachable(text)
    cause = chained(exc, OSError)
    why = os.strerror(cause.errno) if cause and cause.errno else str(exc)
    return Unreachable(
        T_(
            "Could not connect to {where} ({why}); check the server name and port, and that "
            "this computer is online.",
            where=where,
            why=why,
        ),
    )
