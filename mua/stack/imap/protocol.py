"""IMAP4rev1 server-side wire syntax (RFC 3501 section 9, LITERAL+ RFC 7888, CONDSTORE RFC 7162).

Pure functions over bytes and str: a command as read (`CommandLine`; `command_reader.py`
reads it off the stream) into tokens, the arguments every command shares, and the strings
of a response. Anything a client can get wrong raises `ProtocolError`, whose message is fit
for a `BAD` reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeAlias

from imapclient import imap_utf7

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


# --- one command as read --------------------------------------------------------------------


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
            match = LITERAL_MARK.search(text)
            if match is None:  # a line end that ends no literal: the command ends here
                if raw[end + 1 :]:
                    raise ProtocolError("more than one command line", tag=tag_of(raw))
                texts.append(text)
                return cls(tuple(texts), tuple(literals))
            size = int(match.group(1))
            if len(raw) - (end + 1) < size:
                raise ProtocolError("literal shorter than declared", tag=tag_of(raw))
            texts.append(text)
            literals.append(raw[end + 1 : end + 1 + size])
            pos = end + 1 + size


LITERAL_MARK = re.compile(rb"\{(\d{1,20})(\+?)\}\Z")


def tag_of(head: bytes) -> str | None:
    """The tag a command line starts with, if it is a valid one."""
    tag = head.split(b" ", 1)[0]
    return tag.decode() if tag and all(c in _TAG for c in tag) else None


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
    tag = tag_of(line.texts[0])
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
            mark = LITERAL_MARK.search(text)
            assert mark is not None  # a text before a literal ends with its {n} (read_command)
            end = mark.start()
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
    encoded: bytes = imap_utf7.encode(name)
    return encoded.decode("ascii")


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
