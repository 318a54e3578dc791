"""The SQLite file behind the mail cache: opening it, a connection per thread, transactions.

Threads: each thread gets its own connection (threading.local), opened on its first use, so
the GUI thread reads while the sync worker writes: in WAL mode a reader sees the last
committed state and never waits for a writer. Writes take one lock, so two threads of this
process never meet as writers (another process on the same file waits up to BUSY_TIMEOUT).
`close()` closes every thread's connection; call it once the other threads are done.

Durability is synchronous=NORMAL: a power cut may lose the last commits, never corrupt the
file. A file SQLite calls damaged is moved aside (`<name>.damaged-<time>`) and replaced by
an empty cache: envelopes and bodies come back from the server.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mua.store.cache_errors import CacheClosedError, CacheError
from mua.store.cache_schema import SCHEMA_VERSION, migrate

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 5.0  # seconds a writer waits for another process's write transaction
_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_HAS_FTS = "EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'messages_fts')"


class CacheFile:
    def __init__(self, path: Path, *, full_text: bool = True) -> None:
        """Open, creating or migrating, the cache file at `path` (its directory too)."""
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._registry = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._move_companions(None)  # a -wal left beside a deleted file is not replayed
        try:
            db, self.full_text = self._open_first(full_text)
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in _DAMAGED:
                raise CacheError(f"cannot open the mail cache {self.path}: {exc}") from exc
            aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
            log.warning("mail cache %s is damaged (%s); moved to %s", self.path, exc, aside.name)
            self.path.replace(aside)
            self._move_companions(aside)
            try:
                db, self.full_text = self._open_first(full_text)
            except sqlite3.Error as again:
                raise CacheError(f"cannot create the mail cache {self.path}: {again}") from again
        self._register(db)

    def _open_first(self, full_text: bool) -> tuple[sqlite3.Connection, bool]:
        """The first connection: the only one that looks at the schema. Returns it and
        whether the file has the FTS5 index."""
        db = self._connect()
        try:
            version, has_fts = db.execute(
                f"SELECT (SELECT user_version FROM pragma_user_version), {_HAS_FTS}"
            ).fetchone()
            if version != SCHEMA_VERSION:
                db.execute("PRAGMA journal_mode = WAL")  # persistent; not inside a transaction
                migrate(db, full_text=full_text)
                (has_fts,) = db.execute(f"SELECT {_HAS_FTS}").fetchone()
                log.info("mail cache %s at schema %d (was %d)", self.path, SCHEMA_VERSION, version)
        except BaseException:
            db.close()
            raise
        return db, bool(has_fts)

    def _move_companions(self, aside: Path | None) -> None:
        """Move the -wal and -shm files beside `aside`, or delete them."""
        for suffix in ("-wal", "-shm"):
            companion = Path(f"{self.path}{suffix}")
            if aside is None:
                companion.unlink(missing_ok=True)
            elif companion.exists():
                companion.replace(Path(f"{aside}{suffix}"))

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False only so that close() may close every thread's connection;
        # each one is used by the thread that opened it alone.
        db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            db.close()
            raise
        return db

    def _register(self, db: sqlite3.Connection) -> None:
        with self._registry:
            if self._closed:
                db.close()
                raise CacheClosedError("the mail cache is closed")
            self._connections.append(db)
        self._local.db = db

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on its first use."""
        if self._closed:
            raise CacheClosedError("the mail cache is closed")
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = self._connect()
            except sqlite3.Error as exc:
                raise CacheError(f"cannot open the mail cache {self.path}: {exc}") from exc
            self._register(db)
        return db

    def close(self) -> None:
        """Close every thread's connection. Idempotent."""
        with self._registry:
            self._closed = True
            connections, self._connections = self._connections, []
        for db in connections:
            db.close()

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, serialised with this process's other writers; rolled back
        when the block raises. SQLite's errors come out as CacheError."""
        db = self.connection()
        with self._write_lock:
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise CacheError(f"writing to the mail cache failed: {exc}") from exc
                raise

    def rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Every row of one read, in this thread's connection."""
        try:
            return self.connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise CacheError(f"reading the mail cache failed: {exc}") from exc
