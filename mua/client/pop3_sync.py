"""Keeping the local cache in step with a POP3 account: download, then tidy the server.

POP3 downloads where IMAP syncs (RFC 1939): the server has one maildrop and no flags, so
the local cache's INBOX is the account's mail, and works offline like an IMAP account's.
One `sync_folder("INBOX")` opens a session (a POP3 server locks the maildrop for as long
as one is open, so none is kept), asks UIDL, downloads each message whose UIDL
`mua.store.pop3_state` does not know yet, stores it whole (envelope and body) in the cache,
then marks on the server what the account's leave-on-server settings let go: everything
(not leaving mail on the server), what was downloaded more than `keep_days` ago, and what
the user deleted here. QUIT applies those deletions; a sync that fails before QUIT deletes
nothing on the server, and what was downloaded stays downloaded.

It offers the methods the engine calls on an IMAP `AccountSync`, with POP3's meaning:
flags and deletions are local (a deletion is passed on to the server at the next sync), and
there are no other folders to move to or to save Sent and Drafts in.
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from mua.client.sync import FolderSync
from mua.core.account import Account
from mua.core.i18n import T_
from mua.core.tls_facts import TlsFacts
from mua.net.errors import TokenRefused
from mua.net.pop3 import Pop3Endpoint, Pop3Error, Pop3Session
from mua.store.cache import CachedMessage, MailCache
from mua.store.pop3_state import Pop3Record, Pop3State

log = logging.getLogger(__name__)

INBOX = "INBOX"
UIDVALIDITY = 1  # the cache's INBOX of a POP3 account: local UIDs from Pop3State, never reused
DAY = 86400.0


def endpoint_for(account: Account) -> Pop3Endpoint:
    assert account.pop3 is not None
    s = account.pop3.server
    return Pop3Endpoint(s.host, s.port, s.security, s.ca_file, s.server_name)


class Pop3Sync:
    def __init__(
        self,
        account: Account,
        password: Callable[[], str],
        cache: MailCache,
        state: Pop3State,
        *,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        token: Callable[[bool], str] | None = None,
    ) -> None:
        """`token(refreshed)`: an OAuth2 account's access token (mua.client.oauth_accounts);
        the session then signs in with it (AUTH XOAUTH2 / OAUTHBEARER) instead of `password`."""
        assert account.pop3 is not None, "not a POP3 account"
        self.account = account
        self._token = token
        self.settings = account.pop3
        self._password = password
        self.cache = cache
        self.state = state
        self.timeout = timeout
        self.clock = clock
        self.last_tls: TlsFacts | None = None  # what protected the last session
        self._session: Pop3Session | None = None
        self._woken = threading.Event()  # abort() ends a wait_for_change early

    # -- what the engine asks of every account's sync ------------------------------------------

    @property
    def connected_session(self) -> None:
        return None  # no session is kept open: it would hold the server's maildrop lock

    def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        """End a wait_for_change, the one under way or the next (until `resume()`), and
        drop the session."""
        self._woken.set()
        session, self._session = self._session, None
        if session is not None:
            session.close()  # no QUIT: nothing marked is deleted

    def resume(self) -> None:
        """Undo `abort()`, before the next wait_for_change's thread is started."""
        self._woken.clear()

    def sync_folder_list(self) -> list[str]:
        self.cache.sync_folder_list(self.account.key, [(INBOX, None, None, True)])
        inbox = self.cache.folder(self.account.key, INBOX)  # just listed: it is there
        if inbox is None or inbox.uidvalidity is None:
            self.cache.set_folder_state(
                self.account.key, INBOX, uidvalidity=UIDVALIDITY, uidnext=None, highestmodseq=None
            )
        return [INBOX]

    def sync_all(self) -> list[FolderSync]:
        return [self.sync_folder(INBOX)]

    def sync_folder(self, folder: str) -> FolderSync:
        if folder.upper() != INBOX:
            raise Pop3Error(_only_inbox())
        self.sync_folder_list()
        session = Pop3Session.connect(endpoint_for(self.account), timeout=self.timeout)
        self._session = session
        try:
            if self._token is not None and self.account.oauth is not None:
                self._login_with_token(session)
            else:
                session.login(
                    self.settings.server.username,
                    self._password(),
                    allow_cleartext_auth=self.account.allow_cleartext_auth,
                )
            self.last_tls = session.tls
            added, removed = self._download_and_tidy(session)
            session.quit()  # the UPDATE state: the marked messages go now
        finally:
            self.abort()
        self.state.forget(self.account.key, removed)
        return FolderSync(INBOX, added, 0, 0, False, method="pop3")

    def _login_with_token(self, session: Pop3Session) -> None:
        """OAuth2: the access token; refused once, a refreshed one (the session is still in
        the AUTHORIZATION state), SignInAgain when the provider refuses the refresh."""
        from mua.net.pop3_oauth import login_bearer

        assert self._token is not None and self.account.oauth is not None
        user, mechanism = self.settings.server.username, self.account.oauth.mechanism
        try:
            login_bearer(session, user, self._token(False), mechanism)
        except TokenRefused:
            login_bearer(session, user, self._token(True), mechanism)

    def _download_and_tidy(self, session: Pop3Session) -> tuple[int, list[str]]:
        key, now = self.account.key, self.clock()
        on_server = session.uidls()
        known = self.state.records(key)
        leg = session.retrieval_leg(socket.gethostname()).to_record(0)
        added = 0
        for number, uidl in sorted(on_server.items()):
            if uidl in known:
                continue
            data = session.retrieve(number)
            uid = self.state.add(key, uidl, now)
            message = cached_message(key, uid, data, now)
            self.cache.upsert_messages(key, INBOX, [message])
            self.cache.store_body(key, INBOX, uid, data)
            if message.message_id:
                self.cache.add_observed_leg(key, message.message_id, leg)
            added += 1
        known = self.state.records(key)
        doomed = [
            (number, uidl)
            for number, uidl in sorted(on_server.items())
            if uidl in known and self._may_delete(known[uidl], now)
        ]
        for number, _uidl in doomed:
            session.delete(number)
        gone = [uidl for uidl in known if uidl not in set(on_server.values())]
        return added, gone + [uidl for _n, uidl in doomed]

    def _may_delete(self, record: Pop3Record, now: float) -> bool:
        s = self.settings
        if not s.leave_on_server:
            return True
        if record.deleted_locally and s.delete_when_deleted_locally:
            return True
        return s.keep_days is not None and now - record.downloaded >= s.keep_days * DAY

    def body(self, folder: str, uid: int) -> bytes:
        data = self.cache.body(self.account.key, folder, uid)
        if data is None:
            raise Pop3Error(T_("This message is not downloaded; synchronise the account again."))
        return data

    def headers(self, folder: str, uids: Sequence[int]) -> dict[int, bytes]:
        found = {}
        for uid in uids:
            data = self.cache.body(self.account.key, folder, uid)
            if data is not None:
                found[uid] = data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        return found

    def set_flags(
        self, folder: str, uids: Sequence[int], flags: Iterable[str], *, add: bool
    ) -> dict[int, frozenset[str]]:
        """Flags live here only: POP3 has none."""
        wanted = set(flags)
        changed: dict[int, frozenset[str]] = {}
        for uid in uids:
            cached = self.cache.message(self.account.key, folder, uid)
            if cached is not None:
                changed[uid] = cached.flags | wanted if add else cached.flags - wanted
        self.cache.update_flags(self.account.key, folder, changed)
        return changed

    def delete(self, folder: str, uids: Sequence[int]) -> None:
        """Gone here now; gone on the server at the next sync, when the account says so."""
        self.state.mark_deleted(self.account.key, list(uids))
        self.cache.remove_messages(self.account.key, folder, uids)

    expunge = delete

    def move(self, folder: str, uids: Sequence[int], destination: str) -> None:
        raise Pop3Error(_only_inbox())

    def append(self, folder: str, message: bytes, flags: Iterable[str] = ()) -> int | None:
        raise Pop3Error(_only_inbox())

    def folder_with_use(self, use: str) -> str | None:
        return None  # no Sent, Drafts or Trash on a POP3 server

    def search(self, folder: str, text: str) -> list[int]:
        return [m.uid for m in self.cache.search(self.account.key, folder, text)]

    def wait_for_change(self, folder: str, timeout: float) -> bool:
        """POP3 has no IDLE: after `timeout` seconds, say "look again" (the caller syncs).
        `abort()` ends the wait at once, with an error, as it ends an IMAP IDLE."""
        if self._woken.wait(timeout):
            raise Pop3Error(T_("The connection was dropped on purpose."))
        return True


