"""One Maildir folder and its messages, as the IMAP server sees them through the index.

Every change follows the same order, so that a crash at any point leaves a state that the
next `rescan()` turns into a correct one, never a UID reused or pointing at two files:
1. change the files (write in tmp/ and rename into cur/, rename for flags, link, unlink);
2. one SQLite transaction writes the new rows, UIDNEXT and HIGHESTMODSEQ;
3. the in-memory copy is updated and listeners are told.
A crash between 1 and 2 leaves files the index does not know (they get fresh UIDs), rows
whose file is gone (they are reported expunged) or names whose flag letters differ from the
index (the letters win: a flag change). An operation is reported done only after step 2.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Literal

from mua import durable
from mua.stack.imap.mailchange import (
    Batch,
    FolderChange,
    FolderContext,
    NoSuchFolder,
    NoSuchMessage,
    StoreError,
    apply_flags,
)
from mua.stack.imap.maildir import (
    clean_tmp,
    compose_filename,
    letters_for,
    link_or_copy,
    parse_filename,
    scan_messages,
    to_crlf,
)
from mua.stack.imap.maildir_index import FolderRow, Stored
from mua.stack.imap.message_files import examine, filename_for, letters, rename_files, renamed
from mua.stack.imap.model import DELETED, SEEN, MessageInfo
from mua.stack.mda import ensure_maildir, unique_name


def commit(ctx: FolderContext, batches: list[tuple[Folder, Batch]]) -> None:
    """Write the batches in one transaction, then update memory and tell listeners."""
    with ctx.index.transaction():
        for folder, batch in batches:
            batch.save(ctx.index, folder._id)
    changes = [folder._apply(batch) for folder, batch in batches]
    ctx.notify([c for c in changes if c is not None])


class Folder:
    """Get these from `MailStore.folder(name)`; one object per folder per store. Every method
    may be called from any thread. Reads are served from memory; no method touches more
    files than the messages it is asked about, except `rescan()`."""

    def __init__(self, ctx: FolderContext, row: FolderRow, path: Path) -> None:
        self._ctx = ctx
        self._id = row.id
        self._path = path
        self.name = row.name
        self.special_use = row.special_use
        self.uidvalidity = row.uidvalidity
        self.uidnext = row.uidnext
        self.highestmodseq = row.highestmodseq
        self._gone = False
        self._entries: dict[int, Stored] = {}  # ascending UID (new UIDs are always larger)
        self._by_key: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<Folder {self.name!r} uidvalidity={self.uidvalidity} uidnext={self.uidnext}>"

    def _load(self) -> None:
        ensure_maildir(self._path)
        for stored in self._ctx.index.messages(self._id):
            self._entries[stored.info.uid] = stored
            self._by_key[stored.key] = stored.info.uid
        clean_tmp(self._path)
        self.rescan()

    # -- reading --------------------------------------------------------------------------

    def messages(self) -> list[MessageInfo]:
        """Every message, ascending UID, from memory."""
        with self._ctx.lock:
            self._check()
            return [stored.info for stored in self._entries.values()]

    def get(self, uid: int) -> MessageInfo | None:
        with self._ctx.lock:
            self._check()
            stored = self._entries.get(uid)
            return stored.info if stored else None

    def read(self, uid: int) -> bytes:
        """The message in its CRLF wire form (RFC822.SIZE octets)."""
        for attempt in range(2):
            with self._ctx.lock:
                self._check()
                stored = self._entries.get(uid)
                if stored is None:
                    break
            try:
                data = (self._path / stored.filename).read_bytes()
            except FileNotFoundError:  # renamed or removed by another program
                if attempt == 0:
                    self.rescan()
                continue
            return data if len(data) == stored.info.size else to_crlf(data)
        raise NoSuchMessage(f"{self.name} has no message with UID {uid}")

    def status(self) -> dict[str, int]:
        """STATUS items; "recent" counts messages no session has claimed yet."""
        with self._ctx.lock:
            self._check()
            entries = self._entries.values()
            return {
                "messages": len(entries),
                "recent": sum(s.recent for s in entries),
                "unseen": sum(SEEN not in s.info.flags for s in entries),
                "uidnext": self.uidnext,
                "uidvalidity": self.uidvalidity,
                "highestmodseq": self.highestmodseq,
            }

    # -- changing -------------------------------------------------------------------------

    def append(
        self, data: bytes, flags: Iterable[str] = (), internaldate: float | None = None
    ) -> int:
        """Store a message (APPEND); returns its UID once it is durable."""
        flags = apply_flags(frozenset(), flags, "set")
        when = time.time() if internaldate is None else internaldate
        wire = to_crlf(data)
        summary = self._ctx.summary(wire)
        key = unique_name()
        tmp = self._path / "tmp" / key
        filename = f"cur/{compose_filename(key, letters_for(flags))}"
        try:
            durable.write_new(tmp, data, mtime=when)
        except OSError as exc:
            raise StoreError(f"could not write the message into {self.name}: {exc}") from exc
        with self._ctx.lock:
            try:
                self._check()
                os.replace(tmp, self._path / filename)
                durable.fsync_dir(self._path / "cur")
            except OSError as exc:
                raise StoreError(f"could not store the message in {self.name}: {exc}") from exc
            finally:
                tmp.unlink(missing_ok=True)  # only there if the rename did not happen
            batch = self._batch()
            info = MessageInfo(0, flags, len(wire), when, 0, summary)
            uid = batch.add(Stored(info, key, filename, len(data), recent=True)).uid
            commit(self._ctx, [(self, batch)])
            return uid

    def set_flags(
        self,
        uids: Iterable[int],
        flags: Iterable[str],
        mode: Literal["set", "add", "remove"],
        *,
        unchanged_since: int | None = None,
    ) -> tuple[list[MessageInfo], list[int]]:
        """STORE: returns (messages whose flags changed, as they are now; UIDs that failed the
        UNCHANGEDSINCE test of RFC 7162). UIDs not in the folder are ignored."""
        flags = list(flags)
        with self._ctx.lock:
            self._check()
            batch, failed = self._batch(), []
            for uid in sorted(set(uids)):
                stored = self._entries.get(uid)
                if stored is None:
                    continue
                if unchanged_since is not None and stored.info.modseq > unchanged_since:
                    failed.append(uid)
                    continue
                new = apply_flags(stored.info.flags, flags, mode)
                if new != stored.info.flags:
                    info = replace(stored.info, flags=new, modseq=batch.next_modseq())
                    filename = filename_for(stored, new)
                    batch.changed[uid] = replace(stored, info=info, filename=filename)
            missing = rename_files(self._path, self._entries, batch)
            if batch:
                commit(self._ctx, [(self, batch)])
            if missing:
                self.rescan()
            return [s.info for s in batch.changed.values()], failed

    def claim_recent(self) -> list[int]:
        """The UIDs that are \\Recent for the calling session (call it on SELECT, not on
        EXAMINE; RFC 3501 gives \\Recent to one session only). Their files move from new/
        to cur/, as Dovecot does; UIDs do not change."""
        with self._ctx.lock:
            self._check()
            batch = self._batch()
            for uid, stored in self._entries.items():
                if stored.recent:
                    filename = filename_for(stored, stored.info.flags)
                    batch.changed[uid] = replace(stored, filename=filename, recent=False)
            missing = rename_files(self._path, self._entries, batch)
            if batch:
                commit(self._ctx, [(self, batch)])
            if missing:
                self.rescan()
            return list(batch.changed)

    def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        """Remove the messages flagged \\Deleted (among `uids`, or all); returns their UIDs."""
        with self._ctx.lock:
            self._check()
            asked = list(self._entries) if uids is None else sorted(set(uids))
            doomed = [
                u for u in asked if u in self._entries and DELETED in self._entries[u].info.flags
            ]
            if not doomed:
                return []
            for uid in doomed:
                (self._path / self._entries[uid].filename).unlink(missing_ok=True)
            durable.fsync_dir(self._path / "new", self._path / "cur")
            batch = self._batch()
            batch.removed.extend(doomed)
            batch.next_modseq()  # RFC 7162 3.2: an expunge raises HIGHESTMODSEQ
            commit(self._ctx, [(self, batch)])
            return doomed

    def copy(self, uids: Iterable[int], dest: Folder) -> list[tuple[int, int]]:
        """COPY (hard links where the file system allows); returns (source UID, new UID)
        pairs for COPYUID (RFC 4315). Flags, keywords and INTERNALDATE are kept."""
        with self._ctx.lock:
            self._check()
            dest._check()
            batch, pairs, made = dest._batch(), [], []
            try:
                for uid in sorted(set(uids)):
                    stored = self._entries.get(uid)
                    if stored is None:
                        continue
                    key = unique_name()
                    filename = f"cur/{compose_filename(key, letters(stored))}"
                    source = self._path / stored.filename
                    if not link_or_copy(source, dest._path, filename, stored.info.internaldate):
                        continue
                    made.append(dest._path / filename)
                    added = Stored(stored.info, key, filename, stored.raw_size, recent=True)
                    pairs.append((uid, batch.add(added).uid))
                if made:
                    durable.fsync_dir(dest._path / "cur")
            except OSError as exc:  # leave the destination as it was
                for path in made:
                    path.unlink(missing_ok=True)
                raise StoreError(f"could not copy into {dest.name}: {exc}") from exc
            if batch:
                commit(self._ctx, [(dest, batch)])
            return pairs

    def move(self, uids: Iterable[int], dest: Folder) -> list[tuple[int, int]]:
        """MOVE (RFC 6851): a rename per message and one transaction for both folders."""
        with self._ctx.lock:
            self._check()
            dest._check()
            source = self._batch()
            target = source if dest is self else dest._batch()
            pairs, missing, error = [], False, None
            for uid in sorted(set(uids)):
                stored = self._entries.get(uid)
                if stored is None:
                    continue
                key = unique_name()
                filename = f"cur/{compose_filename(key, letters(stored))}"
                try:
                    os.replace(self._path / stored.filename, dest._path / filename)
                except FileNotFoundError:
                    missing = True
                    continue
                except OSError as exc:  # record the ones already moved, then fail
                    error = exc
                    break
                source.removed.append(uid)
                added = Stored(stored.info, key, filename, stored.raw_size, recent=True)
                pairs.append((uid, target.add(added).uid))
            if pairs:
                durable.fsync_dir(dest._path / "cur")
                durable.fsync_dir(self._path / "new", self._path / "cur")
                source.next_modseq()
                batches = [(self, source)] if dest is self else [(self, source), (dest, target)]
                commit(self._ctx, batches)
            if error is not None:
                raise StoreError(f"could not move into {dest.name}: {error}") from error
            if missing:
                self.rescan()
            return pairs

    def rescan(self) -> None:
        """Catch up with other programs: files dropped into new/ or cur/ get UIDs (in order of
        modification time), files gone are expunged, renamed files are flag changes."""
        with self._ctx.lock:
            self._check()
            on_disk = scan_messages(self._path, self.name)
            batch = self._batch()
            for uid, stored in self._entries.items():
                filename = on_disk.pop(stored.key, None)
                if filename is None:
                    batch.removed.append(uid)
                elif filename != stored.filename:
                    batch.changed[uid] = renamed(stored, filename, batch)
            if batch.removed:
                batch.next_modseq()
            examined = (examine(self._path, f, self._ctx.summary) for f in on_disk.values())
            found = [s for s in examined if s is not None]
            for stored in sorted(found, key=lambda s: (s.info.internaldate, s.key)):
                batch.add(stored)
            if batch:
                commit(self._ctx, [(self, batch)])

    def _notice(self, filename: str) -> int:
        """Index one file the MDA has just written (`new/<name>`); returns its UID."""
        key, _ = parse_filename(filename.split("/", 1)[1])
        with self._ctx.lock:
            self._check()
            if key in self._by_key:
                return self._by_key[key]
        # read and summarize without holding the lock
        stored = examine(self._path, filename, self._ctx.summary)
        with self._ctx.lock:
            self._check()
            if key not in self._by_key:
                if stored is None:
                    self.rescan()  # moved on already; look for it under its new name
                else:
                    batch = self._batch()
                    batch.add(stored)
                    commit(self._ctx, [(self, batch)])
            if key not in self._by_key:
                raise NoSuchMessage(f"{filename} vanished before it could be indexed")
            return self._by_key[key]

    # -- internals --------------------------------------------------------------------------

    def _check(self) -> None:
        if self._ctx.closed:
            raise StoreError("the message store is closed")
        if self._gone:
            raise NoSuchFolder(f"{self.name} no longer exists")

    def _batch(self) -> Batch:
        return Batch(uidnext=self.uidnext, modseq=self.highestmodseq)

    def _apply(self, batch: Batch) -> FolderChange | None:
        flag_changes = []
        for uid in batch.removed:
            self._by_key.pop(self._entries.pop(uid).key, None)
        for uid, stored in batch.changed.items():
            if self._entries[uid].info.flags != stored.info.flags:
                flag_changes.append(stored.info)
            self._entries[uid] = stored
        for stored in batch.added:
            self._entries[stored.info.uid] = stored
            self._by_key[stored.key] = stored.info.uid
        self.uidnext, self.highestmodseq = batch.uidnext, batch.modseq
        if not (batch.added or batch.removed or flag_changes):
            return None
        added = tuple(s.info.uid for s in batch.added)
        return FolderChange(self.name, added, tuple(batch.removed), tuple(flag_changes))
