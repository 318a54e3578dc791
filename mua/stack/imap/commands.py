"""IMAP commands, by state: which handler answers which command (RFC 3501 section 6)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from mua.stack.imap import arguments, fetch, mailstore, protocol, search
from mua.stack.imap.model import DELETED, SEEN
from mua.stack.imap.selected import SelectedMailbox

if TYPE_CHECKING:
    from mua.stack.imap.server import Session

Handler = Callable[["Session", protocol.Command], Awaitable[None]]


class No(Exception):
    """A tagged NO: the text may start with a response code such as [TRYCREATE]."""


_HANDLERS: dict[str, tuple[set[str], Handler]] = {}
ANY = {"not authenticated", "authenticated", "selected"}
AUTHED = {"authenticated", "selected"}
SELECTED = {"selected"}


def command(name: str, states: set[str]) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        async def checked(session: Session, cmd: protocol.Command) -> None:
            try:
                await handler(session, cmd)
            except mailstore.InvalidFolderName as exc:  # the client's mistake (RFC 5530)
                raise No(f"[CANNOT] {exc}") from exc

        _HANDLERS[name] = (states, checked)
        return handler

    return register


def handler_for(name: str, state) -> Handler | None:
    entry = _HANDLERS.get(name)
    return entry[1] if entry and state.value in entry[0] else None


def states_for(name: str) -> set[str] | None:
    entry = _HANDLERS.get(name)
    return entry[0] if entry else None


def _text(token: object, what: str, tag: str) -> str:
    if isinstance(token, bytes):
        return token.decode("utf-8", "replace")
    if isinstance(token, str):
        return token
    raise protocol.ProtocolError(f"Expected {what}", tag)


def _args(cmd: protocol.Command, count: int, usage: str) -> list:
    if len(cmd.args) < count:
        raise protocol.ProtocolError(f"Usage: {cmd.name} {usage}", cmd.tag)
    return cmd.args


async def _io(fn, *args, **kwargs):
    """Store calls do file and SQLite I/O: keep them off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def _updates(session: Session, *, allow_expunge: bool = True) -> None:
    if session.selected is None:
        return
    selected = session.selected
    # New mail raises UIDNEXT; flag changes and expunges raise HIGHESTMODSEQ. Read them
    # before the snapshot: a change in between only costs one more comparison later.
    state = (selected.folder.uidnext, selected.folder.highestmodseq)
    if state == selected.synced_state:
        return  # nothing changed: skip comparing every message of a large mailbox
    current = await _io(selected.folder.messages)
    before = len(selected.uids)
    lines = selected.updates(current, allow_expunge=allow_expunge)
    if allow_expunge or len(current) >= before:
        selected.synced_state = state
    if lines and lines[-1].endswith(" EXISTS") and not selected.readonly:
        selected.recent_uids.update(await _io(selected.folder.claim_recent))
        lines.append(f"* {len(selected.recent_uids)} RECENT")
    if lines:
        await session.send(*lines)


def _mailbox(session: Session, token: object, tag: str) -> str:
    text = _text(token, "a mailbox name", tag)  # not a string at all: BAD
    try:
        return protocol.decode_mailbox(text)
    except protocol.ProtocolError as exc:  # a string no mailbox can be called: NO (RFC 5530)
        raise No(f"[CANNOT] {exc}") from exc


def _folder(session: Session, name: str):
    assert session.store is not None
    try:
        return session.store.folder(name)
    except mailstore.NoSuchFolder as exc:
        raise No(f"[NONEXISTENT] No mailbox {name}") from exc


# -- any state --------------------------------------------------------------------------------


@command("CAPABILITY", ANY)
async def capability(session: Session, cmd: protocol.Command) -> None:
    await session.send(f"* CAPABILITY {session.capabilities()}", f"{cmd.tag} OK Capability done")


@command("NOOP", ANY)
async def noop(session: Session, cmd: protocol.Command) -> None:
    await _updates(session)
    await session.send(f"{cmd.tag} OK Noop done")


