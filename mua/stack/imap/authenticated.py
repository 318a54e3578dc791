"""The commands of the authenticated state, also valid when a mailbox is selected (RFC 3501
section 6.3): mailboxes (SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, LIST, LSUB,
STATUS, APPEND), ENABLE (RFC 5161), NAMESPACE (RFC 2342) and IDLE (RFC 2177)."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from mua.stack.imap import arguments, command_reader, mailstore, protocol
from mua.stack.imap.command_args import at_least, mailbox, text
from mua.stack.imap.model import SEEN
from mua.stack.imap.selected import SelectedMailbox
from mua.stack.imap.session import CloseConnection, No, State

if TYPE_CHECKING:
    from mua.stack.imap.server import Handler, Session


async def enable(session: Session, cmd: protocol.Command) -> None:
    enabled = [a for a in (str(x).upper() for x in cmd.args) if a == "CONDSTORE"]
    if enabled:
        session.condstore = True
        if session.selected:
            session.selected.condstore = True
    await session.send(f"* ENABLED {' '.join(enabled)}".rstrip(), f"{cmd.tag} OK Enabled")


async def namespace(session: Session, cmd: protocol.Command) -> None:
    await session.send('* NAMESPACE (("" "/")) NIL NIL', f"{cmd.tag} OK Namespace done")


async def _select(session: Session, cmd: protocol.Command, *, readonly: bool) -> None:
    args = at_least(cmd, 1, "mailbox")
    name = mailbox(args[0], cmd.tag)
    if (
        len(args) > 1
        and isinstance(args[1], list)
        and any(str(p).upper() == "CONDSTORE" for p in args[1])
    ):
        session.condstore = True  # RFC 7162 section 3.1.8
    session.selected = None
    session.state = State.AUTHENTICATED
    folder = session.folder(name)
    selected = await asyncio.to_thread(
        SelectedMailbox, folder, readonly=readonly, condstore=session.condstore
    )
    if not readonly:
        selected.recent_uids = set(await asyncio.to_thread(folder.claim_recent))
    status = await asyncio.to_thread(folder.status)
    flags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"
    first_unseen = next(
        (n for n, uid in enumerate(selected.uids, 1) if SEEN not in selected.infos[uid].flags),
        None,
    )
    lines = [
        f"* FLAGS ({flags})",
        f"* OK [PERMANENTFLAGS ({flags} \\*)] Flags permitted",
        f"* {selected.exists} EXISTS",
        # EXAMINE reports the unclaimed ones without claiming them.
        f"* {status.get('recent', 0) if readonly else len(selected.recent_uids)} RECENT",
        f"* OK [UIDVALIDITY {status['uidvalidity']}] UIDs valid",
        f"* OK [UIDNEXT {status['uidnext']}] Predicted next UID",
    ]
    if first_unseen:
        lines.append(f"* OK [UNSEEN {first_unseen}] First unseen")
    if session.condstore:
        lines.append(f"* OK [HIGHESTMODSEQ {status['highestmodseq']}] Highest")
    session.selected = selected
    session.state = State.SELECTED
    mode = "READ-ONLY" if readonly else "READ-WRITE"
    await session.send(*lines, f"{cmd.tag} OK [{mode}] {cmd.name} completed")


async def select(session: Session, cmd: protocol.Command) -> None:
    await _select(session, cmd, readonly=False)


async def examine(session: Session, cmd: protocol.Command) -> None:
    await _select(session, cmd, readonly=True)


async def create(session: Session, cmd: protocol.Command) -> None:
    name = mailbox(at_least(cmd, 1, "mailbox")[0], cmd.tag)
    assert session.store is not None
    try:
        await asyncio.to_thread(session.store.create, name.rstrip("/"))
    except mailstore.FolderExists as exc:
        raise No(f"[ALREADYEXISTS] Mailbox {name} already exists") from exc
    except mailstore.InvalidFolderName as exc:
        raise No(f"[CANNOT] {exc}") from exc
    await session.send(f"{cmd.tag} OK Create completed")


async def delete(session: Session, cmd: protocol.Command) -> None:
    name = mailbox(at_least(cmd, 1, "mailbox")[0], cmd.tag)
    assert session.store is not None
    if name.upper() == "INBOX":
        raise No("[CANNOT] INBOX cannot be deleted")
    try:
        await asyncio.to_thread(session.store.delete, name)
    except mailstore.NoSuchFolder as exc:
        raise No(f"[NONEXISTENT] No mailbox {name}") from exc
    except mailstore.StoreError as exc:
        raise No(f"[CANNOT] {exc}") from exc
    await session.send(f"{cmd.tag} OK Delete completed")


async def rename(session: Session, cmd: protocol.Command) -> None:
    old, new = (mailbox(a, cmd.tag) for a in at_least(cmd, 2, "old new")[:2])
    assert session.store is not None
    try:
        await asyncio.to_thread(session.store.rename, old, new)
    except mailstore.NoSuchFolder as exc:
        raise No(f"[NONEXISTENT] No mailbox {old}") from exc
    except mailstore.FolderExists as exc:
        raise No(f"[ALREADYEXISTS] Mailbox {new} already exists") from exc
    except mailstore.StoreError as exc:
        raise No(f"[CANNOT] {exc}") from exc
    await session.send(f"{cmd.tag} OK Rename completed")


async def _subscription(session: Session, cmd: protocol.Command, on: bool) -> None:
    name = mailbox(at_least(cmd, 1, "mailbox")[0], cmd.tag)
    assert session.store is not None
    try:
        if on:  # as Dovecot does: only a mailbox that exists (UNSUBSCRIBE cleans up any)
            await asyncio.to_thread(session.store.folder, name)
        await asyncio.to_thread(session.store.subscribe, name, on)
    except mailstore.NoSuchFolder as exc:
        raise No(f"[NONEXISTENT] No mailbox {name}") from exc
    await session.send(f"{cmd.tag} OK {cmd.name} completed")


async def subscribe(session: Session, cmd: protocol.Command) -> None:
    await _subscription(session, cmd, True)


async def unsubscribe(session: Session, cmd: protocol.Command) -> None:
    await _subscription(session, cmd, False)


def _pattern(reference: str, pattern: str) -> re.Pattern[str]:
    """RFC 3501 section 6.3.8: `*` matches anything, `%` anything but the delimiter."""
    full = reference + pattern
    regex = "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in full)
    return re.compile(f"^{regex}$", re.IGNORECASE if full.upper().startswith("INBOX") else 0)


async def _list(session: Session, cmd: protocol.Command, *, lsub: bool) -> None:
    args = list(cmd.args)
    special_only = False
    options = args[0] if args else None
    if isinstance(options, list):  # LIST-EXTENDED selection options (RFC 5258)
        special_only = any(str(o).upper() == "SPECIAL-USE" for o in options)
        args.pop(0)
    if len(args) < 2:
        raise protocol.ProtocolError(f"Usage: {cmd.name} reference pattern", cmd.tag)
    reference = mailbox(args[0], cmd.tag)
    pattern = mailbox(args[1], cmd.tag)
    assert session.store is not None
    lines = []
    if pattern == "":  # RFC 3501: the hierarchy delimiter and root
        lines.append('* LIST (\\Noselect) "/" ""')
    else:
        match = _pattern(reference, pattern)
        for info in await asyncio.to_thread(session.store.folders):
            if not match.match(info.name) or (lsub and not info.subscribed):
                continue
            if special_only and not info.special_use:
                continue
            attrs = ["\\HasChildren" if info.has_children else "\\HasNoChildren"]
            if info.special_use:
                attrs.append(info.special_use)
            if info.subscribed and not lsub:
                attrs.append("\\Subscribed")
            name = protocol.format_mailbox(info.name)
            lines.append(f'* {"LSUB" if lsub else "LIST"} ({" ".join(attrs)}) "/" {name}')
    await session.send(*lines, f"{cmd.tag} OK {cmd.name} completed")


async def list_(session: Session, cmd: protocol.Command) -> None:
    await _list(session, cmd, lsub=False)


async def lsub(session: Session, cmd: protocol.Command) -> None:
    await _list(session, cmd, lsub=True)


async def status(session: Session, cmd: protocol.Command) -> None:
    args = at_least(cmd, 2, "mailbox (items)")
    name = mailbox(args[0], cmd.tag)
    items = arguments.parse_status_items(args[1])
    folder = session.folder(name)
    counts = await asyncio.to_thread(folder.status)
    counts.setdefault("recent", 0)
    values = " ".join(f"{i} {counts[i.lower()]}" for i in items)
    written = protocol.format_mailbox(name)
    await session.send(f"* STATUS {written} ({values})", f"{cmd.tag} OK Status completed")


async def append(session: Session, cmd: protocol.Command) -> None:
    args = at_least(cmd, 2, "mailbox [(flags)] [date-time] literal")
    name = mailbox(args[0], cmd.tag)
    message = args[-1]
    if not isinstance(message, bytes):
        raise protocol.ProtocolError("APPEND needs the message as a literal", cmd.tag)
    flags: frozenset[str] = frozenset()
    internaldate = None
    for extra in args[1:-1]:
        if isinstance(extra, list):
            flags = arguments.parse_flag_list(extra)
        else:
            internaldate = arguments.parse_datetime(text(extra, "a date-time", cmd.tag))
    assert session.store is not None
    try:
        folder = session.store.folder(name)
    except mailstore.NoSuchFolder as exc:
        raise No(f"[TRYCREATE] No mailbox {name}") from exc
    uid = await asyncio.to_thread(
        folder.append, message, frozenset(flags) - {"\\Recent"}, internaldate
    )
    await session.send_updates()
    await session.send(f"{cmd.tag} OK [APPENDUID {folder.uidvalidity} {uid}] Append completed")


async def idle(session: Session, cmd: protocol.Command) -> None:
    """RFC 2177: untagged updates as they happen until the client says DONE."""
    await session.send("+ idling")
    # DONE is read as any command line is: a line over the limit is never parsed in part.
    limits = session.server.limits
    done = asyncio.ensure_future(
        command_reader.read_line(
            session.reader, max_line=limits.max_line, timeout=2 * limits.idle_timeout
        )
    )
    try:
        while True:
            await session.send_updates()
            session.changed.clear()
            changed = asyncio.ensure_future(session.changed.wait())
            finished, _ = await asyncio.wait(
                {done, changed},
                timeout=limits.idle_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if done in finished:
                changed.cancel()
                break
            if not finished:  # autologout (RFC 3501 section 5.4)
                changed.cancel()
                await session.send("* BYE Autologout; idle for too long")
                raise CloseConnection
    finally:
        if not done.done():
            done.cancel()
    line = done.result()
    if not line:
        raise ConnectionResetError("client went away during IDLE")
    if line.strip().upper() != b"DONE":
        raise protocol.ProtocolError("Expected DONE", cmd.tag)
    await session.send(f"{cmd.tag} OK Idle completed")


COMMANDS: dict[str, Handler] = {
    "ENABLE": enable,
    "NAMESPACE": namespace,
    "SELECT": select,
    "EXAMINE": examine,
    "CREATE": create,
    "DELETE": delete,
    "RENAME": rename,
    "SUBSCRIBE": subscribe,
    "UNSUBSCRIBE": unsubscribe,
    "LIST": list_,
    "LSUB": lsub,
    "STATUS": status,
    "APPEND": append,
    "IDLE": idle,
}
