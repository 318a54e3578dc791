"""Keeping the local cache in step with an IMAP account (RFC 3501, RFC 4549 sync model).

One `AccountSync` owns one IMAP connection and runs one command at a time on it; it is
synchronous (imapclient is), and `mua.client.engine` runs it in a worker thread. A sync is
incremental by UID: UIDVALIDITY is checked first (a change empties the folder's cache,
RFC 3501 section 2.3.1.1); vanished UIDs are dropped, new ones fetched in batches by
explicit UID lists (imapclient 4.1 raises ValueError on "1:*" ranges after the server has
answered), flags refreshed with CONDSTORE's CHANGEDSINCE when the server has it (RFC 7162).
A dropped connection is re-opened and the step retried (mua/client/imap_connection.py); what
was cached stays cached. FETCH responses become cache rows in mua/client/imap_rows.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mua.client.idle_news import (
    FolderState,
    cached_state,
    listen_for_change,
    reports_change,
    selected_state,
    state_changed,
)
from mua.client.imap_connection import ImapConnection
from mua.client.imap_rows import (
    FETCH_ITEMS,
    batches,
    cached_message,
    flag_set,
    special_use,
    text_of,
    uids_in_sets,
)
from mua.core.account import Account
from mua.core.i18n import T_, TN_
from mua.net.imap import ImapError, ImapSession
from mua.store.cache import CachedFolder, MailCache

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True)
class FolderSync:
    folder: str
    added: int
    removed: int
    flags_changed: int
    reset: bool  # the server's UIDVALIDITY changed and the cache was emptied first
    method: str = "full"  # "qresync": the server told what changed (RFC 7162 section 3.2)


class AccountSync(ImapConnection):
    """The local cache of one IMAP account kept in step with the server, over one connection."""

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
        super().__init__(
            account, password, timeout=timeout, retries=retries, backoff=backoff, token=token
        )
        self.cache = cache
        # IDLE's connection: the folder it has selected, and each folder's state as seen by
        # the last SELECT for IDLE (UIDVALIDITY, UIDNEXT, EXISTS, HIGHESTMODSEQ).
        self._idle_selected: tuple[ImapSession, str] | None = None
        self._idle_states: dict[str, FolderState] = {}

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
                folders.append((name, delim, special_use(name, flags), name in subscribed))
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
        for batch in batches(new, BATCH):
            rows = client.fetch(batch, FETCH_ITEMS)
            self.cache.upsert_messages(
                key, folder, [cached_message(key, folder, uid, data) for uid, data in rows.items()]
            )
        changed = self._refresh_flags(folder, sorted(known & server_uids), cached, modseq)
        self.cache.set_folder_state(
            key, folder, uidvalidity=uidvalidity, uidnext=uidnext, highestmodseq=modseq
        )
        return FolderSync(folder, len(new), len(gone), changed, reset)

    def _sync_by_qresync(self, folder: str, cached: CachedFolder) -> FolderSync | None:
        """EXAMINE with QRESYNC (RFC 7162 section 3.2.5): the server answers with the UIDs
        expunged since the cached HIGHESTMODSEQ (VANISHED (EARLIER)) and the flags that
        changed, so nothing is compared message by message. None: use a full sync (the
        server's UIDVALIDITY changed, so its QRESYNC data would not apply)."""
        session = self.session
        key = self.account.key
        assert cached.uidvalidity and cached.highestmodseq  # what the caller checked
        answer = session.examine_qresync(folder, cached.uidvalidity, cached.highestmodseq)
        if answer.uidvalidity != cached.uidvalidity:
            return None
        known = self.cache.uids(key, folder)
        gone = uids_in_sets(known, answer.vanished)
        if gone:
            self.cache.remove_messages(key, folder, gone)
        flags: dict[int, frozenset[str]] = {}
        for uid, raw in answer.flags.items():
            new = flag_set(raw)
            row = self.cache.message(key, folder, uid)
            if row is not None and row.flags != new:
                flags[uid] = new
        if flags:
            self.cache.update_flags(key, folder, flags)
        client = session.client
        top = max(known, default=0)
        new_uids = [u for u in client.search(["UID", f"{top + 1}:*"]) if u > top]
        for batch in batches(new_uids, BATCH):
            rows = client.fetch(batch, FETCH_ITEMS)
            self.cache.upsert_messages(
                key, folder, [cached_message(key, folder, uid, data) for uid, data in rows.items()]
            )
        self.cache.set_folder_state(
            key,
            folder,
            uidvalidity=cached.uidvalidity,
            uidnext=answer.uidnext or None,
            highestmodseq=answer.highestmodseq,
        )
        return FolderSync(folder, len(new_uids), len(gone), len(flags), False, "qresync")

    def _refresh_flags(
        self, folder: str, uids: list[int], cached: CachedFolder | None, modseq: int | None
    ) -> int:
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
        for batch in batches(uids, BATCH * 4):
            modifiers = [f"CHANGEDSINCE {since}"] if condstore else None
            for uid, data in client.fetch(batch, [b"FLAGS"], modifiers=modifiers).items():
                new = flag_set(data.get(b"FLAGS", ()))
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
            body: bytes = data[b"BODY[]"]
            return body

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

    def set_flags(
        self, folder: str, uids: Sequence[int], flags: Iterable[str], *, add: bool
    ) -> None:
        def step() -> dict[int, Any]:  # imapclient: UID -> the flags it now has
            client = self.session.client
            client.select_folder(folder)
            encoded = [f.encode() for f in flags]
            change = client.add_flags if add else client.remove_flags
            changed: dict[int, Any] = change(list(uids), encoded)
            return changed

        result = self._retrying(T_("changing flags"), step)
        self.cache.update_flags(
            self.account.key, folder, {uid: flag_set(f) for uid, f in result.items()}
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
            flagged = [f.encode() for f in flags]
            answer: bytes | str = self.session.client.append(folder, message, flags=flagged)
            return answer

        answer = text_of(self._retrying(T_("saving to {folder}", folder=folder), step) or b"")
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

    def wait_for_change(
        self, folder: str, timeout: float, cached: CachedFolder | None = None
    ) -> bool:
        """IDLE (RFC 2177) on `folder` for up to `timeout` seconds; True when the server
        reported a change. Servers drop IDLE after 30 minutes: keep timeout below that.

        For a connection that does nothing else (the engine's second one per account): the
        folder stays selected from one call to the next (DONE, then IDLE again, as RFC 2177
        intends), so what arrives between two calls the server reports as the next IDLE
        starts; selecting again would count it in the SELECT's answer, unreported. What the
        server says while DONE ends the IDLE counts too. A new connection selects the
        folder again, and a state other than the last SELECT's (mail while the connection
        was down) is a change: after news the IDLE reported, it is reported once more.
        Before any SELECT for IDLE, the first compares with `cached`, the cache's record
        of the folder (the caller reads it: this thread does not touch the cache), so mail
        since the last sync is news. Only idle_news.IDLE_CHANGES are news: a keepalive
        does not end the wait."""

        def step() -> bool:
            client = self.session.client
            selected = self._idle_selected == (self.session, folder)
            if not selected and self._select_to_idle(folder, cached):
                return True
            client.idle()
            try:
                changed = listen_for_change(client, timeout)
            finally:
                _text, after_check = client.idle_done()
            return changed or reports_change(after_check)

        return self._retrying(f"waiting for new mail in {folder}", step)

    def _select_to_idle(self, folder: str, cached: CachedFolder | None) -> bool:
        """EXAMINE `folder` for IDLE; True when its state differs from what the last
        SELECT for IDLE saw of it (on this connection or one before) or, before any, from
        the cache's record of it."""
        state = selected_state(self.session.client.select_folder(folder, readonly=True))
        before = self._idle_states.get(folder) or cached_state(cached)
        self._idle_states[folder] = state
        self._idle_selected = (self.session, folder)
        return state_changed(before, state)
