"""Whether a message matches a SEARCH key (RFC 3501 section 6.4.4; `search.py` parses the
keys): header fields with their encoded-words decoded, the text of every text part with its
transfer encoding and charset undone, each read at most once per message."""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.policy
import email.utils
import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from mua.stack.imap.arguments import epoch_date
from mua.stack.imap.message_parts import crlf, field_value, header_fields
from mua.stack.imap.model import MessageInfo
from mua.stack.imap.search import (
    All,
    And,
    BodyHas,
    DateIs,
    HasFlag,
    HeaderHas,
    InSet,
    ModSeqAtLeast,
    Not,
    Or,
    Recent,
    SearchKey,
    SizeIs,
)


class SearchItem(Protocol):
    """One message as SEARCH sees it."""

    seq: int
    info: MessageInfo
    recent: bool
    max_seq: int  # what `*` means in a sequence set
    max_uid: int  # what `*` means in a UID set

    def load(self) -> bytes: ...  # the whole message; called only for BODY and TEXT


@dataclass
class Candidate:
    """A ready-made SearchItem that loads the message at most once."""

    seq: int
    info: MessageInfo
    recent: bool = False
    max_seq: int = 0
    max_uid: int = 0
    loader: Callable[[], bytes] = lambda: b""
    _loaded: bytes | None = field(default=None, repr=False)

    def load(self) -> bytes:
        if self._loaded is None:
            self._loaded = self.loader()
        return self._loaded


def evaluate(key: SearchKey, item: SearchItem) -> bool:
    return _Match(item).test(key)


class SelectedView(Protocol):
    """What `run` needs of a session's selected mailbox."""

    uids: list[int]  # ascending; message sequence number n is uids[n - 1]
    infos: dict[int, MessageInfo]
    folder: Any  # folder.read(uid) -> bytes, the whole message


def run(key: SearchKey, selected: SelectedView) -> list[tuple[int, int]]:
    """(sequence number, UID) of every message of the view that matches, ascending.
    \\Recent is taken from `selected.recent_uids` when the view has it (else none is)."""
    uids = selected.uids
    recent: Collection[int] = getattr(selected, "recent_uids", frozenset())
    top_uid = uids[-1] if uids else 0
    hits = []
    for seq, uid in enumerate(uids, 1):
        item = Candidate(
            seq, selected.infos[uid], uid in recent, len(uids), top_uid,
            loader=functools.partial(selected.folder.read, uid),
        )  # fmt: skip
        if evaluate(key, item):
            hits.append((seq, uid))
    return hits


class _Match:
    """Evaluates keys for one message, decoding its header and body at most once."""

    def __init__(self, item: SearchItem) -> None:
        self.item = item
        self._header: bytes | None = None
        self._body: str | None = None

    def header(self) -> bytes:
        if self._header is None:
            raw = self.item.info.summary.get("header")
            if isinstance(raw, str) and raw:
                self._header = raw.encode("utf-8")
            else:  # no summary: read it from the message itself
                self._header = b"".join(r for _, r in header_fields(crlf(self.item.load())))
        return self._header

    def values(self, name: str) -> list[str]:
        return [
            _decoded(field_value(r)) for n, r in header_fields(self.header()) if n.lower() == name
        ]

    def body(self) -> str:
        if self._body is None:
            self._body = _body_text(self.item.load())
        return self._body

    def test(self, key: SearchKey) -> bool:
        info = self.item.info
        if isinstance(key, And):
            return all(self.test(k) for k in key.keys)
        if isinstance(key, Or):
            return self.test(key.left) or self.test(key.right)
        if isinstance(key, Not):
            return not self.test(key.key)
        if isinstance(key, All):
            return True
        if isinstance(key, Recent):
            return self.item.recent
        if isinstance(key, HasFlag):
            return key.flag.lower() in {f.lower() for f in info.flags}
        if isinstance(key, HeaderHas):  # empty value: any message with the field (6.4.4)
            needle = key.value.casefold()
            return any(needle in v.casefold() for v in self.values(key.name))
        if isinstance(key, BodyHas):
            text = self.body()
            if key.with_header:
                text = (
                    "\n".join(_decoded(field_value(r)) for _, r in header_fields(self.header()))
                    + text
                )
            return key.value.casefold() in text.casefold()
        if isinstance(key, DateIs):
            day = self.sent_date() if key.sent else epoch_date(info.internaldate)
            if day is None:
                return False
            return {"before": day < key.date, "on": day == key.date, "since": day >= key.date}[
                key.relation
            ]
        if isinstance(key, SizeIs):
            return info.size > key.octets if key.larger else info.size < key.octets
        if isinstance(key, InSet):
            if key.uid:
                return key.numbers.contains(info.uid, self.item.max_uid)
            return key.numbers.contains(self.item.seq, self.item.max_seq)
        if isinstance(key, ModSeqAtLeast):
            return info.modseq >= key.modseq
        raise TypeError(f"not a search key: {key!r}")

    def sent_date(self) -> dt.date | None:
        """The Date: header's own calendar day, disregarding time and zone (6.4.4)."""
        for value in self.values("date")[:1]:
            try:
                parsed = email.utils.parsedate_tz(value)
                if parsed:
                    return dt.date(*parsed[:3])
            except (TypeError, ValueError, OverflowError, IndexError):
                pass
        sent = self.item.info.summary.get("sent")
        return epoch_date(sent) if isinstance(sent, int | float) else None


def _decoded(value: str) -> str:
    """A header value with its RFC 2047 encoded-words decoded, or as is if they are bad."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return value


def _body_text(message: bytes) -> str:
    """The text of every text part, transfer encoding and charset undone."""
    try:
        parsed = email.message_from_bytes(message, policy=email.policy.compat32)
        texts = []
        for part in parsed.walk():
            if part.is_multipart() or part.get_content_maintype() != "text":
                continue
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            try:
                texts.append(data.decode(part.get_content_charset() or "utf-8", "replace"))
            except LookupError:
                texts.append(data.decode("utf-8", "replace"))
        return "\n".join(texts)
    except Exception:  # the email package on garbage: search the raw octets instead
        return message.decode("utf-8", "replace")
