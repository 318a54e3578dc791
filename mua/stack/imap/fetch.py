"""FETCH responses (RFC 3501 sections 6.4.5 and 7.4.2), from the index where it can.

ENVELOPE, BODYSTRUCTURE, FLAGS, RFC822.SIZE, INTERNALDATE and UID come from the store's
index without opening message files; only body sections read the message. Responses go out
in batches, and a client that disconnects mid-FETCH stops the work.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from mua.stack.imap import arguments, protocol, render
from mua.stack.imap.model import RECENT, SEEN, MessageInfo

if TYPE_CHECKING:
    from mua.stack.imap.server import Session

_BATCH = 256
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


async def run(session: Session, cmd: protocol.Command, *, by_uid: bool) -> None:
    selected = session.selected
    assert selected is not None
    if len(cmd.args) < 2:
        raise protocol.ProtocolError("Usage: FETCH set items", cmd.tag)
    seqset = arguments.parse_sequence_set(str(cmd.args[0]))
    request = arguments.parse_fetch_request(cmd.args[1:])
    items = list(request.items)
    if by_uid and not any(i.name == "UID" for i in items):
        items = [arguments.FetchItem("UID"), *items]  # RFC 3501 section 6.4.8
    if request.changed_since is not None or any(i.name == "MODSEQ" for i in items):
        session.condstore = selected.condstore = True  # RFC 7162 section 3.1
    if session.condstore and not any(i.name == "MODSEQ" for i in items):
        items = [*items, arguments.FetchItem("MODSEQ")]
    targets = selected.select(seqset, by_uid=by_uid)
    if request.changed_since is not None:
        targets = [(s, u) for s, u in targets if selected.infos[u].modseq > request.changed_since]
    sets_seen = not selected.readonly and any(i.sets_seen for i in items)
    needs_body = any(i.needs_message for i in items)
    lines: list[bytes] = []
    for seq, uid in targets:
        if session.closing():
            return  # the client is gone: stop reading and rendering for it
        info = selected.infos[uid]
        data = await asyncio.to_thread(selected.folder.read, uid) if needs_body else b""
        if sets_seen and SEEN not in info.flags:
            changed, _ = await asyncio.to_thread(selected.folder.set_flags, [uid], {SEEN}, "add")
            selected.adopt(changed)
            info = selected.infos[uid]
            if not any(i.name == "FLAGS" for i in items):
                items = [*items, arguments.FetchItem("FLAGS")]
        lines.append(_response(seq, info, items, data, recent=uid in selected.recent_uids))
        if needs_body:
            match = _MESSAGE_ID.search(data[:65536])
            session.record_retrieval(match.group(1).decode() if match else None, uid)
        if len(lines) >= _BATCH:
            await session.send(*lines)
            lines = []
    if lines:
        await session.send(*lines)


def _response(
    seq: int, info: MessageInfo, items: list[arguments.FetchItem], data: bytes, *, recent: bool
) -> bytes:
    parts: list[bytes] = []
    for item in items:
        if item.name == "FLAGS" and recent:
            parts.append(f"FLAGS ({' '.join(sorted(info.flags | {RECENT}))})".encode())
        else:
            parts.append(_item(info, item, data))
    return f"* {seq} FETCH (".encode() + b" ".join(parts) + b")"


def _item(info: MessageInfo, item: arguments.FetchItem, data: bytes) -> bytes:
    name = item.name
    if name == "UID":
        return f"UID {info.uid}".encode()
    if name == "FLAGS":
        return f"FLAGS ({' '.join(sorted(info.flags))})".encode()
    if name == "RFC822.SIZE":
        return f"RFC822.SIZE {info.size}".encode()
    if name == "INTERNALDATE":
        return f'INTERNALDATE "{arguments.format_internaldate(info.internaldate)}"'.encode()
    if name == "MODSEQ":
        return f"MODSEQ ({info.modseq})".encode()
    if name == "ENVELOPE":
        return b"ENVELOPE " + _summary(info, "envelope")
    if name == "BODYSTRUCTURE":
        return b"BODYSTRUCTURE " + _summary(info, "bodystructure")
    if name == "BODY" and item.section is None:
        return b"BODY " + _summary(info, "body")
    # A body section (BODY[...]<partial>, BODY.PEEK[...]) or the RFC822 forms, which name
    # the same octets (RFC 3501 section 6.4.5). A section that does not exist is NIL.
    spec = item.section or _RFC822_SECTIONS.get(name)
    content = render.section(data, spec, item.partial) if spec is not None else data
    return item.response_name().encode() + b" " + protocol.literal(content)


def _summary(info: MessageInfo, key: str) -> bytes:
    """A structure the index keeps for the message (`render.summarize`), as sent."""
    structure: str = info.summary[key]
    return structure.encode("utf-8")


_RFC822_SECTIONS = {
    "RFC822": arguments.Section((), None, ()),
    "RFC822.HEADER": arguments.Section((), "HEADER", ()),
    "RFC822.TEXT": arguments.Section((), "TEXT", ()),
}
