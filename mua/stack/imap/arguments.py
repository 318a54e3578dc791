"""IMAP4rev1 command arguments (RFC 3501 section 9): sequence sets, FETCH items, flags,
STORE and STATUS arguments, dates. Pure functions over the tokens `protocol` produces; anything
a client can get wrong raises `ProtocolError`.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from mua.stack.imap.model import ANSWERED, DELETED, DRAFT, FLAGGED, RECENT, SEEN
from mua.stack.imap.protocol import (
    MAX_NUMBER,
    Atom,
    Bracketed,
    ProtocolError,
    Token,
    astring,
    number,
    quote,
)

# --- sequence sets --------------------------------------------------------------------------


@dataclass(frozen=True)
class SequenceSet:
    """`1,3:5,7:*` as ranges; 0 stands for `*`, the largest number in use."""

    ranges: tuple[tuple[int, int], ...]

    def resolve(self, largest: int) -> list[tuple[int, int]]:
        """Sorted, merged, inclusive ranges within 1..largest. `5:3` is `3:5`, and `559:*`
        with largest 500 is 500:559, so it holds 500 (RFC 3501 section 6.4.8)."""
        return list(self._spans(largest))

    def _spans(self, largest: int) -> tuple[tuple[int, int], ...]:
        cached = self.__dict__.get("_cached")  # one entry: a SEARCH asks with one `largest`
        if cached is None or cached[0] != largest:
            cached = (largest, _resolve(self.ranges, largest))
            object.__setattr__(self, "_cached", cached)
        return cached[1]

    def contains(self, value: int, largest: int) -> bool:
        spans = self._spans(largest)
        i = bisect_right(spans, (value, MAX_NUMBER + 1)) - 1
        return i >= 0 and spans[i][1] >= value

    def iter(self, largest: int) -> Iterator[int]:
        """Message sequence numbers in the set, ascending, each once."""
        for lo, hi in self.resolve(largest):
            yield from range(lo, hi + 1)

    def select(self, values: Sequence[int]) -> Iterator[int]:
        """Indexes into ascending `values` (UIDs in use) whose value is in the set."""
        largest = values[-1] if values else 0
        for lo, hi in self.resolve(largest):
            yield from range(bisect_left(values, lo), bisect_right(values, hi))

    @property
    def highest_explicit(self) -> int:
        """The largest number written out (to refuse sequence numbers past the end)."""
        return max((max(a, b) for a, b in self.ranges), default=0)

    def __str__(self) -> str:
        def one(n: int) -> str:
            return str(n) if n else "*"

        return ",".join(one(a) if a == b else f"{one(a)}:{one(b)}" for a, b in self.ranges)


def _resolve(ranges: tuple[tuple[int, int], ...], largest: int) -> tuple[tuple[int, int], ...]:
    spans = sorted(
        (min(a or largest, b or largest), max(a or largest, b or largest)) for a, b in ranges
    )
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        lo, hi = max(lo, 1), min(hi, largest)
        if lo > hi:
            continue
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return tuple(merged)


_SEQ_RANGE = r"(?:\d{1,10}|\*)(?::(?:\d{1,10}|\*))?"
_SEQUENCE_SET = re.compile(f"{_SEQ_RANGE}(?:,{_SEQ_RANGE})*")


def parse_sequence_set(token: Token | str) -> SequenceSet:
    text = token if isinstance(token, str) else ""
    if not _SEQUENCE_SET.fullmatch(text):
        raise ProtocolError("invalid sequence set")
    ranges = []
    for item in text.split(","):
        a, _, b = item.partition(":")
        lo, hi = (0 if a == "*" else int(a)), (0 if (b or a) == "*" else int(b or a))
        if (a != "*" and lo == 0) or ((b or a) != "*" and hi == 0) or max(lo, hi) > MAX_NUMBER:
            raise ProtocolError("sequence numbers run from 1 to 4294967295")
        ranges.append((lo, hi))
    return SequenceSet(tuple(ranges))


def format_sequence_set(values: Iterable[int]) -> str:
    """Numbers compacted into ranges, `1:3,7`, for COPYUID/APPENDUID (RFC 4315)."""
    out: list[list[int]] = []
    for n in sorted(set(values)):
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in out)


# --- FETCH items ----------------------------------------------------------------------------

_ATOM_RE = re.compile(r"[\x21\x23\x24\x26\x27\x2b-\x5b\x5e-\x7a\x7c-\x7e]+")  # ATOM-CHAR
_SETS_SEEN = ("RFC822", "RFC822.TEXT")
_NEEDS_MESSAGE = ("RFC822", "RFC822.HEADER", "RFC822.TEXT")
SECTION_TEXTS = ("HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME")
FETCH_ITEMS = frozenset(
    ("FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "RFC822", "RFC822.HEADER", "RFC822.TEXT",
     "ENVELOPE", "BODY", "BODYSTRUCTURE", "MODSEQ")
)  # fmt: skip
FETCH_MACROS = {
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}


@dataclass(frozen=True)
class Section:
    """RFC 3501 section 6.4.5: `1.2.HEADER.FIELDS (From To)` is part (1, 2), text
    "HEADER.FIELDS" and fields ("FROM", "TO"); `[]` is Section()."""

    part: tuple[int, ...] = ()
    text: str | None = None
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        out = ".".join(map(str, self.part))
        if self.text:
            out += ("." if out else "") + self.text
        if self.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            names = (f if _ATOM_RE.fullmatch(f) else quote(f) for f in self.fields)
            out += " (" + " ".join(names) + ")"
        return out


@dataclass(frozen=True)
class FetchItem:
    """One FETCH attribute; `section` is set for BODY[...] and BODY.PEEK[...] only
    (name "BODY" with section None is the non-extensible BODYSTRUCTURE)."""

    name: str
    section: Section | None = None
    partial: tuple[int, int] | None = None  # (first octet, octet count)
    peek: bool = False

    def response_name(self) -> str:
        """The item as the FETCH response names it (RFC 3501 section 7.4.2): BODY.PEEK is
        answered as BODY, field names upper-cased, and only the origin of a partial."""
        if self.section is None:
            return self.name
        origin = f"<{self.partial[0]}>" if self.partial else ""
        return f"BODY[{self.section}]{origin}"

    @property
    def sets_seen(self) -> bool:
        """Fetching it sets \\Seen (RFC 3501 section 6.4.5)."""
        return (self.section is not None and not self.peek) or self.name in _SETS_SEEN

    @property
    def needs_message(self) -> bool:
        """Answering it reads the message file (the rest comes from MessageInfo)."""
        return self.section is not None or self.name in _NEEDS_MESSAGE


@dataclass(frozen=True)
class FetchRequest:
    items: tuple[FetchItem, ...]
    changed_since: int | None = None  # CONDSTORE FETCH modifier (RFC 7162 section 3.1.4.1)


def parse_fetch_request(args: Sequence[Token]) -> FetchRequest:
    """The arguments of FETCH after the sequence set: items, then `(CHANGEDSINCE n)`."""
    if len(args) not in (1, 2):
        raise ProtocolError("FETCH takes a sequence set, items and optional modifiers")
    items = parse_fetch_items(args[0])
    if len(args) == 1:
        return FetchRequest(tuple(items))
    mods = args[1]
    if not (isinstance(mods, list) and len(mods) == 2 and _is_word(mods[0], "CHANGEDSINCE")):
        raise ProtocolError("unknown FETCH modifier")
    if not any(i.name == "MODSEQ" for i in items):  # CHANGEDSINCE implies MODSEQ (3.1.4.1)
        items.append(FetchItem("MODSEQ"))
    return FetchRequest(tuple(items), number(mods[1], nonzero=True))


def parse_fetch_items(token: Token) -> list[FetchItem]:
    """A macro (ALL, FAST, FULL), one item, or a parenthesised list of items."""
    if type(token) is Atom and token.upper() in FETCH_MACROS:
        return [FetchItem(name) for name in FETCH_MACROS[token.upper()]]
    tokens = token if isinstance(token, list) else [token]
    if not tokens:
        raise ProtocolError("empty FETCH item list")
    return [_fetch_item(t) for t in tokens]


def _fetch_item(token: Token) -> FetchItem:
    if type(token) is Atom and token.upper() in FETCH_ITEMS:
        return FetchItem(token.upper())
    if not isinstance(token, Bracketed) or token.name not in ("BODY", "BODY.PEEK"):
        raise ProtocolError(f"unknown FETCH item {_show(token)}")
    partial = None
    if token.partial is not None:
        match = re.fullmatch(r"(\d{1,10})\.(\d{1,10})", token.partial)
        if match is None or int(match.group(2)) == 0:
            raise ProtocolError("partial must be <first.count>")
        partial = (int(match.group(1)), int(match.group(2)))
    return FetchItem("BODY", _section(token.section), partial, token.name == "BODY.PEEK")


def _section(tokens: tuple[Token, ...]) -> Section:
    if not tokens:
        return Section()
    head = tokens[0]
    if type(head) is not Atom:
        raise ProtocolError("invalid section")
    pieces = head.upper().split(".")
    if "" in pieces:
        raise ProtocolError(f"invalid section {head}")
    part: list[int] = []
    while pieces and pieces[0].isdigit():
        if len(pieces[0]) > 9 or int(pieces[0]) == 0:
            raise ProtocolError("invalid section part number")
        part.append(int(pieces.pop(0)))
    text = ".".join(pieces) or None
    if (text is not None and text not in SECTION_TEXTS) or (text == "MIME" and not part):
        raise ProtocolError(f"invalid section {head}")
    if text not in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        if len(tokens) != 1:
            raise ProtocolError("invalid section")
        return Section(tuple(part), text)
    names = tokens[1] if len(tokens) == 2 else None
    if not isinstance(names, list) or not names or any(isinstance(n, list) for n in names):
        raise ProtocolError("HEADER.FIELDS needs a list of field names")
    return Section(tuple(part), text, tuple(astring(n).upper() for n in names))


def _is_word(token: Token, word: str) -> bool:
    return type(token) is Atom and token.upper() == word


def _show(token: Token) -> str:
    return str(token)[:40] if isinstance(token, str) else type(token).__name__


# --- flags, STORE, STATUS -------------------------------------------------------------------

_SYSTEM_FLAGS = {f.lower(): f for f in (SEEN, ANSWERED, FLAGGED, DELETED, DRAFT, RECENT)}
FlagChange: TypeAlias = Literal["add", "remove", "set"]  # STORE +FLAGS, -FLAGS, FLAGS
STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ")


def parse_flag(token: Token) -> str:
    """A flag a client may set: a system flag in its canonical spelling, or a keyword.
    \\Recent belongs to the server (RFC 3501 section 2.3.2) and is refused."""
    if type(token) is Atom and token.startswith("\\"):
        flag = _SYSTEM_FLAGS.get(token.lower())
        if flag is None or flag == RECENT:
            raise ProtocolError(f"invalid system flag {_show(token)}")
        return flag
    if type(token) is not Atom or not _ATOM_RE.fullmatch(token):
        raise ProtocolError(f"invalid flag {_show(token)}")
    return str(token)


def parse_flag_list(token: Token) -> frozenset[str]:
    if not isinstance(token, list):
        raise ProtocolError("expected a parenthesised flag list")
    return frozenset(parse_flag(t) for t in token)


@dataclass(frozen=True)
class StoreRequest:
    mode: FlagChange  # "add" (+FLAGS), "remove" (-FLAGS) or "set" (FLAGS)
    flags: frozenset[str]
    silent: bool = False
    unchanged_since: int | None = None  # CONDSTORE (RFC 7162 section 3.1.3)


def parse_store_args(args: Sequence[Token]) -> StoreRequest:
    """STORE arguments after the sequence set: `[(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT]`
    and a flag list, or flags without parentheses (RFC 3501 section 9, store-att-flags)."""
    rest = list(args)
    unchanged = None
    mods = rest[0] if rest else None
    if isinstance(mods, list):
        rest.pop(0)
        if len(mods) != 2 or not _is_word(mods[0], "UNCHANGEDSINCE"):
            raise ProtocolError("unknown STORE modifier")
        unchanged = number(mods[1])
    action = rest.pop(0) if rest else None
    match = (
        re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", action.upper()) if type(action) is Atom else None
    )
    if match is None:
        raise ProtocolError("STORE needs FLAGS, +FLAGS or -FLAGS")
    if len(rest) == 1 and isinstance(rest[0], list):
        flags = parse_flag_list(rest[0])
    elif rest:
        flags = frozenset(parse_flag(t) for t in rest)
    else:
        raise ProtocolError("STORE needs flags")
    modes: dict[str, FlagChange] = {"+": "add", "-": "remove", "": "set"}
    mode = modes[match.group(1)]
    return StoreRequest(mode, flags, bool(match.group(2)), unchanged)


def parse_status_items(token: Token) -> tuple[str, ...]:
    if not isinstance(token, list) or not token:
        raise ProtocolError("STATUS needs a parenthesised list of items")
    items = tuple(str(t).upper() if type(t) is Atom else "" for t in token)
    unknown = [name for name in items if name not in STATUS_ITEMS]
    if unknown:
        raise ProtocolError(f"unknown STATUS item {unknown[0] or _show(token[0])}")
    return items


# --- dates ----------------------------------------------------------------------------------

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {m.upper(): i for i, m in enumerate(MONTHS, 1)}
_DATE = r"(\d{1,2})-([A-Za-z]{3})-(\d{4})"


def parse_date(token: Token) -> dt.date:
    """A SEARCH date, `1-Feb-1994` (RFC 3501 section 9, date)."""
    match = re.fullmatch(_DATE, token) if isinstance(token, str) else None
    try:
        if match is None:
            raise ValueError(token)
        day, month, year = match.groups()
        return dt.date(int(year), _MONTH_NUMBER[month.upper()], int(day))
    except (KeyError, ValueError) as exc:
        raise ProtocolError("invalid date, expected e.g. 1-Feb-1994") from exc


def parse_datetime(token: Token) -> float:
    """An APPEND date-time, `"17-Jul-1996 02:44:25 -0700"`, as seconds since the epoch."""
    pattern = r" ?" + _DATE + r" (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"
    match = re.fullmatch(pattern, token) if isinstance(token, str) else None
    try:
        if match is None:
            raise ValueError(token)
        day, month, year, hh, mm, ss, sign, zh, zm = match.groups()
        offset = dt.timedelta(hours=int(zh), minutes=int(zm)) * (-1 if sign == "-" else 1)
        when = dt.datetime(
            int(year), _MONTH_NUMBER[month.upper()], int(day), int(hh), int(mm), int(ss),
            tzinfo=dt.timezone(offset),
        )  # fmt: skip
        return when.timestamp()
    except (KeyError, ValueError, OverflowError) as exc:
        raise ProtocolError("invalid date-time, expected e.g. 17-Jul-1996 02:44:25 -0700") from exc


def format_internaldate(timestamp: float, utc_offset_minutes: int = 0) -> str:
    """A date-time, `17-Jul-1996 09:44:25 +0000`, without the double quotes it goes in."""
    offset = dt.timedelta(minutes=utc_offset_minutes)
    when = dt.datetime.fromtimestamp(timestamp, dt.timezone(offset))
    sign, minutes = "-" if utc_offset_minutes < 0 else "+", abs(utc_offset_minutes)
    return (
        f"{when.day:02d}-{MONTHS[when.month - 1]}-{when.year:04d} {when:%H:%M:%S} "
        f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


def epoch_date(timestamp: float) -> dt.date:
    """The UTC calendar date of a timestamp (what SEARCH BEFORE/ON/SINCE compare)."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).date()
