"""The SQLite index of one user's Maildir++ folders: UIDs, flags, sizes and summaries.

One database per user (`<root>/mua-index.sqlite3`), so that a MOVE between folders is one
transaction. The Maildir stays the truth for which messages exist and for their system flags
(the letters in file names); the index is the truth for UIDs, UIDVALIDITY, keywords, modseqs
and whether a message is still \\Recent. Losing it loses only those: the store then rebuilds
it from the files with new UIDVALIDITY values.

Durability: WAL. A UID is a promise to every client that has seen it: after any crash the
next message must not get a UID a client already holds for another one. A process crash
loses no commit in WAL mode, whatever `synchronous` says; a power cut (or a kernel crash)
may roll back the last commits unless each is fsync'ed (synchronous=FULL: one fsync per
transaction, a third of what a delivery costs). So the index runs with NORMAL where it can
tell a power cut happened, and FULL elsewhere: on Linux, `<index>-open` holds the boot id
(/proc/sys/kernel/random/boot_id) from the open (written durably, before any commit) to a
clean close (after a checkpoint has fsync'ed everything into the database). Found at open
with another boot's id, the machine went down with the index open: its last commits may be
lost, so the index is set aside and rebuilt from the files with new UIDVALIDITY values
(RFC 9051 section 2.3.1.1: clients then forget every UID of the old ones), as when it is
deleted or unreadable. Keywords and \\Recent are lost with it; UIDs are never reused.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mua import durable
from mua.stack.imap.model import MessageInfo

log = logging.getLogger(__name__)

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE folders (
    id INTEGER PRIMARY KEY,
    guid TEXT NOT NULL UNIQUE,          -- also in the folder's mua-folder-id file
    name TEXT NOT NULL,                 -- IMAP name, "/" delimited
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL,
    highestmodseq INTEGER NOT NULL,
    special_use TEXT                    -- RFC 6154 attribute, e.g. \\Sent
);
CREATE TABLE messages (
    folder INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    key TEXT NOT NULL,                  -- the file name before the info separator
    filename TEXT NOT NULL,             -- "new/<name>" or "cur/<name>"
    flags TEXT NOT NULL,                -- JSON list: system flags and keywords
    size INTEGER NOT NULL,              -- octets of the CRLF form
    raw_size INTEGER NOT NULL,          -- octets on disk
    internaldate REAL NOT NULL,
    modseq INTEGER NOT NULL,
    recent INTEGER NOT NULL,
    summary TEXT NOT NULL,              -- JSON from the injected summarize()
    PRIMARY KEY (folder, uid),
    UNIQUE (folder, key)
) WITHOUT ROWID;
"""
_COLUMNS = "uid, key, filename, flags, size, raw_size, internaldate, modseq, recent, summary"


@dataclass(frozen=True)
class FolderRow:
    id: int
    guid: str
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    special_use: str | None


@dataclass(frozen=True)
class Stored:
    """A message as the index holds it: what clients see, plus where its file is."""

    info: MessageInfo
    key: str
    filename: str  # relative to the folder directory: "new/<name>" or "cur/<name>"
    raw_size: int  # octets on disk; equal to info.size when the file is already CRLF
    recent: bool  # not yet claimed by a session that selected the folder (\Recent)


