"""Making a message safe to show: its HTML sanitised, its remote content kept from loading.

Qt-free, like `ReadableMessage` at the end (what the reader shows of a message: headers,
body parts, attachments under safe names). Sanitising is ammonia's (through nh3), never
regular expressions: only basic formatting survives (no scripts, style sheets, event
handlers, forms, frames, or links to anything but http, https and mailto), and inline
styles keep a short list of properties none of which takes a URL. Images stay, sorted by
where they come from: `cid:` parts of the message itself and `data:` URIs are local; http,
https and protocol-relative `//` sources are remote. A remote image tells the sender that
(and when, and from where) the message was read, so it is blocked unless the user allows
it for this message or sender: its source becomes `mua-blocked:<n>`, drawn as a placeholder.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import html
import mimetypes
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message, MIMEPart
from html.parser import HTMLParser

import nh3

from mua.core.compose import safe_filename
from mua.core.mime import parse_bytes, too_deeply_nested

BLOCKED_SCHEME = "mua-blocked"

_TAGS = (set(nh3.ALLOWED_TAGS) | {"font"}) - {"area", "map"}
_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"style", "title", "dir", "lang", "align", "valign", "width", "height", "bgcolor"},
    "font": {"color", "face", "size"},
    "img": {"src", "alt", "width", "height", "align", "border"},
    "table": {"summary", "border", "cellpadding", "cellspacing", "width", "bgcolor", "align"},
}
_SCHEMES = {"http", "https", "mailto", "cid", "data"}
# Properties that cannot take a URL: nothing a style attribute keeps can fetch anything.
_STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style",
    "font-weight", "text-align", "text-decoration", "text-indent", "text-transform",
    "vertical-align", "white-space", "line-height", "letter-spacing", "word-spacing",
    "margin", "margin-top", "margin-bottom", "margin-left", "margin-right",
    "padding", "padding-top", "padding-bottom", "padding-left", "padding-right",
    "border", "border-color", "border-style", "border-width", "border-collapse",
    "width", "height", "max-width", "min-width", "direction", "display",
}  # fmt: skip
_REMOTE_SCHEMES = ("http:", "https:")
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")\s]+)", re.IGNORECASE)  # detection only


@dataclass(frozen=True)
class SafeHtml:
    """Sanitised HTML, and the remote images it refers to (in order, without repeats)."""

    html: str
    remote: tuple[str, ...]
    remote_allowed: bool

    @property
    def blocked(self) -> int:
        """How many remote items are blocked in `html`: the bar's count."""
        return 0 if self.remote_allowed else len(self.remote)


def is_remote(url: str) -> bool:
    """Whether loading `url` would go out to the network (http, https or `//host/...`)."""
    text = url.strip().lower()
    return text.startswith(_REMOTE_SCHEMES) or text.startswith("//")


def _absolute(url: str) -> str:
    text = url.strip()
    return "https:" + text if text.startswith("//") else text


def _safe_style(value: str) -> str | None:
    """Drop any declaration that could name a resource (url(), image-set(), CSS escapes that
    could spell them); the property allow-list runs after this."""
    kept = [
        part
        for part in value.split(";")
        if "url(" not in part.lower() and "image" not in part.lower() and "\\" not in part
    ]
    return ";".join(kept) or None


def sanitise(source: str, *, allow_remote: bool = False) -> SafeHtml:
    """The message's HTML as it may be shown. With `allow_remote` remote images keep their
    (absolute) URL, else each becomes `mua-blocked:<n>`, n indexing `SafeHtml.remote`."""
    remote: list[str] = []

    def attribute(tag: str, name: str, value: str) -> str | None:
        if name == "style":
            return _safe_style(value)
        if tag == "img" and name == "src":
            if is_remote(value):
                url = _absolute(value)
                if url not in remote:
                    remote.append(url)
                return url if allow_remote else f"{BLOCKED_SCHEME}:{remote.index(url)}"
            if value.strip().lower().startswith(("cid:", "data:image/")):
                return value.strip()
            return None  # relative or other schemes: nothing to load them from
        if name in ("href", "src") and value.strip().lower().startswith(("data:", "cid:")):
            return None  # data: and cid: only as image sources
        return value

    cleaned = nh3.clean(
        source,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=attribute,
        url_schemes=_SCHEMES,
        url_relative=lambda url: "https:" + url if url.startswith("//") else None,
        filter_style_properties=_STYLE_PROPERTIES,
        strip_comments=True,
    )
    return SafeHtml(cleaned, tuple(remote), allow_remote)


