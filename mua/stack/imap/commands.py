"""IMAP commands, by state: which handler answers which command (RFC 3501 section 6)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from mua.stack.imap import arguments, fetch, mailstore, oauth_auth, protocol, search
from mua.stack.imap.model import DELETED
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
    mechanism = _text(args[0], "a mechanism", cmd.tag).upper()
    if mechanism in oauth_auth.PARSERS:
        initial = _text(args[1], "a response", cmd.tag) if len(args) > 1 else None
        await oauth_auth.authenticate_bearer(session, cmd.tag, mechanism, initial)
        return
    if mechanism != "PLAIN":
        await session.send(f"{cmd.tag} NO Unsupported authentication mechanism")
        return
    initial = _text(args[1], "a response", cmd.tag) if len(args) > 1 else None
    await session.authenticate_plain(cmd.tag, initial)


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


# The other states' commands register themselves as they are imported.
from mua.stack.imap import mailbox_commands, ordering_commands  # noqa: E402

__all__ = ["DELETED", "No", "handler_for", "mailbox_commands", "ordering_commands", "states_for"]
