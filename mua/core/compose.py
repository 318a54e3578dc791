"""Building outgoing messages with the standard library's modern email API (RFC 5322, MIME)."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path

from mua.core.i18n import T_


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    content_type: str | None = None  # guessed from the name when None

    @classmethod
    def from_path(cls, path: Path) -> Attachment:
        return cls(path.name, Path(path).read_bytes())


@dataclass(frozen=True)
class Draft:
    sender: str  # "alice@a.test"
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = ""
    text: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    sender_name: str = ""
    in_reply_to: str | None = None
    references: tuple[str, ...] = field(default=())

    @property
    def recipients(self) -> tuple[str, ...]:
        return (*self.to, *self.cc, *self.bcc)


class ComposeError(ValueError):
    """The draft cannot be sent as it is; str() says what to fix."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def safe_filename(name: str) -> str:
    """A file name that cannot escape a folder or break a header: no directories, no control
    or reserved characters, no leading dots, at most 150 characters (keeping the suffix)."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = _CONTROL.sub("_", name).strip(" .")
    if not name:
        return "attachment"
    stem, dot, suffix = name.rpartition(".")
    if len(name) > 150:
        name = (stem[: 150 - len(suffix) - 1] + "." + suffix) if dot else name[:150]
    return name


def _check_addresses(label: str, addresses: tuple[str, ...]) -> None:
    for raw in addresses:
        _name, address = parseaddr(raw)
        if "@" not in address or " " in address.strip():
            raise ComposeError(
                T_(
                    "{field} address {address} is not an email address; correct it.",
                    field=label,
                    address=repr(raw),
                )
            )


def build_message(draft: Draft) -> EmailMessage:
    """The message to submit. Bcc stays in the headers: the submission client sends to those
    addresses and strips the field from what it transmits (RFC 5322 section 3.6.3)."""
    if not draft.recipients:
        raise ComposeError(T_("The message has no recipients; add at least one address."))
    for label, addresses in (("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc)):
        _check_addresses(label, addresses)
    domain = draft.sender.rpartition("@")[2]
    msg = EmailMessage()
    msg["From"] = Address(draft.sender_name, addr_spec=draft.sender)
    for header, addresses in (("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc)):
        if addresses:
            msg[header] = ", ".join(addresses)
    msg["Subject"] = draft.subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=domain or None)
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        msg["References"] = " ".join(draft.references)
    msg["MIME-Version"] = "1.0"
    msg.set_content(draft.text or "")
    if draft.html is not None:
        msg.add_alternative(draft.html, subtype="html")
    for attachment in draft.attachments:
        ctype = attachment.content_type or mimetypes.guess_type(attachment.filename)[0]
        maintype, _, subtype = (ctype or "application/octet-stream").partition("/")
        msg.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=safe_filename(attachment.filename),
        )
    return msg


def reply_draft(original: EmailMessage, me: str, *, reply_all: bool = False) -> Draft:
    """A reply to `original` from `me`: Re: subject, threading headers (RFC 5322 3.6.4),
    the quoted text."""
    reply_to = original.get_all("Reply-To") or original.get_all("From") or []
    to = [a for _n, a in getaddresses(reply_to) if a]
    cc: list[str] = []
    if reply_all:
        others = getaddresses([*original.get_all("To", []), *original.get_all("Cc", [])])
        cc = [a for _n, a in others if a and a.lower() != me.lower() and a not in to]
    subject = str(original.get("Subject", ""))
    if not re.match(r"(?i)^\s*re\s*:", subject):
        subject = f"Re: {subject}"
    message_id = original.get("Message-ID")
    references = tuple(str(original.get("References", "")).split())
    if message_id:
        references = (*references, str(message_id))
    body = original.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    who = str(original.get("From", "someone"))
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return Draft(
        sender=me,
        to=tuple(to),
        cc=tuple(cc),
        subject=subject,
        text=f"\n\n{who} wrote:\n{quoted}\n",
        in_reply_to=str(message_id) if message_id else None,
        references=references,
    )


def _decoded(part: Message) -> bytes:
    """A leaf part's body, its transfer encoding undone (b"" for a container)."""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def draft_from_message(message: EmailMessage, me: str) -> Draft:
    """A saved draft (a message from the Drafts folder) back into the fields it was written
    with, to edit it again. `me` is the sender when the message names none."""
    sender = next((a for _n, a in getaddresses(message.get_all("From", [])) if a), me)

    def addresses(name: str) -> tuple[str, ...]:
        values = [str(v) for v in message.get_all(name, [])]
        return tuple(_entry(n, a) for n, a in getaddresses(values) if a)

    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    attachments = tuple(
        Attachment(
            part.get_filename() or "attachment",
            _decoded(part),
            part.get_content_type(),
        )
        for part in message.iter_attachments()
    )
    in_reply_to = message.get("In-Reply-To")
    return Draft(
        sender=sender,
        to=addresses("To"),
        cc=addresses("Cc"),
        bcc=addresses("Bcc"),
        subject=str(message.get("Subject", "")),
        text=plain.get_content() if plain is not None else "",
        html=html.get_content() if html is not None else None,
        attachments=attachments,
        in_reply_to=str(in_reply_to) if in_reply_to else None,
        references=tuple(str(message.get("References", "")).split()),
    )


def _entry(name: str, address: str) -> str:
    """'Bob <bob@b.test>', quoted when the name needs it, never encoded (it is edited)."""
    return str(Address(display_name=name, addr_spec=address)) if name else address
