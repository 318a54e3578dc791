"""The client's local cache: folders, message envelopes, bodies and traces, in one SQLite file.

One file per mua profile (callers pass `mua.store.paths.cache_dir() / "mail.sqlite3"`),
holding every account, each keyed by its lower-cased address. Every write method is one
transaction. Any thread may use a `MailCache`: cache_file explains how (a connection per
thread, WAL, one writer at a time).

Reads are lenient (an unknown folder has no messages); writes into a folder or message that
is not cached raise `UnknownFolderError` / `UnknownMessageError`, which are LookupErrors.
Traces are keyed by Message-ID, not by UID: a folder reset or removal leaves them.

Slightly over 400 lines on purpose: it is one class, the cache's API, each method one
transaction; the schema, the rows, the search and the file are already apart (cache_schema,
cache_rows, cache_search, cache_file).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from mua.core.legs import Trace
from mua.store.cache_errors import (
    CacheClosedError,
    CacheError,
    CacheVersionError,
    UidValidityError,
    UnknownFolderError,
    UnknownMessageError,
)
from mua.store.cache_file import CacheFile
from mua.store.cache_rows import (
    FOLDER_COLUMNS,
    MESSAGE_COLUMNS,
    UPSERT_MESSAGE,
    CachedFolder,
    CachedMessage,
    CachedTrace,
    ListedFolder,
    account_key,
    folder_from_row,
    folder_key,
    is_seen,
    message_from_row,
    message_id_key,
    message_params,
)
from mua.store.cache_schema import SORT_KEYS
from mua.store.cache_search import fts_query, like_patterns

__all__ = [
    "CacheClosedError",
    "CacheError",
    "CacheVersionError",
    "CachedFolder",
    "CachedMessage",
    "CachedTrace",
    "ListedFolder",
    "MailCache",
    "UidValidityError",
    "UnknownFolderError",
    "UnknownMessageError",
]

_FOLDER_ID = "(SELECT id FROM folders WHERE account = ? AND name = ?)"
_PAGE = {
    (order, descending): f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE folder_id = {_FOLDER_ID}"
    f" ORDER BY {key} {direction}, uid {direction} LIMIT ? OFFSET ?"
    for order, key in SORT_KEYS.items()
    for descending, direction in ((True, "DESC"), (False, "ASC"))
}
_SEARCHED = ("subject", "sender_name", "sender_address", "recipients", "preview")
_LIKE_ONE = "(" + " OR ".join(f"m.{c} LIKE ? ESCAPE '\\'" for c in _SEARCHED) + ")"
# CROSS JOIN keeps bodies the outer loop, read through its covering index (stored_at, size):
# from the table, each row's size lies after its blob.
_EVICT = (
    "DELETE FROM bodies WHERE message IN (SELECT message FROM (SELECT b.message,"
    " sum(b.size) OVER (ORDER BY b.stored_at DESC, b.message DESC) AS kept FROM bodies b"
    " CROSS JOIN messages m ON m.id = b.message CROSS JOIN folders f ON f.id = m.folder_id"
    " {where}) WHERE kept > ?)"
)


class MailCache:
    """The local cache of one mua profile. Use as a context manager, or call `close()`."""

    def __init__(self, path: Path, *, full_text: bool = True) -> None:
        """Open (creating or migrating) the cache at `path`. `full_text=False` makes a new
        file without the FTS5 index (search then uses LIKE); an existing file keeps its own."""
        self._file = CacheFile(path, full_text=full_text)
        self.path = self._file.path
        self.full_text = self._file.full_text  # search uses FTS5

    def close(self) -> None:
        """Close every thread's connection. Idempotent; the cache is unusable afterwards.
        Call it once the other threads are done with the cache."""
        self._file.close()

    def __enter__(self) -> MailCache:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @staticmethod
    def _folder_id(db: sqlite3.Connection, account: str, name: str) -> int:
        row = db.execute(
            "SELECT id FROM folders WHERE account = ? AND name = ?", (account, name)
        ).fetchone()
        if row is None:
            raise UnknownFolderError(f"{account} has no cached folder {name!r}")
        return int(row[0])

    # -- folders --------------------------------------------------------------------------

    def folders(self, account: str) -> list[CachedFolder]:
        """The account's folders, INBOX first, then by name; counts come without a scan."""
        acct = account_key(account)
        rows = self._file.rows(
            f"SELECT {FOLDER_COLUMNS} FROM folders WHERE account = ?"
            " ORDER BY name <> 'INBOX', name",
            (acct,),
        )
        return [folder_from_row(acct, row) for row in rows]

    def folder(self, account: str, name: str) -> CachedFolder | None:
        acct = account_key(account)
        rows = self._file.rows(
            f"SELECT {FOLDER_COLUMNS} FROM folders WHERE account = ? AND name = ?",
            (acct, folder_key(name)),
        )
        return folder_from_row(acct, rows[0]) if rows else None

    def sync_folder_list(
        self, account: str, listed: Iterable[ListedFolder | tuple[Any, ...]]
    ) -> None:
        """Make the cached folder list the server's: add new folders, update the attributes
        of known ones, and remove vanished ones with their messages and bodies."""
        acct = account_key(account)
        wanted = {}
        for entry in listed:
            folder = ListedFolder(*entry)
            wanted[folder_key(folder.name)] = folder
        with self._file.writing() as db:
            known = db.execute("SELECT name FROM folders WHERE account = ?", (acct,)).fetchall()
            db.executemany(
                "DELETE FROM folders WHERE account = ? AND name = ?",
                [(acct, name) for (name,) in known if name not in wanted],
            )
            db.executemany(
                "INSERT INTO folders (account, name, delimiter, special_use, subscribed)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, name) DO UPDATE SET"
                " delimiter = excluded.delimiter, special_use = excluded.special_use,"
                " subscribed = excluded.subscribed",
                [
                    (acct, name, f.delimiter, f.special_use, bool(f.subscribed))
                    for name, f in wanted.items()
                ],
            )

    def set_folder_state(
        self,
        account: str,
        name: str,
        *,
        uidvalidity: int | None,
        uidnext: int | None,
        highestmodseq: int | None,
    ) -> None:
        """Record the folder's counters after a sync. A changed UIDVALIDITY while messages are
        cached raises UidValidityError: `reset_folder` must forget them first."""
        acct, folder = account_key(account), folder_key(name)
        with self._file.writing() as db:
            row = db.execute(
                "SELECT id, uidvalidity, total FROM folders WHERE account = ? AND name = ?",
                (acct, folder),
            ).fetchone()
            if row is None:
                raise UnknownFolderError(f"{acct} has no cached folder {folder!r}")
            folder_id, known, total = row
            if known is not None and known != uidvalidity and total:
                raise UidValidityError(
                    f"UIDVALIDITY of {folder!r} changed from {known} to {uidvalidity} while"
                    f" {total} messages are cached; reset the folder first"
                )
            db.execute(
                "UPDATE folders SET uidvalidity = ?, uidnext = ?, highestmodseq = ? WHERE id = ?",
                (uidvalidity, uidnext, highestmodseq, folder_id),
            )

    def reset_folder(self, account: str, name: str, uidvalidity: int) -> None:
        """UIDVALIDITY changed: forget every message and body of the folder (RFC 3501
        2.3.1.1), and its UIDNEXT and HIGHESTMODSEQ. Traces, keyed by Message-ID, stay."""
        with self._file.writing() as db:
            folder_id = self._folder_id(db, account_key(account), folder_key(name))
            db.execute("DELETE FROM messages WHERE folder_id = ?", (folder_id,))
            db.execute(
                "UPDATE folders SET uidvalidity = ?, uidnext = NULL, highestmodseq = NULL"
                " WHERE id = ?",
                (uidvalidity, folder_id),
            )

    def forget_account(self, account: str) -> None:
        """Remove everything cached for the account: folders, messages, bodies, traces."""
        acct = account_key(account)
        with self._file.writing() as db:
            db.execute("DELETE FROM folders WHERE account = ?", (acct,))
            db.execute("DELETE FROM traces WHERE account = ?", (acct,))

    # -- messages -------------------------------------------------------------------------

    def upsert_messages(self, account: str, folder: str, messages: Iterable[CachedMessage]) -> None:
        """Add or replace the folder's envelopes, in one transaction. A message already
        cached (same UID) keeps its body. Each message must name this account and folder."""
        acct, name = account_key(account), folder_key(folder)
        batch = list(messages)
        for m in batch:
            if (account_key(m.account), folder_key(m.folder)) != (acct, name):
                raise ValueError(f"message {m.uid} of {m.account} {m.folder!r} is not in {name!r}")
        with self._file.writing() as db:
            folder_id = self._folder_id(db, acct, name)
            db.executemany(UPSERT_MESSAGE, [message_params(folder_id, m) for m in batch])

    def update_flags(
        self, account: str, folder: str, flags_by_uid: Mapping[int, frozenset[str]]
    ) -> int:
        """Replace the flags of cached messages; returns how many were cached (others are
        skipped: their envelopes have not been fetched yet)."""
        with self._file.writing() as db:
            folder_id = self._folder_id(db, account_key(account), folder_key(folder))
            cursor = db.executemany(
                "UPDATE messages SET flags = ?, seen = ? WHERE folder_id = ? AND uid = ?",
                [
                    (" ".join(sorted(flags)), is_seen(flags), folder_id, uid)
                    for uid, flags in flags_by_uid.items()
                ],
            )
            return cursor.rowcount

    def remove_messages(self, account: str, folder: str, uids: Iterable[int]) -> int:
        """Forget expunged messages (with their bodies); returns how many were cached."""
        with self._file.writing() as db:
            folder_id = self._folder_id(db, account_key(account), folder_key(folder))
            cursor = db.executemany(
                "DELETE FROM messages WHERE folder_id = ? AND uid = ?",
                [(folder_id, uid) for uid in uids],
            )
            return cursor.rowcount

    def uids(self, account: str, folder: str) -> list[int]:
        """Every cached UID of the folder, ascending."""
        rows = self._file.rows(
            f"SELECT uid FROM messages WHERE folder_id = {_FOLDER_ID} ORDER BY uid",
            (account_key(account), folder_key(folder)),
        )
        return [uid for (uid,) in rows]

    def max_uid(self, account: str, folder: str) -> int:
        """The highest cached UID, 0 when none."""
        rows = self._file.rows(
            f"SELECT uid FROM messages WHERE folder_id = {_FOLDER_ID} ORDER BY uid DESC LIMIT 1",
            (account_key(account), folder_key(folder)),
        )
        return int(rows[0][0]) if rows else 0

    def count(self, account: str, folder: str) -> int:
        rows = self._file.rows(
            "SELECT total FROM folders WHERE account = ? AND name = ?",
            (account_key(account), folder_key(folder)),
        )
        return int(rows[0][0]) if rows else 0

    def page(
        self,
        account: str,
        folder: str,
        *,
        offset: int = 0,
        limit: int = 100,
        order: str = "date",
        descending: bool = True,
    ) -> list[CachedMessage]:
        """Rows `offset` .. `offset + limit` of the message list sorted by `order` (one of
        SORT_KEYS), ties broken by UID in the same direction, so every page is stable."""
        sql = _PAGE.get((order, descending))
        if sql is None:
            raise ValueError(f"cannot order messages by {order!r}; one of {', '.join(SORT_KEYS)}")
        acct, name = account_key(account), folder_key(folder)
        rows = self._file.rows(sql, (acct, name, limit, offset))
        return [message_from_row(acct, name, row) for row in rows]

    def message(self, account: str, folder: str, uid: int) -> CachedMessage | None:
        acct, name = account_key(account), folder_key(folder)
        rows = self._file.rows(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE folder_id = {_FOLDER_ID} AND uid = ?",
            (acct, name, uid),
        )
        return message_from_row(acct, name, rows[0]) if rows else None

    def search(
        self, account: str, folder: str | None, text: str, limit: int = 200
    ) -> list[CachedMessage]:
        """Messages whose subject, sender, recipients or preview contain every word of `text`,
        newest first; in one folder, or in all of the account's when `folder` is None.
        cache_search explains how FTS5 and LIKE (without FTS5) match words."""
        acct = account_key(account)
        if self.full_text:
            query = fts_query(text)
            if query is None:
                return []
            where, params = (
                "m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)",
                [query],
            )
        else:
            patterns = like_patterns(text)
            if not patterns:
                return []
            where = " AND ".join([_LIKE_ONE] * len(patterns))
            params = [p for p in patterns for _ in _SEARCHED]
        sql = (
            f"SELECT {MESSAGE_COLUMNS}, f.name FROM messages m JOIN folders f"
            f" ON f.id = m.folder_id WHERE f.account = ? AND {where}"
        )
        if folder is not None:
            sql += " AND f.name = ?"
        sql += " ORDER BY m.date DESC, m.uid DESC LIMIT ?"
        args = (acct, *params, *([folder_key(folder)] if folder is not None else []), limit)
        return [message_from_row(acct, row[-1], row[:-1]) for row in self._file.rows(sql, args)]

    # -- bodies ---------------------------------------------------------------------------

    def body(self, account: str, folder: str, uid: int) -> bytes | None:
        """The message's raw RFC822 bytes, or None when not fetched (or evicted)."""
        rows = self._file.rows(
            "SELECT b.data FROM bodies b JOIN messages m ON m.id = b.message"
            f" WHERE m.folder_id = {_FOLDER_ID} AND m.uid = ?",
            (account_key(account), folder_key(folder), uid),
        )
        return bytes(rows[0][0]) if rows else None

    def store_body(self, account: str, folder: str, uid: int, data: bytes) -> None:
        with self._file.writing() as db:
            row = db.execute(
                f"SELECT id FROM messages WHERE folder_id = {_FOLDER_ID} AND uid = ?",
                (account_key(account), folder_key(folder), uid),
            ).fetchone()
            if row is None:
                raise UnknownMessageError(f"no cached message {uid} in {folder!r} of {account}")
            db.execute(
                "INSERT OR REPLACE INTO bodies (message, data, size, stored_at)"
                " VALUES (?, ?, ?, ?)",
                (row[0], bytes(data), len(data), time.time()),
            )

    def bodies_size(self) -> int:
        """Bytes of all cached bodies, every account."""
        return int(self._file.rows("SELECT coalesce(sum(size), 0) FROM bodies", ())[0][0])

    def evict_bodies(self, *, keep_bytes: int, accounts: Iterable[str] | None = None) -> int:
        """Drop the least recently fetched bodies until at most `keep_bytes` remain (of
        these accounts' bodies; None: every account's); returns how many were dropped.
        They are fetched again when next opened."""
        chosen = None if accounts is None else [account_key(a) for a in accounts]
        where = "" if chosen is None else f"WHERE f.account IN ({','.join('?' * len(chosen))})"
        with self._file.writing() as db:
            cursor = db.execute(_EVICT.format(where=where), (*(chosen or ()), keep_bytes))
            return cursor.rowcount

    # -- traces ---------------------------------------------------------------------------

    def trace(self, account: str, message_id: str) -> CachedTrace | None:
        acct, mid = account_key(account), message_id_key(message_id)
        rows = self._file.rows(
            "SELECT trace, observed FROM traces WHERE account = ? AND message_id = ?", (acct, mid)
        )
        if not rows:
            return None
        trace, observed = rows[0]
        return CachedTrace(acct, mid, json.loads(trace) if trace else None, json.loads(observed))

    def store_trace(self, account: str, message_id: str, trace: Trace | dict[str, Any]) -> None:
        """Keep (or replace) the message's trace; its observed legs stay."""
        text = json.dumps(trace.to_json() if isinstance(trace, Trace) else trace)
        with self._file.writing() as db:
            db.execute(
                "INSERT INTO traces (account, message_id, trace, observed) VALUES (?, ?, ?, '[]')"
                " ON CONFLICT (account, message_id) DO UPDATE SET trace = excluded.trace",
                (account_key(account), message_id_key(message_id), text),
            )

    def add_observed_leg(self, account: str, message_id: str, leg: dict[str, Any]) -> None:
        """Keep a leg this client observed beside the message's trace (the outbox's
        submission leg, with its TlsFacts). Adding the same leg again changes nothing."""
        acct, mid = account_key(account), message_id_key(message_id)
        leg = json.loads(json.dumps(leg))  # as it will read back, so equal legs compare equal
        with self._file.writing() as db:
            row = db.execute(
                "SELECT observed FROM traces WHERE account = ? AND message_id = ?", (acct, mid)
            ).fetchone()
            observed = json.loads(row[0]) if row else []
            if leg in observed:
                return
            observed.append(leg)
            db.execute(
                "INSERT INTO traces (account, message_id, trace, observed) VALUES (?, ?, NULL, ?)"
                " ON CONFLICT (account, message_id) DO UPDATE SET observed = excluded.observed",
                (acct, mid, json.dumps(observed)),
            )
