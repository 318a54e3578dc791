"""IMAP retrieval over implicit TLS (993) or STARTTLS (143), reporting what protected it.

imapclient does the protocol; this module adds what mua needs around it: certificate
verification always on (also when connecting by address with a server name to verify),
STARTTLS required and never silently skipped, no LOGIN over a connection that is not
encrypted unless the account explicitly allows it (`Security.NONE` with
`allow_cleartext_auth`; the session then says the password crossed in clear), the session's
`TlsFacts`, and errors a person can act on. imapclient is synchronous: call `connect` and the
session's methods from a worker thread (`asyncio.to_thread`), one command at a time per
connection.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
from dataclasses import dataclass

from imapclient import IMAPClient, exceptions, imap4, response_parser
from imapclient import tls as imapclient_tls
from imapclient.imap_utf7 import encode as encode_utf7

from mua.core.i18n import T_
from mua.core.legs import Leg, Protocol
from mua.core.tls_facts import Security, TlsFacts, TlsMode, VerifiedBy
from mua.net.errors import (
    AuthenticationFailed,
    CleartextRefused,
    NetError,
    NetTimeout,
    ProtocolError,
    TokenRefused,
    Unreachable,
)
from mua.net.mail_session import MailEndpoint, observed_leg, translate_common
from mua.net.tls import client_context, facts_from_ssl_object

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImapEndpoint(MailEndpoint):
    ROLE_PORTS = {Security.IMPLICIT: 993, Security.STARTTLS: 143, Security.NONE: 143}


class ImapError(ProtocolError):
    """The IMAP server refused a command or answered unexpectedly; str() is one sentence."""


def _connect(address: str, port: int, timeout: float | None) -> socket.socket:
    sock = socket.create_connection((address, port), timeout=timeout)
    # imaplib writes a literal and its closing CRLF separately; without TCP_NODELAY the CRLF
    # waits for the server's delayed ACK (~40 ms per APPEND, measured).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _AddressedTLS(imapclient_tls.IMAP4_TLS):  # type: ignore[misc]  # imapclient: untyped
    """imapclient's implicit-TLS transport, connecting to an address but verifying a name."""

    def __init__(self, name: str, address: str, port: int, ctx: ssl.SSLContext, timeout: float):
        self._address = address
        super().__init__(name, port, ctx, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = _connect(self._address, self.port, self._timeout)
        wrapped: socket.socket = imapclient_tls.wrap_socket(sock, self.ssl_context, self.host)
        return wrapped


class _AddressedPlain(imap4.IMAP4WithTimeout):  # type: ignore[misc]  # imapclient: untyped
    """The cleartext transport (for STARTTLS), connecting to an address; imaplib's starttls
    then verifies `self.host`, the server name."""

    def __init__(self, name: str, address: str, port: int, timeout: float):
        self._address = address
        super().__init__(name, port, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return _connect(self._address, self.port, self._timeout)


class _Client(IMAPClient):  # type: ignore[misc]  # imapclient: untyped
    def __init__(self, endpoint: ImapEndpoint, ctx: ssl.SSLContext, timeout: float) -> None:
        self._endpoint = endpoint
        self._ctx = ctx
        self._connect_timeout = timeout
        super().__init__(
            endpoint.verify_name,
            port=endpoint.port,
            ssl=endpoint.security is Security.IMPLICIT,
            ssl_context=ctx,
            timeout=timeout,
        )

    def _create_IMAP4(self) -> imaplib.IMAP4:
        e = self._endpoint
        if self.ssl:
            return _AddressedTLS(e.verify_name, e.host, e.port, self._ctx, self._connect_timeout)
        return _AddressedPlain(e.verify_name, e.host, e.port, self._connect_timeout)


@dataclass(frozen=True)
class QresyncExamine:
    """What EXAMINE with QRESYNC answered (RFC 7162 section 3.2.5): the folder's counters,
    the UIDs expunged since the mod-sequence given (`vanished`: the UID sets of VANISHED
    (EARLIER) as the server wrote them, "(EARLIER) 3:5,9"; they may name UIDs never seen)
    and the flags of messages changed since (`flags`: UID -> FLAGS)."""

    uidvalidity: int | None
    uidnext: int | None
    highestmodseq: int | None
    vanished: tuple[bytes, ...]
    flags: dict[int, tuple[bytes, ...]]


class ImapSession:
    """One connection to an IMAP server, TLS established and verified before anything else."""

    def __init__(self, endpoint: ImapEndpoint, client: IMAPClient, tls: TlsFacts) -> None:
        self.endpoint = endpoint
        self.client = client  # for everything beyond what this class wraps
        self.tls = tls
        self.password_in_clear = False  # LOGIN crossed without TLS, as the account allowed
        self.auth: str | None = None  # how the session signed in: LOGIN, XOAUTH2, OAUTHBEARER

    @classmethod
    def connect(cls, endpoint: ImapEndpoint, *, timeout: float = 30.0) -> ImapSession:
        ctx = client_context(endpoint.ca_file)
        try:
            client = _Client(endpoint, ctx, timeout)
        except BaseException as exc:
            raise _translate(exc, endpoint, T_("connecting"), timeout) from exc
        try:
            if endpoint.security is Security.STARTTLS:
                if b"STARTTLS" not in client.capabilities():
                    raise CleartextRefused(
                        T_(
                            "{where} does not offer STARTTLS, so the connection would not be "
                            "encrypted; use port 993 with TLS instead.",
                            where=endpoint.describe(),
                        )
                    )
                client.starttls(ctx)
            tls = _observed_tls(client, endpoint)
        except NetError:
            _quietly_close(client)
            raise
        except BaseException as exc:
            _quietly_close(client)
            raise _translate(exc, endpoint, T_("setting up TLS"), timeout) from exc
        return cls(endpoint, client, tls)

    def login(self, username: str, password: str, *, allow_cleartext_auth: bool = False) -> None:
        if not self.tls.encrypted and not allow_cleartext_auth:
            # RFC 3501 section 6.2.3 / RFC 8314: never in the clear without explicit consent
            raise CleartextRefused(
                T_(
                    "This program does not send a password over an unencrypted connection; "
                    "choose TLS (port 993) or STARTTLS (port 143) in the account settings, or "
                    "allow passwords in clear for this account if you accept that anyone on "
                    "the network can read it."
                )
            )
        if not self.tls.encrypted:
            log.warning("LOGIN to %s without TLS, as allowed", self.endpoint.describe())
        try:
            self.client.login(username, password)
            self.password_in_clear = not self.tls.encrypted
            self.auth = "LOGIN"
        except exceptions.LoginError as exc:
            said = " ".join(str(exc).split())[:160]
            if "[UNAVAILABLE]" in said.upper():  # RFC 5530: temporary, not a wrong password
                raise ImapError(
                    T_(
                        '{where} could not check the password right now ("{said}"); try again '
                        "later.",
                        where=self.endpoint.describe(),
                        said=said,
                    )
                ) from exc
            raise AuthenticationFailed(
                T_(
                    "{where} rejected the user name or password; check them.",
                    where=self.endpoint.describe(),
                )
            ) from exc
        except BaseException as exc:
            raise _translate(exc, self.endpoint, T_("signing in"), 0) from exc

    def login_bearer(self, username: str, token: str, mechanism: str = "XOAUTH2") -> None:
        """OAuth2: AUTHENTICATE XOAUTH2 or OAUTHBEARER with an access token, over TLS only.
        A refusal raises `TokenRefused` (the caller refreshes the token once and retries:
        `mua.net.sasl_oauth.imap_bearer`)."""
        if not self.tls.encrypted:
            raise CleartextRefused.for_token()
        try:
            if mechanism == "OAUTHBEARER":
                self.client.oauthbearer_login(username, token)
            else:
                self.client.oauth2_login(username, token)
            self.auth = mechanism
        except exceptions.LoginError as exc:
            said = " ".join(str(exc).split())[:160]
            raise TokenRefused(
                T_(
                    '{where} refused the sign-in token ("{said}"); sign in again.',
                    where=self.endpoint.describe(),
                    said=said,
                )
            ) from exc
        except BaseException as exc:
            raise _translate(exc, self.endpoint, T_("signing in"), 0) from exc

    def retrieval_leg(self, client_host: str | None = None, note: str = "") -> Leg:
        """The MS -> MUA leg this session is, as this client observed it."""
        return observed_leg(
            self.endpoint,
            Protocol.IMAP,
            self.tls,
            client_host=client_host,
            note=note,
            auth=self.auth,
        )

    def examine_qresync(self, folder: str, uidvalidity: int, modseq: int) -> QresyncExamine:
        """EXAMINE `folder` (read-only) with QRESYNC parameters, on a session that has
        ENABLEd QRESYNC: the server says what changed since `modseq`, so nothing need be
        compared message by message. When `uidvalidity` is no longer the folder's, the server
        ignores the parameters (the answer's uidvalidity differs). A NO raises ImapError; a
        BAD or a dropped connection, imaplib's own errors (the caller's retries tell them
        apart).

        imapclient has no SELECT with parameters, so this speaks through its imaplib
        connection (`client._imap`, the one private name used: pyproject pins imapclient's
        minor series for it) with imaplib's public calls."""
        imap = self.client._imap
        imap.untagged_responses.clear()  # as imaplib's select(): earlier answers are not this one's
        parameters = f"(QRESYNC ({uidvalidity:d} {modseq:d}))"
        typ, data = imap.xatom("EXAMINE", _mailbox(folder), parameters)
        if typ != "OK":
            raise ImapError(
                T_(
                    "The server refused to open {folder}: {answer}; try again later.",
                    folder=folder,
                    answer=repr(data),
                )
            )
        imap.state = "SELECTED"  # what imaplib's select() would have set, and is_readonly:
        imap.is_readonly = True  # without it, the [READ-ONLY] code fails the next command
        changed = [line for line in imap.response("FETCH")[1] if line is not None]
        fetched = response_parser.parse_fetch_response(changed, uid_is_key=True)
        return QresyncExamine(
            uidvalidity=_number(imap, "UIDVALIDITY"),
            uidnext=_number(imap, "UIDNEXT"),
            highestmodseq=_number(imap, "HIGHESTMODSEQ"),
            vanished=tuple(line for line in imap.response("VANISHED")[1] if line is not None),
            flags={uid: tuple(data.get(b"FLAGS", ())) for uid, data in fetched.items()},
        )

    def close(self) -> None:
        _quietly_close(self.client)

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _observed_tls(client: IMAPClient, endpoint: ImapEndpoint) -> TlsFacts:
    sock = client.socket()
    ssl_object = sock if isinstance(sock, ssl.SSLSocket) else None
    mode = TlsMode.IMPLICIT if endpoint.security is Security.IMPLICIT else TlsMode.STARTTLS
    return facts_from_ssl_object(
        ssl_object,
        mode,
        verified=ssl_object is not None,  # the context verifies, or the handshake failed
        verified_by=VerifiedBy.PKI,
        peer_name=endpoint.verify_name,
    )


def _mailbox(name: str) -> bytes:
    """A folder name as a quoted string on the wire, in modified UTF-7 (RFC 3501 section
    5.1.3), as imapclient writes it."""
    encoded: bytes = encode_utf7(name)
    return b'"' + encoded.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _number(imap: imaplib.IMAP4, code: str) -> int | None:
    """The number of a response code in the last answer ("* OK [UIDNEXT 7]"), or None."""
    values = [v for v in imap.response(code)[1] if v is not None]
    return int(values[-1]) if values else None


def _quietly_close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception:
            log.debug("closing an IMAP connection failed", exc_info=True)


def _translate(exc: BaseException, endpoint: ImapEndpoint, doing: str, timeout: float) -> NetError:
    where = endpoint.describe()
    if isinstance(exc, TimeoutError | socket.timeout):
        return NetTimeout.waiting(where, timeout, doing)
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLCertVerificationError):
        return Unreachable(
            T_(
                "TLS with {where} failed ({why}); check that the security setting matches the "
                "port (993: TLS, 143: STARTTLS).",
                where=where,
                why=exc.reason or exc,
            )
        )
    return translate_common(exc, endpoint, doing, ImapError, closed=(imaplib.IMAP4.abort,))
