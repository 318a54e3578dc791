"""What an IMAP server answers, turned into what the local cache stores: pure functions.

`cached_message` makes a cache row from one FETCH of `FETCH_ITEMS` (ENVELOPE, FLAGS, size,
INTERNALDATE, BODYSTRUCTURE); `special_use` names a folder's role (RFC 6154, or the usual
names when the server has no SPECIAL-USE); `uids_in_sets` reads QRESYNC's VANISHED sets.
"""

from __future__ import annotations

import email.errors
import email.header
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from mua.store.cache import CachedMessage

SPECIAL_USE = (b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk", b"\\Archive", b"\\All", b"\\Flagged")
# RFC 6154 fallbacks for servers without SPECIAL-USE, by the names clients commonly create.
_BY_NAME = {
    "sent": "\\Sent",
    "sent items": "\\Sent",
    "sent messages": "\\Sent",
    "drafts": "\\Drafts",
    "trash": "\\Trash",
    "deleted items": "\\Trash",
    "deleted messages": "\\Trash",
    "junk": "\\Junk",
    "spam": "\\Junk",
    "archive": "\\Archive",
}
FETCH_ITEMS = [b"UID", b"ENVELOPE", b"FLAGS", b"RFC822.SIZE", b"INTERNALDATE", b"BODYSTRUCTURE"]


def text_of(value: bytes | str) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


def uids_in_sets(uids: Iterable[int], lines: Iterable[bytes]) -> list[int]:
    """Those of `uids` inside the UID sets of VANISHED responses ("(EARLIER) 3:5,9")."""
    ranges: list[tuple[int, int]] = []
    for line in lines:
        text = line.decode("ascii", "replace") if isinstance(line, bytes) else str(line)
        for part in text.replace("(EARLIER)", "").strip().split(","):
            low, _, high = part.strip().partition(":")
            if low.isdigit() and (not high or high.isdigit()):
                a, b = int(low), int(high or low)
                ranges.append((min(a, b), max(a, b)))
    return [u for u in uids if any(a <= u <= b for a, b in ranges)]


def batches(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def special_use(name: str, flags: Sequence[bytes]) -> str | None:
    for flag in flags:
        if flag in SPECIAL_USE:
            return flag.decode()
    return _BY_NAME.get(name.lower().rsplit("/", 1)[-1].rsplit(".", 1)[-1])


def flag_set(raw: Iterable[bytes | str]) -> frozenset[str]:
    return frozenset(f.decode() if isinstance(f, bytes) else f for f in raw if f != b"\\Recent")


def _text(value: bytes | None) -> str:
    if not value:
        return ""
    raw = value.decode("utf-8", "replace")
    if "=?" not in raw:
        return raw  # no RFC 2047 encoded-word: nothing to decode (most headers)
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError):
        return raw


def _address(addr: Any) -> tuple[str, str]:  # imapclient's Address (untyped)
    mailbox = (addr.mailbox or b"").decode("utf-8", "replace")
    host = (addr.host or b"").decode("utf-8", "replace")
    return _text(addr.name), f"{mailbox}@{host}" if host else mailbox


def _has_attachment(structure: Any) -> bool:  # imapclient's BodyData (untyped)
    if structure is None:
        return False
    if structure.is_multipart:
        return any(_has_attachment(part) for part in structure[0])
    return any(
        isinstance(item, tuple)
        and item
        and isinstance(item[0], bytes)
        and item[0].lower() == b"attachment"
        for item in structure
    )


def cached_message(account: str, folder: str, uid: int, data: dict[bytes, Any]) -> CachedMessage:
    env = data.get(b"ENVELOPE")
    internal = data.get(b"INTERNALDATE")
    internaldate = internal.timestamp() if isinstance(internal, datetime) else time.time()
    sender_name, sender_address = ("", "")
    recipients = ""
    subject = message_id = in_reply_to = ""
    date = internaldate
    if env is not None:
        if env.from_:
            sender_name, sender_address = _address(env.from_[0])
        people = [*(env.to or ()), *(env.cc or ())]
        recipients = ", ".join(n or a for n, a in (_address(p) for p in people))
        subject = _text(env.subject)
        message_id = (env.message_id or b"").decode("utf-8", "replace")
        in_reply_to = (env.in_reply_to or b"").decode("utf-8", "replace")
        if isinstance(env.date, datetime):
            date = env.date.timestamp()
    return CachedMessage(
        account=account,
        folder=folder,
        uid=uid,
        message_id=message_id,
        subject=subject,
        sender_name=sender_name,
        sender_address=sender_address,
        recipients=recipients,
        date=date,
        size=int(data.get(b"RFC822.SIZE", 0)),
        flags=flag_set(data.get(b"FLAGS", ())),
        has_attachments=_has_attachment(data.get(b"BODYSTRUCTURE")),
        preview="",
        in_reply_to=in_reply_to,
        references="",
        internaldate=internaldate,
    )
