"""ENVELOPE, BODYSTRUCTURE and BODY[section] of a message (RFC 3501 sections 6.4.5, 7.4.2).

Works on raw octets so that sizes, line counts and sections are exact: the MIME tree is cut
at its boundaries here (RFC 2046 section 5.1.1) and each part keeps its own bytes. Header
values are served as written, unfolded (encoded-words stay encoded). Input with bare LF line
ends is read as if every line ended CRLF, which is the form all sizes and offsets refer to.
"""

from __future__ import annotations

import email.utils
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from mua.stack.imap.arguments import Section
from mua.stack.imap.protocol import nstring, quote

log = logging.getLogger(__name__)

MAX_NESTING = 32  # deeper multipart / message parts are served as opaque octets
MISSING_HOST = ".MISSING-HOST-NAME."  # a NIL host would read as group syntax (7.4.2)
_FIELD_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")  # field-name ":" (RFC 5322 3.6.8, obs WSP)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 2045 token


def crlf(message: bytes) -> bytes:
    """The wire form of a message: every line end CRLF."""
    if message.count(b"\n") == message.count(b"\r\n"):
        return message
    return message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# --- header fields --------------------------------------------------------------------------


def _split(data: bytes) -> tuple[bytes, bytes]:
    """Header (with its blank line, when there is one) and body. The header also ends at
    the first line that is neither a field nor a continuation, which then starts the body."""
    pos = 0
    while pos < len(data):
        eol = data.find(b"\n", pos)
        end = len(data) if eol < 0 else eol + 1
        line = data[pos:end]
        if line in (b"\r\n", b"\n"):
            return data[:end], data[end:]
        if not (pos and line[:1] in (b" ", b"\t")) and not _FIELD_LINE.match(line):
            return data[:pos], data[pos:]
        pos = end
    return data, b""


def header_fields(header: bytes) -> list[tuple[str, bytes]]:
    """(field name, the field's raw lines with their CRLF) in order."""
    fields: list[tuple[str, list[bytes]]] = []
    for line in re.findall(rb"[^\n]*\n|[^\n]+", header):
        if line in (b"\r\n", b"\n"):
            break
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1][1].append(line)
            continue
        name = line.split(b":", 1)[0].strip() if b":" in line else b""
        fields.append((name.decode("ascii", "replace"), [line]))
    joined = [(name, b"".join(lines)) for name, lines in fields]
    return [(n, raw if raw.endswith(b"\n") else raw + b"\r\n") for n, raw in joined]


def field_value(raw: bytes) -> str:
    """A field's value as written, unfolded (RFC 5322 section 2.2.3) and stripped."""
    value = raw.split(b":", 1)[1] if b":" in raw else b""
    return re.sub(rb"\r?\n", b"", value).strip().decode("utf-8", "replace")


def header_values(header: bytes, name: str) -> list[str]:
    name = name.lower()
    return [field_value(raw) for n, raw in header_fields(header) if n.lower() == name]


def _first(fields: list[tuple[str, bytes]], name: str) -> str | None:
    return next((field_value(raw) for n, raw in fields if n.lower() == name), None)


def _params(value: str) -> tuple[str, list[tuple[str, str]]]:
    """`type/sub; a=1; b="x y"` as ("type/sub", [("a", "1"), ("b", "x y")]), spelled as
    written; RFC 2231 names such as `filename*` keep their raw value, as Dovecot serves
    them (clients compare all of these case-insensitively)."""
    pieces = re.findall(r'(?:"(?:[^"\\]|\\.)*"?|[^;"])+', value)
    params = []
    for piece in pieces[1:]:
        name, eq, val = piece.partition("=")
        name, val = name.strip(), val.strip()
        if not eq or not name:
            continue
        if val.startswith('"'):
            val = re.sub(
                r"\\(.)", r"\1", val[1:-1] if val.endswith('"') and len(val) > 1 else val[1:]
            )
        params.append((name, val))
    return (pieces[0].strip() if pieces else ""), params


# --- the MIME tree --------------------------------------------------------------------------


@dataclass
class _Part:
    header: bytes
    body: bytes
    fields: list[tuple[str, bytes]]
    maintype: str = "text"  # lower case, for decisions
    subtype: str = "plain"
    spelling: str = "text/plain"  # as the message writes it, for BODYSTRUCTURE
    params: list[tuple[str, str]] = field(default_factory=list)
    children: list[_Part] = field(default_factory=list)  # parts, or [the message] of rfc822

    @property
    def is_multipart(self) -> bool:
        return self.maintype == "multipart"

    @property
    def is_message(self) -> bool:
        return self.maintype == "message" and self.subtype == "rfc822" and bool(self.children)

    @property
    def lines(self) -> int:
        return self.body.count(b"\n") + (1 if self.body and not self.body.endswith(b"\n") else 0)

    def get(self, name: str) -> str | None:
        return _first(self.fields, name)


