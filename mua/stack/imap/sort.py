"""SORT (RFC 5256 section 3) with SORT=DISPLAY (RFC 5957): the sort criteria, the facts of
one message that they compare, and the ordering itself. Pure, except that `Facts.of` may read
a message's header from its file when the index has no summary of it."""

from __future__ import annotations

import email.utils
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mua.stack.imap.basesubject import base_subject, collation_key, decode_subject
from mua.stack.imap.message_parts import crlf, field_value, header_fields
from mua.stack.imap.model import MessageInfo
from mua.stack.imap.protocol import Atom, ProtocolError, Token
from mua.stack.imap.render import sent_date

KEYS = ("ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO")
_MSG_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Criterion:
    key: str  # one of KEYS
    reverse: bool = False


def parse_criteria(token: Token) -> list[Criterion]:
    """`(REVERSE DATE SUBJECT)` as criteria; ProtocolError (a BAD) for anything else."""
    if not isinstance(token, list) or not token:
        raise ProtocolError("SORT needs a parenthesised list of sort criteria")
    out: list[Criterion] = []
    reverse = False
    for item in token:
        word = str(item).upper() if type(item) is Atom else ""
        if word == "REVERSE" and not reverse:
            reverse = True
            continue
        if word not in KEYS:
            raise ProtocolError(f"Unknown sort criterion {str(item)[:20]}")
        out.append(Criterion(word, reverse))
        reverse = False
    if reverse:
        raise ProtocolError("REVERSE must be followed by a sort criterion")
    return out


@dataclass(frozen=True)
class Facts:
    """What SORT and THREAD know of one message."""

    seq: int
    uid: int
    size: int
    arrival: float  # INTERNALDATE, epoch seconds
    sent: float  # the Date: header in UTC, or INTERNALDATE when it has none (section 2.2)
    subject: str  # the Subject field, decoded (base_subject() gives the base)
    from_: tuple[str, str]  # (display name, addr-spec) of the first address, "" if none
    to: tuple[str, str]
    cc: tuple[str, str]
    message_id: str | None
    references: tuple[str, ...]  # References, else the first id of In-Reply-To

    @classmethod
    def of(cls, seq: int, info: MessageInfo, load: Callable[[], bytes]) -> Facts:
        raw = info.summary.get("header")
        header = raw.encode("utf-8") if isinstance(raw, str) and raw else None
        if header is None:
            header = b"".join(r for _, r in header_fields(crlf(load())))
        values: dict[str, str] = {}
        for name, field in header_fields(header):
            values.setdefault(name.lower(), field_value(field))
        sent = info.summary.get("sent") if raw else sent_date(values.get("date"))
        refs = _MSG_ID.findall(values.get("references", ""))
        if not refs:
            refs = _MSG_ID.findall(values.get("in-reply-to", ""))[:1]
        ids = _MSG_ID.findall(values.get("message-id", ""))
        return cls(
            seq=seq,
            uid=info.uid,
            size=info.size,
            arrival=info.internaldate,
            sent=float(sent) if isinstance(sent, int | float) else info.internaldate,
            subject=decode_subject(values.get("subject", "")),
            from_=_first_address(values.get("from", "")),
            to=_first_address(values.get("to", "")),
            cc=_first_address(values.get("cc", "")),
            message_id=ids[0] if ids else None,
            references=tuple(refs),
        )

    @functools.cached_property
    def base(self) -> tuple[str, bool]:
        return base_subject(self.subject)


def _first_address(value: str) -> tuple[str, str]:
    if not value:
        return "", ""
    try:
        pairs = email.utils.getaddresses([value])
    except (ValueError, IndexError, TypeError):
        return "", ""
    for name, addr in pairs:
        if name or addr:
            return decode_subject(name).strip(), addr
    return "", ""


def _key(facts: Facts, key: str) -> Any:
    if key == "ARRIVAL":
        return facts.arrival
    if key == "DATE":
        return facts.sent
    if key == "SIZE":
        return facts.size
    if key == "SUBJECT":
        return collation_key(facts.base[0])
    if key in ("FROM", "TO", "CC"):  # the addr-mailbox: the local part (section 3)
        addr = {"FROM": facts.from_, "TO": facts.to, "CC": facts.cc}[key][1]
        return addr.rpartition("@")[0].casefold() if "@" in addr else addr.casefold()
    # RFC 5957: the display name, else the address itself
    name, addr = facts.from_ if key == "DISPLAYFROM" else facts.to
    return collation_key(name or addr)


def sort(messages: Sequence[Facts], criteria: Sequence[Criterion]) -> list[Facts]:
    """`messages` in the order the criteria give; ties in mailbox (sequence) order, which
    REVERSE does not turn round (section 3). One stable sort per criterion, least
    significant first (a reverse sort keeps ties in order too), each key computed once."""
    ordered = sorted(messages, key=lambda f: f.seq)
    for criterion in reversed(criteria):
        keys = {id(f): _key(f, criterion.key) for f in ordered}
        ordered.sort(key=lambda f: keys[id(f)], reverse=criterion.reverse)
    return ordered
