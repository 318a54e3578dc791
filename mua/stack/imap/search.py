"""SEARCH criteria (RFC 3501 section 6.4.4; MODSEQ, RFC 7162 section 3.1.5) as a tree of
keys, and whether one message matches them."""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.policy
import email.utils
import functools
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from mua.stack.imap.arguments import (
    SequenceSet,
    epoch_date,
    parse_date,
    parse_flag,
    parse_sequence_set,
)
from mua.stack.imap.message_parts import crlf, field_value, header_fields
from mua.stack.imap.model import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, MessageInfo
from mua.stack.imap.protocol import Atom, ProtocolError, Token, astring, number

CHARSETS = ("UTF-8", "US-ASCII")
MAX_DEPTH = 32  # NOT, OR and parentheses one SEARCH may nest (hostile clients)


SearchError = ProtocolError  # what a BAD answers; callers may catch it by this name


class BadCharset(ValueError):
    """A CHARSET we cannot read: reply `NO [BADCHARSET (UTF-8 US-ASCII)]` (RFC 3501 6.4.4)."""

    code = "BADCHARSET (" + " ".join(CHARSETS) + ")"


# --- the tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class All:
    pass


@dataclass(frozen=True)
class HasFlag:
    flag: str  # system flags spelled as in model.py; keywords compare case-insensitively


@dataclass(frozen=True)
class Recent:
    pass


@dataclass(frozen=True)
class HeaderHas:
    """FROM, TO, CC, BCC, SUBJECT and HEADER: the decoded field contains `value`."""

    name: str  # lower-case field name
    value: str


@dataclass(frozen=True)
class BodyHas:
    value: str
    with_header: bool = False  # TEXT searches the header too


@dataclass(frozen=True)
class DateIs:
    sent: bool  # the Date: header (SENT*), else the internal date
    relation: str  # "before", "on" or "since"
    date: dt.date


@dataclass(frozen=True)
class SizeIs:
    larger: bool
    octets: int


@dataclass(frozen=True)
class InSet:
    numbers: SequenceSet
    uid: bool


@dataclass(frozen=True)
class ModSeqAtLeast:
    modseq: int


@dataclass(frozen=True)
class Not:
    key: SearchKey


@dataclass(frozen=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True)
class And:
    keys: tuple[SearchKey, ...]


SearchKey: TypeAlias = (
    "All | HasFlag | Recent | HeaderHas | BodyHas | DateIs | SizeIs | InSet | ModSeqAtLeast"
    " | Not | Or | And"
)

_FLAG_KEYS = {
    "ANSWERED": ANSWERED, "DELETED": DELETED, "DRAFT": DRAFT, "FLAGGED": FLAGGED, "SEEN": SEEN
}  # fmt: skip
_ADDRESS_KEYS = ("BCC", "CC", "FROM", "TO", "SUBJECT")
_DATE_KEYS = {"BEFORE": "before", "ON": "on", "SINCE": "since"}