@command("LOGOUT", ANY)
async def logout(session: Session, cmd: protocol.Command) -> None:
    from mua.stack.imap.server import CloseConnection, State

    session.state = State.LOGOUT
    await session.send("* BYE Logging out", f"{cmd.tag} OK Logout done")
    raise CloseConnection


@command("ID", ANY)
async def id_(session: Session, cmd: protocol.Command) -> None:
    # RFC 2971: the server's identity; what the client said is only logged.
    await session.send('* ID ("name" "mua" "vendor" "mua demo world")', f"{cmd.tag} OK ID done")


@command("ENABLE", AUTHED)
async def enable(session: Session, cmd: protocol.Command) -> None:
    enabled = [a for a in (str(x).upper() for x in cmd.args) if a == "CONDSTORE"]
    if enabled:
        session.condstore = True
        if session.selected:
            session.selected.condstore = True
    await session.send(f"* ENABLED {' '.join(enabled)}".rstrip(), f"{cmd.tag} OK Enabled")


# -- not authenticated --------------------------------------------------------------------------


@command("STARTTLS", {"not authenticated"})
async def starttls(session: Session, cmd: protocol.Command) -> None:
    await session.starttls(cmd.tag)


@command("LOGIN", {"not authenticated"})
async def login(session: Session, cmd: protocol.Command) -> None:
    user, password = _args(cmd, 2, "user password")[:2]
    await session.login(
        cmd.tag, _text(user, "a user", cmd.tag), _text(password, "a password", cmd.tag)
    )


@command("AUTHENTICATE", {"not authenticated"})
async def authenticate(session: Session, cmd: protocol.Command) -> None:
    args = _args(cmd, 1, "mechanism [initial-response]")
    if _text(args[0], "a mechanism", cmd.tag).upper() != "PLAIN":
        await session.send(f"{cmd.tag} NO Unsupported authentication mechanism")
        return
    initial = _text(args[1], "a response", cmd.tag) if len(args) > 1 else None
    await session.authenticate_plain(cmd.tag, initial)


# -- authenticated --------------------------------------------------------------------------------


@command("NAMESPACE", AUTHED)
async def namespace(session: Session, cmd: protocol.Command) -> None:
    await session.send('* NAMESPACE (("" "/")) NIL NIL', f"{cmd.tag} OK Namespace done")


async def _select(session: Session, cmd: protocol.Command, *, readonly: bool) -> None:
    from mua.stack.imap.server import State

    args = _args(cmd, 1, "mailbox")
    name = _mailbox(session, args[0], cmd.tag)
    if (
        len(args) > 1
        and isinstance(args[1], list)
        and any(str(p).upper() == "CONDSTORE" for p in args[1])
    ):
        session.condstore = True  # RFC 7162 section 3.1.8
    session.selected = None
    session.state = State.AUTHENTICATED
    folder = _folder(session, name)
    selected = await _io(SelectedMailbox, folder, readonly=readonly, condstore=session.condstore)
    if not readonly:
        selected.recent_uids = set(await _io(folder.claim_recent))
    status = await _io(folder.status)
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


@command("SELECT", AUTHED)
async def select(session: Session, cmd: protocol.Command) -> None:
    await _select(session, cmd, readonly=False)


@command("EXAMINE", AUTHED)
async def examine(session: Session, cmd: protocol.Command) -> None:
    await _select(session, cmd, readonly=True)


@command("CREATE", AUTHED)
async def create(session: Session, cmd: protocol.Command) -> None:
    name = _mailbox(session, _args(cmd, 1, "mailbox")[0], cmd.tag)
    assert session.store is not None
    try:
        await _io(session.store.create, name.rstrip("/"))
    except mailstore.FolderExists as exc:
        raise No(f"[ALREADYEXISTS] Mailbox {name} already exists") from exc
    except mailstore.InvalidFolderName as exc:
        raise No(f"[CANNOT] {exc}") from exc
    await session.send(f"{cmd.tag} OK Create completed")


