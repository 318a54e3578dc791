"""A durable spool: one file per entry, a JSON header line then the payload bytes.

A new entry is written to `tmp/`, moved into place with `os.replace`, and then it and the
directory are fsync'ed at once (`mua.durable.write_renamed_then_synced`: on a journal, one
commit, not two), so when `write` returns the entry is on disk, whole — what the MTA's queue needs
before it answers 250 (RFC 5321 section 6.1), and what the client's Outbox needs before it
tells the user a message is on its way. An entry rewritten with new state (`rewrite`) is
fsync'ed before its rename (`mua.durable.write_atomic`): after a crash, old or new.

A crash during `write` can leave the entry's name holding fewer bytes than were written:
never acknowledged, so never to be delivered or sent. The header line records the payload's
length (`payload_bytes`; entries from before it have none and are taken as they are); an
entry that is short is moved to `corrupt/` with an error naming it, as Postfix does with a
damaged queue file, and is not handed out.

The MTA's queue writes a new entry into the file of one it removed (`reuse_files`,
`mua.spool_spares`: on ext4 without a journal creating a file was most of a queue write's
cost). So the header line also records the entry's own id (`entry_id`): a crash can leave a
reused file holding the entry it held before under the new name, which is set aside as a
short one is, and a reader that opened an entry's file just as it was reused for another
finds the other's id and takes the entry as removed.

A leaf like `mua.durable`, the one module of mua it imports: the MTA's queue (stack) and the
client's Outbox (store) both build on it, and neither layer may import the other.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from mua import durable
from mua.spool_spares import Spares

log = logging.getLogger(__name__)

SUFFIX = ".msg"
# Kept by the spool in each header line, not a caller's keys: the payload's length, and the
# entry's own id (a file reused for another entry, or read while it is, holds another's).
LENGTH = "payload_bytes"
ENTRY = "entry_id"


class Spool:
    def __init__(self, directory: Path, *, reuse_files: bool = False) -> None:
        """`reuse_files`: a removed entry's file is kept to hold a new one (`mua.spool_spares`,
        for the MTA's queue, where entries come and go by the thousand); POSIX only."""
        self.directory = Path(directory)
        self._tmp = self.directory / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        for stale in self._tmp.iterdir():  # a crash mid-write leaves an unacknowledged file
            stale.unlink(missing_ok=True)
        self._spares = Spares(self._tmp) if reuse_files and os.name != "nt" else None

    def write(self, entry_id: str, header: dict[str, Any], payload: bytes) -> None:
        """Add a new entry, durably when this returns (see the module's docstring)."""
        path, data = self._path(entry_id), _entry_bytes(entry_id, header, payload)
        spare = self._spares.take(path.name) if self._spares is not None else None
        if spare is not None:
            try:
                durable.write_renamed_then_synced(path, data, tmp_dir=self._tmp, into=spare)
                return
            except FileNotFoundError:  # removed by a spool opened meanwhile: write anew
                pass
        durable.write_renamed_then_synced(path, data, tmp_dir=self._tmp)

    def rewrite(self, entry_id: str, header: dict[str, Any], payload: bytes) -> None:
        """Replace an entry already in the spool: after a crash it is the old or the new."""
        durable.write_atomic(
            self._path(entry_id), _entry_bytes(entry_id, header, payload), tmp_dir=self._tmp
        )

    def ids(self) -> set[str]:
        """The ids of the entries now in the spool (names only: nothing is read)."""
        return {
            name[: -len(SUFFIX)] for name in os.listdir(self.directory) if name.endswith(SUFFIX)
        }

    def header(self, entry_id: str) -> dict[str, Any] | None:
        """One entry's header; None when it is gone (removed since its id was listed),
        short (moved to `corrupt/`) or cannot be read (both logged)."""
        return self._read_header(self._path(entry_id))

    def headers(self) -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = []
        for path in self.directory.glob(f"*{SUFFIX}"):
            header = self._read_header(path)
            if header is not None:
                found.append((path.stem, header))
        return found

    def payload(self, entry_id: str) -> bytes:
        """FileNotFoundError when the entry is gone, its file since reused for another."""
        path = self._path(entry_id)
        with path.open("rb") as f:
            line = f.readline()
            payload = f.read()
        try:
            owner = json.loads(line).get(ENTRY, entry_id)
        except (ValueError, AttributeError):
            owner = None  # changing as it was read: reused for another entry
        if owner != entry_id:
            raise FileNotFoundError(f"spool entry {path} was removed")
        return payload

    def remove(self, entry_id: str, *, sync: bool = True) -> None:
        """`sync=False`: the directory is not fsync'ed (the caller calls `sync()` soon): the
        removal survives the process being killed, not yet the machine losing power."""
        path = self._path(entry_id)
        if self._spares is None or not self._spares.keep(path):
            path.unlink(missing_ok=True)
        if sync:
            durable.fsync_dir(self.directory)

    def sync(self) -> None:
        """Make the removals and renames so far durable (fsync of the directory)."""
        durable.fsync_dir(self.directory)

    def __len__(self) -> int:
        return sum(1 for _ in self.directory.glob(f"*{SUFFIX}"))

    def _path(self, entry_id: str) -> Path:
        return self.directory / f"{entry_id}{SUFFIX}"

    def _read_header(self, path: Path) -> dict[str, Any] | None:
        try:
            with path.open("rb") as f:
                line = f.readline()
                held = os.fstat(f.fileno())
        except FileNotFoundError:
            return None  # removed since its id was listed: not an error
        except OSError as exc:
            log.error("unreadable spool file %s: %s", path, exc)
            return None
        try:
            if not line.endswith(b"\n"):  # empty, or cut inside the header line
                self._set_aside(path, held, "a header line")
                return None
            header = json.loads(line)
            if not isinstance(header, dict):
                raise ValueError(f"the header line is not an object: {line[:80]!r}")
        except ValueError as exc:
            if _still_at(path, held):  # else read while its file was reused for another
                log.error("unreadable spool file %s: %s", path, exc)
            return None
        expected = header.pop(LENGTH, None)
        owner = header.pop(ENTRY, None)
        if owner is not None and owner != path.name[: -len(SUFFIX)]:
            self._set_aside(path, held, f"entry {owner}'s bytes")
            return None
        if expected is not None and held.st_size != len(line) + expected:
            self._set_aside(path, held, f"{len(line) + expected}")
            return None
        return header

    def _set_aside(self, path: Path, held: os.stat_result, expected: str) -> None:
        """Move an entry a crash cut short (or left holding the bytes its reused file held
        before) to `corrupt/`: its write never returned, so it was never acknowledged.
        Nothing is moved when the file read is no longer at `path`: the entry was removed
        meanwhile (and its file perhaps reused for another)."""
        if not _still_at(path, held):
            return
        corrupt = self.directory / "corrupt"
        corrupt.mkdir(exist_ok=True)
        try:
            os.replace(path, corrupt / path.name)
        except FileNotFoundError:
            return  # another reader set it aside first
        log.error(
            "spool file %s holds %d bytes where %s was expected (its write was cut by a "
            "crash, never acknowledged): moved to %s",
            path,
            held.st_size,
            expected,
            corrupt,
        )


def _still_at(path: Path, held: os.stat_result) -> bool:
    """Whether the file read (`held`, its fstat) is still the one named `path`."""
    try:
        now = os.stat(path)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _entry_bytes(entry_id: str, header: dict[str, Any], payload: bytes) -> bytes:
    record = {**header, LENGTH: len(payload), ENTRY: entry_id}
    return json.dumps(record, separators=(",", ":")).encode() + b"\n" + payload
