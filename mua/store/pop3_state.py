"""What mua knows of each POP3 message it downloaded: one SQLite file, rows keyed by UIDL.

POP3 has no flags and no folders; a client remembers by UIDL (RFC 1939 section 7) which
messages it already has, when it downloaded them (for "keep on the server N days") and which
the user deleted here (for "delete on the server when deleted locally"). Each UIDL gets the
local UID its message has in the cache's INBOX for that account; UIDs only grow.

The file lives beside the cache (`pop3.sqlite3`); losing it means messages still on the
server are downloaded again, never that one is lost. Any thread may use it (one connection
behind a lock; every write is one transaction).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from mua.store.cache_rows import account_key

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pop3_messages (
    account TEXT NOT NULL,
    uidl TEXT NOT NULL,
    uid INTEGER NOT NULL,
    downloaded REAL NOT NULL,
    deleted_locally INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, uidl)
);
CREATE UNIQUE INDEX IF NOT EXISTS pop3_by_uid ON pop3_messages (account, uid);
CREATE TABLE IF NOT EXISTS pop3_uids (account TEXT PRIMARY KEY, last_uid INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Pop3Record:
    uidl: str
    uid: int  # the message's UID in the cache's INBOX
    downloaded: float  # seconds since the epoch
    deleted_locally: bool


class Pop3State:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def records(self, account: str) -> dict[str, Pop3Record]:
        """Every message downloaded for the account, by UIDL."""
        with self._lock:
            rows = self._db.execute(
                "SELECT uidl, uid, downloaded, deleted_locally FROM pop3_messages"
                " WHERE account = ?",
                (account_key(account),),
            ).fetchall()
        return {r[0]: Pop3Record(r[0], r[1], r[2], bool(r[3])) for r in rows}

    def add(self, account: str, uidl: str, downloaded: float) -> int:
        """Remember a downloaded message; returns its new local UID."""
        acct = account_key(account)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT last_uid FROM pop3_uids WHERE account = ?", (acct,)
                ).fetchone()
                uid = (row[0] if row else 0) + 1
                self._db.execute(
                    "INSERT INTO pop3_uids (account, last_uid) VALUES (?, ?)"
                    " ON CONFLICT (account) DO UPDATE SET last_uid = excluded.last_uid",
                    (acct, uid),
                )
                self._db.execute(
                    "INSERT INTO pop3_messages (account, uidl, uid, downloaded)"
                    " VALUES (?, ?, ?, ?)",
                    (acct, uidl, uid, downloaded),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return uid

    def mark_deleted(self, account: str, uids: list[int]) -> None:
        """The user deleted these messages here: the next sync may delete them on the server."""
        with self._lock:
            self._db.executemany(
                "UPDATE pop3_messages SET deleted_locally = 1 WHERE account = ? AND uid = ?",
                [(account_key(account), uid) for uid in uids],
            )

    def forget(self, account: str, uidls: list[str]) -> None:
        """The server no longer has these messages (deleted there, by us or anyone)."""
        with self._lock:
            self._db.executemany(
                "DELETE FROM pop3_messages WHERE account = ? AND uidl = ?",
                [(account_key(account), uidl) for uidl in uidls],
            )

    def forget_account(self, account: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM pop3_messages WHERE account = ?", (account_key(account),))