class Index:
    """A thin layer over one sqlite3 connection. Not thread-safe by itself: the store calls
    it with its lock held (hence check_same_thread=False)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._boot = boot_id()
        self._marker = path.with_name(f"{path.name}-open")
        self.fresh = not path.exists()
        if self.fresh:  # a -wal left by a crash belongs to the lost database, never replay it
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        elif self._marker.exists() and self._marker.read_text() != (self._boot or ""):
            log.warning("index %s was open when the machine went down; rebuilt", path)
            self._set_aside("unsynced")
        if self._boot is not None:  # before any commit that is not fsync'ed
            durable.write_atomic(self._marker, self._boot.encode())
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if not _unusable(exc):  # locked, unreadable directory...: not ours to discard
                raise
            log.exception("index %s is unreadable; set aside and rebuilt", path)
            self._set_aside("corrupt")
            self._db = self._open()

    def _set_aside(self, why: str) -> None:
        self.path.replace(self.path.with_name(f"{self.path.name}.{why}-{int(time.time())}"))
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.fresh = True

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if self._boot is None else 'NORMAL'}")
            db.execute("PRAGMA foreign_keys=ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                self.fresh = True  # also an empty file, or a crash before the schema commit
                db.executescript(
                    f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
            elif version != SCHEMA_VERSION:
                raise _UnknownSchema(f"unknown index schema version {version}")
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        """Close; a checkpoint that leaves nothing in the WAL (the database fsync'ed) makes
        the index whole on disk, and only then is the boot's marker removed."""
        try:
            busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error:
            busy = 1
        self._db.close()
        if not busy:
            self._marker.unlink(missing_ok=True)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- folders --------------------------------------------------------------------------

    def folders(self) -> list[FolderRow]:
        rows = self._db.execute(
            "SELECT id, guid, name, uidvalidity, uidnext, highestmodseq, special_use FROM folders"
        )
        return [FolderRow(*row) for row in rows]

    def add_folder(
        self, guid: str, name: str, uidvalidity: int, special_use: str | None
    ) -> FolderRow:
        cursor = self._db.execute(
            "INSERT INTO folders (guid, name, uidvalidity, uidnext, highestmodseq, special_use)"
            " VALUES (?, ?, ?, 1, 1, ?)",
            (guid, name, uidvalidity, special_use),
        )
        assert cursor.lastrowid is not None
        return FolderRow(cursor.lastrowid, guid, name, uidvalidity, 1, 1, special_use)

    def rename_folder(self, folder: int, name: str) -> None:
        self._db.execute("UPDATE folders SET name = ? WHERE id = ?", (name, folder))

    def drop_folder(self, folder: int) -> None:
        self._db.execute("DELETE FROM folders WHERE id = ?", (folder,))

    def set_counters(self, folder: int, uidnext: int, highestmodseq: int) -> None:
        self._db.execute(
            "UPDATE folders SET uidnext = ?, highestmodseq = ? WHERE id = ?",
            (uidnext, highestmodseq, folder),
        )

    # -- messages -------------------------------------------------------------------------

    def messages(self, folder: int) -> list[Stored]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE folder = ? ORDER BY uid", (folder,)
        )
        return [_stored(row) for row in rows]

    def insert(self, folder: int, messages: Iterable[Stored]) -> None:
        self._db.executemany(
            f"INSERT INTO messages (folder, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((folder, *_columns(m)) for m in messages),
        )

    def update(self, folder: int, messages: Iterable[Stored]) -> None:
        self._db.executemany(
            "UPDATE messages SET filename = ?, flags = ?, modseq = ?, recent = ?"
            " WHERE folder = ? AND uid = ?",
            (
                (m.filename, _flags_json(m.info.flags), m.info.modseq, m.recent, folder, m.info.uid)
                for m in messages
            ),
        )

    def delete(self, folder: int, uids: Iterable[int]) -> None:
        self._db.executemany(
            "DELETE FROM messages WHERE folder = ? AND uid = ?", ((folder, u) for u in uids)
        )


def boot_id() -> str | None:
    """This boot of the machine (Linux); None where it cannot be told."""
    try:
        return BOOT_ID.read_text().strip() or None
    except OSError:
        return None


class _UnknownSchema(sqlite3.DatabaseError):
    pass


def _unusable(exc: sqlite3.DatabaseError) -> bool:
    """Whether the database file itself is damaged (or from another version of us)."""
    codes = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    return isinstance(exc, _UnknownSchema) or getattr(exc, "sqlite_errorcode", None) in codes


def _flags_json(flags: frozenset[str]) -> str:
    return json.dumps(sorted(flags), ensure_ascii=False)


def _columns(m: Stored) -> tuple[Any, ...]:
    i = m.info
    return (
        i.uid,
        m.key,
        m.filename,
        _flags_json(i.flags),
        i.size,
        m.raw_size,
        i.internaldate,
        i.modseq,
        m.recent,
        json.dumps(i.summary, ensure_ascii=False),
    )


def _stored(row: tuple[Any, ...]) -> Stored:
    uid, key, filename, flags, size, raw_size, internaldate, modseq, recent, summary = row
    info = MessageInfo(
        uid, frozenset(json.loads(flags)), size, internaldate, modseq, json.loads(summary)
    )
    return Stored(info, key, filename, raw_size, bool(recent))
