"""The MDA: writes a message into a user's Maildir, atomically and durably.

Maildir (https://cr.yp.to/proto/maildir.html): write to `tmp/`, fsync, then move to `new/`
and fsync it (`mua.durable.write_atomic` with `tmp_dir`). `os.replace` rather than
link+unlink works on every file system and on Windows. Names carry no `:` (the info suffix
is only added when a reader moves a file to `cur/`), so they are valid on Windows too. The
standard library's `mailbox.Maildir` does not fsync, hence this.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from mua import durable

log = logging.getLogger(__name__)

SUBDIRS = ("tmp", "new", "cur")
_counter = itertools.count()


def ensure_maildir(path: Path) -> Path:
    for sub in SUBDIRS:
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def unique_name() -> str:
    now = time.time()
    seconds, micros = int(now), int((now % 1) * 1_000_000)
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
    return f"{seconds}.M{micros}P{os.getpid()}Q{next(_counter)}.{host}"


def deliver_to_maildir(maildir: Path, data: bytes) -> Path:
    """Write `data` as a new message in `maildir`; return its path in `new/`."""
    ensure_maildir(maildir)
    final = maildir / "new" / unique_name()
    durable.write_atomic(final, data, tmp_dir=maildir / "tmp")
    return final


DeliveryListener = Callable[[str, Path], None]


class Mda:
    """Delivers to the Maildirs of one domain's users and tells listeners (the MS) at once."""

    def __init__(self, mail_root: Path) -> None:
        self.mail_root = Path(mail_root)
        self._listeners: list[DeliveryListener] = []

    def maildir(self, user: str) -> Path:
        """The user's INBOX (Maildir++: other folders are `.Name` inside it)."""
        return self.mail_root / user

    def add_listener(self, listener: DeliveryListener) -> None:
        self._listeners.append(listener)

    def deliver(self, user: str, data: bytes) -> Path:
        path = deliver_to_maildir(self.maildir(user), data)
        log.info("delivered to %s: %s", user, path.name)
        for listener in self._listeners:
            try:
                listener(user, path)
            except Exception:  # a listener's bug must not lose or fail the delivery
                log.exception("delivery listener failed")
        return path
