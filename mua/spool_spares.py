"""Spares: the files of removed spool entries, kept in the spool's `tmp/` for new entries to be
written into (`mua.spool`, the MTA's queue), instead of a file deleted for every message
delivered and another created for every message accepted.

Why: creating a file is most of what a queue write costs where ext4 runs without a journal
(this project's VM: /sys/fs/ext4/<dev>/journal_task says `<none>`). There ext4 passes over
every inode freed in the last one to six minutes before it hands one out (`recently_deleted`
in fs/ext4/ialloc.c: without a journal it waits until the block recording the deletion is
likely on disk), and a queue that frees an inode per message delivered makes that walk grow
with its own traffic. Measured in the running MSA while `mua stack` delivered
(bench/world_throughput.py's session, p50 per write): a created file 565 us of CPU and 891 us
in all, a spare written over 134 and 396. A/B of the builds, worlds alternating, nine rounds
each: the MSA's CPU per message 1.21 -> 1.01 ms, accepted 325 -> 349 messages/s. Elsewhere a
rename costs about what the create and the unlink it replaces cost, and no freed block is
discarded (the VM's disk is mounted with `discard`).

Several processes share a spool's `tmp/` (the MSA process writes the queue whose entries the
delivering process removes), so a spare is taken by renaming it to the taker's own temporary
name: of all the processes and threads that try, one succeeds. A spare holds the bytes of an
entry already dealt with; spares are few (`MOST`), small (`LARGEST`), and removed with the
rest of `tmp/` when a spool is opened.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

PREFIX = "spare."
MOST = 256  # spares a process lets a spool's tmp/ hold; beyond them, removed entries go
LARGEST = 64 * 1024  # bytes: a larger entry's file is deleted, not kept
RELIST_AFTER = 32  # calls answered without listing the directory after a listing said no


class Spares:
    """The spares of one spool's `tmp/`, as this process knows them."""

    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self._lock = threading.Lock()
        self._names: list[str] = []  # spares seen at the last listing, not yet tried
        self._skips = 0  # takes to answer None before listing again (the last found none)
        self._room = 0  # spares this process may still add before it counts them again

    def take(self, name: str) -> Path | None:
        """A spare, renamed to a temporary name of `name`'s for this caller alone (to be
        written over, `mua.durable.write_renamed_then_synced`'s `into`); None when there
        is none to take."""
        while True:
            with self._lock:
                if not self._names:
                    if self._skips:
                        self._skips -= 1
                        return None
                    self._names = self._listed()
                    if not self._names:
                        self._skips = RELIST_AFTER
                        return None
                spare = self._names.pop()
            taken = self._tmp / f"{name}.{secrets.token_hex(4)}"
            try:
                os.rename(self._tmp / spare, taken)  # atomic: one taker of all gets it
            except FileNotFoundError:
                continue  # taken by another thread or process since the listing
            except OSError:
                return None  # the caller creates a file as it would without spares
            return taken

    def keep(self, path: Path) -> bool:
        """Move the file of an entry being removed into `tmp/` as a spare; False when it is
        left to the caller to delete (too large, enough spares, or it could not be moved)."""
        try:
            if os.stat(path).st_size > LARGEST:
                return False
        except OSError:
            return False
        with self._lock:
            if self._room < 0:  # full at the last count: count again after a while
                self._room += 1
                return False
            if self._room == 0:
                self._room = MOST - len(self._listed())  # unlistable: counted as none
                if self._room <= 0:
                    self._room = -RELIST_AFTER
                    return False
            self._room -= 1
        spare = f"{PREFIX}{secrets.token_hex(8)}"
        try:
            os.rename(path, self._tmp / spare)
        except OSError:
            return False
        with self._lock:  # this process's next writer need not list the directory for it
            self._names.append(spare)
            self._skips = 0
        return True

    def _listed(self) -> list[str]:
        """The spares in `tmp/` now; none when it cannot be listed (the callers then do
        without: a new file created, a removed entry's deleted)."""
        try:
            names = os.listdir(self._tmp)
        except OSError:
            return []
        return [name for name in names if name.startswith(PREFIX)]