class _RemoteFinder(HTMLParser):
    """Collects every URL that loading this HTML as a web page would fetch remotely."""

    _LOADING = {"src", "background", "poster", "data", "srcset", "lowsrc", "dynsrc"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def _add(self, url: str) -> None:
        if is_remote(url) and _absolute(url) not in self.found:
            self.found.append(_absolute(url))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name == "srcset":
                for candidate in value.split(","):
                    self._add(candidate.strip().split(" ")[0])
            elif name in self._LOADING:
                self._add(value)
            elif name == "style":
                self._css(value)
        if tag == "link" and "href" in values:
            self._add(values["href"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data)

    def _css(self, text: str) -> None:
        for url in _CSS_URL.findall(text):
            self._add(url)
        for word in text.split():  # @import "https://..."
            self._add(word.strip("'\";"))


def remote_references(source: str) -> list[str]:
    """The remote URLs any HTML refers to for loading (img src and srcset, CSS url() and
    @import, link href, background attributes, media sources), absolute, without repeats.
    Links a reader has to click (a href) are not loading and are not listed."""
    finder = _RemoteFinder()
    finder.feed(source)
    finder.close()
    return finder.found


def inline_parts(message: EmailMessage) -> dict[str, tuple[str, bytes]]:
    """The message's parts that HTML can show as `cid:` images: Content-ID (without the
    angle brackets) -> (content type, bytes)."""
    parts: dict[str, tuple[str, bytes]] = {}
    for part in message.walk():
        cid = part.get("Content-ID")
        if not cid or part.is_multipart():
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            parts[str(cid).strip().strip("<>")] = (part.get_content_type(), data)
    return parts


_URL = re.compile(r"\b(?:https?://|mailto:)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def _linkified(line: str) -> str:
    parts, end = [], 0
    for match in _URL.finditer(line):
        url = html.escape(match.group(0))
        parts += [html.escape(line[end : match.start()]), f'<a href="{url}">{url}</a>']
        end = match.end()
    parts.append(html.escape(line[end:]))
    return "".join(parts)


def plain_to_html(text: str) -> str:
    """Plain text as HTML: escaped, links clickable, quoted lines (">") greyed."""
    lines = []
    for line in text.splitlines():
        shown = _linkified(line)
        if line.startswith(">"):
            shown = f'<span style="color:#6a737d">{shown}</span>'
        lines.append(shown)
    return '<div style="white-space:pre-wrap">' + "<br>".join(lines) + "</div>"


# -- what the reader shows of a message ---------------------------------------------------


@dataclass(frozen=True)
class AttachmentFile:
    name: str  # already safe: no directories, no control characters (safe_filename)
    content_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class ReadableMessage:
    """What the reader shows of a message (no Qt: parse once, render anywhere)."""

    subject: str = ""
    sender: str = ""
    sender_address: str = ""
    to: str = ""
    cc: str = ""
    date: str = ""
    text: str | None = None
    html: str | None = None
    attachments: list[AttachmentFile] = field(default_factory=list)
    inline: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    too_deep: bool = False  # parts nested past mua.core.mime.MAX_DEPTH were not taken apart

    @classmethod
    def parse(cls, raw: bytes) -> ReadableMessage:
        message = parse_bytes(raw, policy=email.policy.default)  # MIME nesting capped
        assert isinstance(message, EmailMessage)
        _name, address = email.utils.parseaddr(str(message.get("From", "")))
        read = cls(
            subject=str(message.get("Subject", "")),
            sender=str(message.get("From", "")),
            sender_address=address.lower(),
            to=str(message.get("To", "")),
            cc=str(message.get("Cc", "")),
            date=_date(message.get("Date")),
            inline=inline_parts(message),
            too_deep=too_deeply_nested(message),
        )
        html_part = message.get_body(preferencelist=("html",))
        text_part = message.get_body(preferencelist=("plain",))
        read.html = _content(html_part) if html_part is not None else None
        read.text = _content(text_part) if text_part is not None else None
        if read.html is None and read.text is None and not message.is_multipart():
            read.text = _content(message)
        for part in message.iter_attachments():
            read.attachments.append(_attachment(part))
        return read


def _content(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _date(value: object) -> str:
    if not value:
        return ""
    try:
        when = email.utils.parsedate_to_datetime(str(value)).astimezone()
    except (TypeError, ValueError):
        return str(value)
    return when.strftime("%a %d %b %Y %H:%M")


def _attachment(part: EmailMessage) -> AttachmentFile:
    ctype = part.get_content_type()
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):  # message/rfc822: the enclosed message itself
        inner = part.get_payload()
        first = inner[0] if isinstance(inner, list) and inner else None
        data = first.as_bytes() if isinstance(first, Message) else b""
    name = part.get_filename() or (
        "message.eml"
        if ctype == "message/rfc822"
        else "attachment" + (mimetypes.guess_extension(ctype) or "")
    )
    return AttachmentFile(safe_filename(name), ctype, data)
