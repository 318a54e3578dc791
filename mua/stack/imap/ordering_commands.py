"""The SORT and THREAD commands and their UID forms (RFC 5256, with SORT=DISPLAY of RFC
5957): the search runs as SEARCH's does, then `sort` or `message_threads` orders what it found."""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

from mua.stack.imap import message_threads, protocol, search, search_match, sort
from mua.stack.imap.command_args import text
from mua.stack.imap.session import No
from mua.stack.imap.sort import Facts

if TYPE_CHECKING:
    from mua.stack.imap.selected import SelectedMailbox
    from mua.stack.imap.server import Handler, Session


def _found(selected: SelectedMailbox, key: search.SearchKey) -> list[Facts]:
    """The facts of every message the search matches (runs in a worker thread)."""
    return [
        Facts.of(seq, selected.infos[uid], functools.partial(selected.folder.read, uid))
        for seq, uid in search_match.run(key, selected)
    ]


def _search_key(cmd: protocol.Command, args: list[protocol.Token]) -> search.SearchKey:
    """`charset search-criteria`: the charset is required (RFC 5256 section 3)."""
    if not args:
        raise protocol.ProtocolError(f"{cmd.name} needs a charset and search criteria", cmd.tag)
    charset = text(args[0], "a charset", cmd.tag).upper()
    if not args[1:]:
        raise protocol.ProtocolError(f"{cmd.name} needs search criteria", cmd.tag)
    try:
        return search.parse_search(args[1:], charset=charset)
    except search.BadCharset as exc:
        raise No("[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset") from exc
    except search.SearchError as exc:
        raise protocol.ProtocolError(str(exc), cmd.tag) from exc


async def sort_(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    selected = session.selected
    assert selected is not None
    args = list(cmd.args)
    if not args:
        raise protocol.ProtocolError("Usage: SORT (criteria) charset search-criteria", cmd.tag)
    try:
        criteria = sort.parse_criteria(args[0])
    except protocol.ProtocolError as exc:
        raise protocol.ProtocolError(str(exc), cmd.tag) from exc
    key = _search_key(cmd, args[1:])
    ordered = sort.sort(await asyncio.to_thread(_found, selected, key), criteria)
    numbers = [f.uid if by_uid else f.seq for f in ordered]
    await session.send(" ".join(["* SORT", *map(str, numbers)]))
    await session.send_updates(allow_expunge=by_uid)
    await session.send(f"{cmd.tag} OK Sort completed")


async def thread_(session: Session, cmd: protocol.Command, *, by_uid: bool = False) -> None:
    selected = session.selected
    assert selected is not None
    args = list(cmd.args)
    if not args:
        raise protocol.ProtocolError("Usage: THREAD algorithm charset search-criteria", cmd.tag)
    algorithm = text(args[0], "a threading algorithm", cmd.tag).upper()
    if algorithm not in message_threads.ALGORITHMS:
        raise protocol.ProtocolError(f"Unknown threading algorithm {algorithm[:20]}", cmd.tag)
    key = _search_key(cmd, args[1:])
    roots = message_threads.thread(algorithm, await asyncio.to_thread(_found, selected, key))
    await session.send(f"* THREAD {message_threads.format_threads(roots, by_uid=by_uid)}".rstrip())
    await session.send_updates(allow_expunge=by_uid)
    await session.send(f"{cmd.tag} OK Thread completed")


COMMANDS: dict[str, Handler] = {"SORT": sort_, "THREAD": thread_}  # and their UID forms
