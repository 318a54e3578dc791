"""POP3 retrieval over implicit TLS (995) or STLS (110), reporting what protected it.

stdlib `poplib` does the protocol, synchronously: call `Pop3Session.connect` and its methods
from a worker thread, one at a time per connection. Around it, what poplib does not do:
- certificate verification, always: poplib without an explicit context wraps the socket in
  an *unverified* one (`ssl._create_stdlib_context`), so implicit TLS (`_TlsClient`, which
  does what `POP3_SSL` does) and `stls()` are always given `mua.net.tls.client_context`,
  also when connecting by address with a name to verify;
- an explicit timeout on every socket (poplib has no default one);
- STLS required on the 110 role, never silently skipped; no USER/PASS over a connection
  without TLS unless the account explicitly allows it (`allow_cleartext_auth`);
- lines up to 64 KiB (poplib refuses a message line past 2,048 octets, which real HTML mail
  has), and errors a person can act on.
poplib speaks no SASL: USER/PASS is the login, which RFC 1939 and every server offer; an
OAuth2 account signs in with AUTH XOAUTH2 / OAUTHBEARER sent by mua.net.pop3_oauth.
"""

from __future__ import annotations

import logging
import poplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mua.core.i18n import T_, Text
from mua.core.legs import Leg, Protocol
from mua.core.tls_facts import Security, TlsFacts, TlsMode, VerifiedBy
from mua.net.errors import (
    AuthenticationFailed,
    CleartextRefused,
    NetError,
    NetTimeout,
    ProtocolError,
    Unreachable,
)
from mua.net.mail_session import MailEndpoint, observed_leg, translate_common
from mua.net.tls import client_context, facts_from_ssl_object

log = logging.getLogger(__name__)
T = TypeVar("T")

_MAX_LINE = 64 * 1024

# The retrieval leg's note: what the ports-and-encryption table says of POP3.
POP3_NOTE = T_(
    "POP3 downloads the messages, where IMAP keeps them in sync on the server; implicit TLS "
    "(port 995) is what RFC 8314 recommends, as port 993 for IMAP."
)
_CLEAR_NOTE = T_(
    "POP3 without TLS: your password crossed in clear, as this account allows; "
    "use port 995 with TLS."
)


@dataclass(frozen=True)
class Pop3Endpoint(MailEndpoint):
    ROLE_PORTS = {Security.IMPLICIT: 995, Security.STARTTLS: 110, Security.NONE: 110}


class Pop3Error(ProtocolError):
    """The POP3 server refused a command or answered unexpectedly; str() is one sentence."""


class MaildropInUse(Pop3Error):
    """Another session holds the maildrop (RFC 2449 [IN-USE])."""


class _Client(poplib.POP3):
    """poplib's POP3, connecting to an address while `host` stays the name to verify (STLS
    and the implicit-TLS subclass pass `self.host` as server_hostname), with longer lines."""

    def __init__(self, name: str, address: str, port: int, timeout: float) -> None:
        self._address = address
        # what close() looks at, should the connection fail (typeshed: never None; poplib: is)
        self.sock = self.file = None  # type: ignore[assignment]
        try:
            super().__init__(name, port, timeout)
        except BaseException:  # no greeting (or a bad one): poplib leaves the socket open
            self.close()
            raise

    def _create_socket(self, timeout: float) -> socket.socket:
        return socket.create_connection((self._address, self.port), timeout)

    def _getline(self) -> tuple[bytes, int]:
        line = self.file.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise poplib.error_proto("line too long")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets


class _TlsClient(_Client):
    def __init__(
        self, name: str, address: str, port: int, timeout: float, context: ssl.SSLContext
    ) -> None:
        self.context = context
        super().__init__(name, address, port, timeout)

    def _create_socket(self, timeout: float) -> socket.socket:
        sock = super()._create_socket(timeout)
        return self.context.wrap_socket(sock, server_hostname=self.host)


