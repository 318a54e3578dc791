"""A message's header fields and MIME tree, cut from its raw octets (RFC 5322, RFC 2045,
RFC 2046 section 5.1.1), for ENVELOPE, BODYSTRUCTURE, body sections, SEARCH and SORT.

Works on raw octets so that sizes, line counts and sections are exact: each part keeps its
own bytes. Header values are read as written, unfolded (encoded-words stay encoded). Input
with bare LF line ends is read as if every line ended CRLF, which is the form all sizes and
offsets refer to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_NESTING = 32  # deeper multipart / message parts are served as opaque octets
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 2045 token
_FIELD_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")  # field-name ":" (RFC 5322 3.6.8, obs WSP)


def crlf(message: bytes) -> bytes:
    """The wire form of a message: every line end CRLF."""
    if message.count(b"\n") == message.count(b"\r\n"):
        return message
    return message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# --- header fields --------------------------------------------------------------------------


def split_header(data: bytes) -> tuple[bytes, bytes]:
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


def first_value(fields: list[tuple[str, bytes]], name: str) -> str | None:
    return next((field_value(raw) for n, raw in fields if n.lower() == name), None)


def content_params(value: str) -> tuple[str, list[tuple[str, str]]]:
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
class Part:
    header: bytes
    body: bytes
    fields: list[tuple[str, bytes]]
    maintype: str = "text"  # lower case, for decisions
    subtype: str = "plain"
    spelling: str = "text/plain"  # as the message writes it, for BODYSTRUCTURE
    params: list[tuple[str, str]] = field(default_factory=list)
    children: list[Part] = field(default_factory=list)  # parts, or [the message] of rfc822

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
        return first_value(self.fields, name)


def parse_part(data: bytes, default: str = "text/plain", depth: int = 0) -> Part:
    header, body = split_header(data)
    part = Part(header, body, header_fields(header))
    ctype, part.params = content_params(part.get("content-type") or default)
    match = re.fullmatch(f"({TOKEN.pattern})/({TOKEN.pattern})", ctype)
    boundary = param(part.params, "boundary") or ""
    if match is None or (ctype.lower().startswith("multipart/") and not boundary):
        ctype, part.params = "text/plain", []  # RFC 2045 5.2; no boundary: nothing to cut at
    part.spelling = ctype
    part.maintype, part.subtype = ctype.lower().split("/", 1)
    if part.maintype == "text" and param(part.params, "charset") is None:
        part.params.append(("charset", "us-ascii"))  # RFC 2045 section 5.2 default
    encoding = ((part.get("content-transfer-encoding") or "").split() or ["7bit"])[0].lower()
    if depth >= MAX_NESTING and (part.is_multipart or part.maintype == "message"):
        _opaque(part)
    elif part.is_multipart:
        inner = "message/rfc822" if part.subtype == "digest" else "text/plain"  # 5.1.5
        bodies = _split_multipart(body, boundary.encode("utf-8", "replace"))
        part.children = [parse_part(b, inner, depth + 1) for b in bodies]
        part.children = part.children or [Part(b"", b"", [], params=[("charset", "us-ascii")])]
    elif (part.maintype, part.subtype) == ("message", "rfc822"):
        if encoding in ("7bit", "8bit", "binary"):
            part.children = [parse_part(body, "text/plain", depth + 1)]
        else:  # an encoded message/rfc822 (RFC 2046 5.2.1 forbids it): opaque octets
            _opaque(part)
    return part


def _opaque(part: Part) -> None:
    part.maintype, part.subtype = "application", "octet-stream"
    part.spelling = "application/octet-stream"


def param(params: list[tuple[str, str]], name: str) -> str | None:
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