@command("DELETE", AUTHED)
async def delete(session: Session, cmd: protocol.Command) -> None:
    name = _mailbox(session, _args(cmd, 1, "mailbox")[0], cmd.tag)
    assert session.store is not None
    if name.upper() == "INBOX":
        raise No("[CANNOT] INBOX cannot be deleted")
    try:
        await _io(session.store.delete, name)
    except mailstore.NoSuchFolder as exc:
        raise No(f"[NONEXISTENT] No mailbox {name}") from exc
    except mailstore.StoreError as exc:
        raise No(f"[CANNOT] {exc}") from exc
    await session.send(f"{cmd.tag} OK Delete completed")


@command("RENAME", AUTHED)
async def rename(session: Session, cmd: protocol.Command) -> None:
    old, new = (_mailbox(session, a, cmd.tag) for a in _args(cmd, 2, "old new")[:2])
    assert session.store is not None
    try:
        await _io(session.store.rename, old, new)
    except mailstore.NoSuchFolder as exc:
        raise No(f"[NONEXISTENT] No mailbox {old}") from exc
    except mailstore.FolderExists as exc:
        raise No(f"[ALREADYEXISTS] Mailbox {new} already exists") from exc
    except mailstore.StoreError as exc:
        raise No(f"[CANNOT] {exc}") from exc
    await session.send(f"{cmd.tag} OK Rename completed")


async def _subscription(session: Session, cmd: protocol.Command, on: bool) -> None:
    name = _mailbox(session, _args(cmd, 1, "mailbox")[0], cmd.tag)
    assert session.store is not None
    try:
        if on:  # as Dovecot does: only a mailbox that exists (UNSUBSCRIBE cleans up any)
            await _io(session.store.folder, name)
        await _io(session.store.subscribe, name, on)
    except mailstore.NoSuchFolder as exc:
        raise No(f"[NONEXISTENT] No mailbox {name}") from exc
    await session.send(f"{cmd.tag} OK {cmd.name} completed")


@command("SUBSCRIBE", AUTHED)
async def subscribe(session: Session, cmd: protocol.Command) -> None:
    await _subscription(session, cmd, True)


@command("UNSUBSCRIBE", AUTHED)
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
    if args and isinstance(args[0], list):  # LIST-EXTENDED selection options (RFC 5258)
        special_only = any(str(o).upper() == "SPECIAL-USE" for o in args.pop(0))
    if len(args) < 2:
        raise protocol.ProtocolError(f"Usage: {cmd.name} reference pattern", cmd.tag)
    reference = _mailbox(session, args[0], cmd.tag)
    pattern = _mailbox(session, args[1], cmd.tag)
    assert session.store is not None
    lines = []
    if pattern == "":  # RFC 3501: the hierarchy delimiter and root
        lines.append('* LIST (\\Noselect) "/" ""')
    else:
        match = _pattern(reference, pattern)
        for info in await _io(session.store.folders):
            if not match.match(info.name) or (lsub and not info.subscribed):
                continue
            if special_only and not info.special_use:
                continue
            attrs = ["\\HasChildren" if info.has_children else "\\HasNoChildren"]
            if info.special_use:
                attrs.append(info.special_use)
            if info.subscribed and not lsub:
                attrs.append("\\Subscribed")
            name = protocol.quote(protocol.encode_mailbox(info.name))
            lines.append(f'* {"LSUB" if lsub else "LIST"} ({" ".join(attrs)}) "/" {name}')
    await session.send(*lines, f"{cmd.tag} OK {cmd.name} completed")


@command("LIST", AUTHED)
async def list_(session: Session, cmd: protocol.Command) -> None:
    await _list(session, cmd, lsub=False)


@command("LSUB", AUTHED)
async def lsub(session: Session, cmd: protocol.Command) -> None:
    await _list(session, cmd, lsub=True)


_STATUS_ITEMS = {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "RECENT", "HIGHESTMODSEQ"}


@command("STATUS", AUTHED)
async def status(session: Session, cmd: protocol.Command) -> None:
    args = _args(cmd, 2, "mailbox (items)")
    name = _mailbox(session, args[0], cmd.tag)
    items = [str(i).upper() for i in (args[1] if isinstance(args[1], list) else [args[1]])]
    unknown = [i for i in items if i not in _STATUS_ITEMS]
    if unknown:
        raise protocol.ProtocolError(f"Unknown STATUS item {unknown[0][:20]}", cmd.tag)
    folder = _folder(session, name)
    counts = await _io(folder.status)
    counts.setdefault("recent", 0)
    values = " ".join(f"{i} {counts[i.lower()]}" for i in items)
    encoded = protocol.quote(protocol.encode_mailbox(name))
    await session.send(f"* STATUS {encoded} ({values})", f"{cmd.tag} OK Status completed")


