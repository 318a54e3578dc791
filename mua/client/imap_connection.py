"""One IMAP connection for one account, kept open and re-opened when it drops.

`ImapConnection` signs in with the password or an OAuth2 token, enables QRESYNC or CONDSTORE
(RFC 7162) when the server has them, and runs each step through `_retrying`: a dropped
connection is re-opened (with backoff) and the step run again; a NO or BAD becomes an
`ImapError` with one sentence. `mua.client.sync.AccountSync` builds the sync on it.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
import time
from collections.abc import Callable
from typing import TypeVar

from mua.client.imap_rows import text_of
from mua.core.account import Account
from mua.core.i18n import T_
from mua.net.errors import NetError, TokenRefused, Unreachable
from mua.net.imap import ImapEndpoint, ImapError, ImapSession

log = logging.getLogger(__name__)
T = TypeVar("T")

_DROPPED = (imaplib.IMAP4.abort, ConnectionError, socket.timeout, TimeoutError, ssl.SSLError)


def endpoint_for(account: Account) -> ImapEndpoint:
    s = account.imap
    return ImapEndpoint(s.host, s.port, s.security, s.ca_file, s.server_name)


class ImapConnection:
    def __init__(
        self,
        account: Account,
        password: Callable[[], str],
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        token: Callable[[bool], str] | None = None,
    ) -> None:
        """`token(refreshed)`: an OAuth2 account's access token (mua.client.oauth_accounts);
        the session then signs in with it instead of `password`."""
        self.account = account
        self._token = token
        self._password = password
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._session: ImapSession | None = None
        self._aborted = False
        self._qresync = False  # the server accepted ENABLE QRESYNC on this connection

    def _login_with_token(self, session: ImapSession) -> None:
        """OAuth2: the access token; refused once, a refreshed one (SignInAgain when the
        provider no longer accepts the sign-in)."""
        assert self._token is not None and self.account.oauth is not None
        user, mechanism = self.account.imap.username, self.account.oauth.mechanism
        try:
            session.login_bearer(user, self._token(False), mechanism)
        except TokenRefused:
            session.login_bearer(user, self._token(True), mechanism)

    @property
    def session(self) -> ImapSession:
        if self._session is None:
            session = ImapSession.connect(endpoint_for(self.account), timeout=self.timeout)
            try:
                if self._token is not None and self.account.oauth is not None:
                    self._login_with_token(session)
                else:
                    session.login(
                        self.account.imap.username,
                        self._password(),
                        allow_cleartext_auth=self.account.allow_cleartext_auth,
                    )
                if session.client.has_capability("QRESYNC"):
                    # RFC 7162 section 3.2.3: QRESYNC implies CONDSTORE.
                    enabled = session.client.enable("QRESYNC")
                    self._qresync = any(text_of(c).upper() == "QRESYNC" for c in enabled)
                elif session.client.has_capability("CONDSTORE"):
                    # RFC 7162 section 3.1: servers report HIGHESTMODSEQ (and answer
                    # CHANGEDSINCE) once a client has said it uses CONDSTORE.
                    session.client.enable("CONDSTORE")
            except BaseException:
                session.close()
                raise
            if self._aborted:  # abort() came while this connection was being opened: it
                session.close()  # must not outlive the abort unseen (nobody would close it)
                raise ImapError(T_("The connection was dropped on purpose."))
            self._session = session
        return self._session

    @property
    def connected_session(self) -> ImapSession | None:
        """The open session, without connecting."""
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def abort(self) -> None:
        """Drop the connection without a goodbye (it may be in the middle of an IDLE). The
        step under way fails instead of reconnecting, and so does every step after it until
        `resume()`: a step whose thread had not started when the abort came must not
        connect again and wait out a whole IDLE."""
        self._aborted = True
        self._forget_connection()

    def resume(self) -> None:
        """Undo `abort()`: the next step connects afresh. Called by whoever starts the next
        step, before its thread is started, so that an abort after it is never lost."""
        self._aborted = False

    def _retrying(self, what: str, step: Callable[[], T]) -> T:
        """Run `step`; on a dropped connection reconnect (with backoff) and run it again."""
        delay = self.backoff
        for attempt in range(self.retries + 1):
            self._stop_if_aborted(what)  # before the step, or before a reconnect
            try:
                return step()
            except Exception as exc:
                self._stop_if_aborted(what, exc)  # it closed the socket under the step
                if not isinstance(exc, _DROPPED):
                    if isinstance(exc, imaplib.IMAP4.error):  # a NO or BAD: say it in a sentence
                        raise self._refused(what, exc) from exc
                    raise
                self._forget_connection()
                if attempt == self.retries:
                    if isinstance(exc, NetError):  # it says what happened: refused, no answer
                        raise
                    raise Unreachable(
                        T_(
                            "{host} kept dropping the connection while {doing}; try again later.",
                            host=self.account.imap.host,
                            doing=what,
                        )
                    ) from exc
                log.info("connection dropped while %s (%s); reconnecting", what, exc)
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _stop_if_aborted(self, what: str, cause: BaseException | None = None) -> None:
        if self._aborted:  # no retry, no reconnect
            self._forget_connection()
            raise Unreachable(T_("Stopped while {doing}.", doing=what)) from cause

    def _refused(self, what: str, exc: imaplib.IMAP4.error) -> ImapError:
        """A command the server answered NO or BAD (a server that is busy, broken, or
        misbehaving on purpose: `mua stack --chaos`), as the client's own error."""
        said = " ".join(str(exc).split())[:160]
        return ImapError(
            T_(
                '{where} refused a command while {doing} ("{said}"); try again later.',
                where=endpoint_for(self.account).describe(),
                doing=what,
                said=said,
            )
        )

    def _forget_connection(self) -> None:
        if self._session is not None:
            try:
                self._session.client.shutdown()
            except Exception:
                log.debug("shutdown after a dropped connection failed", exc_info=True)
            self._session = None