def _parse(data: bytes, default: str = "text/plain", depth: int = 0) -> _Part:
    header, body = _split(data)
    part = _Part(header, body, header_fields(header))
    ctype, part.params = _params(part.get("content-type") or default)
    match = re.fullmatch(f"({_TOKEN.pattern})/({_TOKEN.pattern})", ctype)
    boundary = _param(part.params, "boundary") or ""
    if match is None or (ctype.lower().startswith("multipart/") and not boundary):
        ctype, part.params = "text/plain", []  # RFC 2045 5.2; no boundary: nothing to cut at
    part.spelling = ctype
    part.maintype, part.subtype = ctype.lower().split("/", 1)
    if part.maintype == "text" and _param(part.params, "charset") is None:
        part.params.append(("charset", "us-ascii"))  # RFC 2045 section 5.2 default
    encoding = ((part.get("content-transfer-encoding") or "").split() or ["7bit"])[0].lower()
    if depth >= MAX_NESTING and (part.is_multipart or part.maintype == "message"):
        _opaque(part)
    elif part.is_multipart:
        inner = "message/rfc822" if part.subtype == "digest" else "text/plain"  # 5.1.5
        bodies = _split_multipart(body, boundary.encode("utf-8", "replace"))
        part.children = [_parse(b, inner, depth + 1) for b in bodies]
        part.children = part.children or [_Part(b"", b"", [], params=[("charset", "us-ascii")])]
    elif (part.maintype, part.subtype) == ("message", "rfc822"):
        if encoding in ("7bit", "8bit", "binary"):
            part.children = [_parse(body, "text/plain", depth + 1)]
        else:  # an encoded message/rfc822 (RFC 2046 5.2.1 forbids it): opaque octets
            _opaque(part)
    return part


def _opaque(part: _Part) -> None:
    part.maintype, part.subtype = "application", "octet-stream"
    part.spelling = "application/octet-stream"


def _param(params: list[tuple[str, str]], name: str) -> str | None:
    return next((v for n, v in params if n.lower() == name), None)


def _split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """The bodies between delimiter lines; the CRLF before a delimiter belongs to it
    (RFC 2046 section 5.1.1). Without a close delimiter the last part runs to the end."""
    delimiter = re.compile(rb"(?m)^--" + re.escape(boundary) + rb"(--)?[ \t]*\r?$")
    parts: list[bytes] = []
    start: int | None = None
    for match in delimiter.finditer(body):
        if start is not None:
            end = match.start()
            end -= 2 if body[end - 2 : end] == b"\r\n" else 1
            parts.append(body[start : max(start, end)])
        if match.group(1):
            return parts
        start = min(match.end() + 1, len(body))
    if start is not None:
        parts.append(body[start:])
    return parts


# --- ENVELOPE -------------------------------------------------------------------------------


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


def _envelope(fields: list[tuple[str, bytes]]) -> str:
    def addresses(name: str, fallback: list[str] | None = None) -> list[str]:
        return _addresses(_first(fields, name)) or fallback or []

    sender = addresses("from")
    lists = [sender, addresses("sender", sender), addresses("reply-to", sender)]
    lists += [addresses("to"), addresses("cc"), addresses("bcc")]
    items = [nstring(_first(fields, "date")), nstring(_first(fields, "subject"))]
    items += ["(" + "".join(a) + ")" if a else "NIL" for a in lists]
    items += [nstring(_first(fields, "in-reply-to")), nstring(_first(fields, "message-id"))]
    return "(" + " ".join(items) + ")"


# --- BODYSTRUCTURE --------------------------------------------------------------------------


def _param_list(params: list[tuple[str, str]]) -> str:
    return "(" + " ".join(f"{quote(n)} {quote(v)}" for n, v in params) + ")" if params else "NIL"


def _extension(part: _Part) -> list[str]:
    """body-fld-dsp, body-fld-lang and body-fld-loc (RFC 3501 section 9)."""
    dtype, dparams = _params(part.get("content-disposition") or "")
    disposition = "NIL"
    if _TOKEN.fullmatch(dtype):
        disposition = f"({quote(dtype)} {_param_list(dparams)})"
    raw = re.sub(r"\([^)]*\)", "", part.get("content-language") or "")
    tags = [quote(t.strip()) for t in raw.split(",") if t.strip()]
    language = "NIL" if not tags else tags[0] if len(tags) == 1 else "(" + " ".join(tags) + ")"
    return [disposition, language, nstring(part.get("content-location"))]


