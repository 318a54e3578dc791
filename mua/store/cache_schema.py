"""The cache's SQLite schema and its migrations, versioned by PRAGMA user_version.

`MIGRATIONS[n]` upgrades a database from version n to n + 1; version 0 is an empty file.
A new schema version appends one function here and bumps nothing else: `migrate` runs the
missing steps in one transaction (DDL is transactional in SQLite) and records the version.

Counts: triggers keep `folders.total` and `folders.unread` equal to the folder's rows, so
the folder list never scans messages. `messages.seen` mirrors whether `flags` holds \\Seen.

Search: when this SQLite has FTS5, `messages_fts` indexes the searchable columns as an
external-content table kept in step by triggers; without FTS5, search falls back to LIKE.
The choice is made when the schema is created and read back from the file on every open.
A file created with FTS5 cannot be written by an SQLite without it (its triggers need the
module); every CPython build in current use has FTS5.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping

from mua.store.cache_errors import CacheVersionError

SCHEMA_VERSION = 2

# The message list's sort orders, as the indices below write them (ORDER BY must use the
# indexed expression exactly for SQLite to walk the index instead of sorting).
SORT_KEYS = {
    "date": "date",
    "subject": "subject COLLATE NOCASE",
    "sender": "coalesce(nullif(sender_name, ''), sender_address) COLLATE NOCASE",
    "size": "size",
}

_TABLES = [
    """CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,              -- lower-cased address
        name TEXT NOT NULL,
        delimiter TEXT,
        special_use TEXT,                   -- RFC 6154, e.g. \\Sent
        subscribed INTEGER NOT NULL,
        uidvalidity INTEGER,
        uidnext INTEGER,
        highestmodseq INTEGER,
        total INTEGER NOT NULL DEFAULT 0,   -- maintained by triggers
        unread INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account, name)
    )""",
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        folder_id INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        message_id TEXT,
        subject TEXT NOT NULL,
        sender_name TEXT NOT NULL,
        sender_address TEXT NOT NULL,
        recipients TEXT NOT NULL,           -- To and Cc, as text
        date REAL NOT NULL,                 -- Date header, else INTERNALDATE (epoch seconds)
        size INTEGER NOT NULL,
        flags TEXT NOT NULL,                -- space-separated, sorted
        seen INTEGER NOT NULL,              -- flags holds \\Seen
        has_attachments INTEGER NOT NULL,
        preview TEXT NOT NULL,
        in_reply_to TEXT,
        refs TEXT,                          -- the References header
        internaldate REAL,
        UNIQUE (folder_id, uid)
    )""",
    # One index per sort order of the message list (SORT_KEYS), each ending in uid: the
    # tie-break. A page in any order is then a walk along an index.
    "CREATE INDEX messages_by_date ON messages (folder_id, date, uid)",
    "CREATE INDEX messages_by_subject ON messages (folder_id, subject COLLATE NOCASE, uid)",
    """CREATE INDEX messages_by_sender ON messages
        (folder_id, coalesce(nullif(sender_name, ''), sender_address) COLLATE NOCASE, uid)""",
    "CREATE INDEX messages_by_size ON messages (folder_id, size, uid)",
    """CREATE TABLE bodies (
        message INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
        data BLOB NOT NULL,                 -- the raw RFC822 bytes
        size INTEGER NOT NULL,
        stored_at REAL NOT NULL             -- eviction drops the oldest first
    )""",
    "CREATE INDEX bodies_by_age ON bodies (stored_at)",
    """CREATE TABLE traces (
        account TEXT NOT NULL,
        message_id TEXT NOT NULL,           -- <...>
        trace TEXT,                         -- JSON of Trace.to_json(), or NULL
        observed TEXT NOT NULL,             -- JSON list of legs observed beside it
        PRIMARY KEY (account, message_id)
    ) WITHOUT ROWID""",
    """CREATE TRIGGER messages_counted AFTER INSERT ON messages BEGIN
        UPDATE folders SET total = total + 1, unread = unread + (1 - new.seen)
        WHERE id = new.folder_id;
    END""",
    """CREATE TRIGGER messages_uncounted AFTER DELETE ON messages BEGIN
        UPDATE folders SET total = total - 1, unread = unread - (1 - old.seen)
        WHERE id = old.folder_id;
    END""",
    """CREATE TRIGGER messages_seen AFTER UPDATE OF seen ON messages
    WHEN old.seen <> new.seen BEGIN
        UPDATE folders SET unread = unread + old.seen - new.seen WHERE id = new.folder_id;
    END""",
]

_SEARCHED = "subject, sender_name, sender_address, recipients, preview"
_NEW = ", ".join(f"new.{c}" for c in _SEARCHED.split(", "))
_OLD = ", ".join(f"old.{c}" for c in _SEARCHED.split(", "))
_CHANGED = " OR ".join(f"old.{c} IS NOT new.{c}" for c in _SEARCHED.split(", "))

_FULL_TEXT = [
    f"""CREATE VIRTUAL TABLE messages_fts USING fts5 ({_SEARCHED},
        content = 'messages', content_rowid = 'id',
        tokenize = 'unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, {_SEARCHED}) VALUES (new.id, {_NEW});
    END""",
    f"""CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, {_SEARCHED})
        VALUES ('delete', old.id, {_OLD});
    END""",
    f"""CREATE TRIGGER messages_fts_update AFTER UPDATE OF {_SEARCHED} ON messages
    WHEN {_CHANGED} BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, {_SEARCHED})
        VALUES ('delete', old.id, {_OLD});
        INSERT INTO messages_fts (rowid, {_SEARCHED}) VALUES (new.id, {_NEW});
    END""",
]


def fts5_available(db: sqlite3.Connection) -> bool:
    """Whether this SQLite can create FTS5 tables (built in, or loaded as an extension)."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5 (x)")
    except sqlite3.OperationalError:
        return False
    db.execute("DROP TABLE temp.fts5_probe")
    return True


def _create(db: sqlite3.Connection, full_text: bool) -> None:
    for statement in _TABLES:
        db.execute(statement)
    if full_text and fts5_available(db):
        for statement in _FULL_TEXT:
            db.execute(statement)


Migration = Callable[[sqlite3.Connection, bool], None]


def _bodies_by_age_and_size(db: sqlite3.Connection, full_text: bool) -> None:
    """Version 2: the age index also holds each body's size, so totalling the bodies and
    choosing which to evict read the index alone. From the table, `size` comes after the
    blob in every row, and reading it walks each blob's overflow pages (0.7 s for 300 MB)."""
    db.execute("DROP INDEX bodies_by_age")
    db.execute("CREATE INDEX bodies_by_age ON bodies (stored_at, size)")


MIGRATIONS: dict[int, Migration] = {
    0: _create,
    1: _bodies_by_age_and_size,
}


def migrate(
    db: sqlite3.Connection,
    *,
    full_text: bool,
    target: int = SCHEMA_VERSION,
    migrations: Mapping[int, Migration] = MIGRATIONS,
) -> None:
    """Bring the database to version `target`, in one transaction, or raise
    CacheVersionError when it is newer than that.

    `db` is in autocommit mode; BEGIN IMMEDIATE makes two processes opening the same new
    file take turns instead of both creating tables.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > target:
            raise CacheVersionError(
                f"the mail cache was written by a newer mua (schema {version}, this one reads"
                f" {target}); update mua, or remove the cache file to start afresh"
            )
        for step in range(version, target):
            migrations[step](db, full_text)
        db.execute(f"PRAGMA user_version = {target:d}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
