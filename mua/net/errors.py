"""What can go wrong on the network, as one hierarchy a caller catches by meaning.

Submission, IMAP, POP3, HTTP fetches and DNS raise these, so "bad certificate" is caught
once, not once per protocol. Each class also inherits the builtin it resembles, as
aiosmtplib's `errors.py` does (`SMTPTimeoutError(SMTPException, TimeoutError)`): a timeout
stays a `TimeoutError`, a refused or dropped connection a `ConnectionError`, a refused
password or certificate a `PermissionError`.

str() of each is one sentence for a user: what happened, and what to do. A protocol keeps a
subclass of `ProtocolError` only where callers tell its refusals apart (`ImapError`,
`Pop3Error`, `SubmissionError` and its kinds).
"""

from __future__ import annotations

import ssl
from typing import TypeVar

from mua.core.i18n import T_
from mua.net.tls import CertificateProblem, describe_certificate_error

_E = TypeVar("_E", bound=BaseException)


class NetError(Exception):
    """A network step failed. `code`: the server's reply code, when it answered one (SMTP);
    `temporary`: whether trying again later may work (by default: a 4xx code, or the
    class's `TEMPORARY`)."""

    TEMPORARY = False

    def __init__(self, message: str, *, code: int | None = None, temporary: bool | None = None):
        super().__init__(message)
        self.code = code
        if temporary is None:
            temporary = 400 <= code < 500 if code is not None else self.TEMPORARY
        self.temporary = temporary


class Unreachable(NetError, ConnectionError):
    """No connection: the name not found, the connection refused or dropped, TLS not set up."""

    TEMPORARY = True


class NetTimeout(NetError, TimeoutError):
    """A network step took longer than its timeout."""

    TEMPORARY = True

    @classmethod
    def waiting(cls, where: str, seconds: float, doing: str) -> NetTimeout:
        """The server `where` ("host port N") gave no answer while `doing` something."""
        return cls(
            T_(
                "{where} did not answer within {seconds} seconds while {doing}; try again "
                "later, or check the port and security setting.",
                where=where,
                seconds=f"{seconds:g}",
                doing=doing,
            )
        )


class AuthenticationFailed(NetError, PermissionError):
    """The server refused the credentials (or offers no sign-in this program can use)."""


class TokenRefused(AuthenticationFailed):
    """The server refused an OAuth2 access token (expired, revoked, another account): the
    caller refreshes it once and tries again. `status`: the RFC 7628 error challenge's
    ("invalid_token", "insufficient_scope"), "" when the server sent none."""

    def __init__(self, message: str, *, status: str = "") -> None:
        super().__init__(message)
        self.status = status


class CertificateInvalid(NetError, PermissionError):
    """The server's certificate failed verification: `reason`, what is wrong with it;
    `detail`, OpenSSL's text."""

    def __init__(self, message: str, *, reason: CertificateProblem, detail: str) -> None:
        super().__init__(message, temporary=False)
        self.reason = reason
        self.detail = detail

    @classmethod
    def of(cls, exc: ssl.SSLCertVerificationError, where: str) -> CertificateInvalid:
        """What ssl's verification failure means for the server `where`, in one sentence."""
        reason, text, detail = describe_certificate_error(exc, where)
        return cls(text, reason=reason, detail=detail)


class CleartextRefused(NetError):
    """TLS was required but not offered, or a password would have crossed in the clear."""

    @classmethod
    def for_token(cls) -> CleartextRefused:
        """A bearer token is never sent without TLS, consent or not (RFC 6750 section 5.3:
        "Always use TLS"): IMAP's and POP3's OAuth sign-in refuse with this one sentence."""
        return cls(T_("This program does not send a sign-in token over an unencrypted connection."))


class ProtocolError(NetError):
    """The server refused a command or answered something unexpected."""


def chained(exc: BaseException | None, kind: type[_E]) -> _E | None:
    """The first `kind` among `exc` and what caused it (a library's error often wraps the
    ssl or socket error that says what happened)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
