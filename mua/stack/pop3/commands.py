"""The POP3 commands (RFC 1939, CAPA of RFC 2449, STLS of RFC 2595, AUTH of RFC 5034: PLAIN,
and XOAUTH2 / OAUTHBEARER with a token in pop3/oauth_auth.py).

Each handler takes the session and the command's arguments and answers one response. A
handler raises `Bad` for a command whose arguments are wrong (the session counts those,
as it counts unknown commands, and sends a client that keeps sending them away).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from mua.stack.pop3 import maildrop, oauth_auth
from mua.stack.pop3.state import Close
from mua.stack.sasl_bearer import PARSERS

if TYPE_CHECKING:
    from mua.stack.pop3.server import Session
    from mua.stack.pop3.state import State

Handler = Callable[["Session", list[str]], Awaitable[None]]

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


class Bad(Exception):
    """The command's arguments are not what RFC 1939 allows: answered -ERR and counted."""


_HANDLERS: dict[str, tuple[frozenset[str], Handler]] = {}


def _command(name: str, *states: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _HANDLERS[name] = (frozenset(states), handler)
        return handler

    return register


def handler_for(name: str, state: State) -> Handler | None:
    entry = _HANDLERS.get(name)
    return entry[1] if entry is not None and state.value in entry[0] else None


def known(name: str) -> bool:
    return name in _HANDLERS


AUTH, TRANS = "authorization", "transaction"


# -- any state ------------------------------------------------------------------------------


@_command("CAPA", AUTH, TRANS)
async def capa(session: Session, args: list[str]) -> None:
    _no_args(args)
    await session.send("+OK Capability list follows", *session.capabilities(), ".")


@_command("QUIT", AUTH, TRANS)
async def quit_(session: Session, args: list[str]) -> None:
    _no_args(args)
    drop = session.maildrop
    if drop is None:
        await session.send(f"+OK {session.server.hostname} POP3 server signing off")
        raise Close
    session.enter_update()
    try:
        removed = await asyncio.to_thread(drop.commit)
    except Exception:
        session.log_failure("POP3 UPDATE failed")
        await session.send("-ERR [SYS/TEMP] Some deleted messages were not removed")
        raise Close from None
    await session.send(f"+OK {session.server.hostname} signing off ({removed} messages deleted)")
    raise Close


# -- AUTHORIZATION ------------------------------------------------------------------------------


@_command("STLS", AUTH)
async def stls(session: Session, args: list[str]) -> None:
    _no_args(args)
    await session.starttls()


@_command("USER", AUTH)
async def user(session: Session, args: list[str]) -> None:
    if len(args) != 1:
        raise Bad("USER takes one argument: the mailbox name")
    if not session.may_authenticate:
        session.pending_user = None
        await session.send("-ERR [AUTH] Plaintext authentication is disabled before STLS")
        return
    session.pending_user = args[0]
    await session.send("+OK Send PASS")


@_command("PASS", AUTH)
async def pass_(session: Session, args: list[str]) -> None:
    if not args:
        raise Bad("PASS takes the password")
    if not session.may_authenticate:
        await session.send("-ERR [AUTH] Plaintext authentication is disabled before STLS")
        return
    username, session.pending_user = session.pending_user, None
    if username is None:
        await session.send("-ERR Send USER first")
        return
    # RFC 1939 section 7: the password may contain spaces; it is the rest of the line.
    await session.login(username, " ".join(args))


@_command("AUTH", AUTH)
async def auth(session: Session, args: list[str]) -> None:
    if not args:  # RFC 5034 allows a bare AUTH listing the mechanisms (like CAPA's SASL)
        mechanisms = ["PLAIN", *oauth_auth.mechanisms(session)] if session.may_authenticate else []
        await session.send("+OK Mechanisms follow", *mechanisms, ".")
        return
    if len(args) > 2:
        raise Bad("AUTH takes a mechanism and an optional initial response")
    if not session.may_authenticate:
        await session.send("-ERR [AUTH] Authentication is disabled before STLS")
        return
    if args[0].upper() in PARSERS:  # OAuth2 tokens, over TLS only
        await oauth_auth.authenticate_bearer(
            session, args[0].upper(), args[1] if len(args) == 2 else None
        )
        return
    if args[0].upper() != "PLAIN":
        await session.send("-ERR Unsupported mechanism; use PLAIN")
        return
    initial = args[1] if len(args) == 2 else None
    if initial is None:
        await session.send("+ ")
        line = await session.read_line()
        if line is None:
            raise Close
        initial = line
    if initial == "*":
        await session.send("-ERR Authentication cancelled")
        return
    if initial == "=":  # RFC 5034 section 4: an empty initial response
        initial = ""
    try:
        decoded = base64.b64decode(initial, validate=True).decode("utf-8")
        _authzid, username, password = decoded.split("\0")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        await session.send("-ERR Invalid SASL PLAIN response")
        return
    await session.login(username, password)


# -- TRANSACTION ------------------------------------------------------------------------------


@_command("STAT", TRANS)
async def stat(session: Session, args: list[str]) -> None:
    _no_args(args)
    count, octets = session.drop().stat()
    await session.send(f"+OK {count} {octets}")


@_command("LIST", TRANS)
async def list_(session: Session, args: list[str]) -> None:
    drop = session.drop()
    if args:
        number = await _message(session, args, 1)
        if number is not None:
            await session.send(f"+OK {number} {drop.size(number)}")
        return
    count, octets = drop.stat()
    lines = [f"{n} {drop.size(n)}" for n in drop.live()]
    await session.send(f"+OK {count} messages ({octets} octets)", *lines, ".")


@_command("UIDL", TRANS)
async def uidl(session: Session, args: list[str]) -> None:
    drop = session.drop()
    if args:
        number = await _message(session, args, 1)
        if number is not None:
            await session.send(f"+OK {number} {drop.uidl(number)}")
        return
    await session.send("+OK", *(f"{n} {drop.uidl(n)}" for n in drop.live()), ".")


@_command("RETR", TRANS)
async def retr(session: Session, args: list[str]) -> None:
    number = await _message(session, args, 1)
    if number is None:
        return
    drop = session.drop()
    data = await asyncio.to_thread(drop.read, number)
    await session.send_multiline(f"+OK {len(data)} octets", maildrop.multiline(data))
    match = _MESSAGE_ID.search(data[:65536])
    session.record_retrieval(match.group(1).decode() if match else None, drop.uid(number))


@_command("TOP", TRANS)
async def top(session: Session, args: list[str]) -> None:
    if len(args) != 2 or not args[1].isdigit() or not args[1].isascii():
        raise Bad("TOP takes a message number and a number of lines")
    number = await _message(session, args[:1], 1)
    if number is None:
        return
    data = await asyncio.to_thread(session.drop().read, number)
    text = maildrop.top(data, min(int(args[1]), 1 << 30))
    await session.send_multiline("+OK Top of message follows", maildrop.multiline(text))


@_command("DELE", TRANS)
async def dele(session: Session, args: list[str]) -> None:
    number = await _message(session, args, 1)
    if number is not None:
        session.drop().deleted.add(number)
        await session.send(f"+OK Message {number} deleted")


@_command("RSET", TRANS)
async def rset(session: Session, args: list[str]) -> None:
    _no_args(args)
    drop = session.drop()
    drop.deleted.clear()
    count, octets = drop.stat()
    await session.send(f"+OK Maildrop has {count} messages ({octets} octets)")


@_command("NOOP", TRANS)
async def noop(session: Session, args: list[str]) -> None:
    _no_args(args)
    await session.send("+OK")


# -- helpers ------------------------------------------------------------------------------


def _no_args(args: list[str]) -> None:
    if args:
        raise Bad("This command takes no arguments")


async def _message(session: Session, args: list[str], count: int) -> int | None:
    """The message number in `args` (exactly `count` arguments); None after answering
    -ERR for a number that names no message or a deleted one."""
    if len(args) != count or not args[0].isdigit() or not args[0].isascii():
        raise Bad("A message number is required")
    number = int(args[0]) if len(args[0]) < 12 else 0
    drop = session.drop()
    if not 1 <= number <= len(drop.messages):
        await session.send("-ERR No such message")
        return None
    if number in drop.deleted:
        await session.send(f"-ERR Message {number} already deleted")
        return None
    return number
