"""The client's Outbox: a message the user sent is on disk before anything touches the network.

It stays there until the submission server accepted it, is retried with backoff while the
failure is temporary, and keeps the server's reason when the failure is permanent, so the
user can fix the cause (an address, a password) and send it again. Built on
`mua.spool`, like the MTA's queue.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mua.spool import Spool


@dataclass
class OutboxEntry:
    id: str
    account: str  # Account.key
    message_id: str
    subject: str = ""
    created: float = field(default_factory=time.time)
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str | None = None
    failed: bool = False  # permanently: waits for the user, not for a retry
    requiretls: bool = False


class Outbox:
    def __init__(self, directory: Path) -> None:
        self._spool = Spool(Path(directory))

    def add(
        self, account: str, message: bytes, *, message_id: str, subject: str = ""
    ) -> OutboxEntry:
        entry = OutboxEntry(
            id=f"{time.time_ns():x}{secrets.token_hex(2)}",
            account=account,
            message_id=message_id,
            subject=subject,
        )
        self._spool.write(entry.id, asdict(entry), message)
        return entry

    def entries(self, account: str | None = None) -> list[OutboxEntry]:
        found = [OutboxEntry(**h) for _id, h in self._spool.headers()]
        if account is not None:
            found = [e for e in found if e.account == account]
        return sorted(found, key=lambda e: (e.created, e.id))

    def due(self, now: float | None = None) -> list[OutboxEntry]:
        now = time.time() if now is None else now
        return [e for e in self.entries() if not e.failed and e.next_attempt <= now]

    def message(self, entry: OutboxEntry) -> bytes:
        return self._spool.payload(entry.id)

    def save(self, entry: OutboxEntry) -> None:
        self._spool.rewrite(entry.id, asdict(entry), self.message(entry))

    def retry(self, entry: OutboxEntry) -> None:
        """The user fixed the cause: try a failed message again now."""
        entry.failed, entry.next_attempt, entry.last_error = False, 0.0, None
        self.save(entry)

    def remove(self, entry: OutboxEntry) -> None:
        self._spool.remove(entry.id)

    def __len__(self) -> int:
        return len(self._spool)
