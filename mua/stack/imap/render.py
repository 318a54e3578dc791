"""BODYSTRUCTURE, BODY[section] and the index's per-message summary (RFC 3501 sections
6.4.5, 7.4.2), over the MIME tree `message_parts` cuts; ENVELOPE is `envelope`'s.
"""

from __future__ import annotations

import email.utils
import logging
import re
from typing import Any

from mua.stack.imap.arguments import Section
from mua.stack.imap.envelope import envelope_of
from mua.stack.imap.message_parts import (
    TOKEN,
    Part,
    content_params,
    crlf,
    header_fields,
    parse_part,
    split_header,
)
from mua.stack.imap.protocol import nstring, quote

log = logging.getLogger(__name__)


# --- BODYSTRUCTURE --------------------------------------------------------------------------


def _param_list(params: list[tuple[str, str]]) -> str:
    return "(" + " ".join(f"{quote(n)} {quote(v)}" for n, v in params) + ")" if params else "NIL"


def _extension(part: Part) -> list[str]:
    """body-fld-dsp, body-fld-lang and body-fld-loc (RFC 3501 section 9)."""
    dtype, dparams = content_params(part.get("content-disposition") or "")
    disposition = "NIL"
    if TOKEN.fullmatch(dtype):
        disposition = f"({quote(dtype)} {_param_list(dparams)})"
    raw = re.sub(r"\([^)]*\)", "", part.get("content-language") or "")
    tags = [quote(t.strip()) for t in raw.split(",") if t.strip()]
    language = "NIL" if not tags else tags[0] if len(tags) == 1 else "(" + " ".join(tags) + ")"
    return [disposition, language, nstring(part.get("content-location"))]


def _structure(part: Part, extended: bool) -> str:
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
        items += [envelope_of(inner.fields), _structure(inner, extended), str(part.lines)]
    elif part.maintype == "text":
        items.append(str(part.lines))
    if extended:
        items += [nstring(part.get("content-md5")), *_extension(part)]
    return "(" + " ".join(items) + ")"


def bodystructure(message: bytes, *, extended: bool = True) -> str:
    """BODYSTRUCTURE (extended) or BODY (not) of a message, parenthesised."""
    return _structure(parse_part(crlf(message)), extended)


# --- BODY[section] --------------------------------------------------------------------------


def _in_message(message: Part, number: int) -> Part | None:
    """Part `number` of a message: of its multipart body, or the message itself (its only
    part) when the body is not multipart (RFC 3501 section 6.4.5)."""
    if message.is_multipart:
        return message.children[number - 1] if number <= len(message.children) else None
    return message if number == 1 else None


def _find(root: Part, path: tuple[int, ...]) -> Part | None:
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
        header, body = split_header(data)
        if spec.text is None:
            out = data
        elif spec.text == "TEXT":
            out = body
        elif spec.text == "HEADER":
            out = header
        else:
            out = _header_subset(header, spec.fields, spec.text == "HEADER.FIELDS.NOT")
    else:
        node = _find(parse_part(data), spec.part)
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
        root = parse_part(data)
        return {
            "envelope": envelope_of(root.fields),
            "bodystructure": _structure(root, True),
            "body": _structure(root, False),
            "header": root.header.decode("utf-8", "replace"),
            "sent": sent_date(root.get("date")),
        }
    except Exception:  # a last resort: the index must take every message
        log.warning("unreadable message structure; summarised as text/plain", exc_info=True)
        whole = Part(b"", data, [], params=[("charset", "us-ascii")])
        return {
            "envelope": "(" + " ".join(["NIL"] * 10) + ")",
            "bodystructure": _structure(whole, True),
            "body": _structure(whole, False),
            "header": "",
            "sent": None,
        }