@command("APPEND", AUTHED)
async def append(session: Session, cmd: protocol.Command) -> None:
    args = _args(cmd, 2, "mailbox [(flags)] [date-time] literal")
    name = _mailbox(session, args[0], cmd.tag)
    message = args[-1]
    if not isinstance(message, bytes):
        raise protocol.ProtocolError("APPEND needs the message as a literal", cmd.tag)
    flags: frozenset[str] = frozenset()
    internaldate = None
    for extra in args[1:-1]:
        if isinstance(extra, list):
            flags = arguments.parse_flag_list(extra)
        else:
            internaldate = arguments.parse_datetime(_text(extra, "a date-time", cmd.tag))
    assert session.store is not None
    try:
        folder = session.store.folder(name)
    except mailstore.NoSuchFolder as exc:
        raise No(f"[TRYCREATE] No mailbox {name}") from exc
    uid = await _io(folder.append, message, frozenset(flags) - {"\\Recent"}, internaldate)
    await _updates(session)
    await session.send(f"{cmd.tag} OK [APPENDUID {folder.uidvalidity} {uid}] Append completed")


@command("IDLE", AUTHED)
async def idle(session: Session, cmd: protocol.Command) -> None:
    """RFC 2177: untagged updates as they happen until the client says DONE."""
    await session.send("+ idling")
    # DONE is read as any command line is: a line over the limit is never parsed in part.
    limits = session.server.limits
    done = asyncio.ensure_future(
        protocol.read_line(
            session.reader, max_line=limits.max_line, timeout=2 * limits.idle_timeout
        )
    )
    try:
        while True:
            await _updates(session)
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
                from mua.stack.imap.server import CloseConnection

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


# -- selected ------------------------------------------------------------------------------


@command("CHECK", SELECTED)
async def check(session: Session, cmd: protocol.Command) -> None:
    await _updates(session)
    await session.send(f"{cmd.tag} OK Check completed")


async def _leave(session: Session, *, expunge: bool) -> None:
    from mua.stack.imap.server import State

    selected = session.selected
    assert selected is not None
    if expunge and not selected.readonly:
        await _io(selected.folder.expunge)  # CLOSE expunges silently (RFC 3501 6.4.2)
    session.selected = None
    session.state = State.AUTHENTICATED


@command("CLOSE", SELECTED)
async def close(session: Session, cmd: protocol.Command) -> None:
    await _leave(session, expunge=True)
    await session.send(f"{cmd.tag} OK Close completed")


@command("UNSELECT", SELECTED)
async def unselect(session: Session, cmd: protocol.Command) -> None:
    await _leave(session, expunge=False)
    await session.send(f"{cmd.tag} OK Unselect completed")


def _writable(session: Session) -> SelectedMailbox:
    selected = session.selected
    assert selected is not None
    if selected.readonly:
        raise No("[READ-ONLY] The mailbox is open read-only (EXAMINE)")
    return selected


async def _expunge(session: Session, cmd: protocol.Command, uids: set[int] | None) -> None:
    selected = _writable(session)
    gone = await _io(selected.folder.expunge, uids)
    await session.send(*selected.forget(gone))
    await _updates(session)
    await session.send(f"{cmd.tag} OK Expunge completed")


@command("EXPUNGE", SELECTED)
async def expunge(session: Session, cmd: protocol.Command) -> None:
    await _expunge(session, cmd, None)