def parse_search(args: Sequence[Token], *, charset: str = "US-ASCII") -> SearchKey:
    """The arguments of SEARCH (`[CHARSET name] key...`, or the keys alone with `charset`
    given by the caller) as one key; several top-level keys are an And. Raises BadCharset
    for charsets other than UTF-8 and US-ASCII, and SearchError (ProtocolError) for what
    a BAD answers. Strings are read as UTF-8 either way: US-ASCII is a subset."""
    tokens = list(args)
    if charset.upper() not in CHARSETS:
        raise BadCharset(f"charset {charset[:40]} is not supported")
    if tokens and type(tokens[0]) is Atom and tokens[0].upper() == "CHARSET":
        if len(tokens) < 2:
            raise ProtocolError("CHARSET needs a name")
        charset = astring(tokens[1]).upper()
        if charset not in CHARSETS:
            raise BadCharset(f"charset {charset[:40]} is not supported")
        tokens = tokens[2:]
    return _Parser(tokens).keys(0)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.pos = tokens, 0

    def keys(self, depth: int) -> SearchKey:
        if self.pos >= len(self.tokens):
            raise ProtocolError("missing search criteria")
        keys = []
        while self.pos < len(self.tokens):
            keys.append(self.key(depth))
        return keys[0] if len(keys) == 1 else And(tuple(keys))

    def next(self) -> Token:
        if self.pos >= len(self.tokens):
            raise ProtocolError("incomplete search criteria")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def string(self) -> str:
        token = self.next()
        if isinstance(token, list):
            raise ProtocolError("expected a search string")
        return astring(token)  # literals are read as UTF-8, of which US-ASCII is a part

    def key(self, depth: int) -> SearchKey:
        if depth > MAX_DEPTH:
            raise ProtocolError("search criteria nested too deeply")
        token = self.next()
        if isinstance(token, list):
            return _Parser(token).keys(depth + 1)
        if type(token) is not Atom:
            raise ProtocolError("expected a search key")
        word = token.upper()
        if word in _FLAG_KEYS:
            return HasFlag(_FLAG_KEYS[word])
        if word.startswith("UN") and word[2:] in _FLAG_KEYS:
            return Not(HasFlag(_FLAG_KEYS[word[2:]]))
        if word in ("KEYWORD", "UNKEYWORD"):
            flag = HasFlag(parse_flag(self.next()))
            return flag if word == "KEYWORD" else Not(flag)
        if word in _ADDRESS_KEYS:
            return HeaderHas(word.lower(), self.string())
        if word == "HEADER":
            name = self.string()
            return HeaderHas(name.lower(), self.string())
        if word in ("BODY", "TEXT"):
            return BodyHas(self.string(), with_header=word == "TEXT")
        if word in _DATE_KEYS or (word.startswith("SENT") and word[4:] in _DATE_KEYS):
            relation = _DATE_KEYS[word.removeprefix("SENT")]
            return DateIs(word.startswith("SENT"), relation, parse_date(self.next()))
        if word in ("LARGER", "SMALLER"):
            return SizeIs(word == "LARGER", number(self.next()))
        if word == "UID":
            return InSet(parse_sequence_set(self.next()), uid=True)
        if word == "NOT":
            return Not(self.key(depth + 1))
        if word == "OR":
            return Or(self.key(depth + 1), self.key(depth + 1))
        if word == "MODSEQ":  # [entry-name entry-type-req] mod-sequence-valzer (RFC 7162)
            if self.pos < len(self.tokens) and type(self.tokens[self.pos]) is str:
                self.next()  # a per-flag entry: one modseq per message serves them all
                kind = self.next()
                if type(kind) is not Atom or kind.upper() not in ("PRIV", "SHARED", "ALL"):
                    raise ProtocolError("MODSEQ entry type must be priv, shared or all")
            return ModSeqAtLeast(number(self.next()))
        simple: dict[str, SearchKey] = {"ALL": All(), "RECENT": Recent(), "OLD": Not(Recent())}
        if word in simple:
            return simple[word]
        if word == "NEW":
            return And((Recent(), Not(HasFlag(SEEN))))
        if word[:1].isdigit() or word[:1] == "*":
            return InSet(parse_sequence_set(token), uid=False)
        raise ProtocolError(f"unknown search key {word[:40]}")


def walk(key: SearchKey) -> Iterator[SearchKey]:
    """Every key of the tree, depth first."""
    yield key
    if isinstance(key, Not):
        yield from walk(key.key)
    elif isinstance(key, Or):
        yield from walk(key.left)
        yield from walk(key.right)
    elif isinstance(key, And):
        for inner in key.keys:
            yield from walk(inner)


def uses_modseq(key: SearchKey) -> bool:
    """The reply must end with `(MODSEQ n)` (RFC 7162 section 3.1.5)."""
    return any(isinstance(k, ModSeqAtLeast) for k in walk(key))


def needs_body(key: SearchKey) -> bool:
    return any(isinstance(k, BodyHas) for k in walk(key))


# --- evaluation -----------------------------------------------------------------------------


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
