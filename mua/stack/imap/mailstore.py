"""One user's mailboxes for our IMAP server: Maildir++ folders with a SQLite index.

On disk, under the user's Maildir++ root (the MDA delivers to `<root>/new`):
    <root>/{tmp,new,cur}/            INBOX
    <root>/.Archive.2024/            the folder Archive/2024 (names: see maildir.py)
        {tmp,new,cur}/ maildirfolder mua-folder-id
    <root>/mua-folder-id             a folder's identity: the index follows it across renames
    <root>/mua-index.sqlite3         UIDs, flags, summaries of every folder (maildir_index.py)
    <root>/mua-uidvalidity           the last UIDVALIDITY handed out (survives the index)
    <root>/mua-subscriptions         subscribed names, one a line (survives the index)
Deleting the index is safe: the next open rebuilds it from the files, with new UIDVALIDITYs.

Listeners (`add_listener`) get a `FolderChange` after every change, whoever made it (an IMAP
session, the MDA through `notice_delivery`, another program found by `rescan`). They are
called synchronously, on the thread that made the change (the MDA's worker thread, an
`asyncio.to_thread` worker, the event loop), with the store's lock held, so in commit order.
A listener must not block: the IMAP server hops to its loop with `call_soon_threadsafe`.

Thread safety: one sqlite3 connection behind one re-entrant lock, which also guards the
in-memory copy of each folder and every rename. Message bytes are written (and summaries
computed) outside the lock, except in `rescan()`. One MailStore per root per process; two
processes on one root are not supported (SQLite would keep the index consistent, but not
the in-memory copies).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Callable, Container
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from mua import durable
from mua.stack.imap.mailchange import (
    FolderChange,
    FolderContext,
    NoSuchFolder,
    NoSuchMessage,
    StoreError,
)
from mua.stack.imap.maildir import (
    DELIMITER,
    canonical_folder_name,
    folder_dirname,
    folder_name,
)
from mua.stack.imap.maildir_index import FolderRow, Index
from mua.stack.imap.mailfolder import Folder
from mua.stack.imap.store_files import (
    DELETING,
    clear_unfinished,
    folder_dirs,
    folder_guids,
    make_folder,
    new_uidvalidity,
    read_subscriptions,
    write_subscriptions,
)
from mua.stack.mda import ensure_maildir

log = logging.getLogger(__name__)

__all__ = [
    "Folder",
    "FolderChange",
    "FolderExists",
    "FolderInfo",
    "InvalidFolderName",
    "MailStore",
    "NoSuchFolder",
    "NoSuchMessage",
    "StoreError",
]

INDEX_FILE = "mua-index.sqlite3"
# Created with the index (on first open); a folder first seen under one of these names gets
# the RFC 6154 attribute unless another folder already has it.
SPECIAL_USE = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash", "Junk": "\\Junk"}

Listener = Callable[[FolderChange], None]


class FolderExists(StoreError):
    pass


class InvalidFolderName(StoreError, ValueError):
    pass


@dataclass(frozen=True)
class FolderInfo:
    """One line of LIST. A name that only holds others (`A` when only `A/B` exists on disk)
    is listed with selectable=False (\\Noselect)."""

    name: str
    special_use: str | None
    subscribed: bool
    has_children: bool
    selectable: bool = True


class MailStore:
    """One user's folders under a Maildir++ root; shared by the MDA and all IMAP sessions."""

    def __init__(self, root: Path, *, summarize: Callable[[bytes], dict[str, Any]]) -> None:
        self.root = Path(root)
        ensure_maildir(self.root)
        self._root_real = self.root.resolve()
        clear_unfinished(self.root)
        self._listeners: list[Listener] = []
        self._rows: dict[str, FolderRow] = {}  # every folder on disk, by name
        self._paths: dict[str, Path] = {}
        self._loaded: dict[int, Folder] = {}  # by FolderRow.id
        self._subscriptions = read_subscriptions(self.root)
        index = Index(self.root / INDEX_FILE)
        self._ctx = FolderContext(threading.RLock(), index, summarize, self._notify)
        try:
            with self._ctx.lock:
                self._sync_folders()
                if index.fresh:
                    for name in SPECIAL_USE:
                        if name not in self._rows:
                            make_folder(self.root, name)
                    self._sync_folders()
        except BaseException:
            index.close()
            raise

    def __enter__(self) -> MailStore:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._ctx.lock:
            if not self._ctx.closed:
                self._ctx.closed = True
                self._ctx.index.close()

    # -- listeners and deliveries ---------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(change)` after every change; see the module docstring for when."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def notice_delivery(self, path: Path) -> int:
        """Index a file the MDA has just delivered (`<folder>/new/<name>`), tell listeners
        before returning, and return its UID. Safe to call from the MDA's worker thread."""
        path = Path(path)
        # The MDA's own spelling of INBOX (nearly every delivery) needs no resolving, which
        # is a stat of every component of the path.
        parent = path.parent.parent
        folder_dir = self._root_real if parent == self.root else parent.resolve()
        if path.parent.name not in ("new", "cur"):
            raise StoreError(f"{path} is not in a Maildir's new/ or cur/")
        name = "INBOX" if folder_dir == self._root_real else None
        if folder_dir.parent == self._root_real:
            name = folder_name(folder_dir.name)
        if name is None:
            raise StoreError(f"{path} is not in one of this store's folders")
        return self.folder(name)._notice(f"{path.parent.name}/{path.name}")

    # -- folders --------------------------------------------------------------------------

    def folder(self, name: str) -> Folder:
        """The folder called `name` ("INBOX" in any case), loaded and rescanned on first use."""
        name = self._canonical(name)
        with self._ctx.lock:
            self._check()
            if name not in self._rows:
                self._sync_folders()
            row = self._rows.get(name)
            if row is None:
                raise NoSuchFolder(f"there is no folder {name}")
            folder = self._loaded.get(row.id)
            if folder is None:
                folder = Folder(self._ctx, row, self._paths[name])
                self._loaded[row.id] = folder
                try:
                    folder._load()
                except BaseException:
                    del self._loaded[row.id]
                    raise
            return folder

    def folders(self) -> list[FolderInfo]:
        """Every folder, INBOX first, then by name; parents that exist only as a level of
        their children's names are included with selectable=False."""
        with self._ctx.lock:
            self._check()
            self._sync_folders()
            names = set(self._rows)
            parents: set[str] = set()
            for name in names:
                levels = name.split(DELIMITER)
                parents.update(DELIMITER.join(levels[:i]) for i in range(1, len(levels)))
            return [
                FolderInfo(
                    name,
                    self._rows[name].special_use if name in names else None,
                    name in self._subscriptions,
                    has_children=name in parents,
                    selectable=name in names,
                )
                for name in sorted(names | parents, key=lambda n: (n != "INBOX", n))
            ]

    def create(self, name: str) -> None:
        """CREATE; missing parents are created too (RFC 3501 6.3.3). Names that differ only
        in case are refused, so the Maildir works on case-insensitive file systems too."""
        name = self._canonical(name)
        with self._ctx.lock:
            self._check()
            self._sync_folders()
            if self._taken(name):
                raise FolderExists(f"{name} already exists")
            levels = name.split(DELIMITER)
            for depth in range(1, len(levels) + 1):
                part = DELIMITER.join(levels[:depth])
                if not self._taken(part):
                    make_folder(self.root, part)
            self._sync_folders()

    def delete(self, name: str) -> None:
        """DELETE. Children stay (the name then lists as \\Noselect); subscriptions stay
        (RFC 3501 6.3.9)."""
        name = self._canonical(name)
        if name == "INBOX":
            raise StoreError("INBOX cannot be deleted")
        with self._ctx.lock:
            self._check()
            self._sync_folders()
            row = self._rows.get(name)
            if row is None:
                if any(n.startswith(name + DELIMITER) for n in self._rows):
                    raise NoSuchFolder(f"{name} holds other folders but no messages")
                raise NoSuchFolder(f"there is no folder {name}")
            aside = self.root / f"{DELETING}{row.guid}"
            try:
                os.rename(self._paths[name], aside)  # one atomic step out of sight
            except OSError as exc:
                raise StoreError(f"could not delete {name}: {exc}") from exc
            durable.fsync_dir(self.root)
            self._sync_folders()
            shutil.rmtree(aside, ignore_errors=True)

    def rename(self, old: str, new: str) -> None:
        """RENAME, children included; UIDVALIDITY and UIDs are kept. Renaming INBOX moves its
        messages into the new folder and leaves INBOX empty (RFC 3501 6.3.5)."""
        old, new = self._canonical(old), self._canonical(new)
        with self._ctx.lock:
            self._check()
            self._sync_folders()
            moving = [n for n in self._rows if n == old or n.startswith(old + DELIMITER)]
            if old == "INBOX":
                moving = ["INBOX"]
            if not moving:
                raise NoSuchFolder(f"there is no folder {old}")
            if new == "INBOX" or (old != "INBOX" and new.startswith(old + DELIMITER)):
                raise InvalidFolderName(f"cannot rename {old} to {new}")
            if self._taken(new, ignore=set(moving)):
                raise FolderExists(f"{new} already exists")
            targets = {n: self._canonical(new + n[len(old) :]) for n in moving}
            levels = new.split(DELIMITER)
            for depth in range(1, len(levels)):
                part = DELIMITER.join(levels[:depth])
                if not self._taken(part):
                    make_folder(self.root, part)
            if old == "INBOX":
                make_folder(self.root, new)
                self._sync_folders()
                inbox = self.folder("INBOX")
                inbox.move([m.uid for m in inbox.messages()], self.folder(new))
                return
            try:
                for n, target in targets.items():
                    os.rename(self._paths[n], self.root / folder_dirname(target))
            except OSError as exc:
                raise StoreError(f"could not rename {old} to {new}: {exc}") from exc
            finally:
                durable.fsync_dir(self.root)
                self._sync_folders()
            renamed = {targets.get(n, n) for n in self._subscriptions}
            if renamed != self._subscriptions:
                write_subscriptions(self.root, renamed)
                self._subscriptions = renamed

    def subscribe(self, name: str, subscribed: bool = True) -> None:
        """(UN)SUBSCRIBE; any name may be subscribed, existing or not (RFC 3501 6.3.6)."""
        name = self._canonical(name)
        with self._ctx.lock:
            self._check()
            names = set(self._subscriptions)
            (names.add if subscribed else names.discard)(name)
            if names != self._subscriptions:
                write_subscriptions(self.root, names)
                self._subscriptions = names

    def subscriptions(self) -> list[str]:
        with self._ctx.lock:
            return sorted(self._subscriptions)

    # -- internals --------------------------------------------------------------------------

    def _check(self) -> None:
        if self._ctx.closed:
            raise StoreError("the message store is closed")

    @staticmethod
    def _canonical(name: str) -> str:
        try:
            return canonical_folder_name(name)
        except ValueError as exc:
            raise InvalidFolderName(f"invalid folder name: {exc}") from exc

    def _taken(self, name: str, ignore: Container[str] = ()) -> bool:
        folded = name.casefold()
        return any(n.casefold() == folded for n in self._rows if n not in ignore)

    def _notify(self, changes: list[FolderChange]) -> None:
        for change in changes:
            for listener in list(self._listeners):
                try:
                    listener(change)
                except Exception:  # one listener's bug must not fail the change or the others
                    log.exception("mail store listener failed")

    def _sync_folders(self) -> None:
        """Match the folder directories on disk with the index's folders, by the identity
        file in each, so renames by anyone keep UIDs and deleted folders leave the index."""
        disk = folder_dirs(self.root)
        index = self._ctx.index
        known = {row.guid: row for row in index.folders()}
        guids = folder_guids(disk, known)
        taken = {row.special_use for row in known.values()}
        rows: dict[str, FolderRow] = {}
        found = set(guids.values())
        changed = any(g not in known or known[g].name != n for n, g in guids.items())
        changed = changed or any(g not in found for g in known)
        with index.transaction() if changed else contextlib.nullcontext():
            for name, guid in guids.items():
                row = known.pop(guid, None)
                if row is None:
                    use = SPECIAL_USE.get(name)
                    use = use if use not in taken else None
                    taken.add(use)
                    row = index.add_folder(guid, name, new_uidvalidity(self.root), use)
                elif row.name != name:
                    index.rename_folder(row.id, name)
                    row = replace(row, name=name)
                rows[name] = row
            for row in known.values():
                index.drop_folder(row.id)
        self._rows, self._paths = rows, disk
        live = {row.id: row for row in rows.values()}
        changes = []
        for folder_id, folder in list(self._loaded.items()):
            row = live.get(folder_id)
            if row is None:
                folder._gone = True
                del self._loaded[folder_id]
            if row is None or row.name != folder.name:
                changes.append(FolderChange(folder.name, gone=True))
            if row is not None:
                folder.name, folder._path = row.name, disk[row.name]
        self._notify(changes)
