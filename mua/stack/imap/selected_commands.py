"""The commands of the selected state (RFC 3501 section 6.4): CHECK, CLOSE, UNSELECT (RFC
3691), EXPUNGE, SEARCH, FETCH (its responses: `fetch`), STORE, COPY, MOVE (RFC 6851) and the
UID forms of these and of SORT and THREAD (`ordering_commands`), UID EXPUNGE (RFC 4315)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from mua.stack.imap import (
    arguments,
    fetch,
    mailstore,
    ordering_commands,
    protocol,
    search,
    search_match,
)
from mua.stack.imap.command_args import at_least, mailbox, text
from mua.stack.imap.session import No, State

if TYPE_CHECKING:
    from mua.stack.imap.server import Handler, Session


async def check(session: Session, cmd: protocol.Command) -> None:
    await session.send_updates()
    await session.send(f"{cmd.tag} OK Check completed")


async def _leave(session: Session, *, expunge: bool) -> None:
    selected = session.selected
    assert selected is not None
    if expunge and not selected.readonly:
        await asyncio.to_thread(selected.folder.expunge)  # CLOSE expunges silently (RFC 3501 6.4.2)
    session.selected = None
    session.state = State.AUTHENTICATED


async def close(session: Session, cmd: protocol.Command) -> None:
    await _leave(session, expunge=True)
    await session.send(f"{cmd.tag} OK Close completed")


async def unselect(session: Session, cmd: protocol.Command) -> None:
    await _leave(session, expunge=False)
    await session.send(f"{cmd.tag} OK Unselect completed")


async def _expunge(session: Session, cmd: protocol.Command, uids: set[int] | None) -> None:
    selected = session.writable()
    gone = await asyncio.to_thread(selected.folder.expunge, uids)
    await session.send(*selected.forget(gone))
    await session.send_updates()
    await session.send(f"{cmd.tag} OK Expunge completed")


async def expunge(session: Session, cmd: protocol.Command) -> None:
    await _expunge(session, cmd, None)


async def search_(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    selected = session.selected
    assert selected is not None
    args = list(cmd.args)
    charset = "US-ASCII"
    if args and str(args[0]).upper() == "CHARSET":
        if len(args) < 2:
            raise protocol.ProtocolError("CHARSET needs a name", cmd.tag)
        charset = text(args[1], "a charset", cmd.tag).upper()
        args = args[2:]
    try:
        key = search.parse_search(args, charset=charset)
    except search.BadCharset as exc:
        raise No("[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset") from exc
    except search.SearchError as exc:
        raise protocol.ProtocolError(str(exc), cmd.tag) from exc
    hits = await asyncio.to_thread(search_match.run, key, selected)
    numbers = [uid for _seq, uid in hits] if by_uid else [seq for seq, _uid in hits]
    modseq = ""
    if hits and search.uses_modseq(key):  # RFC 7162 section 3.1.5
        modseq = f" (MODSEQ {max(selected.infos[uid].modseq for _s, uid in hits)})"
    await session.send(" ".join(["* SEARCH", *map(str, numbers)]) + modseq)
    await session.send_updates(allow_expunge=by_uid)
    await session.send(f"{cmd.tag} OK Search completed")


async def fetch_(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    await fetch.run(session, cmd, by_uid=by_uid)
    await session.send_updates(allow_expunge=by_uid)
    await session.send(f"{cmd.tag} OK Fetch completed")


async def store(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    selected = session.writable()
    args = at_least(cmd, 3, "set [(UNCHANGEDSINCE n)] +FLAGS|-FLAGS|FLAGS[.SILENT] (flags)")
    targets = selected.select(
        arguments.parse_sequence_set(text(args[0], "a set", cmd.tag)), by_uid=by_uid
    )
    request = arguments.parse_store_args(args[1:])
    changed, failed = await asyncio.to_thread(
        selected.folder.set_flags,
        [uid for _seq, uid in targets],
        request.flags,
        request.mode,
        unchanged_since=request.unchanged_since,
    )
    selected.adopt(changed)
    if not request.silent or request.unchanged_since is not None:
        lines = []
        for info in changed:
            seq = selected.seq_of(info.uid)
            if seq is None:
                continue
            items = [f"FLAGS ({' '.join(sorted(info.flags))})"]
            if by_uid:
                items.insert(0, f"UID {info.uid}")
            if session.condstore:
                items.append(f"MODSEQ ({info.modseq})")
            lines.append(f"* {seq} FETCH ({' '.join(items)})")
        await session.send(*lines)
    await session.send_updates(allow_expunge=by_uid)
    code = ""
    if failed:
        numbers = failed if by_uid else [selected.seq_of(u) for u in failed]
        code = f"[MODIFIED {arguments.format_sequence_set(n for n in numbers if n)}] "
    await session.send(f"{cmd.tag} OK {code}Store completed")


async def _copy(session: Session, cmd: protocol.Command, *, by_uid: bool, move: bool) -> None:
    selected = session.writable() if move else session.selected
    assert selected is not None and session.store is not None
    args = at_least(cmd, 2, "set mailbox")
    targets = selected.select(
        arguments.parse_sequence_set(text(args[0], "a set", cmd.tag)), by_uid=by_uid
    )
    name = mailbox(args[1], cmd.tag)
    try:
        dest = session.store.folder(name)
    except mailstore.NoSuchFolder as exc:
        raise No(f"[TRYCREATE] No mailbox {name}") from exc
    uids = [uid for _seq, uid in targets]
    if not uids:
        await session.send(f"{cmd.tag} OK No messages")
        return
    pairs = await asyncio.to_thread(
        selected.folder.move if move else selected.folder.copy, uids, dest
    )
    code = ""
    if pairs:
        source = arguments.format_sequence_set(s for s, _d in pairs)
        target = arguments.format_sequence_set(d for _s, d in pairs)
        code = f"[COPYUID {dest.uidvalidity} {source} {target}] "
    if move:  # RFC 6851 section 4.3: COPYUID untagged, then the EXPUNGEs, then OK
        if code:
            await session.send(f"* OK {code}Moved")
        await session.send(*selected.forget(s for s, _d in pairs))
        await session.send(f"{cmd.tag} OK Move completed")
    else:
        await session.send(f"{cmd.tag} OK {code}Copy completed")


async def copy(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    await _copy(session, cmd, by_uid=by_uid, move=False)


async def move(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    await _copy(session, cmd, by_uid=by_uid, move=True)


_UID_COMMANDS: dict[str, Callable[..., Awaitable[None]]] = {  # each takes by_uid=True
    "FETCH": fetch_,
    "SEARCH": search_,
    "STORE": store,
    "COPY": copy,
    "MOVE": move,
    "SORT": ordering_commands.sort_,
    "THREAD": ordering_commands.thread_,
}


async def uid(session: Session, cmd: protocol.Command) -> None:
    args = at_least(cmd, 1, "FETCH|SEARCH|STORE|COPY|MOVE|EXPUNGE ...")
    sub = text(args[0], "a command", cmd.tag).upper()
    inner = protocol.Command(cmd.tag, f"UID {sub}", list(args[1:]))
    if sub == "EXPUNGE":  # RFC 4315 section 2.1
        selected = session.selected
        assert selected is not None
        uid_set = arguments.parse_sequence_set(text(at_least(inner, 1, "set")[0], "a set", cmd.tag))
        top = selected.uids[-1] if selected.uids else 0
        await _expunge(session, inner, {u for u in selected.uids if uid_set.contains(u, top)})
        return
    handler = _UID_COMMANDS.get(sub)
    if handler is None:
        raise protocol.ProtocolError(f"Unknown UID command {sub[:20]}", cmd.tag)
    await handler(session, inner, by_uid=True)


COMMANDS: dict[str, Handler] = {
    "CHECK": check,
    "CLOSE": close,
    "UNSELECT": unselect,
    "EXPUNGE": expunge,
    "SEARCH": search_,
    "FETCH": fetch_,
    "STORE": store,
    "COPY": copy,
    "MOVE": move,
    "UID": uid,
}
