"""The MTA's durable queue: one file per message, fsync'ed before the MSA answers 250.

A queue file is one JSON line (the envelope and delivery state) followed by the message
bytes. It is written to `tmp/`, fsync'ed, moved into place with `os.replace` and the
directory fsync'ed, so after a crash a message is either whole in the queue or was never
acknowledged (RFC 5321 section 6.1: once the server has said 250 it is responsible for the
message). One file rather than two keeps that to one fsync pair per message.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class QueueEntry:
    id: str
    sender: str  # "" for a bounce (the null reverse-path, RFC 5321 section 4.5.5)
    recipients: list[str]  # those still to be delivered
    created: float = field(default_factory=time.time)
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str | None = None
    message_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class MailQueue:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._tmp = self.directory / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        for stale in self._tmp.iterdir():  # a crash mid-write leaves an unacknowledged file
            stale.unlink(missing_ok=True)

    def enqueue(
        self,
        sender: str,
        recipients: list[str],
        data: bytes,
        *,
        message_id: str | None = None,
        meta: dict[str, Any] | None = None,
        queue_id: str | None = None,
    ) -> QueueEntry:
        entry = QueueEntry(
            id=queue_id or new_queue_id(),
            sender=sender,
            recipients=list(recipients),
            message_id=message_id,
            meta=dict(meta or {}),
        )
        self._write(entry, data)
        return entry

    def entries(self) -> list[QueueEntry]:
        """Every message in the queue, oldest first."""
        found = []
        for path in self.directory.glob("*.msg"):
            try:
                found.append(self._read_envelope(path))
            except (OSError, ValueError) as exc:
                log.error("unreadable queue file %s: %s", path, exc)
        return sorted(found, key=lambda e: (e.created, e.id))

    def message(self, entry: QueueEntry) -> bytes:
        with self._path(entry.id).open("rb") as f:
            f.readline()
            return f.read()

    def save(self, entry: QueueEntry) -> None:
        """Persist new delivery state (remaining recipients, attempts, next attempt)."""
        self._write(entry, self.message(entry))

    def remove(self, entry: QueueEntry) -> None:
        self._path(entry.id).unlink(missing_ok=True)
        _fsync_dir(self.directory)

    def __len__(self) -> int:
        return sum(1 for _ in self.directory.glob("*.msg"))

    def _path(self, queue_id: str) -> Path:
        return self.directory / f"{queue_id}.msg"

    def _write(self, entry: QueueEntry, data: bytes) -> None:
        header = json.dumps(asdict(entry), separators=(",", ":")).encode() + b"\n"
        tmp = self._tmp / f"{entry.id}.{secrets.token_hex(4)}"
        with tmp.open("wb") as f:
            f.write(header)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path(entry.id))
        _fsync_dir(self.directory)

    def _read_envelope(self, path: Path) -> QueueEntry:
        with path.open("rb") as f:
            return QueueEntry(**json.loads(f.readline()))


def new_queue_id() -> str:
    """A Postfix-looking queue id, unique enough to name files: time then randomness."""
    return f"{int(time.time() * 1000):X}{secrets.token_hex(3).upper()}"


def _fsync_dir(directory: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
