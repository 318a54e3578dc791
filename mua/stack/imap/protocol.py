"""IMAP4rev1 server-side wire syntax (RFC 3501 section 9, LITERAL+ RFC 7888, CONDSTORE RFC 7162).

Pure functions over bytes and str, except `read_command`, which reads one command (its line
and any literals inside it) off an asyncio stream. Anything a client can get wrong raises
`ProtocolError`, whose message is fit for a `BAD` reply.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from bisect import bisect_left, bisect_right
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from imapclient import imap_utf7

from mua.stack.imap.model import ANSWERED, DELETED, DRAFT, FLAGGED, RECENT, SEEN

MAX_DEPTH = 32  # parentheses and brackets one command may nest (hostile clients)
MAX_NUMBER = 2**32 - 1  # nz-number, uniqueid and literal sizes are 32-bit (RFC 3501 section 9)


class ProtocolError(ValueError):
    """A command that breaks the syntax; `str(exc)` is the text of the BAD reply."""

    code: str | None = None  # response code for the reply, e.g. "TOOBIG"

    def __init__(self, message: str, tag: str | None = None) -> None:
        super().__init__(message)
        self.tag = tag  # None: reply with an untagged `* BAD`


class LineTooLong(ProtocolError):
    """The command line grew past the limit. Its rest has been read and dropped, so the
    session can go on after a BAD, unless `must_close`: the line did not end within a
    sane distance, or it ended in a LITERAL+ marker whose octets are on their way."""

    code = "TOOBIG"

    def __init__(self, message: str, tag: str | None = None, *, must_close: bool = False) -> None:
        super().__init__(message, tag)
        self.must_close = must_close


class LiteralTooBig(ProtocolError):
    """A declared literal is over the limit; no octet of it has been read.

    After a synchronising `{N}` no continuation was sent, so the client sends nothing more
    for this command: reply `BAD` and carry on. After a LITERAL+ `{N+}` the octets are already
    on their way and cannot be told from commands: reply `BAD` and close the connection
    (RFC 7888 section 4); `must_close` says which."""

    code = "TOOBIG"

    def __init__(self, message: str, *, tag: str | None = None, synchronizing: bool) -> None:
        super().__init__(message, tag=tag)
        self.synchronizing = synchronizing

    @property
    def must_close(self) -> bool:
        return not self.synchronizing


# --- one command off the wire ---------------------------------------------------------------


@dataclass(frozen=True)
class CommandLine:
    """One command as read: `texts[i]` ends with the `{N}`/`{N+}` marker of `literals[i]`;
    the last text has no marker. Line ends are stripped; literal octets are kept apart so
    that nothing re-reads them as syntax."""

    texts: tuple[bytes, ...]
    literals: tuple[bytes, ...] = ()

    def __bytes__(self) -> bytes:
        out = bytearray()
        for text, literal in zip(self.texts, self.literals, strict=False):
            out += text + b"\r\n" + literal
        return bytes(out + self.texts[-1])

    @classmethod
    def from_bytes(cls, raw: bytes) -> CommandLine:
        """Split a command written with its literals inline (`a LOGIN {3}\\r\\nbob pw`)."""
        texts: list[bytes] = []
        literals: list[bytes] = []
        pos = 0
        while True:
            end = raw.find(b"\n", pos)
            if end < 0:
                texts.append(raw[pos:])
                return cls(tuple(texts), tuple(literals))
            text = raw[pos : end - 1 if raw[end - 1 : end] == b"\r" and end > pos else end]
            match = _LITERAL_MARK.search(text)
            if match is None:  # a line end that ends no literal: the command ends here
                if raw[end + 1 :]:
                    raise ProtocolError("more than one command line", tag=_tag_of(raw))
                texts.append(text)
                return cls(tuple(texts), tuple(literals))
            size = int(match.group(1))
            if len(raw) - (end + 1) < size:
                raise ProtocolError("literal shorter than declared", tag=_tag_of(raw))
            texts.append(text)
            literals.append(raw[end + 1 : end + 1 + size])
            pos = end + 1 + size


_LITERAL_MARK = re.compile(rb"\{(\d{1,20})(\+?)\}\Z")


def _strip_eol(line: bytes) -> bytes:
    return line[:-2] if line.endswith(b"\r\n") else line.rstrip(b"\n")


def _tag_of(head: bytes) -> str | None:
    tag = head.split(b" ", 1)[0]
    return tag.decode() if tag and all(c in _TAG for c in tag) else None


async def _chunk(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """Up to and including the next LF, or as much as the reader buffers; b"" at EOF."""
    try:
        return await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
    except asyncio.IncompleteReadError:
        return b""
    except asyncio.LimitOverrunError as exc:  # no LF within the reader's buffer limit
        return await asyncio.wait_for(reader.read(max(exc.consumed, 1)), timeout)


async def read_line(reader: asyncio.StreamReader, *, max_line: int, timeout: float) -> bytes | None:
    """One line up to and including LF; None at end of stream. Raises LineTooLong past
    `max_line` octets and TimeoutError when the peer is silent for `timeout` seconds."""
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = await _chunk(reader, timeout)
        if not chunk:
            return None  # EOF inside a line: the client has gone
        buf += chunk
        if len(buf) > max_line:
            head = bytes(buf[:200])
            tag = _tag_of(head) if b" " in head else None
            tail, dropped = bytes(buf[-32:]), len(buf)
            while not tail.endswith(b"\n"):  # drop the rest, within reason
                if dropped > max(16 * max_line, 1 << 20):
                    raise LineTooLong("command line too long", tag, must_close=True)
                chunk = await _chunk(reader, timeout)
                if not chunk:
                    return None
                tail, dropped = (tail + chunk)[-32:], dropped + len(chunk)
            literal_plus = re.search(rb"\{\d+\+\}\r?\n\Z", tail) is not None
            raise LineTooLong("command line too long", tag, must_close=literal_plus)
    return bytes(buf)


async def read_command(
    reader: asyncio.StreamReader,
    send_continuation: Callable[[], Awaitable[None]],
    *,
    max_line: int = 64 * 1024,
    max_literal: int = 50 * 1024 * 1024,
    timeout: float,
) -> CommandLine | None:
    """Read one whole command, literals included; None when the client has gone.

    A synchronising literal `{N}` gets `send_continuation()` (which should write `+ Ready`)
    before its octets are read; a LITERAL+ `{N+}` is read at once (RFC 7888). `max_line`
    bounds the text of the command, `max_literal` the sum of its literals: past them this
    raises LineTooLong or LiteralTooBig (see there for what the caller must do next).
    `timeout` is the longest silence allowed inside the command (TimeoutError)."""
    texts: list[bytes] = []
    literals: list[bytes] = []
    text_used = literal_used = 0
    while True:
        try:
            line = await read_line(reader, max_line=max_line - text_used, timeout=timeout)
        except LineTooLong as exc:
            if texts:
                exc.tag = _tag_of(texts[0])
            raise
        if line is None:
            return None
        text = _strip_eol(line)
        texts.append(text)
        text_used += len(line)
        match = _LITERAL_MARK.search(text)
        if match is None:
            return CommandLine(tuple(texts), tuple(literals))
        size, synchronizing = int(match.group(1)), not match.group(2)
        literal_used += size
        if literal_used > max_literal:
            raise LiteralTooBig(
                f"literal of {size} octets is over the limit of {max_literal}",
                tag=_tag_of(texts[0]),
                synchronizing=synchronizing,
            )
        if synchronizing:
            await send_continuation()
        data = bytearray()
        try:
            while len(data) < size:
                want = min(size - len(data), 64 * 1024)
                data += await asyncio.wait_for(reader.readexactly(want), timeout)
        except asyncio.IncompleteReadError:
            return None
        literals.append(bytes(data))


# --- tokens -----------------------------------------------------------------------------------


class Atom(str):
    """An unquoted word (a quoted string is a plain `str`, a literal is `bytes`)."""

    __slots__ = ()


@dataclass(frozen=True)
class Bracketed:
    """A FETCH attribute with a section: `BODY.PEEK[HEADER.FIELDS (From)]<0.100>` comes as
    name "BODY.PEEK", section (Atom("HEADER.FIELDS"), [Atom("From")]) and partial "0.100"."""

    name: str
    section: tuple[Token, ...]
    partial: str | None = None


Token: TypeAlias = "Atom | str | bytes | list[Token] | Bracketed | None"

_TAG = frozenset(range(0x21, 0x7F)) - frozenset(b'(){%*"\\+')
_ATOM_STOP = frozenset(b' (){"') | frozenset(range(0x20)) | frozenset(range(0x7F, 0x100))
_SECTIONED = (b"BODY", b"BODY.PEEK", b"BINARY", b"BINARY.PEEK", b"BINARY.SIZE")


def _sectioned(word: bytes) -> bool:
    """A FETCH attribute whose `[` opens a section (elsewhere `[` is an ATOM-CHAR)."""
    return word.upper() in _SECTIONED


@dataclass(frozen=True)
class Command:
    """`a UID FETCH 1:* FLAGS` is tag "a", name "UID", args [Atom("FETCH"), Atom("1:*"), ...]."""

    tag: str
    name: str  # upper-cased
    args: list[Token] = field(default_factory=list)


def parse_command(raw: CommandLine | bytes) -> Command:
    """Tag, command name and argument tokens; atom NIL becomes None (`astring` undoes it)."""
    line = raw if isinstance(raw, CommandLine) else CommandLine.from_bytes(raw)
    tag = _tag_of(line.texts[0])
    try:
        tokens = _tokenize(line)
    except ProtocolError as exc:
        exc.tag = tag
        raise
    if not tokens or tag is None or tokens[0] != tag:
        raise ProtocolError("missing or invalid tag")
    if len(tokens) < 2 or not _is_name(tokens[1]):
        raise ProtocolError("missing command name", tag=tag)
    name = str(tokens[1]).upper()
    if name == "UID" and (len(tokens) < 3 or not _is_name(tokens[2])):
        raise ProtocolError("UID needs a command", tag=tag)
    return Command(tag, name, tokens[2:])


def _is_name(token: Token) -> bool:
    return type(token) is Atom and re.fullmatch(r"[A-Za-z][A-Za-z0-9.\-]*", token) is not None


def _tokenize(line: CommandLine) -> list[Token]:
    # Frames on the stack: (closing byte, items, bracket name or None).
    stack: list[tuple[int, list[Token], str | None]] = [(-1, [], None)]
    need_space = False
    for index, text in enumerate(line.texts):
        pos, end = 0, len(text)
        if index < len(line.literals):
            end = _LITERAL_MARK.search(text).start()  # type: ignore[union-attr]
        while pos < end:
            c = text[pos]
            closer, items, _ = stack[-1]
            if c == 0x20:
                pos, need_space = pos + 1, False
                continue
            if c == closer:
                pos = _close(stack, text, pos + 1)
                need_space = True
                continue
            if need_space:
                raise ProtocolError("missing space between arguments")
            if c == 0x28:  # (
                if len(stack) > MAX_DEPTH:
                    raise ProtocolError("too deeply nested")
                stack.append((0x29, [], None))
                pos += 1
                continue
            if c == 0x22:  # "
                value, pos = _quoted(text, pos + 1, end)
                items.append(value)
            elif c == 0x7B:  # { : only legal as the literal marker that ends this text
                raise ProtocolError("malformed literal")
            else:
                start = pos
                while pos < end and text[pos] not in _ATOM_STOP and text[pos] != closer:
                    if text[pos] == 0x5B and pos - start <= 11 and _sectioned(text[start:pos]):
                        break
                    pos += 1
                if pos == start:
                    raise ProtocolError(f"unexpected character {chr(c)!r}")
                word = text[start:pos].decode()
                if pos < end and text[pos] == 0x5B:  # BODY[ ... ] with its section
                    if len(stack) > MAX_DEPTH:
                        raise ProtocolError("too deeply nested")
                    stack.append((0x5D, [], word.upper()))
                    pos += 1
                    continue
                items.append(None if word.upper() == "NIL" else Atom(word))
            need_space = True
        if index < len(line.literals):
            if need_space:
                raise ProtocolError("missing space before literal")
            stack[-1][1].append(line.literals[index])
            need_space = True
    if len(stack) > 1:
        raise ProtocolError("unclosed " + ("bracket" if stack[-1][0] == 0x5D else "parenthesis"))
    return stack[0][1]


def _close(stack: list[tuple[int, list[Token], str | None]], text: bytes, pos: int) -> int:
    _, items, name = stack.pop()
    if name is None:
        stack[-1][1].append(items)
        return pos
    partial = None
    if text[pos : pos + 1] == b"<":
        close = text.find(b">", pos)
        if close < 0:
            raise ProtocolError("unclosed partial <...>")
        partial, pos = text[pos + 1 : close].decode("ascii", "replace"), close + 1
    stack[-1][1].append(Bracketed(name, tuple(items), partial))
    return pos


def _quoted(text: bytes, pos: int, end: int) -> tuple[str, int]:
    out = bytearray()
    while pos < end:
        c = text[pos]
        if c == 0x22:
            return out.decode("utf-8", "replace"), pos + 1
        if c == 0x5C:  # only \\ and \" may be escaped (RFC 3501 section 9, quoted-specials)
            if pos + 1 >= end or text[pos + 1] not in b'\\"':
                raise ProtocolError("bad escape in quoted string")
            pos += 1
        elif c in (0x00, 0x0D, 0x0A):
            raise ProtocolError("CR, LF or NUL in quoted string")
        out.append(text[pos])
        pos += 1
    raise ProtocolError("unterminated quoted string")


# --- argument helpers -----------------------------------------------------------------------


def astring(token: Token) -> str:
    """An astring / nstring argument as text (atom NIL reads back as "NIL")."""
    if token is None:
        return "NIL"
    if isinstance(token, bytes):
        return token.decode("utf-8", "replace")
    if isinstance(token, str):
        return str(token)
    raise ProtocolError("expected a string")


def number(token: Token, *, nonzero: bool = False) -> int:
    if type(token) is not Atom or not re.fullmatch(r"\d{1,20}", token):
        raise ProtocolError("expected a number")
    value = int(token)
    if value > 2**63 - 1 or (nonzero and value == 0):
        raise ProtocolError("number out of range")
    return value


def decode_mailbox(token: Token) -> str:
    """A mailbox argument: modified UTF-7 (RFC 3501 section 5.1.3) decoded, INBOX in any
    case spelled INBOX (section 5.1). Non-canonical encodings are refused."""
    raw = astring(token)
    try:
        name = imap_utf7.decode(raw.encode("utf-8"))
    except (UnicodeError, ValueError) as exc:
        raise ProtocolError("mailbox name is not valid modified UTF-7") from exc
    if imap_utf7.encode(name).decode("ascii", "replace") != raw:
        raise ProtocolError("mailbox name is not valid modified UTF-7")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise ProtocolError("mailbox name contains control characters")
    return "INBOX" if name.upper() == "INBOX" else name


def encode_mailbox(name: str) -> str:
    return imap_utf7.encode(name).decode("ascii")


def format_mailbox(name: str) -> str:
    """A mailbox name for a response, always as a quoted string."""
    return quote(encode_mailbox(name))


def quote(value: str) -> str:
    """`value` as an IMAP string: quoted when short printable ASCII, else a literal whose
    length counts UTF-8 octets (the response must be encoded as UTF-8). NUL, which no IMAP
    string may hold, becomes U+FFFD; lone surrogates, which UTF-8 cannot hold, become "?"."""
    if len(value) <= 1024 and value.isascii() and value.isprintable():
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    value = value.replace("\0", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return f"{{{len(value.encode('utf-8'))}}}\r\n{value}"


def nstring(value: str | None) -> str:
    return "NIL" if value is None else quote(value)


def literal(data: bytes | None) -> bytes:
    """Octets as a literal; None (a section that does not exist) as NIL."""
    return b"NIL" if data is None else b"{%d}\r\n" % len(data) + data


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
    mode: str  # "add" (+FLAGS), "remove" (-FLAGS) or "set" (FLAGS)
    flags: frozenset[str]
    silent: bool = False
    unchanged_since: int | None = None  # CONDSTORE (RFC 7162 section 3.1.3)


def parse_store_args(args: Sequence[Token]) -> StoreRequest:
    """STORE arguments after the sequence set: `[(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT]`
    and a flag list, or flags without parentheses (RFC 3501 section 9, store-att-flags)."""
    rest = list(args)
    unchanged = None
    if rest and isinstance(rest[0], list):
        mods = rest.pop(0)
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
    mode = {"+": "add", "-": "remove", "": "set"}[match.group(1)]
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