@command("SEARCH", SELECTED)
async def search_(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    selected = session.selected
    assert selected is not None
    args = list(cmd.args)
    charset = "US-ASCII"
    if args and str(args[0]).upper() == "CHARSET":
        if len(args) < 2:
            raise protocol.ProtocolError("CHARSET needs a name", cmd.tag)
        charset = _text(args[1], "a charset", cmd.tag).upper()
        args = args[2:]
    try:
        key = search.parse_search(args, charset=charset)
    except search.BadCharset as exc:
        raise No("[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset") from exc
    except search.SearchError as exc:
        raise protocol.ProtocolError(str(exc), cmd.tag) from exc
    hits = await _io(search.run, key, selected)
    numbers = [uid for _seq, uid in hits] if by_uid else [seq for seq, _uid in hits]
    modseq = ""
    if hits and search.uses_modseq(key):  # RFC 7162 section 3.1.5
        modseq = f" (MODSEQ {max(selected.infos[uid].modseq for _s, uid in hits)})"
    await session.send(" ".join(["* SEARCH", *map(str, numbers)]) + modseq)
    await _updates(session, allow_expunge=by_uid)
    await session.send(f"{cmd.tag} OK Search completed")


@command("FETCH", SELECTED)
async def fetch_(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    await fetch.run(session, cmd, by_uid=by_uid)
    await _updates(session, allow_expunge=by_uid)
    await session.send(f"{cmd.tag} OK Fetch completed")


@command("STORE", SELECTED)
async def store(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    selected = _writable(session)
    args = _args(cmd, 3, "set [(UNCHANGEDSINCE n)] +FLAGS|-FLAGS|FLAGS[.SILENT] (flags)")
    targets = selected.select(
        arguments.parse_sequence_set(_text(args[0], "a set", cmd.tag)), by_uid=by_uid
    )
    request = arguments.parse_store_args(args[1:])
    changed, failed = await _io(
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
    await _updates(session, allow_expunge=by_uid)
    code = ""
    if failed:
        numbers = failed if by_uid else [selected.seq_of(u) for u in failed]
        code = f"[MODIFIED {arguments.format_sequence_set(n for n in numbers if n)}] "
    await session.send(f"{cmd.tag} OK {code}Store completed")


async def _copy(session: Session, cmd: protocol.Command, *, by_uid: bool, move: bool) -> None:
    selected = _writable(session) if move else session.selected
    assert selected is not None and session.store is not None
    args = _args(cmd, 2, "set mailbox")
    targets = selected.select(
        arguments.parse_sequence_set(_text(args[0], "a set", cmd.tag)), by_uid=by_uid
    )
    name = _mailbox(session, args[1], cmd.tag)
    try:
        dest = session.store.folder(name)
    except mailstore.NoSuchFolder as exc:
        raise No(f"[TRYCREATE] No mailbox {name}") from exc
    uids = [uid for _seq, uid in targets]
    if not uids:
        await session.send(f"{cmd.tag} OK No messages")
        return
    pairs = await _io(selected.folder.move if move else selected.folder.copy, uids, dest)
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


@command("COPY", SELECTED)
async def copy(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    await _copy(session, cmd, by_uid=by_uid, move=False)


@command("MOVE", SELECTED)
async def move(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    await _copy(session, cmd, by_uid=by_uid, move=True)


_UID_COMMANDS = {"FETCH": fetch_, "SEARCH": search_, "STORE": store, "COPY": copy, "MOVE": move}


@command("UID", SELECTED)
async def uid(session: Session, cmd: protocol.Command) -> None:
    args = _args(cmd, 1, "FETCH|SEARCH|STORE|COPY|MOVE|EXPUNGE ...")
    sub = _text(args[0], "a command", cmd.tag).upper()
    inner = protocol.Command(cmd.tag, f"UID {sub}", list(args[1:]))
    if sub == "EXPUNGE":  # RFC 4315 section 2.1
        selected = session.selected
        assert selected is not None
        uid_set = arguments.parse_sequence_set(_text(_args(inner, 1, "set")[0], "a set", cmd.tag))
        top = selected.uids[-1] if selected.uids else 0
        await _expunge(session, inner, {u for u in selected.uids if uid_set.contains(u, top)})
        return
    handler = _UID_COMMANDS.get(sub)
    if handler is None:
        raise protocol.ProtocolError(f"Unknown UID command {sub[:20]}", cmd.tag)
    await handler(session, inner, by_uid=True)


__all__ = ["DELETED", "No", "handler_for", "states_for"]
