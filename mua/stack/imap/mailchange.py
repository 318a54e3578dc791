"""What every part of the message store shares: its errors, the change listeners hear of,
the batch in which one operation's changes are written, and STORE's flag arithmetic."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from mua.stack.imap.maildir import FORWARDED
from mua.stack.imap.maildir_index import Index, Stored
from mua.stack.imap.model import RECENT, SYSTEM_FLAGS, MessageInfo

log = logging.getLogger(__name__)

_CANONICAL = {f.casefold(): f for f in (*SYSTEM_FLAGS, FORWARDED)}


class StoreError(Exception):
    """The message store could not do what was asked; the message says why."""


class NoSuchFolder(StoreError, LookupError):
    pass


class NoSuchMessage(StoreError, LookupError):
    pass


@dataclass(frozen=True)
class FolderChange:
    """What listeners are told after each change to a folder, whoever made it."""

    folder: str
    added: tuple[int, ...] = ()
    expunged: tuple[int, ...] = ()
    flags: tuple[MessageInfo, ...] = ()  # messages whose flags changed, as they are now
    gone: bool = False  # the folder was deleted or renamed away


@dataclass
class FolderContext:
    """What all folders of one store share. `lock` guards the index, every folder's
    in-memory state and the file renames; `notify` is called with it held."""

    lock: threading.RLock
    index: Index
    summarize: Callable[[bytes], dict[str, Any]]
    notify: Callable[[list[FolderChange]], None]
    closed: bool = False

    def summary(self, wire: bytes) -> dict[str, Any]:
        try:
            return self.summarize(wire)
        except Exception:  # a message the summarizer chokes on must still be indexed
            log.exception("summarize failed; indexing the message without a summary")
            return {}


@dataclass
class Batch:
    """The changes one operation makes to one folder, written in one transaction."""

    uidnext: int
    modseq: int
    added: list[Stored] = field(default_factory=list)
    changed: dict[int, Stored] = field(default_factory=dict)
    removed: list[int] = field(default_factory=list)
    _bumped: bool = False

    def next_uid(self) -> int:
        self.uidnext += 1
        return self.uidnext - 1

    def next_modseq(self) -> int:
        """The modseq of this operation (RFC 7162): one above the folder's highest."""
        if not self._bumped:
            self.modseq += 1
            self._bumped = True
        return self.modseq

    def add(self, stored: Stored) -> MessageInfo:
        """Add a new message, numbered: the next UID, this operation's modseq."""
        info = replace(stored.info, uid=self.next_uid(), modseq=self.next_modseq())
        self.added.append(replace(stored, info=info))
        return info

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def save(self, index: Index, folder: int) -> None:
        """Write the batch (the caller holds a transaction open)."""
        index.delete(folder, self.removed)
        index.update(folder, self.changed.values())
        index.insert(folder, self.added)
        index.set_counters(folder, self.uidnext, self.modseq)


def apply_flags(current: frozenset[str], given: Iterable[str], mode: str) -> frozenset[str]:
    """STORE semantics; flags compare case-insensitively, system flags are spelled canonically
    and \\Recent is ignored (it is session state)."""
    have = {f.casefold(): f for f in current}
    wanted = {f.casefold(): _CANONICAL.get(f.casefold(), f) for f in given}
    wanted.pop(RECENT.casefold(), None)
    if mode == "set":
        return frozenset(wanted.values())
    if mode == "add":
        return frozenset({**wanted, **have}.values())
    if mode == "remove":
        return frozenset(f for k, f in have.items() if k not in wanted)
    raise ValueError(f"unknown flag mode {mode!r}")
