"""What the local cache holds, as values (folders, message envelopes, traces), and their rows.

Also the few normalisations every key goes through, so that "Alice@A.test" and
"alice@a.test", or "inbox" and "INBOX", name the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

PREVIEW_CHARS = 200  # longer previews are cut: the message list shows one line of it


def account_key(address: str) -> str:
    """Accounts are keyed by their lower-cased address."""
    return address.strip().lower()


def folder_key(name: str) -> str:
    """INBOX is case-insensitive (RFC 3501 5.1); every other name is kept as the server wrote it."""
    return "INBOX" if name.upper() == "INBOX" else name


def message_id_key(message_id: str) -> str:
    """A Message-ID in its `<...>` form, however the caller found it."""
    text = message_id.strip()
    if not (text.startswith("<") and text.endswith(">")):
        text = f"<{text}>"
    return text


def is_seen(flags: frozenset[str]) -> bool:
    return any(flag.lower() == "\\seen" for flag in flags)


class ListedFolder(NamedTuple):
    """One folder as the server's LIST answered it (a plain 4-tuple works too)."""

    name: str
    delimiter: str | None = None
    special_use: str | None = None  # RFC 6154 attribute, e.g. "\\Sent"
    subscribed: bool = True


@dataclass(frozen=True, slots=True)
class CachedFolder:
    account: str
    name: str
    delimiter: str | None
    special_use: str | None
    subscribed: bool
    uidvalidity: int | None
    uidnext: int | None
    highestmodseq: int | None
    total: int  # messages cached in this folder
    unread: int  # of which without \Seen


FOLDER_COLUMNS = (
    "name, delimiter, special_use, subscribed, uidvalidity, uidnext, highestmodseq, total, unread"
)


def folder_from_row(account: str, row: tuple[Any, ...]) -> CachedFolder:
    name, delimiter, special_use, subscribed, uidvalidity, uidnext, modseq, total, unread = row
    return CachedFolder(
        account, name, delimiter, special_use, bool(subscribed), uidvalidity, uidnext, modseq,
        total, unread,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class CachedMessage:
    """One message's envelope: a row of the message list.

    `date` is the Date header in epoch seconds. When it is None (absent or unparseable) the
    cache stores INTERNALDATE in its place, so a message read back always has a date.
    """

    account: str
    folder: str
    uid: int
    message_id: str | None = None
    subject: str = ""
    sender_name: str = ""
    sender_address: str = ""
    recipients: str = ""  # To and Cc, as text
    date: float | None = None
    size: int = 0  # RFC822.SIZE
    flags: frozenset[str] = field(default_factory=frozenset)
    has_attachments: bool = False
    preview: str = ""  # at most PREVIEW_CHARS characters are kept
    in_reply_to: str | None = None
    references: str | None = None  # the References header: Message-IDs separated by spaces
    internaldate: float | None = None

    @property
    def sender(self) -> str:
        """What the From column shows: the display name, else the address."""
        return self.sender_name or self.sender_address

    @property
    def seen(self) -> bool:
        return is_seen(self.flags)


# The order of MESSAGE_COLUMNS is the order of message_from_row's unpacking.
MESSAGE_COLUMNS = (
    "uid, message_id, subject, sender_name, sender_address, recipients, date, size, flags,"
    " has_attachments, preview, in_reply_to, refs, internaldate"
)


def message_from_row(account: str, folder: str, row: tuple[Any, ...]) -> CachedMessage:
    uid, mid, subject, s_name, s_addr, to, date, size, flags, att, prev, irt, refs, idate = row
    return CachedMessage(
        account, folder, uid, mid, subject, s_name, s_addr, to, date, size,
        frozenset(flags.split()), bool(att), prev, irt, refs, idate,
    )  # fmt: skip


UPSERT_MESSAGE = (
    "INSERT INTO messages (folder_id, uid, message_id, subject, sender_name, sender_address,"
    " recipients, date, size, flags, seen, has_attachments, preview, in_reply_to, refs,"
    " internaldate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (folder_id, uid) DO UPDATE SET message_id = excluded.message_id,"
    " subject = excluded.subject, sender_name = excluded.sender_name,"
    " sender_address = excluded.sender_address, recipients = excluded.recipients,"
    " date = excluded.date, size = excluded.size, flags = excluded.flags, seen = excluded.seen,"
    " has_attachments = excluded.has_attachments, preview = excluded.preview,"
    " in_reply_to = excluded.in_reply_to, refs = excluded.refs,"
    " internaldate = excluded.internaldate"
)


def message_params(folder_id: int, m: CachedMessage) -> tuple[Any, ...]:
    """The values of one messages row, in the order of UPSERT_MESSAGE's columns."""
    date = m.date if m.date is not None else (m.internaldate or 0.0)
    return (
        folder_id, m.uid, m.message_id, m.subject, m.sender_name, m.sender_address,
        m.recipients, date, m.size, " ".join(sorted(m.flags)), is_seen(m.flags),
        m.has_attachments, m.preview[:PREVIEW_CHARS], m.in_reply_to, m.references, m.internaldate,
    )  # fmt: skip


@dataclass(frozen=True)
class CachedTrace:
    """A message's journey: the trace computed for it (Trace.to_json(), or None before one was
    computed) and the legs observed beside it, such as the submission leg the outbox saw."""

    account: str
    message_id: str
    trace: dict[str, Any] | None
    observed_legs: list[dict[str, Any]]
