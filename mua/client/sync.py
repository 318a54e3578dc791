"""Keeping the local cache in step with an IMAP account (RFC 3501, RFC 4549 sync model).

One `AccountSync` owns one IMAP connection and runs one command at a time on it; it is
synchronous (imapclient is), and `mua.client.engine` runs it in a worker thread. A sync is
incremental by UID: UIDVALIDITY is checked first (a change empties the folder's cache,
RFC 3501 section 2.3.1.1); vanished UIDs are dropped, new ones fetched in batches by
explicit UID lists (imapclient 4.1 raises ValueError on "1:*" ranges after the server has
answered), flags refreshed with CONDSTORE's CHANGEDSINCE when the server has it (RFC 7162).
A dropped connection is re-opened and the step retried; what was cached stays cached.
"""

from __future__ import annotations

import email.errors
import email.header
import imaplib
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from imapclient import response_parser

from mua.core.account import Account
from mua.core.i18n import T_, TN_
from mua.net.imap import ImapEndpoint, ImapError, ImapSession, ServerUnreachable, TokenRefused
from mua.store.cache import CachedMessage, MailCache

log = logging.getLogger(__name__)

BATCH = 500
SPECIAL_USE = (b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk", b"\\Archive", b"\\All", b"\\Flagged")
# RFC 6154 fallbacks for servers without SPECIAL-USE, by the names clients commonly create.
_BY_NAME = {
    "sent": "\\Sent",
    "sent items": "\\Sent",
    "sent messages": "\\Sent",
    "drafts": "\\Drafts",
    "trash": "\\Trash",
    "deleted items": "\\Trash",
    "deleted messages": "\\Trash",
    "junk": "\\Junk",
    "spam": "\\Junk",
    "archive": "\\Archive",
}
_DROPPED = (imaplib.IMAP4.abort, ConnectionError, socket.timeout, TimeoutError, ssl.SSLError)
FETCH_ITEMS = [b"UID", b"ENVELOPE", b"FLAGS", b"RFC822.SIZE", b"INTERNALDATE", b"BODYSTRUCTURE"]


@dataclass(frozen=True)
class FolderSync:
    folder: str
    added: int
    removed: int
    flags_changed: int
    reset: bool  # the server's UIDVALIDITY changed and the cache was emptied first
    method: str = "full"  # "qresync": the server told what changed (RFC 7162 section 3.2)


def endpoint_for(account: Account) -> ImapEndpoint:
    s = account.imap
    return ImapEndpoint(s.host, s.port, s.security, s.ca_file, s.server_name)


class AccountSync:
    def __init__(
        self,
        account: Account,
        password: Callable[[], str],
        cache: MailCache,
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
        self.cache = cache
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._session: ImapSession | None = None
        self._aborted = False
        self._qresync = False  # the server accepted ENABLE QRESYNC on this connection

    # -- connection ---------------------------------------------------------------------------

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
                    self._qresync = any(_text_of(c).upper() == "QRESYNC" for c in enabled)
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
        step under way fails instead of reconnecting; the next call connects afresh."""
        self._aborted = True
        self._forget_connection()

    def _retrying(self, what: str, step: Callable[[], object]):
        """Run `step`; on a dropped connection reconnect (with backoff) and run it again."""
        delay = self.backoff
        self._aborted = False
        for attempt in range(self.retries + 1):
            try:
                return step()
            except Exception as exc:
                if self._aborted:  # abort() closed the socket under the step: no retry
                    self._forget_connection()
                    raise ServerUnreachable(T_("Stopped while {doing}.", doing=what)) from exc
                if not isinstance(exc, _DROPPED):
                    if isinstance(exc, imaplib.IMAP4.error):  # a NO or BAD: say it in a sentence
                        raise self._refused(what, exc) from exc
                    raise
                self._forget_connection()
                if attempt == self.retries:
                    if isinstance(exc, ImapError):  # it says what happened: refused, no answer
                        raise
                    raise ServerUnreachable(
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

    # -- folders ------------------------------------------------------------------------------

    def sync_folder_list(self) -> list[str]:
        def step() -> list[tuple[str, str | None, str | None, bool]]:
            client = self.session.client
            subscribed = {name for _f, _d, name in client.list_sub_folders()}
            folders = []
            for flags, delimiter, name in client.list_folders():
                if b"\\Noselect" in flags or b"\\NonExistent" in flags:
                    continue
                delim = delimiter.decode() if isinstance(delimiter, bytes) else delimiter
                folders.append((name, delim, _special_use(name, flags), name in subscribed))
            return folders

        folders = self._retrying(T_("listing folders"), step)
        self.cache.sync_folder_list(self.account.key, folders)
        return [name for name, *_ in folders]

    def sync_all(self) -> list[FolderSync]:
        return [self.sync_folder(name) for name in self.sync_folder_list()]

    def sync_folder(self, folder: str) -> FolderSync:
        if self.cache.folder(self.account.key, folder) is None:
            self.sync_folder_list()  # the first sync of this account, or a new folder
        return self._retrying(
            T_("synchronising {folder}", folder=folder), lambda: self._sync_folder(folder)
        )

    def _sync_folder(self, folder: str) -> FolderSync:
        key = self.account.key
        client = self.session.client
        cached = self.cache.folder(key, folder)
        if self._qresync and cached and cached.uidvalidity and cached.highestmodseq:
            quick = self._sync_by_qresync(folder, cached)
            if quick is not None:
                return quick
        info = client.select_folder(folder, readonly=True)
        uidvalidity = int(info[b"UIDVALIDITY"])
        uidnext = int(info.get(b"UIDNEXT", 0)) or None
        modseq = int(info[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in info else None
        cached = self.cache.folder(key, folder)
        reset = bool(cached and cached.uidvalidity and cached.uidvalidity != uidvalidity)
        if reset:
            log.warning("UIDVALIDITY of %s changed: re-reading it", folder)
            self.cache.reset_folder(key, folder, uidvalidity)
            cached = self.cache.folder(key, folder)
        server_uids = set(client.search(["ALL"]))
        known = set(self.cache.uids(key, folder))
        gone = known - server_uids
        if gone:
            self.cache.remove_messages(key, folder, sorted(gone))
        new = sorted(server_uids - known)
        for batch in _batches(new, BATCH):
            rows = client.fetch(batch, FETCH_ITEMS)
            self.cache.upsert_messages(
                key, folder, [_cached(key, folder, uid, data) for uid, data in rows.items()]
            )
        changed = self._refresh_flags(folder, sorted(known & server_uids), cached, modseq)
        self.cache.set_folder_state(
            key, folder, uidvalidity=uidvalidity, uidnext=uidnext, highestmodseq=modseq
        )
        return FolderSync(folder, len(new), len(gone), changed, reset)

    def _sync_by_qresync(self, folder: str, cached) -> FolderSync | None:
        """EXAMINE with QRESYNC (RFC 7162 section 3.2.5): the server answers with the UIDs
        expunged since the cached HIGHESTMODSEQ (VANISHED (EARLIER)) and the flags that
        changed, so nothing is compared message by message. None: use a full sync (the
        server's UIDVALIDITY changed, so its QRESYNC data would not apply)."""
        client = self.session.client
        key = self.account.key
        qresync = f"(QRESYNC ({cached.uidvalidity} {cached.highestmodseq}))"
        imap = client._imap  # imapclient has no QRESYNC SELECT: imaplib's plain command
        typ, data = imap._simple_command("EXAMINE", client._normalise_folder(folder), qresync)
        if typ != "OK":
            raise ImapError(
                T_(
                    "The server refused to open {folder}: {answer}; try again later.",
                    folder=folder,
                    answer=repr(data),
                )
            )
        imap.state = "SELECTED"
        untagged = imap.untagged_responses
        vanished_lines = untagged.pop("VANISHED", [])
        changed_lines = untagged.pop("FETCH", [])
        info = client._process_select_response(untagged)
        if int(info.get(b"UIDVALIDITY", 0)) != cached.uidvalidity:
            return None
        known = self.cache.uids(key, folder)
        gone = _in_sets(known, vanished_lines)
        if gone:
            self.cache.remove_messages(key, folder, gone)
        flags: dict[int, frozenset[str]] = {}
        if changed_lines:
            changes = response_parser.parse_fetch_response(changed_lines, uid_is_key=True)
            for uid, data in changes.items():
                new = _flags(data.get(b"FLAGS", ()))
                row = self.cache.message(key, folder, uid)
                if row is not None and row.flags != new:
                    flags[uid] = new
        if flags:
            self.cache.update_flags(key, folder, flags)
        top = max(known, default=0)
        new_uids = [u for u in client.search(["UID", f"{top + 1}:*"]) if u > top]
        for batch in _batches(new_uids, BATCH):
            rows = client.fetch(batch, FETCH_ITEMS)
            self.cache.upsert_messages(
                key, folder, [_cached(key, folder, uid, data) for uid, data in rows.items()]
            )
        self.cache.set_folder_state(
            key,
            folder,
            uidvalidity=cached.uidvalidity,
            uidnext=int(info.get(b"UIDNEXT", 0)) or None,
            highestmodseq=int(info[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in info else None,
        )
        return FolderSync(folder, len(new_uids), len(gone), len(flags), False, "qresync")

    def _refresh_flags(self, folder: str, uids: list[int], cached, modseq: int | None) -> int:
        if not uids:
            return 0
        client = self.session.client
        since = cached.highestmodseq if cached else None
        condstore = (
            modseq is not None and since is not None and b"CONDSTORE" in client.capabilities()
        )
        if condstore and since == modseq:
            return 0  # nothing changed since the last sync (RFC 7162 section 3.1.1)
        flags: dict[int, frozenset[str]] = {}
        key = self.account.key
        for batch in _batches(uids, BATCH * 4):
            modifiers = [f"CHANGEDSINCE {since}"] if condstore else None
            for uid, data in client.fetch(batch, [b"FLAGS"], modifiers=modifiers).items():
                new = _flags(data.get(b"FLAGS", ()))
                cached_row = self.cache.message(key, folder, uid)
                if cached_row is None or cached_row.flags != new:
                    flags[uid] = new
        if flags:
            self.cache.update_flags(key, folder, flags)
        return len(flags)

    # -- reading and changing messages -------------------------------------------------------

    def body(self, folder: str, uid: int) -> bytes:
        """The whole message, from the cache or fetched (BODY.PEEK: reading is not \\Seen)."""
        cached = self.cache.body(self.account.key, folder, uid)
        if cached is not None:
            return cached

        def step() -> bytes:
            client = self.session.client
            client.select_folder(folder, readonly=True)
            data = client.fetch([uid], [b"BODY.PEEK[]"]).get(uid)
            if not data:
                raise ImapError(
                    T_(
                        "Message {uid} is no longer in {folder}; refresh the folder.",
                        uid=uid,
                        folder=folder,
                    )
                )
            return data[b"BODY[]"]

        raw = self._retrying(T_("reading message {uid}", uid=uid), step)
        self.cache.store_body(self.account.key, folder, uid, raw)
        return raw

    def headers(self, folder: str, uids: Sequence[int]) -> dict[int, bytes]:
        """The header sections of these messages (BODY.PEEK[HEADER]: not \\Seen), for
        journeys of messages not read yet; a UID gone from the folder is simply missing."""

        def step() -> dict[int, bytes]:
            client = self.session.client
            client.select_folder(folder, readonly=True)
            rows = client.fetch(list(uids), [b"BODY.PEEK[HEADER]"])
            return {uid: data[b"BODY[HEADER]"] for uid, data in rows.items()}

        return self._retrying(
            TN_(
                "reading the headers of {n} message",
                "reading the headers of {n} messages",
                len(uids),
            ),
            step,
        )

    def set_flags(self, folder: str, uids: Sequence[int], flags: Iterable[str], *, add: bool):
        def step() -> dict:
            client = self.session.client
            client.select_folder(folder)
            encoded = [f.encode() for f in flags]
            change = client.add_flags if add else client.remove_flags
            return change(list(uids), encoded)

        result = self._retrying(T_("changing flags"), step)
        self.cache.update_flags(
            self.account.key, folder, {uid: _flags(f) for uid, f in result.items()}
        )

    def move(self, folder: str, uids: Sequence[int], destination: str) -> None:
        """MOVE (RFC 6851) when the server has it, else COPY + \\Deleted + UID EXPUNGE."""

        def step() -> None:
            client = self.session.client
            client.select_folder(folder)
            if client.has_capability("MOVE"):
                client.move(list(uids), destination)
            else:
                client.copy(list(uids), destination)
                client.add_flags(list(uids), [b"\\Deleted"])
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(list(uids))
                else:
                    client.expunge()

        self._retrying(T_("moving messages to {folder}", folder=destination), step)
        self.cache.remove_messages(self.account.key, folder, list(uids))

    def delete(self, folder: str, uids: Sequence[int]) -> None:
        """Into Trash; from Trash itself, for good."""
        trash = self.folder_with_use("\\Trash")
        if trash and trash != folder:
            self.move(folder, uids, trash)
            return
        self.expunge(folder, uids)

    def expunge(self, folder: str, uids: Sequence[int]) -> None:
        """Remove these messages for good (\\Deleted, then UID EXPUNGE when the server has
        UIDPLUS, RFC 4315), never by way of Trash: a draft replaced by a newer copy."""

        def step() -> None:
            client = self.session.client
            client.select_folder(folder)
            client.add_flags(list(uids), [b"\\Deleted"])
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(list(uids))
            else:
                client.expunge()

        self._retrying(T_("deleting messages"), step)
        self.cache.remove_messages(self.account.key, folder, list(uids))

    def append(self, folder: str, message: bytes, flags: Iterable[str] = ()) -> int | None:
        """APPEND; the new message's UID when the server says it (APPENDUID, RFC 4315)."""

        def step() -> bytes | str:
            return self.session.client.append(folder, message, flags=[f.encode() for f in flags])

        answer = _text_of(self._retrying(T_("saving to {folder}", folder=folder), step) or b"")
        found = re.search(r"\[APPENDUID (\d+) (\d+)\]", answer, re.IGNORECASE)
        return int(found.group(2)) if found else None

    def search(self, folder: str, text: str) -> list[int]:
        """The server's SEARCH TEXT (RFC 3501 section 6.4.4): headers and body, which the
        cache does not hold for messages never opened. UTF-8 when the text needs it."""

        def step() -> list[int]:
            client = self.session.client
            client.select_folder(folder, readonly=True)
            charset = None if text.isascii() else "UTF-8"
            return sorted(client.search(["TEXT", text], charset=charset))

        return self._retrying(f"searching {folder}", step)

    def folder_with_use(self, use: str) -> str | None:
        for folder in self.cache.folders(self.account.key):
            if folder.special_use == use:
                return folder.name
        return None

    # -- new mail -----------------------------------------------------------------------------

    def wait_for_change(self, folder: str, timeout: float) -> bool:
        """IDLE (RFC 2177) on `folder` for up to `timeout` seconds; True when the server
        reported something. Servers drop IDLE after 30 minutes: keep timeout below that."""

        def step() -> bool:
            client = self.session.client
            client.select_folder(folder, readonly=True)
            client.idle()
            try:
                responses = client.idle_check(timeout=timeout)
            finally:
                client.idle_done()
            return bool(responses)

        return self._retrying(f"waiting for new mail in {folder}", step)


def _text_of(value: bytes | str) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


def _in_sets(uids: Iterable[int], lines: Iterable[bytes]) -> list[int]:
    """Those of `uids` inside the UID sets of VANISHED responses ("(EARLIER) 3:5,9")."""
    ranges: list[tuple[int, int]] = []
    for line in lines:
        text = line.decode("ascii", "replace") if isinstance(line, bytes) else str(line)
        for part in text.replace("(EARLIER)", "").strip().split(","):
            low, _, high = part.strip().partition(":")
            if low.isdigit() and (not high or high.isdigit()):
                a, b = int(low), int(high or low)
                ranges.append((min(a, b), max(a, b)))
    return [u for u in uids if any(a <= u <= b for a, b in ranges)]


def _batches(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _special_use(name: str, flags: Sequence[bytes]) -> str | None:
    for flag in flags:
        if flag in SPECIAL_USE:
            return flag.decode()
    return _BY_NAME.get(name.lower().rsplit("/", 1)[-1].rsplit(".", 1)[-1])


def _flags(raw: Iterable[bytes | str]) -> frozenset[str]:
    return frozenset(f.decode() if isinstance(f, bytes) else f for f in raw if f != b"\\Recent")


def _text(value: bytes | None) -> str:
    if not value:
        return ""
    raw = value.decode("utf-8", "replace")
    if "=?" not in raw:
        return raw  # no RFC 2047 encoded-word: nothing to decode (most headers)
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError):
        return raw


def _address(addr) -> tuple[str, str]:
    mailbox = (addr.mailbox or b"").decode("utf-8", "replace")
    host = (addr.host or b"").decode("utf-8", "replace")
    return _text(addr.name), f"{mailbox}@{host}" if host else mailbox


def _has_attachment(structure) -> bool:
    if structure is None:
        return False
    if structure.is_multipart:
        return any(_has_attachment(part) for part in structure[0])
    return any(
        isinstance(item, tuple)
        and item
        and isinstance(item[0], bytes)
        and item[0].lower() == b"attachment"
        for item in structure
    )


def _cached(account: str, folder: str, uid: int, data: dict) -> CachedMessage:
    env = data.get(b"ENVELOPE")
    internal = data.get(b"INTERNALDATE")
    internaldate = internal.timestamp() if isinstance(internal, datetime) else time.time()
    sender_name, sender_address = ("", "")
    recipients = ""
    subject = message_id = in_reply_to = ""
    date = internaldate
    if env is not None:
        if env.from_:
            sender_name, sender_address = _address(env.from_[0])
        people = [*(env.to or ()), *(env.cc or ())]
        recipients = ", ".join(n or a for n, a in (_address(p) for p in people))
        subject = _text(env.subject)
        message_id = (env.message_id or b"").decode("utf-8", "replace")
        in_reply_to = (env.in_reply_to or b"").decode("utf-8", "replace")
        if isinstance(env.date, datetime):
            date = env.date.timestamp()
    return CachedMessage(
        account=account,
        folder=folder,
        uid=uid,
        message_id=message_id,
        subject=subject,
        sender_name=sender_name,
        sender_address=sender_address,
        recipients=recipients,
        date=date,
        size=int(data.get(b"RFC822.SIZE", 0)),
        flags=_flags(data.get(b"FLAGS", ())),
        has_attachments=_has_attachment(data.get(b"BODYSTRUCTURE")),
        preview="",
        in_reply_to=in_reply_to,
        references="",
        internaldate=internaldate,
    )
