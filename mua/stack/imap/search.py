"""SEARCH criteria (RFC 3501 section 6.4.4; MODSEQ, RFC 7162 section 3.1.5) as a tree of
keys; whether a message matches them is `search_match.py`'s."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from mua.stack.imap.arguments import SequenceSet, parse_date, parse_flag, parse_sequence_set
from mua.stack.imap.model import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN
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
