"""ENVELOPE (RFC 3501 section 7.4.2): a message's date, subject, address lists and ids,
the addresses read from the header fields as written (RFC 5322 section 3.4, groups and
obsolete routes included)."""

from __future__ import annotations

import re

from mua.stack.imap.message_parts import crlf, first_value, header_fields, split_header
from mua.stack.imap.protocol import nstring, quote

MISSING_HOST = ".MISSING-HOST-NAME."  # a NIL host would read as group syntax (7.4.2)


def _addr_tokens(text: str) -> list[tuple[str, str, bool]]:
    """(kind, value, space before) with kinds atom, qs, comment, special."""
    out: list[tuple[str, str, bool]] = []
    i, n, space = 0, len(text), False
    while i < n:
        c = text[i]
        if c.isspace():
            i, space = i + 1, True
            continue
        if c in '"(':
            close, depth, j = ('"' if c == '"' else ")"), 1, i + 1
            buf: list[str] = []
            while j < n:
                ch = text[j]
                if ch == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                    continue
                depth += 1 if c == "(" and ch == "(" else -1 if ch == close else 0
                if not depth:
                    break
                buf.append(ch)
                j += 1
            out.append(("qs" if c == '"' else "comment", "".join(buf), space))
            i = j + 1
        elif c in "<>@,;:.":
            out.append(("special", c, space))
            i += 1
        else:
            j = i + 1
            while j < n and not text[j].isspace() and text[j] not in '"(<>@,;:.':
                j += 1
            out.append(("atom", text[i:j], space))
            i = j
        space = False
    return out


def _phrase(tokens: list[tuple[str, str, bool]]) -> str | None:
    words = [(v, sp) for kind, v, sp in tokens if kind != "comment"]
    text = "".join((" " if sp and k else "") + v for k, (v, sp) in enumerate(words)).strip()
    return text or None


def _local(tokens: list[tuple[str, str, bool]]) -> str:
    def word(kind: str, value: str) -> str:
        if kind == "qs" and (not value or re.search(r'[\s"(),:;<>@\[\\\]]', value)):
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return value

    return "".join(word(kind, v) for kind, v, _ in tokens if kind != "comment")


def _mailbox(tokens: list[tuple[str, str, bool]]) -> str | None:
    specials = [k for k, (kind, v, _) in enumerate(tokens) if kind == "special" and v == "<"]
    name = None
    if specials:
        name = _phrase(tokens[: specials[0]])
        rest = tokens[specials[0] + 1 :]
        close = next((k for k, t in enumerate(rest) if t[:2] == ("special", ">")), len(rest))
        addr = [t for t in rest[:close] if t[0] != "comment"]
    else:
        addr = [t for t in tokens if t[0] != "comment"]
        comments = [v.strip() for kind, v, _ in tokens if kind == "comment" and v.strip()]
        name = comments[-1] if comments else None
    route = None
    if addr and addr[0][:2] == ("special", "@"):
        colon = next((k for k, t in enumerate(addr) if t[:2] == ("special", ":")), len(addr))
        route, addr = "".join(v for _, v, _ in addr[:colon]), addr[colon + 1 :]
    at = max((k for k, t in enumerate(addr) if t[:2] == ("special", "@")), default=-1)
    local = _local(addr[:at] if at >= 0 else addr)
    host = "".join(v for _, v, _ in addr[at + 1 :]) if at >= 0 else ""
    if not local and not host:
        return None
    return f"({nstring(name)} {nstring(route)} {quote(local)} {quote(host or MISSING_HOST)})"


def _addresses(value: str | None) -> list[str]:
    """An address list as IMAP address structures, groups bracketed by a start
    (NIL NIL name NIL) and an end (NIL NIL NIL NIL) (RFC 3501 section 7.4.2)."""
    out: list[str] = []
    current: list[tuple[str, str, bool]] = []
    in_group = in_angle = False
    for token in _addr_tokens(value or ""):
        kind, v, _ = token
        special = v if kind == "special" else ""
        if in_angle or special not in (",", ";", ":"):
            in_angle = (in_angle or special == "<") and special != ">"
            current.append(token)
            continue
        if special == ":" and not in_group:
            out.append(f"(NIL NIL {quote(_phrase(current) or '')} NIL)")
            in_group = True
        else:
            out.extend(filter(None, [_mailbox(current)]))
            if special == ";" and in_group:
                out.append("(NIL NIL NIL NIL)")
                in_group = False
        current = []
    out.extend(filter(None, [_mailbox(current)]))
    if in_group:
        out.append("(NIL NIL NIL NIL)")
    return out


def envelope_of(fields: list[tuple[str, bytes]]) -> str:
    def addresses(name: str, fallback: list[str] | None = None) -> list[str]:
        return _addresses(first_value(fields, name)) or fallback or []

    sender = addresses("from")
    lists = [sender, addresses("sender", sender), addresses("reply-to", sender)]
    lists += [addresses("to"), addresses("cc"), addresses("bcc")]
    items = [nstring(first_value(fields, "date")), nstring(first_value(fields, "subject"))]
    items += ["(" + "".join(a) + ")" if a else "NIL" for a in lists]
    items += [
        nstring(first_value(fields, "in-reply-to")),
        nstring(first_value(fields, "message-id")),
    ]
    return "(" + " ".join(items) + ")"


def envelope(message: bytes) -> str:
    """The ENVELOPE structure of a message, parenthesised."""
    return envelope_of(header_fields(split_header(crlf(message))[0]))
