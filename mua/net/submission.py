"""SMTP submission (RFC 6409) over implicit TLS or STARTTLS, reporting what protected it.

`submit` hands one message to a mail submission agent and returns the TLS facts it observed;
`probe` connects, reads the capabilities and leaves, for account setup. Certificates are always
verified; STARTTLS is required, never silently skipped; a password never crosses a connection
that is not encrypted unless the account's explicit consent (`allow_cleartext_auth`) says it
may, and then the result says it did. Failures are `mua.net.errors` errors whose str() is one
sentence for a user (mua/net/submission_errors.py words them).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from mua.core.i18n import T_
from mua.core.tls_facts import Security, TlsFacts, TlsMode, VerifiedBy
from mua.net.errors import AuthenticationFailed, CleartextRefused, NetError
from mua.net.sasl_oauth import BearerAuth, smtp_bearer
from mua.net.submission_errors import CONNECTING, RequireTlsUnsupported, translate
from mua.net.submission_recipients import send_in_transactions
from mua.net.tls import CertificateProblem, client_context, facts_from_ssl_object

__all__ = ["CertificateProblem", "Security"]  # re-exported: callers of submit() need them

log = logging.getLogger(__name__)

_ROLE_PORTS = {Security.IMPLICIT: 465, Security.STARTTLS: 587, Security.NONE: 587}
_MODES = {Security.IMPLICIT: TlsMode.IMPLICIT, Security.STARTTLS: TlsMode.STARTTLS}
# Preferred first. Over TLS, PLAIN is as safe as any; only one is tried, so a wrong password
# costs one failed attempt on the server, not one per mechanism.
_MECHANISMS = ("plain", "login", "cram-md5")


@dataclass(frozen=True)
class SubmissionEndpoint:
    host: str
    port: int
    security: Security
    ca_file: Path | None = None  # None: the system trust store
    server_name: str | None = None  # the name to verify and send as SNI, when host is an address
    role_port: int | None = None  # the standard port this stands for (465/587), for the leg

    @property
    def verify_name(self) -> str:
        return self.server_name or self.host

    @property
    def port_role(self) -> int:
        return self.role_port or _ROLE_PORTS[self.security]

    def describe(self) -> str:
        return T_("{host} port {port}", host=self.verify_name, port=self.port)


@dataclass(frozen=True)
class SubmissionResult:
    tls: TlsFacts
    response: str  # the server's reply to the message, often with a queue id
    refused: Mapping[str, tuple[int, str]]  # recipients refused while the others were accepted
    port_role: int
    port_actual: int
    password_in_clear: bool = False  # credentials crossed without TLS, as the user allowed
    auth: str | None = None  # the SASL mechanism signed in with (PLAIN, XOAUTH2, ...), if any


@dataclass(frozen=True)
class ProbeResult:
    tls: TlsFacts
    greeting: str
    auth_mechanisms: tuple[str, ...]  # upper case, as advertised (after TLS, when TLS is used)
    starttls_offered: bool  # in the last EHLO; after an upgrade servers stop offering it
    max_size: int | None  # SIZE (RFC 1870), when the server states a limit
    port_role: int
    port_actual: int


_NO_PASSWORD_IN_CLEAR = T_(
    "This program does not send a password over an unencrypted connection; choose TLS "
    "(port 465) or STARTTLS (port 587) in the account settings."
)
_NO_CONSENT_FOR_PASSWORD = T_(
    "This server takes a password only without encryption, where anyone on the network can "
    "read it; nothing was sent. Choose TLS (port 465) or STARTTLS (port 587), or allow "
    "passwords in clear for this account if you accept that risk."
)


class _Conversation:
    """One session with one endpoint: connect, EHLO, STARTTLS, EHLO; errors translated."""

    def __init__(
        self,
        endpoint: SubmissionEndpoint,
        timeout: float,
        local_hostname: str | None,
        *,
        allow_cleartext_auth: bool = False,
    ):
        self.endpoint, self.timeout, self.local_hostname = endpoint, timeout, local_hostname
        self.allow_cleartext_auth = allow_cleartext_auth
        self.password_in_clear = False
        self.auth: str | None = None
        self.smtp = aiosmtplib.SMTP()  # replaced by the connected client in _open()
        self.tls = TlsFacts.cleartext()
        self.greeting = ""

    async def __aenter__(self) -> _Conversation:
        try:
            await self._open()
        except BaseException:
            self.smtp.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        transport = self.smtp.transport
        self.smtp.close()
        await _closed(transport)

    @contextmanager
    def step(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            if isinstance(exc, NetError):
                raise
            error = translate(
                exc, self.endpoint.describe(), self.endpoint.host, doing, self.timeout
            )
            log.info("submission to %s failed: %s", self.endpoint.describe(), error)
            log.debug("the underlying error", exc_info=True)
            raise error from exc

    async def _open(self) -> None:
        endpoint, implicit = self.endpoint, self.endpoint.security is Security.IMPLICIT
        with self.step(CONNECTING):
            async with asyncio.timeout(self.timeout):
                sock = await _open_socket(endpoint.host, endpoint.port)
        try:
            # Our own socket: given one, aiosmtplib verifies and sends SNI for `hostname`
            # rather than for the address it connected to.
            self.smtp = aiosmtplib.SMTP(
                hostname=endpoint.verify_name,
                sock=sock,
                local_hostname=self.local_hostname or _address_literal(sock),
                timeout=self.timeout,
                use_tls=implicit,
                start_tls=False,
                tls_context=client_context(endpoint.ca_file) if implicit else None,
            )
        except BaseException:
            sock.close()
            raise
        smtp = self.smtp  # from here on its transport owns the socket
        with self.step(T_("setting up TLS") if implicit else T_("waiting for the greeting")):
            self.greeting = (await smtp.connect()).message
        with self.step(T_("greeting the server (EHLO)")):
            await smtp.ehlo()
        if endpoint.security is Security.STARTTLS:
            if not smtp.supports_extension("starttls"):
                raise CleartextRefused(
                    T_(
                        "{where} did not offer STARTTLS (or something on the network removed "
                        "the offer), so nothing was sent; use port 465 with TLS, or ask your "
                        "provider.",
                        where=endpoint.describe(),
                    )
                )
            with self.step(T_("setting up STARTTLS")):
                context = client_context(endpoint.ca_file)
                await smtp.starttls(server_hostname=endpoint.verify_name, tls_context=context)
            with self.step(T_("greeting the server again after STARTTLS")):
                await smtp.ehlo()
        if endpoint.security in _MODES:
            self.tls = facts_from_ssl_object(
                smtp.get_transport_info("ssl_object"),
                _MODES[endpoint.security],
                verified=True,  # client_context verifies chain and name, or we failed above
                verified_by=VerifiedBy.PKI,
                peer_name=endpoint.verify_name,
            )
        log.info("connected to %s: %s", endpoint.describe(), self.tls.summary())

    async def authenticate(self, username: str, password: str) -> None:
        smtp = self.smtp
        in_clear = smtp.get_transport_info("sslcontext") is None
        if in_clear and not self.allow_cleartext_auth:  # _open() ensures TLS; make sure
            raise CleartextRefused(_NO_PASSWORD_IN_CLEAR)
        offered = [m for m in _MECHANISMS if m in smtp.server_auth_methods]
        if not offered:
            listed = ", ".join(smtp.server_auth_methods) or T_("none")
            raise AuthenticationFailed(
                T_(
                    "{where} offers no sign-in method this program supports ({offered}); check "
                    "the port and security setting.",
                    where=self.endpoint.describe(),
                    offered=listed,
                )
            )
        mechanism = offered[0].upper()
        log.info("authenticating to %s with AUTH %s", self.endpoint.describe(), mechanism)
        if in_clear:
            log.warning(
                "AUTH %s to %s without TLS, as allowed", mechanism, self.endpoint.describe()
            )
        with self.step(f"signing in (AUTH {mechanism})"):
            await getattr(smtp, f"auth_{offered[0].replace('-', '')}")(username, password)
        self.password_in_clear = in_clear
        self.auth = mechanism

    async def authenticate_bearer(self, username: str, bearer: BearerAuth) -> None:
        """OAuth2: XOAUTH2 or OAUTHBEARER with an access token (only over TLS)."""
        if self.smtp.get_transport_info("sslcontext") is None:
            raise CleartextRefused(_NO_PASSWORD_IN_CLEAR)
        log.info("authenticating to %s with AUTH %s", self.endpoint.describe(), bearer.mechanism)
        with self.step(f"signing in (AUTH {bearer.mechanism})"):
            await smtp_bearer(
                self.smtp, username, bearer, self.endpoint.verify_name, self.endpoint.port
            )
        self.auth = bearer.mechanism

    async def quit(self) -> None:
        transport = self.smtp.transport
        try:
            await self.smtp.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            log.debug("QUIT to %s failed after the work was done", self.endpoint.describe())
        await _closed(transport)


async def _closed(transport: asyncio.BaseTransport | None) -> None:
    """Close the connection's socket now. aiosmtplib's close() of a TLS connection only starts
    the TLS shutdown, which waits for the server's close_notify; a caller whose event loop ends
    soon after (the CLI's asyncio.run) left the socket open (a ResourceWarning seen in CI).
    After QUIT, or when giving up, nothing more is owed to the server."""
    if isinstance(transport, asyncio.WriteTransport):  # a socket's: it has abort()
        transport.abort()
        await asyncio.sleep(0)  # the socket closes on the loop's next turn


async def _open_socket(host: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    error = OSError(f"no address for {host}")
    for family, kind, proto, _, address in await loop.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
            return sock
        except BaseException as exc:
            sock.close()
            if not isinstance(exc, OSError):
                raise
            error = exc
    raise error


def _address_literal(sock: socket.socket) -> str:
    """The EHLO name: our address as a literal (RFC 5321 4.1.3); no DNS, nothing to leak."""
    address = sock.getsockname()[0].split("%")[0]
    return f"[IPv6:{address}]" if sock.family == socket.AF_INET6 else f"[{address}]"


async def submit(
    endpoint: SubmissionEndpoint,
    message: EmailMessage | bytes,
    *,
    username: str | None,
    password: str | None,
    sender: str | None = None,
    recipients: Sequence[str] | None = None,
    timeout: float = 30.0,
    local_hostname: str | None = None,
    allow_cleartext: bool = False,
    allow_cleartext_auth: bool = False,
    requiretls: bool = False,
    bearer: BearerAuth | None = None,
) -> SubmissionResult:
    """Submit `message`; sender and recipients default to its headers (Bcc is not sent).

    With `bearer` (OAuth2) the user signs in with `username` and an access token instead of
    a password (mua/net/sasl_oauth.py); `mua.net.oauth.SignInAgain` when none can be had.

    `timeout` bounds every network step (connect, TLS handshake, each command), not the whole.
    `Security.NONE` needs `allow_cleartext=True`, and with credentials
    `allow_cleartext_auth=True` too (the account's explicit consent to the password crossing
    in clear). Raises a `mua.net.errors.NetError`; recipients refused while others were accepted are
    listed in `SubmissionResult.refused`.
    `requiretls` sends MAIL FROM with REQUIRETLS (RFC 8689): every server on the way must
    relay it over authenticated TLS or return it; raises `RequireTlsUnsupported`, sending
    nothing, when the server does not advertise it.
    """
    if (username is None) != (password is None and bearer is None):
        raise ValueError("give both username and password (or a bearer token), or neither")
    if isinstance(message, bytes) and (sender is None or not recipients):
        raise ValueError("a message given as bytes needs sender and recipients")
    if endpoint.security is Security.NONE:
        if username is not None and not allow_cleartext_auth:
            raise CleartextRefused(_NO_CONSENT_FOR_PASSWORD)
        if not (allow_cleartext or allow_cleartext_auth):
            raise CleartextRefused(
                T_(
                    "Sending without encryption needs your explicit consent; choose TLS (port "
                    "465) or STARTTLS (port 587), or allow unencrypted sending for this account."
                )
            )
        log.warning("submitting to %s without TLS, as allowed", endpoint.describe())
    async with _Conversation(
        endpoint, timeout, local_hostname, allow_cleartext_auth=allow_cleartext_auth
    ) as conversation:
        if username is not None and bearer is not None:
            await conversation.authenticate_bearer(username, bearer)
        elif username is not None and password is not None:
            await conversation.authenticate(username, password)
        options = []
        if requiretls:
            if not conversation.smtp.supports_extension("requiretls"):
                raise RequireTlsUnsupported(
                    T_(
                        "{where} does not offer REQUIRETLS, so it cannot promise to relay this "
                        "message only over authenticated TLS; nothing was sent. Send it without "
                        "that requirement, or through a provider that offers it.",
                        where=endpoint.describe(),
                    ),
                    temporary=False,
                )
            options = ["REQUIRETLS"]
        with conversation.step(T_("sending the message")):
            errors, reply = await send_in_transactions(
                conversation.smtp, message, sender, recipients, options
            )
        await conversation.quit()
    refused = {address: (r.code, r.message) for address, r in errors.items()}
    if refused:
        log.info("%s refused %d recipient(s): %s", endpoint.describe(), len(refused), refused)
    return SubmissionResult(
        conversation.tls,
        reply,
        refused,
        endpoint.port_role,
        endpoint.port,
        password_in_clear=conversation.password_in_clear,
        auth=conversation.auth,
    )


async def probe(
    endpoint: SubmissionEndpoint,
    *,
    timeout: float = 10.0,
    local_hostname: str | None = None,
) -> ProbeResult:
    """Connect, greet, upgrade as `endpoint.security` says, note the capabilities, and QUIT.

    Sends no credentials and no message, so a `Security.NONE` probe needs no consent; a
    STARTTLS endpoint that does not offer STARTTLS raises `CleartextRefused`.
    """
    async with _Conversation(endpoint, timeout, local_hostname) as conversation:
        smtp = conversation.smtp
        size = smtp.esmtp_extensions.get("size", "")
        result = ProbeResult(
            tls=conversation.tls,
            greeting=conversation.greeting,
            auth_mechanisms=tuple(m.upper() for m in smtp.server_auth_methods),
            starttls_offered=smtp.supports_extension("starttls"),
            max_size=int(size) if size.isdigit() and int(size) > 0 else None,
            port_role=endpoint.port_role,
            port_actual=endpoint.port,
        )
        await conversation.quit()
    return result
