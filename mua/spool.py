"""A durable spool: one file per entry, a JSON header line then the payload bytes.

An entry is written to `tmp/`, fsync'ed, moved into place with `os.replace` and the directory
fsync'ed (`mua.durable.write_atomic`), so after a crash it is either whole or absent — what
the MTA's queue needs before it answers 250 (RFC 5321 section 6.1), and what the client's
Outbox needs before it tells the user a message is on its way.

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


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._tmp = self.directory / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        for stale in self._tmp.iterdir():  # a crash mid-write leaves an unacknowledged file
            stale.unlink(missing_ok=True)

    def write(self, entry_id: str, header: dict[str, Any], payload: bytes) -> None:
        line = json.dumps(header, separators=(",", ":")).encode() + b"\n"
        durable.write_atomic(self._path(entry_id), line + payload, tmp_dir=self._tmp)

    def ids(self) -> set[str]:
        """The ids of the entries now in the spool (names only: nothing is read)."""
        return {
            name[: -len(SUFFIX)] for name in os.listdir(self.directory) if name.endswith(SUFFIX)
        }

    def header(self, entry_id: str) -> dict[str, Any] | None:
        """One entry's header; None when it is gone (removed since its id was listed) or
        cannot be read (logged)."""
        path = self._path(entry_id)
        try:
            with path.open("rb") as f:
                header: dict[str, Any] = json.loads(f.readline())
            return header
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.error("unreadable spool file %s: %s", path, exc)
            return None

    def headers(self) -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = []
        for path in self.directory.glob(f"*{SUFFIX}"):
            try:
                with path.open("rb") as f:
                    found.append((path.stem, json.loads(f.readline())))
            except FileNotFoundError:
                continue  # removed since the directory was listed: not an error
            except (OSError, ValueError) as exc:
                log.error("unreadable spool file %s: %s", path, exc)
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