def _structure(part: _Part, extended: bool) -> str:
    if part.is_multipart:
        items = ["".join(_structure(c, extended) for c in part.children) + " "]
        items[0] += quote(part.spelling.split("/", 1)[1])
        if extended:
            items += [_param_list(part.params), *_extension(part)]
        return "(" + " ".join(items) + ")"
    encoding = (part.get("content-transfer-encoding") or "").split()
    items = [quote(t) for t in part.spelling.split("/", 1)] + [_param_list(part.params)]
    items += [nstring(part.get("content-id")), nstring(part.get("content-description"))]
    items += [quote(encoding[0] if encoding else "7bit"), str(len(part.body))]
    if part.is_message:
        inner = part.children[0]
        items += [_envelope(inner.fields), _structure(inner, extended), str(part.lines)]
    elif part.maintype == "text":
        items.append(str(part.lines))
    if extended:
        items += [nstring(part.get("content-md5")), *_extension(part)]
    return "(" + " ".join(items) + ")"


def envelope(message: bytes) -> str:
    """The ENVELOPE structure of a message, parenthesised."""
    return _envelope(header_fields(_split(crlf(message))[0]))


def bodystructure(message: bytes, *, extended: bool = True) -> str:
    """BODYSTRUCTURE (extended) or BODY (not) of a message, parenthesised."""
    return _structure(_parse(crlf(message)), extended)


# --- BODY[section] --------------------------------------------------------------------------


def _in_message(message: _Part, number: int) -> _Part | None:
    """Part `number` of a message: of its multipart body, or the message itself (its only
    part) when the body is not multipart (RFC 3501 section 6.4.5)."""
    if message.is_multipart:
        return message.children[number - 1] if number <= len(message.children) else None
    return message if number == 1 else None


def _find(root: _Part, path: tuple[int, ...]) -> _Part | None:
    node = _in_message(root, path[0])
    for number in path[1:]:
        if node is None:
            return None
        if node.is_multipart:
            node = node.children[number - 1] if number <= len(node.children) else None
        elif node.is_message:
            node = _in_message(node.children[0], number)
        else:
            return None
    return node


def _header_subset(header: bytes, names: tuple[str, ...], negate: bool) -> bytes:
    wanted = {n.lower() for n in names}
    kept = [raw for name, raw in header_fields(header) if (name.lower() in wanted) != negate]
    return b"".join(kept) + b"\r\n"  # the blank line is part of every header fetch


def section(message: bytes, spec: Section, partial: tuple[int, int] | None = None) -> bytes | None:
    """The octets of BODY[spec] (RFC 3501 section 6.4.5) of the CRLF form of a message,
    cut to `partial` (first octet, count) when given. None when no such part exists (or
    HEADER/TEXT is asked of a part that is not message/rfc822): answer NIL."""
    data = crlf(message)
    if not spec.part:
        header, body = _split(data)
        if spec.text is None:
            out = data
        elif spec.text == "TEXT":
            out = body
        elif spec.text == "HEADER":
            out = header
        else:
            out = _header_subset(header, spec.fields, spec.text == "HEADER.FIELDS.NOT")
    else:
        node = _find(_parse(data), spec.part)
        if node is None:
            return None
        if spec.text is None:
            out = node.body
        elif spec.text == "MIME":
            out = node.header
        elif not node.is_message:
            return None
        else:
            inner = node.children[0]
            if spec.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
                out = _header_subset(inner.header, spec.fields, spec.text.endswith(".NOT"))
            else:
                out = inner.header if spec.text == "HEADER" else inner.body
    if partial is not None:
        out = out[partial[0] : partial[0] + partial[1]]
    return out


# --- summary for the index ------------------------------------------------------------------


def sent_date(date_value: str | None) -> float | None:
    """A Date: header as seconds since the epoch; None when absent or unreadable."""
    try:
        parsed = email.utils.parsedate_tz(date_value) if date_value else None
        return float(email.utils.mktime_tz(parsed)) if parsed else None
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def summarize(message: bytes) -> dict[str, Any]:
    """What MessageInfo.summary holds (see model.py). Never raises: anything it cannot read
    becomes a text/plain structure over the whole message. "header" is decoded as UTF-8
    (invalid octets replaced); serve BODY[HEADER] from the file when octets matter."""
    data = crlf(message)
    try:
        root = _parse(data)
        return {
            "envelope": _envelope(root.fields),
            "bodystructure": _structure(root, True),
            "body": _structure(root, False),
            "header": root.header.decode("utf-8", "replace"),
            "sent": sent_date(root.get("date")),
        }
    except Exception:  # a last resort: the index must take every message
        log.warning("unreadable message structure; summarised as text/plain", exc_info=True)
        whole = _Part(b"", data, [], params=[("charset", "us-ascii")])
        return {
            "envelope": "(" + " ".join(["NIL"] * 10) + ")",
            "bodystructure": _structure(whole, True),
            "body": _structure(whole, False),
            "header": "",
            "sent": None,
        }