class Pop3Session:
    """One connection to a POP3 server, TLS established and verified before anything else."""

    def __init__(self, endpoint: Pop3Endpoint, client: poplib.POP3, tls: TlsFacts) -> None:
        self.endpoint = endpoint
        self.client = client
        self.tls = tls
        self.password_in_clear = False
        self.auth: str | None = None  # "LOGIN": USER/PASS, the protocol's own login command

    @classmethod
    def connect(cls, endpoint: Pop3Endpoint, *, timeout: float = 30.0) -> Pop3Session:
        ctx = client_context(endpoint.ca_file)
        name, address = endpoint.verify_name, endpoint.host
        try:
            if endpoint.security is Security.IMPLICIT:
                client: poplib.POP3 = _TlsClient(name, address, endpoint.port, timeout, ctx)
            else:
                client = _Client(name, address, endpoint.port, timeout)
        except BaseException as exc:
            raise _translate(exc, endpoint, T_("connecting")) from exc
        try:
            if endpoint.security is Security.STARTTLS:
                if "STLS" not in _capabilities(client):
                    raise CleartextRefused(
                        T_(
                            "{where} does not offer STLS, so the connection would not be "
                            "encrypted; use port 995 with TLS instead.",
                            where=endpoint.describe(),
                        )
                    )
                client.stls(ctx)  # never without the verifying context (see the docstring)
            tls = _observed_tls(client, endpoint)
        except NetError:
            _quietly_close(client)
            raise
        except BaseException as exc:
            _quietly_close(client)
            raise _translate(exc, endpoint, T_("setting up TLS")) from exc
        return cls(endpoint, client, tls)

    def login(self, username: str, password: str, *, allow_cleartext_auth: bool = False) -> None:
        if not self.tls.encrypted and not allow_cleartext_auth:
            raise CleartextRefused(
                T_(
                    "This program does not send a password over an unencrypted connection; "
                    "choose TLS (port 995) or STLS (port 110) in the account settings, or "
                    "allow passwords in clear for this account if you accept that anyone on "
                    "the network can read it."
                )
            )
        try:
            self.client.user(username)
            self.client.pass_(password)
            self.password_in_clear = not self.tls.encrypted
            self.auth = "LOGIN"
        except poplib.error_proto as exc:
            text = str(exc)
            if "[IN-USE]" in text:
                raise MaildropInUse(
                    T_(
                        "{where} says another program is reading this mailbox; try again when "
                        "it is done.",
                        where=self.endpoint.describe(),
                    )
                ) from exc
            if "[SYS/TEMP]" in text:
                raise Pop3Error(
                    T_("{where} cannot open the mailbox now; try again later.",
                       where=self.endpoint.describe())
                ) from exc  # fmt: skip
            raise AuthenticationFailed(
                T_(
                    "{where} rejected the user name or password; check them.",
                    where=self.endpoint.describe(),
                )
            ) from exc
        except BaseException as exc:
            raise _translate(exc, self.endpoint, T_("signing in")) from exc

    def uidls(self) -> dict[int, str]:
        """Message number -> UIDL (RFC 1939 section 7) of every message in the maildrop."""
        return self._step(T_("listing messages"), self._uidls)

    def _uidls(self) -> dict[int, str]:
        _status, lines, _octets = self.client.uidl()
        found = {}
        for line in lines:
            number, _, uid = line.decode("ascii", "replace").partition(" ")
            if number.isdigit() and uid:
                found[int(number)] = uid.strip()
        return found

    def retrieve(self, number: int) -> bytes:
        """The whole message, dot-stuffing undone, with CRLF line ends."""

        def step() -> bytes:
            _status, lines, _octets = self.client.retr(number)
            return b"".join(line + b"\r\n" for line in lines)

        return self._step(T_("downloading a message"), step)

    def delete(self, number: int) -> None:
        """Mark a message deleted; the server removes it at `quit()` (the UPDATE state)."""
        self._step(T_("deleting a message"), lambda: self.client.dele(number))

    def quit(self) -> None:
        """QUIT: the server applies the deletions now."""
        self._step(T_("finishing"), self.client.quit)

    def _step(self, doing: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except NetError:
            raise
        except poplib.error_proto as exc:
            raise Pop3Error(
                T_(
                    "{where} refused while {doing} ({error}); try again later.",
                    where=self.endpoint.describe(),
                    doing=doing,
                    error=str(exc)[:200],
                )
            ) from exc
        except BaseException as exc:
            raise _translate(exc, self.endpoint, doing) from exc

    def retrieval_leg(self, client_host: str | None = None) -> Leg:
        """The MS -> MUA leg this session is, as this client observed it."""
        return observed_leg(
            self.endpoint,
            Protocol.POP3,
            self.tls,
            client_host=client_host,
            note=(Text.joined([_CLEAR_NOTE, POP3_NOTE]) if self.password_in_clear else POP3_NOTE),
            auth=self.auth,
        )

    def close(self) -> None:
        """Drop the connection without QUIT: nothing marked deleted is removed."""
        try:
            self.client.close()
        except Exception:
            log.debug("closing a POP3 connection failed", exc_info=True)


def _capabilities(client: poplib.POP3) -> dict[str, list[str]]:
    try:
        return client.capa()
    except poplib.error_proto:
        return {}  # a server without CAPA (RFC 2449) offers no STLS either


def _observed_tls(client: poplib.POP3, endpoint: Pop3Endpoint) -> TlsFacts:
    sock = client.sock
    ssl_object = sock if isinstance(sock, ssl.SSLSocket) else None
    mode = TlsMode.IMPLICIT if endpoint.security is Security.IMPLICIT else TlsMode.STARTTLS
    if ssl_object is None:
        return TlsFacts.cleartext()
    return facts_from_ssl_object(
        ssl_object,
        mode,
        verified=True,  # the context verifies, or the handshake failed
        verified_by=VerifiedBy.PKI,
        peer_name=endpoint.verify_name,
    )


def _quietly_close(client: poplib.POP3) -> None:
    try:
        client.close()
    except Exception:
        log.debug("closing a POP3 connection failed", exc_info=True)


def _translate(exc: BaseException, endpoint: Pop3Endpoint, doing: str) -> NetError:
    where = endpoint.describe()
    if isinstance(exc, TimeoutError | socket.timeout):
        return NetTimeout(
            T_(
                "{where} did not answer in time while {doing}; try again later, or check the "
                "port and security setting.",
                where=where,
                doing=doing,
            )
        )
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLCertVerificationError):
        return Unreachable(
            T_(
                "TLS with {where} failed ({why}); check that the security setting matches the "
                "port (995: TLS, 110: STLS).",
                where=where,
                why=exc.reason or exc,
            )
        )
    return translate_common(exc, endpoint, doing, Pop3Error, closed=(EOFError,))
