"""mua.net.submission against real aiosmtpd servers on 127.0.0.1 with certificates from LocalCA."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mua.core.tls_facts import TlsMode, VerifiedBy
from mua.net.errors import (
    AuthenticationFailed,
    CertificateInvalid,
    CleartextRefused,
    NetError,
    NetTimeout,
    Unreachable,
)
from mua.net.submission import CertificateProblem, Security, SubmissionEndpoint, probe, submit
from mua.net.submission_errors import MessageRefused, RecipientsRefused
from mua.stack.ca import LocalCA, ServerCert

NAME = "smtp.a.test"
LOOPBACK = "127.0.0.1"


class Mailbox:
    """The aiosmtpd handler: refuses nobody@, rejects subjects with 'reject', keeps the rest."""

    def __init__(self, *, require_auth: bool) -> None:
        self.require_auth = require_auth
        self.delivered: list[Envelope] = []
        self.ehlo_names: list[str | None] = []
        self.auth_commands = 0

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if b"Subject: reject" in (envelope.original_content or b""):
            return "554 5.6.0 Message content rejected"
        self.delivered.append(envelope)
        self.ehlo_names.append(session.host_name)
        return "250 2.0.0 Ok: queued as Q1234"


def accept_alice(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alice", b"secret")
    return AuthResult(success=ok, handled=False)


class CountingSMTP(SMTP):
    async def smtp_AUTH(self, arg: str) -> None:
        self.event_handler.auth_commands += 1
        await super().smtp_AUTH(arg)


class Serve(Protocol):
    async def __call__(
        self, security: Security, *, cert: ServerCert | None = None
    ) -> tuple[int, Mailbox]: ...


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return LocalCA(tmp_path / "world")


@pytest.fixture
async def serve(ca: LocalCA) -> AsyncIterator[Serve]:
    """Start an SMTP listener: implicit TLS, STARTTLS required, or cleartext with no STARTTLS."""
    servers: list[asyncio.Server] = []
    loop = asyncio.get_running_loop()

    async def start(security: Security, *, cert: ServerCert | None = None) -> tuple[int, Mailbox]:
        mailbox = Mailbox(require_auth=security is not Security.NONE)
        context = (cert or ca.server_cert(NAME)).server_context()
        options: dict[str, Any] = {"hostname": NAME, "authenticator": accept_alice}
        if security is Security.IMPLICIT:
            # aiosmtpd 1.4.6 does not see implicit TLS and would answer AUTH with 538.
            options["auth_require_tls"] = False
            tls = context
        elif security is Security.STARTTLS:
            options |= {"tls_context": context, "require_starttls": True}
            tls = None
        else:  # a server that offers AUTH in the clear and no STARTTLS (or had it stripped)
            options["auth_require_tls"] = False
            tls = None
        server = await loop.create_server(
            lambda: CountingSMTP(mailbox, **options), LOOPBACK, 0, ssl=tls
        )
        servers.append(server)
        return server.sockets[0].getsockname()[1], mailbox

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture
def silent_port() -> Iterator[tuple[int, socket.socket]]:
    """A port whose kernel completes the TCP handshake but nobody ever speaks."""
    with socket.socket() as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(4)
        listener.setblocking(False)
        yield listener.getsockname()[1], listener


def endpoint(
    ca: LocalCA, port: int, security: Security, server_name: str | None = NAME
) -> SubmissionEndpoint:
    return SubmissionEndpoint(LOOPBACK, port, security, ca_file=ca.ca_file, server_name=server_name)


def message(subject: str = "hello") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "alice@a.test"
    msg["To"] = "bob@b.test"
    msg["Bcc"] = "carol@b.test"
    msg["Subject"] = subject
    msg.set_content("Hi Bob.\n")
    return msg


async def send(target: SubmissionEndpoint, msg: EmailMessage | None = None, **kw: Any):
    kw = {"username": "alice", "password": "secret", "timeout": 5.0} | kw
    return await submit(target, msg or message(), **kw)


@pytest.mark.parametrize(
    ("security", "mode", "role"),
    [(Security.IMPLICIT, TlsMode.IMPLICIT, 465), (Security.STARTTLS, TlsMode.STARTTLS, 587)],
)
async def test_delivers_and_reports_the_tls_it_saw(
    serve: Serve, ca: LocalCA, security: Security, mode: TlsMode, role: int
) -> None:
    port, mailbox = await serve(security)

    result = await send(endpoint(ca, port, security))

    assert result.tls.encrypted is True
    assert result.tls.mode is mode
    assert result.tls.version == "TLSv1.3"
    assert result.tls.cipher and result.tls.cipher.startswith("TLS_")
    assert result.tls.bits in (128, 256)
    assert (result.tls.verified, result.tls.verified_by) == (True, VerifiedBy.PKI)
    assert result.tls.peer_name == NAME
    assert "Q1234" in result.response
    assert result.refused == {}
    assert (result.port_role, result.port_actual) == (role, port)
    [envelope] = mailbox.delivered
    assert envelope.mail_from == "alice@a.test"
    assert envelope.rcpt_tos == ["bob@b.test", "carol@b.test"]
    assert b"Bcc" not in (envelope.original_content or b"")
    assert mailbox.ehlo_names[-1] == "[127.0.0.1]"  # an address literal, not getfqdn()


async def test_verifies_the_address_when_no_server_name_is_given(serve: Serve, ca: LocalCA) -> None:
    port, _ = await serve(Security.IMPLICIT)
    target = endpoint(ca, port, Security.IMPLICIT, server_name=None)

    result = await send(target, None, local_hostname="mua.example")

    assert result.tls.peer_name == LOOPBACK


async def test_bytes_message_with_explicit_envelope(serve: Serve, ca: LocalCA) -> None:
    port, mailbox = await serve(Security.STARTTLS)
    raw = message().as_bytes()

    await send(
        endpoint(ca, port, Security.STARTTLS), raw, sender="a@a.test", recipients=["d@b.test"]
    )

    assert [(e.mail_from, e.rcpt_tos) for e in mailbox.delivered] == [("a@a.test", ["d@b.test"])]


async def test_probe_reports_tls_and_auth(serve: Serve, ca: LocalCA) -> None:
    port, mailbox = await serve(Security.STARTTLS)

    found = await probe(endpoint(ca, port, Security.STARTTLS), timeout=5.0)

    assert found.tls.mode is TlsMode.STARTTLS and found.tls.verified
    assert "PLAIN" in found.auth_mechanisms
    assert NAME in found.greeting
    assert mailbox.auth_commands == 0 and not mailbox.delivered


async def test_wrong_password(serve: Serve, ca: LocalCA, caplog: pytest.LogCaptureFixture) -> None:
    port, mailbox = await serve(Security.IMPLICIT)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AuthenticationFailed) as caught:
        await send(endpoint(ca, port, Security.IMPLICIT), password="hunter2-wrong")

    assert isinstance(caught.value, PermissionError)
    assert caught.value.code == 535 and not caught.value.temporary
    assert "hunter2" not in str(caught.value) and "hunter2" not in caplog.text
    assert "AUTH PLAIN" in caplog.text  # the mechanism is logged, the line is not
    assert mailbox.auth_commands == 1  # one mechanism tried, not every one offered
    assert not mailbox.delivered


async def test_closed_port(ca: LocalCA) -> None:
    with socket.socket() as probe_socket:
        probe_socket.bind((LOOPBACK, 0))
        port = probe_socket.getsockname()[1]

    with pytest.raises(Unreachable) as caught:
        await send(endpoint(ca, port, Security.IMPLICIT))

    assert isinstance(caught.value, ConnectionError) and caught.value.temporary
    assert str(port) in str(caught.value)


async def test_certificate_from_another_ca(serve: Serve, ca: LocalCA, tmp_path: Path) -> None:
    stranger = LocalCA(tmp_path / "elsewhere").server_cert(NAME)
    port, mailbox = await serve(Security.IMPLICIT, cert=stranger)

    with pytest.raises(CertificateInvalid) as caught:
        await send(endpoint(ca, port, Security.IMPLICIT))

    assert caught.value.reason is CertificateProblem.UNKNOWN_ISSUER
    assert "authority" in str(caught.value)
    assert mailbox.auth_commands == 0


async def test_expired_certificate_over_starttls(serve: Serve, ca: LocalCA) -> None:
    expired = ca.server_cert(NAME, not_after=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    port, mailbox = await serve(Security.STARTTLS, cert=expired)

    with pytest.raises(CertificateInvalid) as caught:
        await send(endpoint(ca, port, Security.STARTTLS))

    assert caught.value.reason is CertificateProblem.EXPIRED
    assert "expired" in str(caught.value)
    assert mailbox.auth_commands == 0


async def test_wrong_host_name(serve: Serve, ca: LocalCA) -> None:
    port, _ = await serve(Security.IMPLICIT)

    with pytest.raises(CertificateInvalid) as caught:
        await send(endpoint(ca, port, Security.IMPLICIT, server_name="smtp.b.test"))

    assert caught.value.reason is CertificateProblem.WRONG_HOST
    assert "different name" in str(caught.value)


async def test_implicit_tls_against_a_starttls_port(serve: Serve, ca: LocalCA) -> None:
    port, mailbox = await serve(Security.STARTTLS)

    with pytest.raises(Unreachable) as caught:
        await send(endpoint(ca, port, Security.IMPLICIT))

    assert "security setting" in str(caught.value) and not caught.value.temporary
    assert mailbox.auth_commands == 0


@pytest.mark.parametrize("security", [Security.IMPLICIT, Security.STARTTLS])
async def test_silent_server_times_out(
    ca: LocalCA, silent_port: tuple[int, socket.socket], security: Security
) -> None:
    port, _ = silent_port

    with pytest.raises(NetTimeout) as caught:  # without the timeout, no answer would come
        await send(endpoint(ca, port, security), timeout=0.5)

    assert isinstance(caught.value, TimeoutError) and caught.value.temporary
    assert "0.5 seconds" in str(caught.value)


async def test_starttls_missing_is_refused_before_auth(serve: Serve, ca: LocalCA) -> None:
    port, mailbox = await serve(Security.NONE)

    with pytest.raises(CleartextRefused) as caught:
        await send(endpoint(ca, port, Security.STARTTLS))

    assert "STARTTLS" in str(caught.value)
    assert mailbox.auth_commands == 0 and not mailbox.delivered


async def test_no_password_over_cleartext_and_no_connection(
    ca: LocalCA, silent_port: tuple[int, socket.socket]
) -> None:
    port, listener = silent_port
    target = endpoint(ca, port, Security.NONE)

    with pytest.raises(CleartextRefused):
        await send(target, allow_cleartext=True)
    with pytest.raises(CleartextRefused):
        await send(target, username=None, password=None)  # no consent

    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody ever connected


async def test_cleartext_with_consent_and_no_credentials(serve: Serve, ca: LocalCA) -> None:
    port, mailbox = await serve(Security.NONE)

    result = await send(
        endpoint(ca, port, Security.NONE), username=None, password=None, allow_cleartext=True
    )

    assert (result.tls.encrypted, result.tls.mode) == (False, TlsMode.NONE)
    assert len(mailbox.delivered) == 1


async def test_one_recipient_refused_of_two(serve: Serve, ca: LocalCA) -> None:
    port, mailbox = await serve(Security.IMPLICIT)
    target = endpoint(ca, port, Security.IMPLICIT)

    result = await send(target, recipients=["bob@b.test", "nobody@b.test"])

    assert result.refused == {"nobody@b.test": (550, "5.1.1 No such user here")}
    assert [e.rcpt_tos for e in mailbox.delivered] == [["bob@b.test"]]


async def test_every_recipient_refused(serve: Serve, ca: LocalCA) -> None:
    port, mailbox = await serve(Security.IMPLICIT)
    target = endpoint(ca, port, Security.IMPLICIT)

    with pytest.raises(RecipientsRefused) as caught:
        await send(target, recipients=["nobody@b.test", "nobody@c.test"])

    assert set(caught.value.refused) == {"nobody@b.test", "nobody@c.test"}
    assert caught.value.code == 550 and not caught.value.temporary
    assert not mailbox.delivered


async def test_message_refused(serve: Serve, ca: LocalCA) -> None:
    port, mailbox = await serve(Security.IMPLICIT)

    with pytest.raises(MessageRefused) as caught:
        await send(endpoint(ca, port, Security.IMPLICIT), message("reject me"))

    assert caught.value.code == 554
    assert not mailbox.delivered


async def test_errors_are_one_sentence(serve: Serve, ca: LocalCA) -> None:
    port, _ = await serve(Security.IMPLICIT)
    target = endpoint(ca, port, Security.IMPLICIT, server_name="smtp.b.test")

    with pytest.raises(NetError) as caught:
        await send(target)

    text = str(caught.value)
    assert text[0].isupper() and text.endswith(".") and text.count(". ") == 0
    assert isinstance(caught.value.__cause__, Exception)  # raised from the I/O error
    assert isinstance(caught.value.__cause__.__cause__ or caught.value.__cause__, ssl.SSLError)
