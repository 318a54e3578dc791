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

log = logging.getLogger(__name__)

SUFFIX = ".msg"
LENGTH = "payload_bytes"  # kept by the spool in each header line: not a caller's key


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._tmp = self.directory / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        for stale in self._tmp.iterdir():  # a crash mid-write leaves an unacknowledged file
            stale.unlink(missing_ok=True)

    def write(self, entry_id: str, header: dict[str, Any], payload: bytes) -> None:
        """Add a new entry, durably when this returns (see the module's docstring)."""
        durable.write_renamed_then_synced(
            self._path(entry_id), _entry_bytes(header, payload), tmp_dir=self._tmp
        )

    def rewrite(self, entry_id: str, header: dict[str, Any], payload: bytes) -> None:
        """Replace an entry already in the spool: after a crash it is the old or the new."""
        durable.write_atomic(self._path(entry_id), _entry_bytes(header, payload), tmp_dir=self._tmp)

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
        with self._path(entry_id).open("rb") as f:
            f.readline()
            return f.read()

    def remove(self, entry_id: str, *, sync: bool = True) -> None:
        """`sync=False`: the directory is not fsync'ed (the caller calls `sync()` soon): the
        removal survives the process being killed, not yet the machine losing power."""
        durable.remove(self._path(entry_id), sync=sync)

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
                size = os.fstat(f.fileno()).st_size
            if not line.endswith(b"\n"):  # empty, or cut inside the header line
                self._set_aside(path, size, None)
                return None
            header = json.loads(line)
            if not isinstance(header, dict):
                raise ValueError(f"the header line is not an object: {line[:80]!r}")
            expected = header.pop(LENGTH, None)
            if expected is not None and size != len(line) + expected:
                self._set_aside(path, size, len(line) + expected)
                return None
            return header
        except FileNotFoundError:
            return None  # removed since its id was listed: not an error
        except (OSError, ValueError) as exc:
            log.error("unreadable spool file %s: %s", path, exc)
            return None

    def _set_aside(self, path: Path, size: int, expected: int | None) -> None:
        """Move a short entry to `corrupt/`: a crash cut its write, before it was acknowledged."""
        corrupt = self.directory / "corrupt"
        corrupt.mkdir(exist_ok=True)
        try:
            os.replace(path, corrupt / path.name)
        except FileNotFoundError:
            return  # another reader set it aside first
        log.error(
            "spool file %s holds %d bytes of %s (its write was cut by a crash, never "
            "acknowledged): moved to %s",
            path,
            size,
            "a header line" if expected is None else expected,
            corrupt,
        )


def _entry_bytes(header: dict[str, Any], payload: bytes) -> bytes:
    line = json.dumps({**header, LENGTH: len(payload)}, separators=(",", ":")).encode()
    return line + b"\n" + payload