def _only_inbox() -> str:
    return T_("A POP3 account has only its Inbox; other folders are not on the server.")


def cached_message(account: str, uid: int, data: bytes, now: float) -> CachedMessage:
    """The message list's row for a downloaded message, read from its header."""
    msg = email.message_from_bytes(data, policy=email.policy.default)

    def header(name: str) -> str:
        try:
            value = msg.get(name)
        except Exception:  # an undecodable header: shown empty rather than failing the sync
            return ""
        return " ".join(str(value).split()) if value is not None else ""

    sender_name, sender_address = parseaddr(header("From"))
    people = getaddresses([header("To"), header("Cc")])
    date = None
    try:
        date = parsedate_to_datetime(header("Date")).timestamp() if header("Date") else None
    except (TypeError, ValueError):
        date = None
    body = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
    preview = ""
    try:
        if body is not None and body.get_content_type() == "text/plain":
            preview = " ".join(str(body.get_content()).split())[:200]
    except Exception:
        preview = ""
    attachments = any(True for _ in msg.iter_attachments()) if msg.is_multipart() else False
    return CachedMessage(
        account=account,
        folder=INBOX,
        uid=uid,
        message_id=header("Message-ID") or None,
        subject=header("Subject"),
        sender_name=sender_name,
        sender_address=sender_address,
        recipients=", ".join(n or a for n, a in people if n or a),
        date=date,
        size=len(data),
        flags=frozenset(),
        has_attachments=attachments,
        preview=preview,
        in_reply_to=header("In-Reply-To") or None,
        references=header("References") or None,
        internaldate=now,
    )
